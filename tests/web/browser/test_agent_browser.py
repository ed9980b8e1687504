"""The agent console in Chromium, by keyboard alone: search a caller by phone, open their history, file on their
behalf with the service's questions, see the open request nearby and add the caller as its follower instead; log an
information-only call. The knowledge pages, and the filing form without JavaScript. axe on every page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from civicswitch.agent.handlers import SaveArticle, save_article
from civicswitch.agent.ports import PAGE_SIZE
from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.storage.sql import SqlUnitOfWork
from conftest import axe_violations, screenshot, sign_in
from conftest import tab_to as _tab_to

PASSWORD = "a long enough password"
# Every flow on both databases (the issue: "end to end in Chromium on SQLite and PostgreSQL"): the conftest's
# database_url runs SQLite always and PostgreSQL where CIVICSWITCH_TEST_POSTGRES_URL names one.


@pytest.fixture
def agent(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> dict[str, str]:
    """Rosa (555-0100) reported a pothole on Elm Street and graffiti; a pothole article; an agent and an admin."""
    ids = {}
    for name, service, text in (("pothole", "pothole", "Deep hole by the bus stop"),
                                ("graffiti", "graffiti", "Tags on the school wall")):  # fmt: skip
        answers = {"size": ["large"]} if service == "pothole" else {}
        cmd = SubmitRequest(service_code=service, api_key=keys["submit"], lat="40.7100", long="-74.0000",
                            description=text, address_string="12 Elm Street", attributes=answers,
                            contact=Contact("Rosa", "Diaz", "rosa@example.org", "(555) 010-0100"))  # fmt: skip
        rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
        assert rid is not None
        ids[name] = rid
    body = "Potholes are filled within **3 working days**.\n\n- Ask how big it is\n- Ask which lane"
    save_article(SqlUnitOfWork(engine), clock,
                 SaveArticle(OPERATOR, "pothole-repairs", "Pothole repairs", body, ("pothole",)))  # fmt: skip
    for email, role in (("ana@city.gov", "agent"), ("root@city.gov", "admin")):
        add_user(SqlUnitOfWork(engine), clock, AddUser(email, role, name="Ana Ruiz", password=PASSWORD))
    return ids


def _sign_in(page: Any, base: str, email: str, next_: str) -> None:
    sign_in(page, base, email, PASSWORD, next_)


def _press_enter(page: Any) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_agent__by_keyboard__search_more_than_a_page__next_and_previous_page(
    page: Any, served: str, agent: dict[str, str], engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    for i in range(PAGE_SIZE + 5):
        cmd = SubmitRequest(service_code="graffiti", api_key=keys["submit"], lat="40.7100", long="-74.0000",
                            description=f"Tag {i}", address_string=f"{i + 1} Oak Avenue")  # fmt: skip
        submit_request(SqlUnitOfWork(engine), clock, cmd)
    _sign_in(page, served, "ana@city.gov", "/staff/agent")
    _tab_to(page, "Search")
    page.keyboard.type("oak avenue")
    _press_enter(page)
    rows = page.locator("tbody tr")
    assert rows.count() == PAGE_SIZE
    caption = page.locator("caption").inner_text()
    assert caption == f"Requests 1–{PAGE_SIZE} of {PAGE_SIZE + 5} found for “oak avenue”, newest first"
    pages = page.get_by_role("navigation", name="Pages of the search")
    assert pages.get_by_role("button").all_inner_texts() == ["Next page"]
    assert axe_violations(page) == []
    screenshot(page, "staff-agent-search-paged")

    _tab_to(page, "Next page")
    _press_enter(page)
    assert page.url.endswith("/staff/agent/search")  # the search posted again: nothing of it in the address
    assert rows.count() == 5 and "Requests 26–30 of 30" in page.locator("caption").inner_text()
    assert page.input_value("#a-q") == "oak avenue"
    assert pages.get_by_role("button").all_inner_texts() == ["Previous page"]
    assert axe_violations(page) == []
    _tab_to(page, "Previous page")
    _press_enter(page)
    assert rows.count() == PAGE_SIZE and "Requests 1–25 of 30" in page.locator("caption").inner_text()


def test_agent__by_keyboard__search_history_file_with_answers_nearby_follow_and_log_a_call(
    page: Any, served: str, agent: dict[str, str]
) -> None:
    _sign_in(page, served, "ana@city.gov", "/staff/agent")
    assert page.get_by_role("heading", name="Agent console").is_visible()
    assert axe_violations(page) == []
    screenshot(page, "staff-agent-console")

    _tab_to(page, "Search")
    page.keyboard.type("555 010 0100")
    _press_enter(page)  # submits the search form
    rows = page.locator("tbody tr")
    assert rows.count() == 2 and "rosa@example.org" in rows.first.inner_text()
    assert axe_violations(page) == []
    screenshot(page, "staff-agent-search")

    _tab_to(page, f"History of Rosa Diaz (request {agent['graffiti']})")
    _press_enter(page)
    assert page.get_by_role("heading", name="History of Rosa Diaz").is_visible()
    assert "DOT, DSNY" in page.content() and page.locator("tbody tr").count() == 2
    assert axe_violations(page) == []
    screenshot(page, "staff-agent-history")

    _tab_to(page, "Service to file")
    page.keyboard.type("Pothole")  # type-ahead picks the option
    _tab_to(page, "Start filing")
    _press_enter(page)
    assert page.get_by_role("heading", name="File for a caller: Pothole").is_visible()
    assert page.input_value("#p-phone") == "(555) 010-0100"  # the caller's details came with them
    assert page.get_by_role("heading", name="Pothole repairs").is_visible()  # the knowledge beside the form
    assert axe_violations(page) == []

    _tab_to(page, "Latitude")
    page.keyboard.type("40.7101")
    _tab_to(page, "Longitude")
    page.keyboard.type("-74.0001")
    _tab_to(page, "Description")
    page.keyboard.type("Another hole near the bus stop")
    screenshot(page, "staff-agent-file")
    _tab_to(page, "Check for nearby requests")
    _press_enter(page)
    assert page.get_by_role("alert").is_visible()  # the required question was left out
    assert "“How big is it?” needs an answer" in page.get_by_role("alert").inner_text()
    assert page.input_value("#p-description") == "Another hole near the bus stop"
    assert axe_violations(page) == []
    screenshot(page, "staff-agent-file-errors")

    _tab_to(page, "How big is it? (required)")
    page.keyboard.type("Larger")
    _tab_to(page, "Check for nearby requests")
    _press_enter(page)
    assert page.get_by_role("heading", name="Before filing: Pothole").is_visible()
    nearby = page.locator("ul.nearby li")
    assert nearby.count() == 1 and f"Request {agent['pothole']}" in nearby.first.inner_text()
    assert axe_violations(page) == []
    screenshot(page, "staff-agent-nearby")

    _tab_to(page, f"Add this caller as a follower of request {agent['pothole']}")
    _press_enter(page)
    followed = page.get_by_role("status").inner_text()
    assert followed.startswith(f"The caller was added as a follower of request {agent['pothole']}.")
    assert "sends no mail to residents" in followed  # no residents' mail connector here: nothing sent, as the API says

    _tab_to(page, "Topic")
    page.keyboard.type("Trash day")
    _tab_to(page, "Log the call")
    _press_enter(page)
    assert page.get_by_role("status").inner_text() == "Call logged."
    table = page.get_by_role("table", name="Information-only calls per topic, most asked first")
    assert table.locator("tbody tr").first.inner_text().split() == ["Trash", "day", "1"]
    assert axe_violations(page) == []
    screenshot(page, "staff-agent-logged")


def test_agent__file_a_new_request_by_keyboard__request_page_follows(
    page: Any, served: str, agent: dict[str, str]
) -> None:
    _sign_in(page, served, "ana@city.gov", "/staff/agent/file?service=graffiti")
    assert page.get_by_role("heading", name="File for a caller: Graffiti").is_visible()
    _tab_to(page, "Phone")  # the radio group: one Tab stop, arrows choose
    page.keyboard.press("ArrowRight")
    assert page.is_checked("input[name=channel][value=walk_in]")
    _tab_to(page, "Phone number")
    page.keyboard.type("555-0142")
    _tab_to(page, "Address")
    page.keyboard.type("5 Pine Road")
    _tab_to(page, "Check for nearby requests")
    _press_enter(page)
    assert "No point was given" in page.content()
    assert axe_violations(page) == []
    _tab_to(page, "File a new request")
    _press_enter(page)
    notice = page.get_by_role("status").inner_text()
    assert notice.startswith("Request ") and notice.endswith(" filed for the caller. Open request " + notice.split()[1])
    _tab_to(page, f"Open request {notice.split()[1]}")
    _press_enter(page)
    assert "walk_in" in page.content() or "Walk-in" in page.content()


def test_knowledge__admin_pages_and_article__axe_clean(page: Any, served: str, agent: dict[str, str]) -> None:
    _sign_in(page, served, "root@city.gov", "/staff/knowledge")
    assert page.get_by_role("link", name="Pothole repairs").is_visible()
    assert axe_violations(page) == []
    screenshot(page, "staff-knowledge")
    page.get_by_role("link", name="Write a new article").click()
    page.wait_for_url("**/staff/knowledge/new")
    page.get_by_label("Title").fill("Bulk pick-up days")
    page.get_by_label("Address name").fill("bulk-pickup-days")
    page.get_by_label("Text").fill("Put items out **after 8 pm** the night before.\n\n<b>not bold</b>")
    page.get_by_label("Bulk item pick-up").check()
    assert axe_violations(page) == []
    screenshot(page, "staff-knowledge-edit")
    with page.expect_navigation():
        page.get_by_role("button", name="Save the article").click()
    assert page.get_by_role("heading", name="Bulk pick-up days").is_visible()
    assert page.locator("section.markdown strong").inner_text() == "after 8 pm"
    assert "<b>not bold</b>" in page.locator("section.markdown").inner_text()  # shown as typed, never run
    assert axe_violations(page) == []
    screenshot(page, "staff-knowledge-article")


def test_agent__file_form_without_javascript__check_then_file(browser: Any, served: str, agent: dict[str, str]) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _sign_in(page, served, "ana@city.gov", "/staff/agent")
        page.get_by_label("Service to file").select_option(label="Pothole")
        with page.expect_navigation():
            page.get_by_role("button", name="Start filing").click()
        page.get_by_label("Address").fill("99 Far Away Road")
        page.get_by_label("How big is it? (required)").select_option(label="Smaller than a plate")
        with page.expect_navigation():
            page.get_by_role("button", name="Check for nearby requests").click()
        with page.expect_navigation():
            page.get_by_role("button", name="File a new request").click()
        assert "filed for the caller" in page.get_by_role("status").inner_text()
    finally:
        context.close()
