"""Routing at intake: areas and owner on the timeline, referral outside the city, refusal where nobody serves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box
from sqlalchemy import Engine, func, select

from civicswitch.catalog.handlers import load_layer
from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.sql import SqlUnitOfWork
from civicswitch.requests.tables import request_events, service_requests
from civicswitch.settings import Settings
from civicswitch.web.app import create_app

# The city is two districts side by side; a neighbouring county lies east of it; the sea is everywhere else.
CITY = {"west": box(0, 0, 1, 1), "east": box(1, 0, 2, 1)}
COUNTY = {"nassau": box(2, 0, 3, 1)}


def _layer(engine: Engine, name: str, shapes: dict[str, Any], names: dict[str, str] | None = None) -> None:
    features = [
        {"type": "Feature", "properties": {"k": k, "n": (names or {}).get(k, k)}, "geometry": g.__geo_interface__}
        for k, g in shapes.items()
    ]
    load_layer(SqlUnitOfWork(engine), name, {"type": "FeatureCollection", "features": features},
               key_property="k", name_property="n")  # fmt: skip


@pytest.fixture
def routed(engine: Engine, clock: FixedClock, loaded: dict[str, str], catalog_data: dict[str, Any]) -> Iterator[Any]:
    _layer(engine, "city", CITY)
    _layer(engine, "counties", COUNTY, {"nassau": "Nassau County"})
    document = {
        **catalog_data,
        "bodies": [*catalog_data["bodies"], {"code": "DOT-EAST", "name": "DOT East Yard"},
                   {"code": "NASSAU", "name": "Nassau County DPW", "kind": "external"}],
        "routing_rules": [
            {"service": "pothole", "layer": "city", "area": "east", "body": "DOT-EAST", "priority": 1},
            {"service": "*", "layer": "counties", "area": "nassau", "body": "NASSAU"},
        ],
    }  # fmt: skip
    load_catalog(SqlUnitOfWork(engine), document)
    settings = Settings(database_url="sqlite:///unused.db", coverage_layer="city")
    with TestClient(create_app(settings, engine=engine, clock=clock), raise_server_exceptions=False) as client:
        yield client, loaded["submit"], engine


def _post(client: TestClient, key: str, service: str, lat: float, long: float, **extra: str) -> Any:
    data = {"api_key": key, "service_code": service, "lat": str(lat), "long": str(long), **extra}
    return client.post("/open311/v2/requests.json", data=data)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(service_requests)).scalar_one())


def test_intake__inside_city__owner_from_rule_and_areas_on_timeline(routed: Any) -> None:
    client, key, engine = routed
    reply = _post(client, key, "pothole", 0.5, 1.5, **{"attribute[size]": "small"})
    assert reply.status_code == 200, reply.text
    rid = reply.json()[0]["service_request_id"]
    shown = client.get(f"/open311/v2/requests/{rid}.json?extensions=true").json()[0]
    assert shown["agency_responsible"] == "DOT East Yard"
    assert shown["status"] == "open"
    assert shown["extended_attributes"]["areas"] == {"city": "east"}
    with engine.connect() as conn:
        routed_event = conn.execute(select(request_events).where(request_events.c.kind == "routed")).one()
    assert "DOT-EAST" in routed_event.description and routed_event.public is False
    assert "pothole in city east" in json.dumps(routed_event.data)


def test_intake__inside_city_without_rule__service_default_owner(routed: Any) -> None:
    client, key, _ = routed
    rid = _post(client, key, "graffiti", 0.5, 0.5).json()[0]["service_request_id"]
    assert client.get(f"/open311/v2/requests/{rid}.json").json()[0]["agency_responsible"] == "Department of Sanitation"


def test_intake__in_neighbouring_county__referred_with_reason(routed: Any) -> None:
    client, key, _ = routed
    reply = _post(client, key, "graffiti", 0.5, 2.5)
    assert reply.status_code == 200, reply.text
    notice = reply.json()[0]["service_notice"]
    assert "Nassau County" in notice and "referred to Nassau County DPW" in notice
    rid = reply.json()[0]["service_request_id"]
    shown = client.get(f"/open311/v2/requests/{rid}.json?extensions=true").json()[0]
    assert shown["status"] == "closed" and shown["agency_responsible"] == "Nassau County DPW"
    assert shown["extended_attributes"]["close_reason"] == "referred"
    assert shown["status_notes"] == notice


def test_intake__where_nobody_serves__400_naming_the_area_and_nothing_written(routed: Any) -> None:
    client, key, engine = routed
    before = _count(engine)
    for fmt in ("json", "xml"):
        reply = client.post(f"/open311/v2/requests.{fmt}",
                            data={"api_key": key, "service_code": "graffiti", "lat": "5", "long": "5"})  # fmt: skip
        assert reply.status_code == 400
        assert "outside the area this service covers (east, west)" in reply.text
    assert _count(engine) == before


def test_intake__address_only__default_owner_without_routing(routed: Any) -> None:
    client, key, _ = routed
    reply = client.post("/open311/v2/requests.json",
                        data={"api_key": key, "service_code": "graffiti", "address_string": "1 Main St"})  # fmt: skip
    assert reply.status_code == 200, reply.text


def test_services__with_location__only_services_available_there(routed: Any) -> None:
    client, _, _ = routed
    everything = {s["service_code"] for s in client.get("/open311/v2/services.json").json()}
    inside = {s["service_code"] for s in client.get("/open311/v2/services.json?lat=0.5&long=0.5").json()}
    county = {s["service_code"] for s in client.get("/open311/v2/services.json?lat=0.5&long=2.5").json()}
    sea = client.get("/open311/v2/services.xml?lat=5&long=5")
    assert inside == everything and county == everything  # Nassau takes every service (rule for "*")
    assert sea.status_code == 200 and "<service>" not in sea.text
    bad = client.get("/open311/v2/services.json?lat=0.5")
    assert bad.status_code == 400 and "lat and long must be sent together" in bad.json()[0]["description"]


def test_intake__coverage_layer_not_loaded__requests_accepted_and_warning_logged(
    client: TestClient, keys: dict[str, str], app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app.state.ctx.settings = Settings(database_url="sqlite:///unused.db", coverage_layer="boroughs")
    data = {"api_key": keys["submit"], "service_code": "graffiti", "lat": "5", "long": "5"}
    reply = client.post("/open311/v2/requests.json", data=data)
    assert reply.status_code == 200, reply.text
    assert "coverage layer 'boroughs' is not loaded" in caplog.text
