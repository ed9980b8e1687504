"""The maps in Chromium: on the filing form a click on the map or a drag of the pin fills Latitude and Longitude, and
typing them moves the pin; keyboard-only filing never needs the map; without tiles the boroughs' outline is drawn;
with tiles configured they load from their own origin under the Content-Security-Policy. The request page shows its
point on a small map beside the coordinates. No console errors, and axe on every page."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from civicswitch.catalog.handlers import load_layer
from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from civicswitch.web.maps import LEAFLET_DIR
from conftest import axe_violations, screenshot, sign_in, tab_to

PASSWORD = "a long enough password"
AREAS = Path(__file__).parents[3] / "src" / "civicswitch" / "demo" / "data" / "areas"
BOROUGHS, DISTRICTS = AREAS / "boroughs.geojson", AREAS / "community_districts.geojson"
# Every flow on both databases (the issue: "end to end in Chromium on SQLite and PostgreSQL"): the conftest's
# database_url runs SQLite always and PostgreSQL where CIVICSWITCH_TEST_POSTGRES_URL names one.


@pytest.fixture
def tiles() -> Iterator[str]:
    """A tile server on another origin (every tile the same small PNG), as a city's would be."""
    png = (LEAFLET_DIR / "images" / "layers.png").read_bytes()
    hits: list[str] = []

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def tile_url(request: pytest.FixtureRequest) -> str:
    """No tiles unless a test asks for the tile server."""
    if "tiles" in request.fixturenames:
        base: str = request.getfixturevalue("tiles")
        return base + "/{z}/{x}/{y}.png"
    return ""


@pytest.fixture
def app(engine: Engine, clock: FixedClock, loaded: dict[str, str], tile_url: str) -> FastAPI:
    """The demo's boroughs as the coverage layer, an agent, and a graffiti report with a point."""
    load_layer(SqlUnitOfWork(engine), "boroughs", BOROUGHS.read_bytes(), key_property="name", name_property="name")
    load_layer(SqlUnitOfWork(engine), "community_districts", DISTRICTS.read_bytes(), key_property="code",
               name_property="name")  # fmt: skip
    add_user(SqlUnitOfWork(engine), clock, AddUser("ana@city.gov", "agent", name="Ana Ruiz", password=PASSWORD))
    settings = Settings(database_url="sqlite:///unused.db", coverage_layer="boroughs", map_tile_url=tile_url,
                        map_tile_attribution="Test tiles" if tile_url else "")  # fmt: skip
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def problems(page: Any) -> list[str]:
    """Console errors and uncaught exceptions of the page (a CSP refusal is a console error)."""
    found: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error":  # the favicon's 404 too: the site has one (web/favicon.py)
            found.append(f"{message.text} {message.location}")

    page.on("console", console)
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


def _number(page: Any, selector: str) -> float:
    return float(page.input_value(selector))


def _pin(page: Any) -> dict[str, float]:
    box: dict[str, float] = page.locator("#p-map .leaflet-marker-icon").bounding_box()
    return box


