"""The residents' public map in Chromium (web/public_map.py, static/public_map.js): with JavaScript the requests are
clustered on the map and a marker's popup leads to the request's page; without it the map stays hidden and the
list is the page, its pages linked; the filter form by keyboard alone; axe-clean in English and Spanish (both
databases)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from civicswitch.catalog.handlers import load_layer
from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.geo import generalised
from civicswitch.requests.model import Channel, CloseReason, Contact, ServiceRequest, Status
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from conftest import axe_violations, screenshot, tab_to

AREAS = Path(__file__).parents[3] / "src" / "civicswitch" / "demo" / "data" / "areas"
SECRET = (40.7359123, -73.9911456, "12 Private Lane, flat 3")


@pytest.fixture
def app(engine: Engine, clock: FixedClock, loaded: dict[str, str], catalog_data: dict[str, Any]) -> FastAPI:
    """The boroughs as the coverage layer (the map's outline; no tiles); graffiti generalised, in Spanish too."""
    for service in catalog_data["services"]:
        if service["code"] == "graffiti":
            service["name"] = {"en": "Graffiti", "es": "Grafiti"}
            service["residents"] = {"public_location": "generalised"}
    load_catalog(SqlUnitOfWork(engine), catalog_data)
    load_layer(SqlUnitOfWork(engine), "boroughs", (AREAS / "boroughs.geojson").read_bytes(), key_property="name",
               name_property="name")  # fmt: skip
    settings = Settings(database_url="sqlite:///unused.db", coverage_layer="boroughs")
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def stored(app: FastAPI, engine: Engine, clock: FixedClock) -> dict[str, list[int]]:
    """60 potholes around lower Manhattan and a few in Brooklyn (a third of them closed), one without a point, and a
    graffiti report (generalised)."""
    made: dict[str, list[int]] = {"pothole": [], "graffiti": [], "nowhere": []}
    with SqlUnitOfWork(engine) as uow:
        for i in range(60):
            at = clock.now() - timedelta(hours=2 + i)
            lat, long = (40.72 + (i % 10) * 0.002, -73.99 + (i // 10) * 0.002) if i < 55 else (40.65, -73.95)
            r = ServiceRequest(service_code="pothole", requested_at=at, channel=Channel.WEB, lat=lat, long=long,
                               address=f"{i + 1} Broadway", description="A hole")  # fmt: skip
            r.record_submission(at, client_id=None)
            if i % 3 == 0:
                r.transition(Status.CLOSED, at + timedelta(minutes=30), reason=CloseReason.FIXED)
            made["pothole"].append(uow.requests.add(r, None))
        for key, (lat, long, address) in (("graffiti", SECRET), ("nowhere", (None, None, "Corner of Elm and Main"))):
            r = ServiceRequest(service_code="graffiti" if lat else "pothole", channel=Channel.WEB, lat=lat, long=long,
                               requested_at=clock.now() - timedelta(hours=1), address=address)  # fmt: skip
            r.record_submission(r.requested_at, client_id=None)
            made[key].append(uow.requests.add(r, Contact(email="ana@example.org")))
        uow.commit()
    return made


def _wait_for(page: Any, expression: str, timeout_s: float = 10.0) -> None:
    """Polls with ``page.evaluate`` (``wait_for_function`` evaluates code the pages' CSP refuses)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"never true within {timeout_s} s: {expression}")
        page.wait_for_timeout(50)


def test_map__with_javascript__clusters_then_a_marker_popup_leads_to_the_request(
    page: Any, served: str, stored: dict[str, list[int]]
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(f"{served}/map")
    region = page.get_by_role("region", name="Map of the requests in the list below (the list has them all)")
    assert region.is_visible()
    _wait_for(page, "document.querySelector('#m-map').dataset.loaded !== undefined")
    assert int(page.locator("#m-map").get_attribute("data-loaded")) == 61  # every request with a point
    _wait_for(page, "document.querySelectorAll('#m-map .marker-cluster').length > 0")
    cluster = page.locator("#m-map .marker-cluster").first
    assert (cluster.get_attribute("aria-label") or "").endswith("requests: zoom in to see them")
    screenshot(page, "public-map-en")
    assert axe_violations(page) == []
    # zoom in on the generalised request's cell: its marker sits at the cell's centre
    lat, long = generalised(SECRET[0], SECRET[1])
    page.goto(f"{served}/map?service=graffiti")
    _wait_for(page, "document.querySelector('#m-map').dataset.loaded === '1'")
    marker = page.locator("#m-map .leaflet-marker-icon:not(.marker-cluster)").first
    marker.click()
    popup = page.locator("#m-map .leaflet-popup-content")
    assert "Approximate place (within about 200 m)" in popup.inner_text()
    assert SECRET[2] not in page.content() and "40.73591" not in page.content()
    page.wait_for_timeout(400)  # the popup fades in and the map pans to it
    screenshot(page, "public-map-popup")
    with page.expect_navigation():
        popup.get_by_role("link", name=f"Request {stored['graffiti'][0]}").click()
    assert page.url.endswith(f"/requests/{stored['graffiti'][0]}")
    assert (lat, long) != SECRET[:2]
    assert problems == []


def test_map__without_javascript__map_hidden_list_paged_and_filtered(
    browser: Any, served: str, stored: dict[str, list[int]]
) -> None:
    context = browser.new_context(locale="en-US", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{served}/map")
        assert page.locator("#m-map").is_hidden()
        rows = page.locator("table tbody tr")
        assert rows.count() == 50
        assert page.get_by_role("cell", name="Corner of Elm and Main").is_visible()  # no point: in the list
        assert page.get_by_role("cell", name="Near Manhattan (approximate)").is_visible()  # the generalised one
        screenshot(page, "public-map-nojs")
        with page.expect_navigation():
            page.get_by_role("link", name="Older requests").click()
        assert "page=2" in page.url and rows.count() == 12
        page.get_by_label("Kind of problem").select_option(label="Pothole")
        page.get_by_label("Status").select_option(value="closed")
        with page.expect_navigation():
            page.get_by_role("button", name="Show").click()
        assert "service=pothole" in page.url and "status=closed" in page.url
        assert rows.count() == 20 and page.get_by_text("Closed — fixed").count() == 20
    finally:
        context.close()


def test_map__keyboard_only__filters_chosen_and_shown(page: Any, served: str, stored: dict[str, list[int]]) -> None:
    page.goto(f"{served}/map")
    tab_to(page, "Kind of problem")
    page.keyboard.type("Pothole")  # a select takes the typed name
    tab_to(page, "Status")
    page.keyboard.type("Closed")
    tab_to(page, "Show")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "service=pothole" in page.url and "status=closed" in page.url
    assert page.locator("table tbody tr").count() == 20
    assert page.locator("#m-service").input_value() == "pothole"


def test_map__spanish__axe_clean_with_and_without_results(
    browser: Any, served: str, stored: dict[str, list[int]]
) -> None:
    context = browser.new_context(locale="es-ES", java_script_enabled=True)
    page = context.new_page()
    try:
        page.goto(f"{served}/map")
        assert page.locator("html").get_attribute("lang") == "es"
        assert page.get_by_role("cell", name="Grafiti").first.is_visible()
        assert page.get_by_role("cell", name="Recibida: pendiente de revisión").first.is_visible()
        _wait_for(page, "document.querySelector('#m-map').dataset.loaded !== undefined")
        screenshot(page, "public-map-es")
        assert axe_violations(page) == []
        page.goto(f"{served}/map?service=bulk-pickup")  # nothing: the page says so
        _wait_for(page, "document.querySelector('#m-map').dataset.loaded !== undefined")
        assert axe_violations(page) == []
        page.goto(f"{served}/map?status=bogus")  # the error page
        assert page.get_by_role("alert").is_visible()
        assert axe_violations(page) == []
    finally:
        context.close()
