""" "Is it fixed?" in Chromium (web/answers.py), on both databases: the closure mail is received (aiosmtpd) and
its links followed — in Spanish by keyboard alone without JavaScript, "still a problem" with a note reopens the
request, then a rating; in English "fixed" then a rating — and every page is axe-clean in both languages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine, select

from civicswitch.core.clock import FixedClock
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import SubmitRequest, WorkRequest, WorkStep
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.requests.tables import request_answers, service_requests
from civicswitch.requests.work import work_request
from civicswitch.storage.sql import SqlUnitOfWork
from conftest import axe_violations, screenshot, tab_to
from mail_inbox import Inbox, deliver, plain_text, residents_mail
from mail_inbox import inbox as inbox


def _closed(engine: Engine, clock: FixedClock, keys: dict[str, str], language: str) -> int:
    filed = submit_request(SqlUnitOfWork(engine), clock, SubmitRequest(
        service_code="graffiti", api_key=keys["submit"], lat="40.7359", long="-73.9911", address_string="5 Elm Street",
        description="Tags on the school wall", contact=Contact(email="ana@example.org"),
        language=language))  # fmt: skip
    number = int(filed.service_request_id or 0)
    work_request(SqlUnitOfWork(engine), clock, WorkRequest(OPERATOR, str(number), WorkStep.CLOSE, "Painted over",
                                                           close_reason="fixed"))  # fmt: skip
    return number


def _closure_links(box: Inbox, yes: str, no: str) -> tuple[str, str]:
    text = plain_text(box.received[-1][1])
    fixed, still = re.search(rf"{yes} (\S+)", text), re.search(rf"{no} (\S+)", text)
    assert fixed is not None and still is not None, text
    return fixed.group(1), still.group(1)


def _answer(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(request_answers)).one()


def test_is_it_fixed__spanish_keyboard_only_without_javascript__still_a_problem_reopens__then_rated(
    browser: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str], inbox: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", served)
    box, port = inbox
    residents_mail(engine, clock, port)
    number = _closed(engine, clock, keys, "es")
    assert deliver(engine, clock) == 1
    assert box.received[-1][1]["Subject"] == f"La solicitud {number} se cerró: arreglado"
    _, still = _closure_links(box, "Sí, está arreglado:", "No, sigue siendo un problema:")
    context = browser.new_context(locale="es-ES", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(still)
        assert page.get_by_role("heading", level=1).inner_text() == f"¿Está arreglado? Solicitud {number}"
        assert page.get_by_label("No, sigue siendo un problema").is_checked()  # the link's answer, chosen
        tab_to(page, "¿Qué sigue mal? (opcional)")
        page.keyboard.type("Volvieron a pintar la pared")
        tab_to(page, "Enviar respuesta")
        screenshot(page, "fixed-question-es")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_role("status").inner_text().startswith(f"La solicitud {number} se reabrió")
        tab_to(page, "1 — muy insatisfecho")  # a radio group is one stop; its arrows choose
        for _ in range(4):
            page.keyboard.press("ArrowDown")
        assert page.get_by_label("5 — muy satisfecho").is_checked()
        tab_to(page, "Enviar calificación")
        screenshot(page, "fixed-reopened-es")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_role("status").inner_text().startswith("Gracias: su calificación quedó registrada")
        screenshot(page, "fixed-rated-es")
    finally:
        context.close()
    row = _answer(engine)
    assert (row.answer, row.outcome, row.rating, row.language) == ("not_fixed", "reopened", 5, "es")
    with engine.connect() as conn:
        assert conn.execute(select(service_requests.c.status)).scalar() == "reopened"
    assert deliver(engine, clock) == 1  # and the filer is told of the reopening, in Spanish
    assert box.received[-1][1]["Subject"] == f"La solicitud {number} se reabrió"


def test_is_it_fixed__english_fixed_then_rated__pages_axe_clean_in_both_languages(
    browser: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str], inbox: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", served)
    box, port = inbox
    residents_mail(engine, clock, port)
    number = _closed(engine, clock, keys, "en")
    assert deliver(engine, clock) == 1
    fixed, _ = _closure_links(box, "Yes, it is fixed:", "No, it is still a problem:")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    try:
        page.goto(fixed)
        assert page.get_by_label("Yes, it is fixed").is_checked()
        assert axe_violations(page) == []
        page.get_by_role("button", name="Send answer").click()
        page.wait_for_load_state()
        assert page.get_by_role("status").inner_text().startswith("Thank you: your answer is recorded.")
        assert axe_violations(page) == []
        page.get_by_role("button", name="Send rating").click()  # no rating chosen: said on the page
        page.wait_for_load_state()
        assert (
            page.get_by_role("alert").get_by_role("link").inner_text() == "Choose how satisfied you are, from 1 to 5."
        )
        assert axe_violations(page) == []
        screenshot(page, "fixed-rating-problem-en")
        page.get_by_label("4 — satisfied").check()
        page.get_by_role("button", name="Send rating").click()
        page.wait_for_load_state()
        assert page.get_by_role("status").inner_text().startswith("Thank you: your rating is recorded")
        # the request's page asks anyone; the visitor's form (with Email), in Spanish, and a problem on it
        page.goto(f"{served}/requests/{number}?lang=es")
        assert page.get_by_role("heading", name="¿Está arreglado?").is_visible()
        assert axe_violations(page) == []
        page.get_by_role("link", name="No, sigue siendo un problema").click()
        page.wait_for_load_state()
        assert page.get_by_label("Correo electrónico (opcional)").is_visible()
        assert axe_violations(page) == []
        page.get_by_label("Correo electrónico (opcional)").fill("no es una dirección")
        page.get_by_role("button", name="Enviar respuesta").click()
        page.wait_for_load_state()
        assert page.get_by_role("alert").is_visible()
        assert axe_violations(page) == []
        screenshot(page, "fixed-visitor-problem-es")
    finally:
        context.close()
    assert (_answer(engine).answer, _answer(engine).rating) == ("fixed", 4)
