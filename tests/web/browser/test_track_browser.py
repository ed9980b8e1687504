"""Tracking a request in Chromium (web/residents.py), in English and Spanish: by keyboard alone without
JavaScript, from the front page, the language switcher kept across pages, and axe-clean pages (both databases)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact, Status
from civicswitch.storage.sql import SqlUnitOfWork
from conftest import axe_violations, screenshot, tab_to


def _filed(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> int:
    filed = submit_request(SqlUnitOfWork(engine), clock, SubmitRequest(
        service_code="graffiti", api_key=keys["submit"], lat="40.7359", long="-73.9911", address_string="5 Elm Street",
        description="Tags on the school wall", contact=Contact(email="ana@example.org")))  # fmt: skip
    rid = int(filed.service_request_id or 0)
    with SqlUnitOfWork(engine) as uow:
        found = uow.requests.get(rid)
        assert found is not None
        found.transition(Status.ACKNOWLEDGED, clock.now(), note="We will clean it this week")
        uow.requests.save(found)
        uow.commit()
    return rid


def test_track__spanish_keyboard_only_without_javascript__finds_the_request_by_its_number(
    browser: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _filed(engine, clock, keys)
    context = browser.new_context(locale="es-ES", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{served}/requests")
        assert page.get_by_role("heading", name="Consultar una solicitud").is_visible()
        assert page.evaluate("document.documentElement.lang") == "es"
        tab_to(page, "Número de solicitud")
        page.keyboard.type(f"#{rid}")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_role("heading", level=1).inner_text() == f"Solicitud {rid}: Graffiti"
        assert page.get_by_text("Recibido: el departamento se encarga").is_visible()
        assert page.get_by_text("We will clean it this week").is_visible()
        assert "ana@example.org" not in page.content()
        screenshot(page, "track-es")
        tab_to(page, "Consultar otra solicitud")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith("/requests")
    finally:
        context.close()


def test_track__from_the_front_page_then_switched_to_spanish__kept_on_the_next_page(
    page: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _filed(engine, clock, keys)
    page.goto(served)
    page.get_by_label("Request number").fill(str(rid))
    with page.expect_navigation():
        page.get_by_role("button", name="Track").click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Request {rid}: Graffiti"
    assert page.get_by_text("Acknowledged: the department has it").is_visible()
    screenshot(page, "track-en")
    with page.expect_navigation():
        page.get_by_role("navigation", name="Language").get_by_role("link", name="Español").click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Solicitud {rid}: Graffiti"
    page.goto(f"{served}/requests/{rid + 1000}")  # the choice is kept: an unknown number, answered in Spanish
    assert page.get_by_role("alert").inner_text().startswith(f"Ninguna solicitud tiene el número {rid + 1000}")
    screenshot(page, "track-unknown-es")


def test_track__pages_are_axe_clean_in_both_languages(
    browser: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _filed(engine, clock, keys)
    for locale in ("en-US", "es-ES"):
        context = browser.new_context(locale=locale)
        page = context.new_page()
        try:
            for path in ("/", "/requests", f"/requests/{rid}", "/requests/999999", "/requests?number=abc"):
                if path == "/" and locale != "en-US":
                    continue  # the front page is in English (issue 11: it becomes the residents' front door)
                page.goto(served + path)
                assert axe_violations(page) == [], (locale, path)
            screenshot(page, f"track-bad-number-{locale[:2]}")
        finally:
            context.close()


def test_front_page__axe_clean_in_both_languages__the_latest_link_to_their_pages(
    browser: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _filed(engine, clock, keys)
    for locale, heading in (("en-US", "Latest requests"), ("es-ES", "Solicitudes más recientes")):
        context = browser.new_context(locale=locale)
        page = context.new_page()
        try:
            page.goto(served)
            assert page.get_by_role("heading", name=heading).is_visible()
            assert axe_violations(page) == [], locale
            screenshot(page, f"front-{locale[:2]}")
            with page.expect_navigation():
                page.get_by_role("link", name=str(rid), exact=True).click()
            assert page.url.endswith(f"/requests/{rid}")
        finally:
            context.close()