def _wait_for(page: Any, expression: str, timeout_s: float = 10.0) -> None:
    """Wait until a JavaScript expression is true. Not ``page.wait_for_function``: its polling evaluates the text
    as code in the page (``new Function``), which the pages' Content-Security-Policy refuses (no 'unsafe-eval')
    whenever the expression is not true at once; ``page.evaluate`` is the browser's own evaluation."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"never true within {timeout_s} s: {expression}")
        page.wait_for_timeout(50)


def test_filing_map__click_and_drag_fill_the_inputs__typing_moves_the_pin__no_tiles(
    page: Any, served: str, problems: list[str]
) -> None:
    sign_in(page, served, "ana@city.gov", PASSWORD, "/staff/agent/file?service=graffiti")
    the_map = page.get_by_role(
        "region", name="Map of the caller's place: a click or a drag of the pin fills in the point"
    )
    assert the_map.is_visible()
    _wait_for(page, "document.querySelectorAll('#p-map .leaflet-overlay-pane path').length === 5")
    assert page.locator("#p-map .leaflet-tile").count() == 0  # no tiles: the five boroughs are drawn instead
    assert page.input_value("#p-lat") == "" and page.locator("#p-map .leaflet-marker-icon").count() == 0

    box = the_map.bounding_box()
    the_map.click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    lat, long = _number(page, "#p-lat"), _number(page, "#p-long")
    assert 40.45 < lat < 40.95 and -74.3 < long < -73.65  # within the city's bounds
    assert len(page.input_value("#p-lat").split(".")[1]) == 6
    assert page.get_by_role("img", name="The caller's place").is_visible()
    screenshot(page, "staff-agent-file-map")

    pin = _pin(page)
    page.mouse.move(pin["x"] + pin["width"] / 2, pin["y"] + pin["height"] - 2)
    page.mouse.down()
    page.mouse.move(pin["x"] + 80, pin["y"] - 40, steps=8)
    page.mouse.up()
    dragged_lat, dragged_long = _number(page, "#p-lat"), _number(page, "#p-long")
    assert dragged_lat > lat and dragged_long > long  # up and to the right: north and east

    before = _pin(page)
    page.fill("#p-lat", f"{dragged_lat - 0.01:.6f}")  # typing moves the pin (south: down the page)
    page.dispatch_event("#p-lat", "change")
    _wait_for(page, f"document.querySelector('#p-map .leaflet-marker-icon').getBoundingClientRect().y > "
                           f"{before['y'] + 5}")  # fmt: skip
    assert axe_violations(page) == []
    assert problems == []


def test_filing_map__keyboard_only_filing_never_touches_the_map(page: Any, served: str, problems: list[str]) -> None:
    sign_in(page, served, "ana@city.gov", PASSWORD, "/staff/agent/file?service=graffiti")
    _wait_for(page, "document.querySelectorAll('#p-map .leaflet-overlay-pane path').length === 5")
    tab_to(page, "Address")
    page.keyboard.type("5 Pine Road")
    tab_to(page, "Latitude")
    page.keyboard.type("40.7101")
    tab_to(page, "Longitude")
    page.keyboard.type("-74.0001")
    page.keyboard.press("Tab")  # leaving the field: the pin follows what was typed; the map is the next stop
    assert page.locator("#p-map .leaflet-marker-icon").count() == 1
    assert page.evaluate("document.activeElement.id") == "p-map"  # reachable, with a visible focus, and passed by
    screenshot(page, "staff-agent-file-map-focus")
    assert page.input_value("#p-lat") == "40.7101"  # typed values are kept as typed, never rewritten by the map
    tab_to(page, "Description")
    page.keyboard.type("Tags on the wall")
    tab_to(page, "Check for nearby requests")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", name="Before filing: Graffiti").is_visible()
    assert "40.7101, -74.0001" in page.content()
    tab_to(page, "File a new request")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").inner_text().startswith("Request ")
    assert problems == []


def test_filing_map__without_javascript__no_map_and_the_form_as_before(browser: Any, served: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, served, "ana@city.gov", PASSWORD, "/staff/agent/file?service=graffiti")
        assert page.locator("#p-map").is_hidden()
        assert page.get_by_label("Latitude").is_visible() and page.get_by_label("Address").is_visible()
        screenshot(page, "staff-agent-file-no-js")
    finally:
        context.close()


def test_filing_map__tiles_from_their_own_origin__allowed_by_the_policy(
    page: Any, served: str, tiles: str, problems: list[str]
) -> None:
    sign_in(page, served, "ana@city.gov", PASSWORD, "/staff/agent/file?service=graffiti")
    _wait_for(page, "[...document.querySelectorAll('#p-map img.leaflet-tile')]"
                           ".some(t => t.complete && t.naturalWidth > 0)")  # fmt: skip
    assert page.get_by_text("Test tiles").is_visible()  # the attribution
    assert axe_violations(page) == []
    assert problems == []
    screenshot(page, "staff-agent-file-map-tiles")


def test_request_page_map__the_point_beside_the_coordinates(
    page: Any, served: str, engine: Engine, clock: FixedClock, keys: dict[str, str], problems: list[str]
) -> None:
    cmd = SubmitRequest(service_code="graffiti", api_key=keys["submit"], lat="40.7100", long="-74.0000",
                        description="Tags on the school wall", address_string="12 Elm Street")  # fmt: skip
    rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
    sign_in(page, served, "ana@city.gov", PASSWORD, f"/staff/requests/{rid}")
    the_map = page.get_by_role("region", name="Map of the request's point (the coordinates beside it)")
    assert the_map.is_visible() and "40.710000, -74.000000" in page.content()
    assert page.get_by_role("img", name=f"Request {rid}").is_visible()
    # No tiles: the five boroughs and, fitted into view, the district holding the point, named in a corner.
    _wait_for(page, "document.querySelectorAll('#r-map .leaflet-overlay-pane path').length === 6")
    label = the_map.locator(".map-label")
    assert label.inner_text() == "Outlined: Lower East Side and Chinatown (CD3)" and label.is_visible()
    district = page.locator("#r-map .leaflet-overlay-pane path[stroke='#8a4b00']").bounding_box()
    pin, box = page.get_by_role("img", name=f"Request {rid}").bounding_box(), the_map.bounding_box()
    assert district["width"] > box["width"] / 3 or district["height"] > box["height"] / 3  # in view, not a speck
    assert box["x"] < pin["x"] < box["x"] + box["width"] and box["y"] < pin["y"] < box["y"] + box["height"]
    assert page.locator("#r-map [tabindex]").count() == 0 and the_map.get_attribute("tabindex") is None
    assert axe_violations(page) == []
    assert problems == []
    screenshot(page, "staff-request-map")


def test_request_page_map__tiles__the_street_around_the_point_no_outline_of_its_district(
    page: Any, served: str, tiles: str, engine: Engine, clock: FixedClock, keys: dict[str, str], problems: list[str]
) -> None:
    cmd = SubmitRequest(service_code="graffiti", api_key=keys["submit"], lat="40.7100", long="-74.0000",
                        description="Tags on the school wall", address_string="12 Elm Street")  # fmt: skip
    rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
    sign_in(page, served, "ana@city.gov", PASSWORD, f"/staff/requests/{rid}")
    _wait_for(page, "[...document.querySelectorAll('#r-map img.leaflet-tile')]"
                           ".some(t => t.complete && t.naturalWidth > 0)")  # fmt: skip
    assert page.locator("#r-map .map-label").count() == 0
    assert page.evaluate("document.querySelector('#r-map .leaflet-tile').src").split("/")[-3] == "16"  # zoom 16
    assert axe_violations(page) == []
    assert problems == []
