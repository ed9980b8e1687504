"""The staff queue and request page in Chromium: a department clerk's flow by keyboard alone, the filter form
without JavaScript, and axe on every page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.storage.sql import SqlUnitOfWork
from conftest import axe_violations, screenshot

PASSWORD = "a long enough password"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the pages, not the database


@pytest.fixture
def clerk(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> str:
    for i, (service, text) in enumerate(
        [("pothole", "Deep hole by the bus stop"), ("pothole", "Crater in the bike lane"),
         ("graffiti", "Tags on the school wall")]
    ):  # fmt: skip
        answers = {"size": ["large"]} if service == "pothole" else {}
        cmd = SubmitRequest(service_code=service, api_key=keys["submit"], lat="40.71", long="-74.0", description=text,
                            address_string=f"{100 + i} Main Street", attributes=answers,
                            contact=Contact(first_name="Rosa", phone="555-0100"))  # fmt: skip
        submit_request(SqlUnitOfWork(engine), clock, cmd)
    add_user(SqlUnitOfWork(engine), clock, AddUser("ana@city.gov", "department", bodies=("DOT",), name="Ana Ruiz",
                                                  password=PASSWORD))  # fmt: skip
    return "ana@city.gov"


def _sign_in(page: Any, base: str, email: str, next_: str) -> None:
    page.goto(f"{base}/staff/login?next={next_}")
    page.get_by_label("Email").fill(email)  # signing in by keyboard is tested with the sign-in pages
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def _tab_to(page: Any, name: str, limit: int = 60) -> None:
    """Press Tab until the control with this accessible text (or label) has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        label = page.evaluate(
            "(() => { const e = document.activeElement; if (!e) return '';"
            " const l = e.labels && e.labels[0]; return (l ? l.textContent : e.textContent).trim(); })()"
        )
        if label == name:
            return
    raise AssertionError(f"no control named {name!r} reached by Tab")


def test_queue__department_clerk_by_keyboard__filter_open_a_request_show_contact(
    page: Any, served: str, clerk: str
) -> None:
    _sign_in(page, served, clerk, "/staff/queue")
    assert page.url.endswith("/staff/queue")
    assert page.get_by_role("heading", name="Queue", exact=True).is_visible()
    rows = page.locator("tbody tr")
    assert rows.count() == 2  # DOT's two potholes; DSNY's graffiti is not this clerk's
    assert axe_violations(page) == []
    screenshot(page, "staff-queue")

    _tab_to(page, "Search")
    page.keyboard.type("bike")
    page.keyboard.press("Enter")  # submits the filter form
    page.wait_for_url("**/staff/queue?*")
    assert page.locator("tbody tr").count() == 1 and "Crater in the bike lane" in page.content()
    assert page.input_value("#f-q") == "bike"  # the filter is kept on the page
    assert axe_violations(page) == []

    page.goto(f"{served}/staff/queue")
    _tab_to(page, page.locator("tbody tr").first.locator("a").inner_text())
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/staff/requests/" in page.url
    assert page.get_by_role("heading", name="Timeline").is_visible()
    assert "555-0100" not in page.content()
    assert axe_violations(page) == []
    screenshot(page, "staff-request")

    _tab_to(page, "Why you need it")
    page.keyboard.type("to arrange access")
    _tab_to(page, "Show contact")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "555-0100" in page.content() and "recorded in the audit log" in page.content()
    assert axe_violations(page) == []
    screenshot(page, "staff-request-contact")


def test_queue__without_javascript__the_filter_form_works(browser: Any, served: str, clerk: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _sign_in(page, served, clerk, "/staff/queue")
        page.get_by_label("Service").select_option(label="Pothole")
        page.get_by_label("Sort by").select_option(label="Newest first")
        with page.expect_navigation():
            page.get_by_role("button", name="Filter").click()
        assert "service=pothole" in page.url and "sort=newest" in page.url
        assert page.locator("tbody tr").count() == 2
        assert "Crater in the bike lane" in page.locator("tbody tr").first.inner_text()
    finally:
        context.close()


def test_request_page__another_bodys_request__refused_page_is_axe_clean(
    page: Any, served: str, clerk: str, engine: Engine
) -> None:
    with SqlUnitOfWork(engine) as uow:
        graffiti = max(r.id for r in uow.queue.queue(*_everything()).rows if r.service_code == "graffiti")
    _sign_in(page, served, clerk, f"/staff/requests/{graffiti}")
    assert page.get_by_role("alert").is_visible()
    assert "only on requests owned by DOT" in page.get_by_role("alert").inner_text()
    assert "Tags on the school wall" not in page.content()
    assert axe_violations(page) == []
    screenshot(page, "staff-request-refused")


def _everything() -> tuple[Any, Any]:
    from civicswitch.requests.queue import QueueFilter, QueueScope

    return QueueScope(everything=True), QueueFilter()
