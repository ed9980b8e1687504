"""A volunteer liaison files on a resident's behalf in Chromium, by keyboard alone: the filing start page from the
navigation, the service's form with the resident's consent (refused without it), the open request nearby shown
first, the new request filed in the liaison's district, and its page with the consent and who filed it. axe on
every page; screenshots for docs/staff-guide.md."""

from __future__ import annotations

from typing import Any

import pytest
import shapely
from fastapi import FastAPI
from sqlalchemy import Engine

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.routing.geography import AreaIndex
from civicswitch.routing.intake import Geography
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from conftest import axe_violations, screenshot, sign_in
from conftest import tab_to as _tab_to

PASSWORD = "a long enough password"
# Every flow on both databases (the issue: "end to end in Chromium on SQLite and PostgreSQL"): the conftest's
# database_url runs SQLite always and PostgreSQL where CIVICSWITCH_TEST_POSTGRES_URL names one.
DISTRICTS = [
    Area("districts", "A", "District A", shapely.box(-74.05, 40.69, -73.95, 40.73)),
    Area("districts", "B", "District B", shapely.box(-73.95, 40.73, -73.85, 40.85)),
]


@pytest.fixture
def app(engine: Engine, clock: FixedClock, loaded: dict[str, str]) -> FastAPI:
    """The test app with the districts as its coverage layer: a point filed is placed in its district."""
    settings = Settings(database_url="sqlite:///unused.db", coverage_layer="districts")
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def district(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> str:
    """Two districts; an open pothole in district A; Lee, a liaison for district A. Returns the pothole's number."""
    with SqlUnitOfWork(engine) as uow:
        uow.catalog.add_layer_version(AreaLayer("districts", "key"), DISTRICTS, None)
        uow.commit()
    geography = Geography(AreaIndex(DISTRICTS), "districts")
    cmd = SubmitRequest(service_code="pothole", api_key=keys["submit"], lat="40.7100", long="-74.0000",
                        description="Deep hole by the bus stop", address_string="12 Elm Street",
                        attributes={"size": ["large"]})  # fmt: skip
    rid = submit_request(SqlUnitOfWork(engine), clock, cmd, geography=geography).service_request_id
    assert rid is not None
    add_user(SqlUnitOfWork(engine), clock, AddUser("vol@city.gov", "liaison", areas=("districts:A",),
                                                  name="Lee Volunteer", password=PASSWORD))  # fmt: skip
    return rid


def _press_enter(page: Any) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_liaison__by_keyboard__files_for_a_resident_with_consent_in_its_district(
    page: Any, served: str, district: str
) -> None:
    sign_in(page, served, "vol@city.gov", PASSWORD, "/staff/queue")
    _tab_to(page, "File for a resident")  # in the navigation
    _press_enter(page)
    assert page.get_by_role("heading", name="File for a resident").is_visible()
    assert "districts A" in page.content()
    assert axe_violations(page) == []
    screenshot(page, "staff-liaison-start")

    _tab_to(page, "Service to file")
    page.keyboard.type("Pothole")  # type-ahead picks the option
    _tab_to(page, "Start filing")
    _press_enter(page)
    assert page.get_by_role("heading", name="File for a resident: Pothole").is_visible()
    assert page.locator("input[name=channel][type=radio]").count() == 0  # a liaison's channel is not asked
    assert axe_violations(page) == []

    _tab_to(page, "First name")
    page.keyboard.type("Mrs")
    _tab_to(page, "Last name")
    page.keyboard.type("Okafor")
    _tab_to(page, "Latitude")
    page.keyboard.type("40.7101")
    _tab_to(page, "Longitude")
    page.keyboard.type("-74.0001")
    _tab_to(page, "Description")
    page.keyboard.type("Hole outside the community garden")
    _tab_to(page, "How big is it? (required)")
    page.keyboard.type("Larger")
    _tab_to(page, "Check for nearby requests")
    _press_enter(page)
    alert = page.get_by_role("alert")  # no consent ticked: nothing goes further
    assert "ask the resident whether you may file this for them" in alert.inner_text()
    assert page.input_value("#p-description") == "Hole outside the community garden"
    assert axe_violations(page) == []
    screenshot(page, "staff-liaison-consent-missing")

    _tab_to(page, "The resident agrees that I file this report for them")
    page.keyboard.press("Space")
    assert page.is_checked("input[name=consent]")
    screenshot(page, "staff-liaison-file")
    _tab_to(page, "Check for nearby requests")
    _press_enter(page)
    assert page.get_by_role("heading", name="Before filing: Pothole").is_visible()
    nearby = page.locator("ul.nearby li")
    assert nearby.count() == 1 and f"Request {district}" in nearby.first.inner_text()
    assert "The resident's consent" in page.content()
    assert axe_violations(page) == []

    _tab_to(page, "File a new request")
    _press_enter(page)
    notice = page.get_by_role("status").inner_text()
    number = notice.split()[1]
    assert notice.startswith(f"Request {number} filed for the resident.") and number != district
    assert axe_violations(page) == []
    _tab_to(page, f"Open request {number}")
    _press_enter(page)
    summary = page.locator("section[aria-labelledby=summary-h]").inner_text()
    assert "Filed on a resident's behalf by\nLee Volunteer" in summary
    assert "The resident's consent\nYes, recorded when filed" in summary and "liaison" in summary
    assert "District A" in page.content() or "districts" in page.content().lower()
    assert axe_violations(page) == []
    screenshot(page, "staff-liaison-filed")
