"""The follow-confirmation page in Chromium: without JavaScript, keyboard only, axe-clean, and its error page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from civicswitch.core.clock import FixedClock
from civicswitch.people.links import FollowLinks
from civicswitch.requests.commands import FollowRequest, SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.requests.staff import follow_request
from civicswitch.requests.tables import request_followers
from civicswitch.storage.sql import SqlUnitOfWork
from conftest import axe_violations, screenshot, tab_to

# Every flow on both databases (the issue: "end to end in Chromium on SQLite and PostgreSQL"): the conftest's
# database_url runs SQLite always and PostgreSQL where CIVICSWITCH_TEST_POSTGRES_URL names one.


def _link(engine: Engine, clock: FixedClock, keys: dict[str, str], app: Any, base: str) -> str:
    filed = submit_request(
        SqlUnitOfWork(engine),
        clock,
        SubmitRequest(service_code="graffiti", api_key=keys["submit"], lat="40.7359", long="-73.9911"),
    )
    rid = str(filed.service_request_id)
    follow_request(SqlUnitOfWork(engine), clock, FollowRequest(keys["submit"], rid, Contact(email="ana@example.org")))
    from civicswitch.web.principals import session_secret

    return FollowLinks(session_secret(app.state.ctx), base).url(int(rid), "ana@example.org", clock.now())


def _confirmed(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(request_followers.c.confirmed_at))]


def test_follow_confirm__keyboard_only_without_javascript__confirms_and_says_so(
    browser: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str], app: Any
) -> None:
    link = _link(engine, clock, keys, app, served)
    context = browser.new_context(locale="en-US", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(link)
        assert page.get_by_role("heading", name="Confirm that you want updates").is_visible()
        screenshot(page, "follow-confirm")
        assert _confirmed(engine) == [None]
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
        tab_to(page, "Confirm and follow")  # past the header's links: home, tracking, the languages
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_role("status").inner_text().startswith("Thank you: your address is confirmed")
        screenshot(page, "follow-confirmed")
        assert _confirmed(engine) == [clock.now()]
    finally:
        context.close()


def test_follow_confirm__pages_are_axe_clean__form_done_and_bad_link(
    page: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str], app: Any
) -> None:
    link = _link(engine, clock, keys, app, served)
    page.goto(link)
    assert axe_violations(page) == []
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm and follow").click()
    assert axe_violations(page) == []
    page.goto(f"{served}/follow/confirm?token=broken")
    assert page.get_by_role("alert").inner_text().startswith("This confirmation link is not valid")
    assert axe_violations(page) == []
    screenshot(page, "follow-confirm-bad-link")
