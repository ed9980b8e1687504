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
from civicswitch.requests.tables import request_events, service_requests
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
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


# -- re-routing when staff change the service or the location --------------------------------------------
@pytest.fixture
def staff_key(loaded: dict[str, str]) -> str:
    return loaded["admin"]


def _change(client: TestClient, key: str, request_id: str, **body: Any) -> Any:
    return client.patch(f"/api/v1/requests/{request_id}", json=body, headers={"X-Api-Key": key})


def _timeline(engine: Engine, request_id: str) -> list[Any]:
    with SqlUnitOfWork(engine) as uow:
        return uow.requests.events([int(request_id)], public_only=False)[int(request_id)]


def test_change__location_into_another_district__transfer_recorded_with_the_rule(routed: Any, staff_key: str) -> None:
    client, key, engine = routed
    rid = _post(client, key, "pothole", 0.5, 0.5, **{"attribute[size]": "small"}).json()[0]["service_request_id"]

    reply = _change(client, staff_key, rid, lat=0.5, long=1.5, note="Caller gave the wrong side of the bridge")

    assert reply.status_code == 200, reply.text
    assert reply.json() == {"service_request_id": rid, "owner": "DOT-EAST", "transferred": True, "referred": False}
    (transfer,) = [e for e in _timeline(engine, rid) if e.kind == "transferred"]
    assert transfer.public and transfer.description == (
        "Transferred from Department of Transportation to DOT East Yard: Caller gave the wrong side of the bridge"
    )
    assert transfer.data["body"] == ["DOT", "DOT-EAST"] and "east" in transfer.data["rule"]
    assert transfer.data["location"] == [[0.5, 0.5], [0.5, 1.5]]
    shown = client.get(f"/open311/v2/requests/{rid}.json?extensions=true").json()[0]
    assert shown["agency_responsible"] == "DOT East Yard"
    assert shown["extended_attributes"]["areas"] == {"city": "east"}


def test_change__service_with_the_same_owner__staff_only_change_no_transfer(routed: Any, staff_key: str) -> None:
    client, key, engine = routed
    rid = _post(client, key, "graffiti", 0.5, 0.5).json()[0]["service_request_id"]
    reply = _change(client, staff_key, rid, service_code="bulk-pickup")  # both are DSNY's
    assert reply.status_code == 200, reply.text
    assert reply.json()["transferred"] is False
    (changed,) = [e for e in _timeline(engine, rid) if e.kind in ("changed", "transferred")]
    assert (changed.kind, changed.public) == ("changed", False)
    assert changed.data["service_code"] == ["graffiti", "bulk-pickup"] and "body" not in changed.data
    assert client.get(f"/open311/v2/requests/{rid}.json").json()[0]["service_code"] == "bulk-pickup"


def test_change__moved_into_the_county__referred_and_closed(routed: Any, staff_key: str) -> None:
    client, key, _ = routed
    rid = _post(client, key, "graffiti", 0.5, 0.5).json()[0]["service_request_id"]
    reply = _change(client, staff_key, rid, lat=0.5, long=2.5)
    assert reply.json() == {"service_request_id": rid, "owner": "NASSAU", "transferred": True, "referred": True}
    shown = client.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert shown["status"] == "closed" and "Nassau County" in shown["status_notes"]


def test_change__refusals__clear_errors_and_nothing_written(routed: Any, staff_key: str) -> None:
    client, key, engine = routed
    rid = _post(client, key, "graffiti", 0.5, 0.5).json()[0]["service_request_id"]
    before = (_count(engine), len(_timeline(engine, rid)))
    replies = {
        "sea": _change(client, staff_key, rid, lat=5.0, long=5.0),
        "unknown service": _change(client, staff_key, rid, service_code="nope"),
        "nothing": _change(client, staff_key, rid, service_code="graffiti"),
        "half point": _change(client, staff_key, rid, lat=0.5),
        "submit key": _change(client, key, rid, lat=0.5, long=1.5),
        "no request": _change(client, staff_key, "999", lat=0.5, long=1.5),
    }
    assert {k: r.status_code for k, r in replies.items()} == {
        "sea": 400, "unknown service": 404, "nothing": 400, "half point": 400, "submit key": 403, "no request": 404,
    }  # fmt: skip
    assert "outside the area" in replies["sea"].json()[0]["description"]
    assert (_count(engine), len(_timeline(engine, rid))) == before


def test_change__closed_request__refused_until_reopened(routed: Any, staff_key: str) -> None:
    client, key, _ = routed
    rid = _post(client, key, "graffiti", 0.5, 0.5).json()[0]["service_request_id"]
    _change(client, staff_key, rid, lat=0.5, long=2.5)  # referred: closed
    reply = _change(client, staff_key, rid, lat=0.5, long=0.5)
    assert reply.status_code == 400 and "reopen it" in reply.json()[0]["description"]
