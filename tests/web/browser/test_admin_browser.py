"""The admin pages and the escalation queue in Chromium, by keyboard alone: an admin adds a staff account and sees
its one-time password once, disables it, creates an API key, adds a holiday and filters the audit log; an
executive reads the escalation queue. axe on every page state; screenshots for docs/staff-guide.md."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from civicswitch.catalog.calendars import Calendar
from civicswitch.core.clock import FixedClock
from civicswitch.hub.handlers import add_connector
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.requests.commands import SubmitRequest, TransferRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.requests.work import transfer_request
from civicswitch.storage.sql import SqlUnitOfWork
from conftest import axe_violations, screenshot, sign_in

PASSWORD = "a long enough password"
# Every flow on both databases (the issue: "end to end in Chromium on SQLite and PostgreSQL"): the conftest's
# database_url runs SQLite always and PostgreSQL where CIVICSWITCH_TEST_POSTGRES_URL names one.


@pytest.fixture
def city(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> dict[str, str]:
    for email, role, scope in (("admin@city.gov", "admin", {}), ("exec@city.gov", "executive", {}),
                               ("dot@city.gov", "department", {"bodies": ("DOT",)}),
                               ("dsny@city.gov", "department", {"bodies": ("DSNY",)})):  # fmt: skip
        add_user(SqlUnitOfWork(engine), clock, AddUser(email, role, password=PASSWORD, name=email.split("@")[0].title(),
                                                      **scope))  # type: ignore[arg-type]  # fmt: skip
    with SqlUnitOfWork(engine) as uow:
        uow.catalog.add_calendar(Calendar("city", "City hall"))
        uow.commit()
    add_connector(SqlUnitOfWork(engine), clock, code="dot-hook", kind="webhook", body="DOT",
                  config={"url": "https://dot.example.gov/hook"})  # fmt: skip
    ids = {}
    for name, text in (("bounced", "Sinkhole by the depot"), ("late", "Hole by the school")):
        cmd = SubmitRequest(service_code="pothole", api_key=keys["submit"], lat="40.71", long="-74.0",
                            description=text, address_string=f"{name} street", attributes={"size": ["large"]},
                            contact=Contact(email="rosa@example.org"))  # fmt: skip
        rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
        assert rid is not None
        ids[name] = rid
    with SqlUnitOfWork(engine, writing=False) as uow:
        dot, dsny = (u.principal() for u in uow.users.all() if u.role == "department")
    transfer_request(SqlUnitOfWork(engine), clock, TransferRequest(dot, ids["bounced"], "DSNY", "looks like dumping"))
    transfer_request(SqlUnitOfWork(engine), clock, TransferRequest(dsny, ids["bounced"], "DOT", "a road defect"))
    clock.advance(timedelta(days=6))  # the 72-hour target is long past for both
    return ids


def _sign_in(page: Any, base: str, email: str, next_: str) -> None:
    sign_in(page, base, email, PASSWORD, next_)


_NAME = """(() => { const e = document.activeElement; if (!e) return '';
  const l = e.labels && e.labels[0];
  return (e.getAttribute('aria-label') || (l ? l.textContent : e.textContent) || '').trim(); })()"""


def _tab_to(page: Any, name: str, limit: int = 120) -> None:
    """Press Tab until the control with this accessible name (aria-label, label or text) has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(_NAME) == name:
            return
    raise AssertionError(f"no control named {name!r} reached by Tab")


