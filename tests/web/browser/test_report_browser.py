"""Reporting a problem in Chromium (web/report.py), in English and Spanish, on both databases: with the map (a click
places the pin, the questions come with the chosen service, a photo), without a map by the keyboard alone and
without JavaScript, and "follow this one instead" when the same problem is open nearby. axe on every page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import shapely
from fastapi import FastAPI
from sqlalchemy import Engine

from civicswitch.catalog.handlers import load_layer
from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.people.links import StopLinks
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from civicswitch.web.principals import session_secret
from conftest import axe_violations, screenshot, tab_to

AREAS = Path(__file__).parents[3] / "src" / "civicswitch" / "demo" / "data" / "areas"
PNG = bytes.fromhex(  # a 1×1 picture
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


def _in_spanish(catalog: dict[str, Any]) -> dict[str, Any]:
    pothole, graffiti = catalog["services"][0], catalog["services"][1]
    pothole["name"], graffiti["name"] = {"en": "Pothole", "es": "Bache"}, {"en": "Graffiti", "es": "Grafiti"}
    pothole["group"] = {"en": "Streets", "es": "Calles"}
    size = pothole["attributes"][0]
    size["description"] = {"en": "How big is it?", "es": "¿De qué tamaño es?"}
    size["values"] = [{"key": "small", "name": {"en": "Smaller than a plate", "es": "Más pequeño que un plato"}},
                      {"key": "large", "name": {"en": "Larger", "es": "Más grande"}}]  # fmt: skip
    return catalog


@pytest.fixture
def app(engine: Engine, clock: FixedClock, loaded: dict[str, str], catalog_data: dict[str, Any]) -> FastAPI:
    """The demo's boroughs as the coverage layer (the map's outline; no tiles); the catalog with Spanish texts."""
    load_catalog(SqlUnitOfWork(engine), _in_spanish(catalog_data))
    load_layer(SqlUnitOfWork(engine), "boroughs", (AREAS / "boroughs.geojson").read_bytes(), key_property="name",
               name_property="name")  # fmt: skip
    settings = Settings(database_url="sqlite:///unused.db", coverage_layer="boroughs")
    return create_app(settings, engine=engine, clock=clock)


def _wait_for(page: Any, expression: str, timeout_s: float = 10.0) -> None:
    """Polls with ``page.evaluate`` (``wait_for_function`` evaluates code the pages' CSP refuses)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"never true within {timeout_s} s: {expression}")
        page.wait_for_timeout(50)


def _click_inside_a_borough(page: Any) -> None:
    """Click the map in the middle of a drawn borough, until the point the pin wrote is inside one."""
    boroughs = shapely.from_geojson((AREAS / "boroughs.geojson").read_text())
    page.locator("#r-map").scroll_into_view_if_needed()
    for path in page.locator("#r-map .leaflet-overlay-pane path").all():
        box = path.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        if not page.input_value("#r-lat"):
            continue  # a control over it, or outside the map's view
        lat, long = float(page.input_value("#r-lat")), float(page.input_value("#r-long"))
        if shapely.intersects_xy(boroughs, long, lat).any():
            return
    raise AssertionError("no click landed inside a borough")


def _stored(engine: Engine, number: int) -> Any:
    with SqlUnitOfWork(engine) as uow:
        return uow.requests.get(number)


def _number_from(page: Any) -> int:
    assert "/report/sent/" in page.url, (page.url, page.locator("main").inner_text()[:800])
    return int(page.url.split("/report/sent/")[1].split("?")[0])


def test_report__english_with_the_map_questions_and_a_photo__sent_and_tracked(
    page: Any, served: str, engine: Engine, tmp_path: Path
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{served}/report")
    page.get_by_label("What is the problem?").select_option(label="Pothole")
    # the questions come by themselves (static/report.js): no button, no reload
    page.get_by_label("How big is it?").select_option(label="Larger")
    assert page.get_by_role("button", name="Show the questions for this problem").is_hidden()
    page.get_by_label("Where is it?").fill("Broadway & W 4th St")
    assert page.get_by_role("region", name="Map: click or drag the pin to the place; the coordinates below follow")
    _wait_for(page, "document.querySelectorAll('#r-map .leaflet-overlay-pane path').length === 5")
    _click_inside_a_borough(page)
    page.get_by_label("Description").fill("Deep hole in the right lane")
    photo = tmp_path / "hole.png"
    photo.write_bytes(PNG)
    page.get_by_label("Photo").set_input_files(str(photo))
    page.get_by_label("Email").fill("ana@example.org")
    screenshot(page, "report-en-filled")
    with page.expect_navigation():
        page.get_by_role("button", name="Send report").click()
    number = _number_from(page)
    assert page.get_by_role("heading", level=1).inner_text() == f"Report sent: request {number}"
    assert page.get_by_text("Department of Transportation").is_visible()
    screenshot(page, "report-en-sent")
    stored = _stored(engine, number)
    assert (stored.channel, stored.language, stored.attributes["size"]) == ("web", "en", "large")
    assert stored.lat is not None and stored.media_url.startswith("/media/") and stored.areas
    with page.expect_navigation():
        page.get_by_role("link", name=f"Track request {number}").click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Request {number}: Pothole"
    assert problems == []


def test_report__spanish_keyboard_only_without_javascript_or_map__sent(
    browser: Any, served: str, engine: Engine
) -> None:
    context = browser.new_context(locale="es-ES", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{served}/report")
        assert page.evaluate("document.documentElement.lang") == "es"
        tab_to(page, "¿Cuál es el problema?")
        page.keyboard.type("Grafiti")  # a select takes the typed name
        tab_to(page, "¿Dónde está?")
        page.keyboard.type("Esquina de Elm y Main, junto a la escuela")
        tab_to(page, "Descripción")
        page.keyboard.type("Pintadas en la pared de la escuela")
        tab_to(page, "Enviar reporte")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        number = _number_from(page)
        assert page.get_by_role("heading", level=1).inner_text() == f"Reporte enviado: solicitud {number}"
        screenshot(page, "report-es-sent-keyboard")
        stored = _stored(engine, number)
        assert (stored.service_code, stored.language, stored.lat) == ("graffiti", "es", None)
        assert stored.address == "Esquina de Elm y Main, junto a la escuela"
    finally:
        context.close()


def test_report__spanish_without_javascript__problems_listed_linked_and_the_answers_kept(
    browser: Any, served: str
) -> None:
    context = browser.new_context(locale="es-ES", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{served}/report")
        page.get_by_label("¿Cuál es el problema?").select_option(label="Bache")
        page.get_by_role("button", name="Mostrar las preguntas de este problema").click()
        assert page.get_by_label("¿De qué tamaño es?").is_visible()
        page.get_by_label("Correo electrónico").fill("no es un correo")
        page.get_by_role("button", name="Enviar reporte").click()
        summary = page.get_by_role("alert")
        assert "Hay 3 problemas" in summary.inner_text()
        summary.get_by_role("link", name="Escriba un correo electrónico como nombre@ejemplo.com.").click()
        assert page.url.endswith("#r-email")  # the summary's link goes to the field
        assert page.get_by_label("Correo electrónico").input_value() == "no es un correo"
        screenshot(page, "report-es-problems")  # axe needs JavaScript: the same page is checked with it below
    finally:
        context.close()


WORDS = {
    "en-US": {"what": "What is the problem?", "where": "Where is it?", "coordinates": "Coordinates (optional)",
              "lat": "Latitude", "long": "Longitude", "send": "Send report", "nearby": "Is it one of these?",
              "request": "Request", "email": "Email", "follow": "Follow"},
    "es-ES": {"what": "¿Cuál es el problema?", "where": "¿Dónde está?", "coordinates": "Coordenadas (opcional)",
              "lat": "Latitud", "long": "Longitud", "send": "Enviar reporte", "nearby": "¿Es uno de estos?",
              "request": "Solicitud", "email": "Correo electrónico", "follow": "Seguir"},
}  # fmt: skip


@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
def test_report__same_problem_open_nearby__followed_instead_by_email(
    browser: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str], locale: str
) -> None:
    w = WORDS[locale]
    earlier = submit_request(SqlUnitOfWork(engine), clock, SubmitRequest(
        service_code="graffiti", api_key=keys["submit"], lat="40.7359", long="-73.9911",
        address_string="7 Elm Street", description="Tags on the wall"))  # fmt: skip
    context = browser.new_context(locale=locale)
    page = context.new_page()
    try:
        page.goto(f"{served}/report")
        page.get_by_label(w["what"]).select_option("graffiti")
        page.get_by_label(w["where"]).fill("5 Elm Street")
        page.get_by_text(w["coordinates"]).click()
        page.get_by_label(w["lat"]).fill("40.7360")
        page.get_by_label(w["long"]).fill("-73.9912")
        page.get_by_role("button", name=w["send"]).click()
        assert page.get_by_role("heading", level=1).inner_text() == w["nearby"]
        assert page.get_by_label(f"{w['request']} {earlier.service_request_id}: 7 Elm Street").is_checked()
        assert axe_violations(page) == [], locale
        screenshot(page, f"report-{locale[:2]}-nearby")
        page.get_by_label(w["email"]).fill("ben@example.org")
        page.get_by_role("button", name=w["follow"], exact=True).click()
        assert page.get_by_role("heading", level=1).is_visible()
        screenshot(page, f"report-{locale[:2]}-followed")
        with SqlUnitOfWork(engine) as uow:
            followers = uow.requests.followers(int(earlier.service_request_id or 0))
        assert [f.contact.email for f in followers] == ["ben@example.org"]
        assert [f.language for f in followers] == [locale[:2]]
        assert axe_violations(page) == [], locale
    finally:
        context.close()


def test_report__pages_axe_clean_in_both_languages(browser: Any, served: str) -> None:
    for locale in ("en-US", "es-ES"):
        context = browser.new_context(locale=locale)
        page = context.new_page()
        try:
            page.goto(f"{served}/report")
            assert axe_violations(page) == [], locale
            screenshot(page, f"report-{locale[:2]}")
            page.goto(f"{served}/report?service=pothole")
            assert axe_violations(page) == [], locale
            page.get_by_role("button", name="Send report" if locale == "en-US" else "Enviar reporte").click()
            assert axe_violations(page) == [], locale  # the error summary and the fields it links to
            screenshot(page, f"report-problems-{locale[:2]}")
            page.goto(f"{served}/report")
            page.get_by_label("Where is it?" if locale == "en-US" else "¿Dónde está?").fill("1 Main St")
            what = "What is the problem?" if locale == "en-US" else "¿Cuál es el problema?"
            page.get_by_label(what).select_option("graffiti")
            with page.expect_navigation():
                page.get_by_role("button", name="Send report" if locale == "en-US" else "Enviar reporte").click()
            assert axe_violations(page) == [], locale  # the page after sending
            screenshot(page, f"report-sent-{locale[:2]}")
        finally:
            context.close()


def test_stop_emails_page__by_keyboard__stops_and_is_axe_clean_in_both_languages(
    browser: Any, served: str, app: FastAPI, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    filed = submit_request(SqlUnitOfWork(engine), clock, SubmitRequest(
        service_code="graffiti", api_key=keys["submit"], address_string="7 Elm Street",
        contact=Contact(email="ana@example.org")))  # fmt: skip
    number = int(filed.service_request_id or 0)
    token = StopLinks(session_secret(app.state.ctx), served).token(number, "ana@example.org")
    for locale, button, done in (
        ("es-ES", "Dejar de recibir los correos", "Listo"),
        ("en-US", "Stop the emails", "already receiving no"),
    ):
        context = browser.new_context(locale=locale)
        page = context.new_page()
        try:
            page.goto(f"{served}/follow/stop?token={token}")
            assert axe_violations(page) == [], locale
            tab_to(page, button)
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert done in page.get_by_role("status").inner_text(), locale
            assert axe_violations(page) == [], locale
            screenshot(page, f"follow-stop-{locale[:2]}")
        finally:
            context.close()
    with SqlUnitOfWork(engine) as uow:
        assert uow.requests.recipients(number) == []
