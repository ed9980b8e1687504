"""Following an area in Chromium (web/area_follows.py), on both databases: in Spanish by keyboard alone without
JavaScript — the form, the confirmation mail received (aiosmtpd) and its link, a report in the area mailed as it
happens, its one-click stop link — and in English with JavaScript, a refusal said on the page; every page axe-clean
in both languages."""

from __future__ import annotations

import re
from typing import Any

import pytest
import shapely
from sqlalchemy import Engine, select

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.core.clock import FixedClock
from civicswitch.people.area_follows.tables import area_follows
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.routing.geography import AreaIndex
from civicswitch.routing.intake import Geography
from civicswitch.storage.sql import SqlUnitOfWork
from conftest import axe_violations, screenshot, tab_to
from mail_inbox import Inbox, deliver, plain_text, residents_mail
from mail_inbox import inbox as inbox

DISTRICTS = [Area("districts", "A", "Riverside", shapely.box(-74.05, 40.69, -73.95, 40.76)),
             Area("districts", "B", "Hilltop", shapely.box(-73.95, 40.73, -73.85, 40.85))]  # fmt: skip


def _districts(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.catalog.add_layer_version(AreaLayer("districts", "key", "name"), DISTRICTS, None)
        uow.commit()


def _report_in_a(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> int:
    """A report filed in district A (the districts as the coverage layer: its areas are stored with it)."""
    geography = Geography(AreaIndex(DISTRICTS), "districts")
    filed = submit_request(SqlUnitOfWork(engine), clock, SubmitRequest(
        service_code="graffiti", api_key=keys["submit"], lat="40.7359", long="-73.9911",
        address_string="5 Elm Street"), geography=geography)  # fmt: skip
    return int(filed.service_request_id or 0)


def _link(box: Inbox, path: str) -> str:
    found = re.search(rf"(http://\S+{re.escape(path)}\?token=\S+)", plain_text(box.received[-1][1]))
    assert found is not None, plain_text(box.received[-1][1])
    return found.group(1)


def _follows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(area_follows.c.cadence, area_follows.c.confirmed_at,
                                        area_follows.c.stopped_at, area_follows.c.language)))  # fmt: skip


def test_follow_area__spanish_keyboard_only_without_javascript__confirmed_told_of_a_report_then_stopped(
    browser: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str], inbox: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", served)
    box, port = inbox
    residents_mail(engine, clock, port)
    _districts(engine)
    context = browser.new_context(locale="es-ES", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{served}/follow/area?layer=districts&area=A")
        assert page.get_by_role("heading", level=1).inner_text() == "Seguir una zona"
        assert page.get_by_label("¿Qué zona?").input_value() == "districts:A"  # chosen by the link
        tab_to(page, "Un resumen diario")  # a radio group is one stop (the chosen one); its arrows choose
        page.keyboard.press("ArrowUp")
        assert page.get_by_label("Un correo por cada cambio").is_checked()
        tab_to(page, "Correo electrónico")
        page.keyboard.type("ana@example.org")
        screenshot(page, "area-follow-form-es")
        tab_to(page, "Seguir")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_role("heading", level=1).inner_text() == "Revise su correo electrónico"
        screenshot(page, "area-follow-sent-es")
        assert deliver(engine, clock) == 1
        assert box.received[-1][1]["Subject"] == "Confirme que quiere recibir correos sobre Riverside"
        page.goto(_link(box, "/follow/area/confirm"))
        tab_to(page, "Confirmar y seguir")
        screenshot(page, "area-follow-confirm-es")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_role("status").inner_text().startswith("Gracias: su dirección está confirmada")
        screenshot(page, "area-follow-confirmed-es")
        [(cadence, confirmed, stopped, language)] = _follows(engine)
        assert (cadence, confirmed is not None, stopped, language) == ("every_change", True, None, "es")

        number = _report_in_a(engine, clock, keys)
        assert deliver(engine, clock) == 1
        told = box.received[-1][1]
        assert told["Subject"] == f"Riverside: solicitud {number} — Reportada."
        assert told["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        page.goto(_link(box, "/follow/area/stop"))
        tab_to(page, "Dejar de recibir los correos")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        done = "Listo: esta dirección no recibirá más correos sobre Riverside."
        assert page.get_by_role("status").inner_text() == done
        screenshot(page, "area-follow-stopped-es")
    finally:
        context.close()
    [(_, _, stopped, _)] = _follows(engine)
    assert stopped is not None
    _report_in_a(engine, clock, keys)
    assert deliver(engine, clock) == 0


@pytest.mark.parametrize("lang", ["en", "es"])
def test_follow_area__every_page_axe_clean__a_refusal_said_on_the_page(
    browser: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str], inbox: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch, lang: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", served)
    box, port = inbox
    residents_mail(engine, clock, port)
    _districts(engine)
    number = _report_in_a(engine, clock, keys)
    deliver(engine, clock)
    context = browser.new_context(locale="en-US" if lang == "en" else "es-ES")
    page = context.new_page()
    words = {
        "en": ("Follow the reports in Riverside", "Email", "Follow", "Which kind of problem?",
               "Enter an email address like name@example.com."),
        "es": ("Seguir los reportes en Riverside", "Correo electrónico", "Seguir", "¿Qué tipo de problema?",
               "Escriba un correo electrónico como nombre@ejemplo.com."),
    }[lang]  # fmt: skip
    try:
        page.goto(f"{served}/requests/{number}?lang={lang}")  # the track page: its "Get emails" section
        assert axe_violations(page) == []
        screenshot(page, f"track-get-emails-{lang}")
        # following the request from it: a refusal is said on a page of its own
        page.locator(f'form[action="/requests/{number}/follow"] input[name="email"]').fill("ana@example")
        page.locator(f'form[action="/requests/{number}/follow"] button').click()
        page.wait_for_load_state()
        assert page.get_by_role("alert").get_by_role("link").inner_text() == words[4]
        assert axe_violations(page) == []
        screenshot(page, f"track-follow-problem-{lang}")
        page.goto(f"{served}/requests/{number}?lang={lang}")
        page.get_by_role("link", name=words[0]).click()
        page.wait_for_load_state()
        assert axe_violations(page) == []
        page.get_by_label(words[3]).select_option("graffiti")
        page.get_by_label(words[1], exact=True).fill("ana@example")  # the browser takes it; the server does not
        page.get_by_role("button", name=words[2], exact=True).click()
        page.wait_for_load_state()
        assert page.get_by_role("alert").get_by_role("link").inner_text() == words[4]
        assert page.get_by_label(words[3]).input_value() == "graffiti"  # what was chosen is kept
        assert axe_violations(page) == []
        screenshot(page, f"area-follow-problem-{lang}")
        page.get_by_label(words[1], exact=True).fill("ana@example.org")
        page.get_by_role("button", name=words[2], exact=True).click()
        page.wait_for_load_state()
        assert axe_violations(page) == []
        screenshot(page, f"area-follow-sent-{lang}")
        assert deliver(engine, clock) == 1
        page.goto(_link(box, "/follow/area/confirm"))
        assert axe_violations(page) == []
        screenshot(page, f"area-follow-confirm-{lang}")
        page.locator("form button").click()
        page.wait_for_load_state()
        assert page.get_by_role("status").is_visible() and axe_violations(page) == []
        screenshot(page, f"area-follow-confirmed-{lang}")
        page.goto(f"{served}/follow/area/stop?token=broken&lang={lang}")
        assert page.get_by_role("alert").is_visible() and axe_violations(page) == []
        screenshot(page, f"area-follow-bad-link-{lang}")
    finally:
        context.close()