def _press_enter_and_load(page: Any) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_admin__by_keyboard__user_key_holiday_and_audit(page: Any, served: str, city: dict[str, str]) -> None:
    _sign_in(page, served, "admin@city.gov", "/staff/me")
    _tab_to(page, "Admin")
    _press_enter_and_load(page)
    assert page.url.endswith("/staff/admin/users")
    assert page.get_by_role("heading", name="Staff accounts").is_visible()
    assert axe_violations(page) == []

    # add a department clerk of DSNY: the one-time password is on the answer, once
    _tab_to(page, "Email")
    page.keyboard.type("nia@city.gov")
    _tab_to(page, "Name")
    page.keyboard.type("Nia Park")
    _tab_to(page, "Role")
    page.keyboard.type("department")
    _tab_to(page, "Department of Sanitation (DSNY)")
    page.keyboard.press("Space")
    _tab_to(page, "Add user")
    _press_enter_and_load(page)
    password = page.locator("#one-time-password").inner_text()
    assert len(password) >= 12 and "nia@city.gov" in page.get_by_role("status").inner_text()
    assert page.get_by_role("row", name="nia@city.gov").is_visible()
    assert axe_violations(page) == []
    screenshot(page, "admin-users-added")
    page.goto(f"{served}/staff/admin/users")
    assert password not in page.content()  # shown once

    _tab_to(page, "Disable nia@city.gov")
    _press_enter_and_load(page)
    assert "The account is disabled" in page.get_by_role("status").inner_text()
    assert "Disabled" in page.get_by_role("row", name="nia@city.gov").inner_text()
    assert axe_violations(page) == []
    screenshot(page, "admin-users")

    # an API key for an app: shown once
    _tab_to(page, "API keys")
    _press_enter_and_load(page)
    _tab_to(page, "Name")
    page.keyboard.type("Street app")
    _tab_to(page, "Create key")
    _press_enter_and_load(page)
    key = page.locator("#new-key").inner_text()
    assert key.startswith("cs_") and page.get_by_role("row", name="Street app").is_visible()
    assert axe_violations(page) == []
    screenshot(page, "admin-keys")

    # connectors with their health
    _tab_to(page, "Connectors")
    _press_enter_and_load(page)
    assert page.get_by_role("row", name="dot-hook").is_visible()
    assert axe_violations(page) == []
    screenshot(page, "admin-connectors")

    # a holiday on the city calendar
    _tab_to(page, "SLA calendars")
    _press_enter_and_load(page)
    _tab_to(page, "Date")
    page.keyboard.type("12242026")  # the date field's segments: month, day, year (en-US)
    _tab_to(page, "Holiday name")
    page.keyboard.type("Christmas Eve")
    _tab_to(page, "Add holiday")
    _press_enter_and_load(page)
    assert "Holiday saved" in page.get_by_role("status").inner_text()
    assert "2026-12-24" in page.get_by_role("row", name="Christmas Eve").inner_text()
    assert axe_violations(page) == []
    screenshot(page, "admin-calendars")

    # the audit log, filtered to this admin's account changes
    _tab_to(page, "Audit log")
    _press_enter_and_load(page)
    assert axe_violations(page) == []
    _tab_to(page, "Who")
    page.keyboard.type("admin@city.gov")
    _tab_to(page, "Action")
    page.keyboard.type("user.manage")
    _tab_to(page, "Filter")
    _press_enter_and_load(page)
    assert "who=admin%40city.gov" in page.url and "action=user.manage" in page.url
    rows = page.locator("tbody tr")
    assert rows.count() == 2  # added, then disabled
    assert all("user.manage" in rows.nth(i).inner_text() for i in range(2))
    assert axe_violations(page) == []
    screenshot(page, "admin-audit")


def test_escalations__executive_by_keyboard__sees_who_bounced_and_why(
    page: Any, served: str, city: dict[str, str]
) -> None:
    _sign_in(page, served, "exec@city.gov", "/staff/me")
    _tab_to(page, "Escalations")
    _press_enter_and_load(page)
    assert page.get_by_role("heading", name="Escalations").is_visible()
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    first = rows.first.inner_text()
    assert city["bounced"] in first and "Bounced 2 times" in first
    assert "DOT → DSNY, by Dot: “looks like dumping”" in first and "DSNY → DOT, by Dsny: “a road defect”" in first
    assert "Overdue by 3 days" in rows.nth(1).inner_text()
    assert axe_violations(page) == []
    screenshot(page, "staff-escalations")
    _tab_to(page, city["bounced"])
    _press_enter_and_load(page)
    assert f"/staff/requests/{city['bounced']}" in page.url


def test_admin_forms__without_javascript__add_a_holiday_and_create_a_key(
    browser: Any, served: str, city: dict[str, str]
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _sign_in(page, served, "admin@city.gov", "/staff/admin/calendars")
        page.get_by_label("Date").fill("2027-01-01")
        page.get_by_label("Holiday name").fill("New Year")
        with page.expect_navigation():
            page.get_by_role("button", name="Add holiday").click()
        assert "2027-01-01" in page.get_by_role("row", name="New Year").inner_text()
        page.goto(f"{served}/staff/admin/keys")
        page.get_by_label("Name").fill("DOT system")
        page.get_by_label("Scope").select_option("update")
        page.get_by_label("Body (update keys only)").select_option("DOT")
        with page.expect_navigation():
            page.get_by_role("button", name="Create key").click()
        assert page.locator("#new-key").inner_text().startswith("cs_")
        assert "DOT" in page.get_by_role("row", name="DOT system").inner_text()
    finally:
        context.close()
