"""Response templates in Chromium, by keyboard alone: an admin adds a template on the admin page; a department
clerk picks it on a request's note form, "Use template" fills the note in (server-side), the clerk edits it and
adds it. axe on every new or changed page (the templates' list, edit and delete pages, the request page with a
filled note, a knowledge article's delete question, the staff accounts with a disabled one); screenshots for
docs/staff-guide.md."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from civicswitch.agent.handlers import SaveArticle, save_article
from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user, disable_user
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.responses.handlers import SaveTemplate, save_template
from civicswitch.storage.sql import SqlUnitOfWork
from conftest import axe_violations, screenshot, sign_in

PASSWORD = "a long enough password"
# Every flow on both databases (the issue: "end to end in Chromium on SQLite and PostgreSQL"): the conftest's
# database_url runs SQLite always and PostgreSQL where CIVICSWITCH_TEST_POSTGRES_URL names one.

_NAME = """(() => { const e = document.activeElement; if (!e) return '';
  const l = e.labels && e.labels[0];
  return (e.getAttribute('aria-label') || (l ? l.textContent : e.textContent) || '').trim(); })()"""


def _tab_to(page: Any, name: str, limit: int = 150) -> None:
    """Press Tab until the control with this accessible name (aria-label, label or text) has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(_NAME) == name:
            return
    raise AssertionError(f"no control named {name!r} reached by Tab")


def _enter(page: Any) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


@pytest.fixture
def city(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> str:
    for email, role, scope in (("admin@city.gov", "admin", {}), ("ana@city.gov", "department", {"bodies": ("DOT",)}),
                               ("old@city.gov", "agent", {})):  # fmt: skip
        add_user(SqlUnitOfWork(engine), clock, AddUser(email, role, password=PASSWORD, **scope))  # type: ignore[arg-type]
    disable_user(SqlUnitOfWork(engine), clock, "old@city.gov")
    called = SaveTemplate(OPERATOR, "Called the resident", "Called about {request_id}. Outcome: ", "internal")
    save_template(SqlUnitOfWork(engine), clock, called)
    save_article(SqlUnitOfWork(engine), clock, SaveArticle(OPERATOR, "potholes", "Potholes", "Fixed in 3 days."))
    cmd = SubmitRequest(service_code="pothole", api_key=keys["submit"], lat="40.71", long="-74.0",
                        description="Deep hole by the bus stop", address_string="100 Main Street",
                        attributes={"size": ["large"]}, contact=Contact(first_name="Rosa"))  # fmt: skip
    rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
    assert rid is not None
    return rid


def test_templates__admin_adds_one_by_keyboard__clerk_uses_it_and_adds_the_note(
    page: Any, browser: Any, served: str, city: str
) -> None:
    sign_in(page, served, "admin@city.gov", PASSWORD, "/staff/admin/users")
    _tab_to(page, "Response templates")
    _enter(page)
    assert page.url.endswith("/staff/admin/templates")
    assert page.get_by_role("heading", name="Response templates", exact=True).is_visible()
    assert axe_violations(page) == []
    _tab_to(page, "Template name")
    page.keyboard.type("Crew scheduled")
    _tab_to(page, "Service")
    page.keyboard.type("Pothole")
    _tab_to(page, "Text")
    page.keyboard.type("A crew will fix the pothole at {address} by {due_date}. Reference: request {request_id}.")
    _tab_to(page, "Add template")
    _enter(page)
    assert "Template added." in page.get_by_role("status").inner_text()
    row = page.get_by_role("row", name="Crew scheduled")
    assert "Pothole" in row.inner_text() and "Public" in row.inner_text()
    assert axe_violations(page) == []
    screenshot(page, "admin-templates")

    # a refused template: the reason names the placeholder, the form keeps what was typed
    _tab_to(page, "Template name")
    page.keyboard.type("Broken")
    _tab_to(page, "Text")
    page.keyboard.type("Fixed by {when}")
    _tab_to(page, "Add template")
    _enter(page)
    assert "unknown placeholder {when}" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Text").input_value() == "Fixed by {when}"
    assert axe_violations(page) == []

    # the edit form and the question before deleting
    _tab_to(page, "Edit Crew scheduled")
    _enter(page)
    assert page.get_by_label("Template name").input_value() == "Crew scheduled"
    assert axe_violations(page) == []
    page.goto(f"{served}/staff/admin/templates")
    _tab_to(page, "Delete Called the resident")
    _enter(page)
    assert page.get_by_role("heading", name="Delete “Called the resident”?").is_visible()
    assert axe_violations(page) == []
    screenshot(page, "admin-templates-delete")
    _tab_to(page, "Keep it")
    _enter(page)
    assert page.get_by_role("row", name="Called the resident").is_visible()

    # the two admin gaps' pages: a disabled account's Enable button, a knowledge article's delete question
    page.goto(f"{served}/staff/admin/users")
    assert page.get_by_role("button", name="Enable old@city.gov").is_visible()
    assert axe_violations(page) == []
    page.goto(f"{served}/staff/knowledge/potholes")
    _tab_to(page, "Delete this article")
    _enter(page)
    assert page.get_by_role("heading", name="Delete “Potholes”?").is_visible()
    assert axe_violations(page) == []
    screenshot(page, "knowledge-delete")

    # the department clerk, in a browser of their own
    context = browser.new_context(locale="en-US")
    clerk = context.new_page()
    try:
        sign_in(clerk, served, "ana@city.gov", PASSWORD, f"/staff/requests/{city}")
        assert clerk.url.endswith(f"/staff/requests/{city}")
        _tab_to(clerk, "Response template")
        clerk.keyboard.type("Crew")
        _tab_to(clerk, "Use template")
        _enter(clerk)
        note = clerk.get_by_label("Note", exact=True)
        expected = f"A crew will fix the pothole at 100 Main Street by 1 December 2026. Reference: request {city}."
        assert note.input_value() == expected
        assert clerk.evaluate("document.activeElement.id") == "w-note"  # straight to the text, to edit it
        assert clerk.get_by_label("Public (the resident and Open311 apps)").is_checked()
        assert axe_violations(clerk) == []
        screenshot(clerk, "request-template-filled")
        clerk.keyboard.press("Control+End")
        clerk.keyboard.type(" Thank you for your patience.")
        _tab_to(clerk, "Add note")
        _enter(clerk)
        assert "Note added." in clerk.get_by_role("status").inner_text()
        entry = clerk.locator("ol.timeline li", has_text="Thank you for your patience.")
        assert entry.count() == 1 and "Public" in entry.inner_text() and "100 Main Street" in entry.inner_text()
        assert axe_violations(clerk) == []
    finally:
        context.close()
