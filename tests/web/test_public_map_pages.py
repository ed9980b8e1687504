"""The residents' public map (web/public_map.py) over HTTP, both databases: the list and the map's GeoJSON, their
filters in the URL, paging, the privacy of generalised services (their point and address never leave the server),
requests without a point, clear 400s for bad filters in the page's language, and Spanish."""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.catalog.handlers import load_layer
from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.geo import generalised
from civicswitch.requests.model import Channel, CloseReason, Contact, ServiceRequest, Status
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app

SECRET_LAT, SECRET_LONG = 40.7359123, -73.9911456
SECRET_ADDRESS = "12 Private Lane, flat 3"
BOROUGHS = Path(__file__).parents[2] / "src" / "civicswitch" / "demo" / "data" / "areas" / "boroughs.geojson"


def _add(engine: Engine, clock: FixedClock, service: str = "graffiti", *, ago: timedelta = timedelta(hours=1),
         lat: float | None = 40.7128, long: float | None = -74.006, address: str | None = "5 Elm Street",
         status: Status | None = None, reason: CloseReason | None = None) -> int:  # fmt: skip
    at = clock.now() - ago
    r = ServiceRequest(service_code=service, requested_at=at, channel=Channel.WEB, lat=lat, long=long,
                       address=address, description="Tags on the school wall")  # fmt: skip
    r.record_submission(at, client_id=None)
    if status is not None:
        r.transition(status, at + timedelta(minutes=5), reason=reason)
    with SqlUnitOfWork(engine) as uow:
        rid = uow.requests.add(r, Contact(email="ana@example.org", phone="555-0100", first_name="Ana"))
        uow.commit()
    return rid


