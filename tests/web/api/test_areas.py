"""GET /api/v1/areas: the areas of every layer at a point."""

from __future__ import annotations

from fastapi.testclient import TestClient
from shapely.geometry import box
from sqlalchemy import Engine

from civicswitch.catalog.handlers import load_layer
from civicswitch.storage.sql import SqlUnitOfWork


def _layer(engine: Engine, name: str, *cells: tuple[str, float]) -> None:
    features = [
        {"type": "Feature", "properties": {"id": key}, "geometry": box(x, 0, x + 1, 1).__geo_interface__}
        for key, x in cells
    ]
    load_layer(SqlUnitOfWork(engine), name, {"type": "FeatureCollection", "features": features}, key_property="id")


def test_areas__point__every_layer_with_key_or_null(client: TestClient, engine: Engine) -> None:
    _layer(engine, "districts", ("d1", 0), ("d2", 1))
    _layer(engine, "zones", ("z9", 5))
    reply = client.get("/api/v1/areas", params={"lat": "0.5", "long": "1.5"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"lat": 0.5, "long": 1.5, "areas": {"districts": {"key": "d2", "name": "d2"}, "zones": None}}


def test_areas__layer_loaded_later__seen_without_restart(client: TestClient, engine: Engine) -> None:
    _layer(engine, "districts", ("d1", 0))
    assert list(client.get("/api/v1/areas?lat=0.5&long=0.5").json()["areas"]) == ["districts"]
    _layer(engine, "zones", ("z1", 0))
    assert list(client.get("/api/v1/areas?lat=0.5&long=0.5").json()["areas"]) == ["districts", "zones"]


def test_areas__bad_or_missing_coordinates__400_with_reason(client: TestClient) -> None:
    for query, reason in (("lat=abc&long=1", "lat must be a decimal number"), ("long=1", "lat is required"),
                          ("lat=1&long=200", "long must be between")):  # fmt: skip
        reply = client.get(f"/api/v1/areas?{query}")
        assert reply.status_code == 400
        assert reason in reply.json()[0]["description"]


def test_areas__unknown_layer__404_listing_layers(client: TestClient, engine: Engine) -> None:
    _layer(engine, "districts", ("d1", 0))
    reply = client.get("/api/v1/areas?lat=0.5&long=0.5&layer=wards")
    assert reply.status_code == 404
    assert "unknown layer 'wards'; layers: districts" in reply.json()[0]["description"]
