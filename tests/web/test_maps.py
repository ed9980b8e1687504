"""Maps on the staff pages (web/maps.py): Leaflet served from the xstatic-leaflet package, the coverage layer's
outline as GeoJSON, the tile setting and the Content-Security-Policy it opens, and the map boxes on the filing
form and the request page (hidden until the script runs; the inputs and text stay as they were)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine

from civicswitch.catalog.handlers import load_layer
from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from civicswitch.web.headers import CONTENT_SECURITY_POLICY
from civicswitch.web.maps import LEAFLET_DIR

PASSWORD = "a long enough password"
BOROUGHS = Path(__file__).parents[2] / "src" / "civicswitch" / "demo" / "data" / "areas" / "boroughs.geojson"
OSM = "https://{s}.tile.example.org/{z}/{x}/{y}.png"


def _app(engine: Engine, clock: FixedClock, **settings: object) -> FastAPI:
    chosen = Settings(database_url="sqlite:///unused.db", **settings)  # type: ignore[arg-type]
    return create_app(chosen, engine=engine, clock=clock)


@pytest.fixture
def boroughs(engine: Engine, loaded: dict[str, str]) -> None:
    load_layer(SqlUnitOfWork(engine), "boroughs", BOROUGHS.read_bytes(), key_property="name", name_property="name")


@pytest.fixture
def agent(engine: Engine, clock: FixedClock, loaded: dict[str, str]) -> None:
    add_user(SqlUnitOfWork(engine), clock, AddUser("ana@city.gov", "agent", password=PASSWORD))


def _sign_in(client: TestClient, email: str = "ana@city.gov") -> None:
    form = client.get("/staff/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    reply = client.post("/staff/login", data={"email": email, "password": PASSWORD, "csrf": csrf.group(1)},
                        follow_redirects=False)  # fmt: skip
    assert reply.status_code == 303


# -- Leaflet from the package ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["leaflet.js", "leaflet.css", "images/marker-icon.png"])
def test_leaflet__served_from_the_package__with_validators(client: TestClient, path: str) -> None:
    reply = client.get(f"/static/leaflet/{path}")
    assert reply.status_code == 200 and reply.content == (LEAFLET_DIR / path).read_bytes()
    assert reply.headers["etag"] and reply.headers["last-modified"]  # as /static's own files
    again = client.get(f"/static/leaflet/{path}", headers={"if-none-match": reply.headers["etag"]})
    assert again.status_code == 304


def test_map_script__ours_is_a_file_no_inline_script(client: TestClient) -> None:
    reply = client.get("/static/map.js")
    assert reply.status_code == 200 and "data-map" in reply.text


# -- the outline ----------------------------------------------------------------------------------------------
def test_outline__coverage_layer__geojson_with_each_area_and_etag(
    engine: Engine, clock: FixedClock, boroughs: None
) -> None:
    with TestClient(_app(engine, clock, coverage_layer="boroughs")) as client:
        reply = client.get("/map/areas.geojson")
        assert reply.status_code == 200 and reply.headers["content-type"] == "application/geo+json"
        assert reply.headers["cache-control"] == "public, no-cache"
        document = reply.json()
        assert document["type"] == "FeatureCollection"
        names = sorted(f["properties"]["name"] for f in document["features"])
        assert names == ["Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island"]
        assert len(reply.content) < BOROUGHS.stat().st_size  # simplified
        same = client.get("/map/areas.geojson", headers={"if-none-match": reply.headers["etag"]})
        assert same.status_code == 304 and same.content == b""


def test_outline__no_coverage_layer__empty_collection(client: TestClient) -> None:
    reply = client.get("/map/areas.geojson")
    assert reply.status_code == 200 and reply.json() == {"type": "FeatureCollection", "features": []}


# -- the tile setting and the policy --------------------------------------------------------------------------
def test_csp__no_tiles__images_from_this_server_only(client: TestClient) -> None:
    csp = client.get("/static/map.js").headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY and "img-src 'self' data:;" in csp


def test_csp__tiles_configured__their_origin_in_img_src_only(engine: Engine, clock: FixedClock) -> None:
    with TestClient(_app(engine, clock, map_tile_url=OSM)) as client:
        csp = client.get("/healthz").headers["content-security-policy"]
    assert "img-src 'self' data: https://*.tile.example.org;" in csp
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp and csp.count("tile.example.org") == 1


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ftp://tiles.example.org/{z}/{x}/{y}.png", "http(s) URL template"),
        ("https://tiles.example.org/{z}/{x}.png", "missing {y}"),
        ("https://tiles.{s}.example.org/{z}/{x}/{y}.png", "{s} only as its first label"),
        ("https://{s}.org/{z}/{x}/{y}.png", "{s} only as its first label"),
        ("https://tiles.example.org;script-src/{z}/{x}/{y}", "plain name"),
    ],
)
def test_tile_setting__bad_template__refused_with_the_reason(value: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        Settings(map_tile_url=value)


# -- the pages ------------------------------------------------------------------------------------------------
def test_filing_form__map_box_tied_to_the_inputs__hidden_until_the_script_runs(
    engine: Engine, clock: FixedClock, boroughs: None, agent: None
) -> None:
    app = _app(engine, clock, coverage_layer="boroughs", map_tile_url=OSM, map_tile_attribution="© Tile makers")
    with TestClient(app) as client:
        _sign_in(client)
        page = client.get("/staff/agent/file?service=pothole").text
    box = re.search(r"<div id=\"p-map\"[^>]*>", page)
    assert box, page
    tag = box.group(0)
    for attribute in ('role="region"', "hidden", 'data-map="pick"', 'data-lat-input="p-lat"',
                      'data-long-input="p-long"', 'data-outline-url="/map/areas.geojson"',
                      'data-tile-url="https://{s}.tile.example.org/{z}/{x}/{y}.png"',
                      'data-tile-attribution="© Tile makers"'):  # fmt: skip
        assert attribute in tag, attribute
    assert 'aria-label="Map of the caller&#39;s place: a click or a drag of the pin fills in the point"' in tag
    south, west, north, east = (float(v) for v in re.findall(r'data-bounds="([^"]+)"', tag)[0].split(","))
    assert 40.4 < south < 40.6 and -74.3 < west < -74.2 and 40.9 < north < 41.0 and -73.8 < east < -73.6
    assert '<script src="/static/leaflet/leaflet.js" defer></script>' in page
    assert '<script src="/static/map.js" defer></script>' in page and "<script>" not in page
    # the non-map inputs are all still there, as they were
    assert 'id="p-address" name="address_string"' in page and 'id="p-lat" name="lat"' in page
    assert 'id="p-long" name="long"' in page


def test_filing_form__no_tiles_no_areas__map_without_either(client: TestClient, agent: None) -> None:
    _sign_in(client)
    page = client.get("/staff/agent/file?service=pothole").text
    tag = re.search(r"<div id=\"p-map\"[^>]*>", page)
    assert tag and "data-tile-url" not in tag.group(0) and "data-outline-url" not in tag.group(0)
    assert "data-bounds" not in tag.group(0)


def _filed(engine: Engine, clock: FixedClock, keys: dict[str, str], **where: str) -> int:
    cmd = SubmitRequest(service_code="graffiti", api_key=keys["submit"], description="Tags", **where)  # type: ignore[arg-type]
    rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
    assert rid is not None
    return rid


def _map_tag(page: str) -> str:
    tag = re.search(r"<div id=\"r-map\"[^>]*>", page)
    assert tag, page
    return tag.group(0)


def test_request_page__map_beside_the_coordinates_text__none_without_a_point(
    engine: Engine, clock: FixedClock, keys: dict[str, str], agent: None
) -> None:
    ids = [_filed(engine, clock, keys, lat="40.71", long="-74.0"), _filed(engine, clock, keys, address_string="1 Elm")]
    with TestClient(_app(engine, clock, map_tile_url=OSM)) as client:
        _sign_in(client)
        page = client.get(f"/staff/requests/{ids[0]}").text
        without = client.get(f"/staff/requests/{ids[1]}").text
    assert "<dt>Coordinates</dt><dd>40.710000, -74.000000</dd>" in page
    tag = _map_tag(page)
    for attribute in ('data-map="show"', 'data-lat="40.710000"', 'data-long="-74.000000"', "hidden",
                      f'data-pin-label="Request {ids[0]}"', 'aria-label="Map of the request'):  # fmt: skip
        assert attribute in tag, attribute
    assert "data-lat-input" not in tag and "data-focus-url" not in tag  # with tiles: the street around the pin
    assert 'id="r-map"' not in without and "/static/leaflet/leaflet.js" not in without


def test_request_page__no_tiles__fitted_to_the_smallest_area_holding_the_point(
    engine: Engine, clock: FixedClock, keys: dict[str, str], agent: None, boroughs: None
) -> None:
    rid = _filed(engine, clock, keys, lat="40.71", long="-74.0")
    with TestClient(_app(engine, clock, coverage_layer="boroughs")) as client:
        _sign_in(client)
        tag = _map_tag(client.get(f"/staff/requests/{rid}").text)
        assert 'data-focus-url="/map/areas.geojson?layer=boroughs&amp;key=Manhattan"' in tag
        assert 'data-focus-name="Manhattan"' in tag and 'data-outline-url="/map/areas.geojson"' in tag
        south, west, north, east = (float(v) for v in re.findall(r'data-focus-bounds="([^"]+)"', tag)[0].split(","))
        assert 40.68 < south < 40.71 < north < 40.89 and -74.05 < west < -74.0 < east < -73.9  # Manhattan's box
        area = client.get("/map/areas.geojson", params={"layer": "boroughs", "key": "Manhattan"})
    assert area.status_code == 200 and area.headers["content-type"] == "application/geo+json"
    assert [f["properties"]["name"] for f in area.json()["features"]] == ["Manhattan"]


def test_request_page__no_tiles_no_area_around__no_map_only_the_coordinates(
    engine: Engine, clock: FixedClock, keys: dict[str, str], agent: None
) -> None:
    rid = _filed(engine, clock, keys, lat="40.71", long="-74.0")
    with TestClient(_app(engine, clock)) as client:
        _sign_in(client)
        page = client.get(f"/staff/requests/{rid}").text
    assert "<dt>Coordinates</dt><dd>40.710000, -74.000000</dd>" in page  # a pin on white would say nothing more
    assert 'id="r-map"' not in page and "/static/leaflet/leaflet.js" not in page


def test_area_outline__one_layer_or_one_area__unknown_ones_empty(
    engine: Engine, clock: FixedClock, boroughs: None
) -> None:
    with TestClient(_app(engine, clock)) as client:  # no coverage layer: any loaded layer by name still
        layer = client.get("/map/areas.geojson?layer=boroughs")
        assert len(layer.json()["features"]) == 5
        one = client.get("/map/areas.geojson?layer=boroughs&key=Queens")
        assert one.headers["etag"] != layer.headers["etag"]
        assert client.get("/map/areas.geojson?layer=boroughs&key=Queens",
                          headers={"if-none-match": one.headers["etag"]}).status_code == 304  # fmt: skip
        for query in ("layer=boroughs&key=Atlantis", "layer=atlantis", "layer=Bad%20Name!", "key=Queens"):
            reply = client.get(f"/map/areas.geojson?{query}")
            assert reply.status_code == 200 and reply.json() == {"type": "FeatureCollection", "features": []}, query


def test_outline__json_is_valid_geojson_polygons(engine: Engine, clock: FixedClock, boroughs: None) -> None:
    with TestClient(_app(engine, clock, coverage_layer="boroughs")) as client:
        document = json.loads(client.get("/map/areas.geojson").content)
    assert {f["geometry"]["type"] for f in document["features"]} <= {"Polygon", "MultiPolygon"}


def test_track_page__no_tiles__the_area_outlined_and_named_in_the_residents_language(
    engine: Engine, clock: FixedClock, keys: dict[str, str], boroughs: None
) -> None:
    """The residents' track page (web/residents.py) has the same map as the staff request page, beside the address
    and coordinates; the words over the outlined area are in the page's language."""
    rid = _filed(engine, clock, keys, lat="40.71", long="-74.0")
    with TestClient(_app(engine, clock, coverage_layer="boroughs")) as client:
        english = _map_tag(client.get(f"/requests/{rid}").text)
        spanish = _map_tag(client.get(f"/requests/{rid}?lang=es").text)
        without = client.get(f"/requests/{_filed(engine, clock, keys, address_string='1 Elm')}").text
    assert 'data-focus-name="Manhattan"' in english and 'data-focus-label="Outlined: Manhattan"' in english
    assert 'data-focus-label="Zona marcada: Manhattan"' in spanish and 'aria-label="Mapa del lugar' in spanish
    assert 'data-map="show"' in english and "hidden" in english and "data-lat-input" not in english
    assert 'id="r-map"' not in without and "/static/leaflet/leaflet.js" not in without