def _generalise(engine: Engine, code: str, catalog: dict[str, Any]) -> None:
    data = copy.deepcopy(catalog)
    for service in data["services"]:
        if service["code"] == code:
            service["residents"] = {"public_location": "generalised"}
    load_catalog(SqlUnitOfWork(engine), data)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _rows(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td><a href="/requests/(\d+)">', html)]


def test_map__english__recent_requests_listed_with_kind_status_date_and_place(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    old = _add(engine, clock, ago=timedelta(days=91))
    closed = _add(engine, clock, "pothole", ago=timedelta(hours=2), address="7 Oak Avenue", status=Status.CLOSED,
                  reason=CloseReason.FIXED)  # fmt: skip
    newest = _add(engine, clock)
    page = client.get("/map", headers={"accept-language": "en"})
    assert page.status_code == 200 and page.headers["content-language"] == "en"
    assert _rows(page.text) == [newest, closed]  # newest first, not the one filed 91 days ago
    assert old not in _rows(page.text)
    text = _text(page.text)
    assert "Map of recent requests" in text and '<a href="/map" aria-current="page">' in page.text
    assert "Graffiti Received: waiting to be looked at" in text and "5 Elm Street" in text
    assert "Pothole Closed — fixed" in text and "7 Oak Avenue" in text
    assert '<select id="m-service" name="service">' in page.text and '<optgroup label="Streets">' in page.text
    assert '<button type="submit">Show</button>' in page.text
    for secret in ("ana@example.org", "555-0100", "Tags on the school wall"):
        assert secret not in page.text


def test_map__no_tiles_no_areas__no_map_box_the_list_is_the_page(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _add(engine, clock)
    page = client.get("/map")
    assert 'id="m-map"' not in page.text and "leaflet" not in page.text and _rows(page.text) == [rid]


def test_map__map_box__hidden_until_scripts_show_it_with_the_filters_in_its_data(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    load_layer(SqlUnitOfWork(engine), "boroughs", BOROUGHS.read_bytes(), key_property="name", name_property="name")
    settings = Settings(database_url="sqlite:///unused.db", coverage_layer="boroughs")
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app) as client:
        page = client.get("/map?service=graffiti&status=open&lang=es")
    box = re.search(r'<div id="m-map"[^>]*>', page.text)
    assert box is not None and " hidden" in box.group(0)
    assert 'data-points-url="/map/requests.geojson?service=graffiti&amp;status=open&amp;lang=es"' in box.group(0)
    assert 'data-outline-url="/map/areas.geojson"' in box.group(0) and "data-bounds=" in box.group(0)
    assert "/static/leaflet-markercluster/leaflet.markercluster.js" in page.text
    assert client.get("/static/leaflet-markercluster/leaflet.markercluster.js").status_code == 200
    assert client.get("/static/leaflet-markercluster/MarkerCluster.Default.css").status_code == 200
    assert client.get("/static/public_map.js").status_code == 200


def test_map__filters__service_and_status_from_the_url_selected_and_applied(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    graffiti = _add(engine, clock)
    pothole_open = _add(engine, clock, "pothole")
    pothole_closed = _add(engine, clock, "pothole", status=Status.CLOSED, reason=CloseReason.FIXED)
    held = _add(engine, clock, "pothole", status=Status.ACKNOWLEDGED)
    assert sorted(_rows(client.get("/map?service=pothole").text)) == sorted([pothole_open, pothole_closed, held])
    assert _rows(client.get("/map?service=pothole&status=closed").text) == [pothole_closed]
    assert sorted(_rows(client.get("/map?status=open").text)) == sorted([graffiti, pothole_open, held])
    page = client.get("/map?service=pothole&status=acknowledged")
    assert _rows(page.text) == [held]
    assert '<option value="pothole" selected>' in page.text and '<option value="acknowledged" selected>' in page.text
    assert "No request matches these choices" in client.get("/map?service=bulk-pickup").text


def test_map__generalised_service__point_and_address_never_in_the_page_or_the_geojson(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], catalog_data: dict[str, Any]
) -> None:
    _generalise(engine, "graffiti", catalog_data)
    rid = _add(engine, clock, lat=SECRET_LAT, long=SECRET_LONG, address=SECRET_ADDRESS)
    exact = _add(engine, clock, "pothole", lat=40.7, long=-73.9, address="7 Oak Avenue")
    page = client.get("/map")
    assert _rows(page.text) == [exact, rid]  # filed at the same time: the newer id first
    assert "Approximate place (within about 200 m)" in page.text and "7 Oak Avenue" in page.text
    points = client.get("/map/requests.geojson")
    assert points.status_code == 200 and points.headers["content-type"].startswith("application/geo+json")
    features = {f["properties"]["id"]: f for f in points.json()["features"]}
    shown_lat, shown_long = generalised(SECRET_LAT, SECRET_LONG)
    assert features[rid]["geometry"]["coordinates"] == [shown_long, shown_lat]
    assert features[rid]["properties"]["approximate"] is True
    assert features[exact]["geometry"]["coordinates"] == [-73.9, 40.7]
    assert features[exact]["properties"]["place"] == "7 Oak Avenue"
    for answer in (page.text, points.text):
        for secret in ("Private Lane", "40.73591", "-73.99114", "ana@example.org", "Tags on the school wall"):
            assert secret not in answer


def test_map__generalised_service__a_box_is_tested_on_the_cell_centre_not_the_point(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], catalog_data: dict[str, Any]
) -> None:
    """Moving a box's edge across the reported point must not make the request appear or vanish: only the centre."""
    _generalise(engine, "graffiti", catalog_data)
    rid = _add(engine, clock, lat=SECRET_LAT, long=SECRET_LONG)
    centre_lat, centre_long = generalised(SECRET_LAT, SECRET_LONG)

    def found(west: float, south: float, east: float, north: float) -> bool:
        answer = client.get(f"/map/requests.geojson?bbox={west},{south},{east},{north}")
        return rid in {f["properties"]["id"] for f in answer.json()["features"]}

    # a box holding the point but not the centre: not there; one holding the centre but not the point: there
    assert not found(SECRET_LONG - 0.0001, SECRET_LAT - 0.0001, SECRET_LONG + 0.0001, SECRET_LAT + 0.0001)
    assert found(centre_long - 0.00001, centre_lat - 0.00001, centre_long + 0.00001, centre_lat + 0.00001)


def test_map__request_without_a_point__in_the_list_not_on_the_map(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _add(engine, clock, lat=None, long=None, address="Corner of 5th and Main")
    assert _rows(client.get("/map").text) == [rid] and "Corner of 5th and Main" in client.get("/map").text
    assert client.get("/map/requests.geojson").json()["features"] == []


def test_map__geojson__filters_box_cap_and_words_in_the_language(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    inside = _add(engine, clock, lat=40.70, long=-74.00, status=Status.CLOSED, reason=CloseReason.FIXED)
    _add(engine, clock, lat=41.50, long=-74.00)
    _add(engine, clock, "pothole", lat=40.70, long=-74.00)
    answer = client.get("/map/requests.geojson?service=graffiti&bbox=-74.1,40.6,-73.9,40.8&lang=es")
    assert answer.headers["content-language"] == "es"
    body = answer.json()
    assert body["type"] == "FeatureCollection" and body["truncated"] is False
    [feature] = body["features"]
    assert feature["properties"] | {"reported": ""} == {
        "id": inside, "url": f"/requests/{inside}?lang=es", "title": f"Solicitud {inside}", "service": "Graffiti",
        "status": "closed", "status_text": "Cerrado — arreglado", "reported": "", "place": "5 Elm Street",
        "approximate": False}  # fmt: skip


def test_map__geojson__more_than_the_cap__truncated_newest_kept(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import civicswitch.requests.public_map as public_map

    monkeypatch.setattr(public_map, "MAP_CAP", 2)
    monkeypatch.setattr(public_map.public_points, "__defaults__", (None, 2, None))
    ids = [_add(engine, clock, ago=timedelta(hours=h)) for h in (3, 2, 1)]
    body = client.get("/map/requests.geojson").json()
    assert body["truncated"] is True and [f["properties"]["id"] for f in body["features"]] == ids[:0:-1]


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=bogus", "m-status"), ("service=no-such-service", "m-service"), ("page=0", None), ("page=99999", None),
     ("page=abc", None)],
)  # fmt: skip
def test_map__bad_filter__400_page_saying_what_with_the_form(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], query: str, field: str | None
) -> None:
    _add(engine, clock)
    page = client.get(f"/map?{query}")
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert "There is a problem" in page.text and 'role="alert"' in page.text
    assert '<form method="get" action="/map"' in page.text and _rows(page.text) == []
    if field:
        assert re.search(rf'<select id="{field}" name="\w+" aria-invalid="true">', page.text)


def test_map__bad_filter_in_spanish__400_in_spanish(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    page = client.get("/map?status=bogus&lang=es")
    assert page.status_code == 400 and page.headers["content-language"] == "es" and 'lang="es"' in page.text
    assert "Hay un problema" in page.text


@pytest.mark.parametrize("query", ["bbox=1,2,3", "bbox=a,b,c,d", "bbox=0,10,1,5", "status=nope", "service=zzz",
                                   "bbox=nan,0,1,1"])  # fmt: skip
def test_map__geojson_bad_filter__400_json(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], query: str
) -> None:
    answer = client.get(f"/map/requests.geojson?{query}")
    assert answer.status_code == 400 and answer.json()["error"].startswith("bad ")


def test_map__paging__fifty_a_page_next_and_previous_keep_the_filters(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    ids = [_add(engine, clock, ago=timedelta(minutes=60 - i)) for i in range(55)]
    _add(engine, clock, "pothole")
    first = client.get("/map?service=graffiti&status=open")
    assert _rows(first.text) == ids[::-1][:50]
    assert 'href="/map?service=graffiti&amp;status=open&amp;page=2" rel="next"' in first.text
    assert 'rel="prev"' not in first.text and "Requests 1 to 50, newest first" in first.text
    second = client.get("/map?service=graffiti&status=open&page=2")
    assert _rows(second.text) == ids[::-1][50:]
    assert 'href="/map?service=graffiti&amp;status=open&amp;page=1" rel="prev"' in second.text
    assert 'rel="next"' not in second.text and "Requests 51 to 55, newest first" in second.text


def test_map__spanish__service_names_status_words_and_dates_in_spanish(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], catalog_data: dict[str, Any]
) -> None:
    data = copy.deepcopy(catalog_data)
    data["services"][1]["name"] = {"en": "Graffiti", "es": "Grafiti"}
    load_catalog(SqlUnitOfWork(engine), data)
    rid = _add(engine, clock)
    page = client.get("/map?lang=es")
    assert page.status_code == 200 and page.headers["content-language"] == "es" and 'lang="es"' in page.text
    text = _text(page.text)
    assert _rows(page.text) == [rid] and "Grafiti" in text and "Recibida: pendiente de revisión" in text
    assert '<input type="hidden" name="lang" value="es">' in page.text
    assert 'href="/map?lang=en"' in page.text  # the switcher


def test_public_pages__link_to_the_map(client: TestClient, keys: dict[str, str]) -> None:
    for path in ("/requests", "/report"):
        assert '<a href="/map">' in client.get(path).text
