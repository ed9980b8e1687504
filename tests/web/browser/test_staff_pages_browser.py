"""The staff sign-in pages in Chromium: keyboard only, with and without JavaScript, and axe-clean."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.storage.sql import SqlUnitOfWork
from conftest import axe_violations, screenshot

PASSWORD = "a long enough password"
# Every flow on both databases (the issue: "end to end in Chromium on SQLite and PostgreSQL"): the conftest's
# database_url runs SQLite always and PostgreSQL where CIVICSWITCH_TEST_POSTGRES_URL names one.


@pytest.fixture
def staff(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> str:
    add_user(SqlUnitOfWork(engine), clock, AddUser("ana@city.gov", "department", bodies=("DOT",), name="Ana Ruiz",
                                                  password=PASSWORD))  # fmt: skip
    return "ana@city.gov"


def _sign_in_with_the_keyboard(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/staff/login")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "email"  # the first field has the focus: type straight away
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_sign_in__keyboard_only__who_am_i_then_sign_out(page: Any, served: str, staff: str) -> None:
    page.goto(f"{served}/staff/login")
    assert page.title().startswith("Sign in")
    assert axe_violations(page) == []
    screenshot(page, "staff-login")
    _sign_in_with_the_keyboard(page, served, staff, PASSWORD)
    assert page.url.endswith("/staff/me")
    assert page.get_by_role("heading", name="Who am I").is_visible()
    assert "Ana Ruiz" in page.content() and "DOT" in page.content()
    assert axe_violations(page) == []
    screenshot(page, "staff-me")
    # sign out with the keyboard: the skip link first, then the header's button
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    for name in ("Queue", "Manual bridge", "Knowledge", "Who am I", "Sign out"):  # links, button
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == name
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/staff/login")


def test_sign_in__wrong_password__error_announced_and_tied_to_the_field(page: Any, served: str, staff: str) -> None:
    _sign_in_with_the_keyboard(page, served, staff, "not the right one at all")
    alert = page.get_by_role("alert")
    assert "not right" in alert.inner_text()
    assert page.get_attribute("#email", "aria-describedby") == "error"
    assert page.input_value("#email") == staff  # what was typed is kept
    assert axe_violations(page) == []
    screenshot(page, "staff-login-error")


def test_password_page__without_javascript__works_and_is_axe_clean(browser: Any, served: str, staff: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _sign_in_with_the_keyboard(page, served, staff, PASSWORD)
        page.goto(f"{served}/staff/password")
        assert axe_violations_without_js(browser, page.url, context) == []
        page.fill("#current", PASSWORD)
        page.fill("#new", "another long password")
        page.fill("#again", "another long password")
        with page.expect_navigation():
            page.get_by_role("button", name="Save the new password").click()
        assert "Your new password is saved" in page.content()
        screenshot(page, "staff-password-saved")
    finally:
        context.close()


def axe_violations_without_js(browser: Any, url: str, context: Any) -> list[str]:
    """axe needs scripts: check the same page (same cookies) in a JavaScript-enabled context."""
    checker = browser.new_context(storage_state=context.storage_state())
    try:
        page = checker.new_page()
        page.goto(url)
        return axe_violations(page)
    finally:
        checker.close()
