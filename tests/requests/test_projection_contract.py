"""The database-rendered Open311 JSON list equals the Python projection, row for row, on every store."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import orjson
import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.demo.city import catalog_document
from civicswitch.requests.importer import import_requests, rows_from_bytes
from civicswitch.requests.model import Channel, CloseReason, ServiceRequest, Status
from civicswitch.requests.projection import open311_request
from civicswitch.requests.views import RequestQuery
from civicswitch.storage.ports import UnitOfWork

BASE = "https://311.example.gov"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _demo_rows(n: int) -> list[dict[str, str]]:
    from importlib import resources

    raw = (resources.files("civicswitch.demo") / "data" / "requests.csv.gz").read_bytes()
    return list(islice(rows_from_bytes(raw), n))


def _awkward_requests() -> list[ServiceRequest]:
    """Values that stress escaping, nulls, unicode, media and number formatting."""
    base = ServiceRequest(
        service_code="noise-residential",
        requested_at=T0,
        channel=Channel.OPEN311,
        lat=40.7128,
        long=-74.006,
        source_ref="test:1",
    )
    variants: list[dict[str, Any]] = [
        {"description": 'Quote " backslash \\ slash / tab \t newline \n end', "address": '1 "A" St'},
        {"description": "Unicode: café — 東京 — 🚧 — \u2028 line sep", "status_notes": "Naïve “curly”"},
        {"description": "control \x01 \x1f chars", "media_url": "/media/abc123.png"},
        {"media_url": "https://example.org/photo.jpg?x=1&y=2", "address": None, "lat": 40.1, "long": -73.9},
        {"lat": None, "long": None, "address": "Corner of A & B", "zipcode": "10001", "address_id": "BIN-7"},
        {
            "status": Status.CLOSED,
            "close_reason": CloseReason.FIXED,
            "closed_at": T0 + timedelta(hours=5),
            "updated_at": T0 + timedelta(hours=5),
            "status_notes": "Fixed.",
        },
        {"expected_at": T0 + timedelta(days=3), "body_code": None, "lat": -0.000001, "long": 179.9999999},
        {"description": "", "media_url": ""},
    ]
    out = []
    for i, changes in enumerate(variants, start=1):
        out.append(
            dataclasses.replace(
                base, source_ref=f"test:{i}", requested_at=T0 + timedelta(minutes=i), pending_events=[], **changes
            )
        )
    return out


@pytest.fixture
def filled(store_uow_factory: Any) -> Any:
    store_uow = store_uow_factory
    load_catalog(store_uow(), catalog_document())
    import_requests(store_uow(), _demo_rows(1500), source="nyc311")
    uow: UnitOfWork = store_uow()
    with uow:
        uow.requests.add_many(_awkward_requests())
        uow.commit()
    return store_uow


QUERIES = [
    RequestQuery(limit=1000),
    RequestQuery(limit=50, offset=50),
    RequestQuery(statuses=("closed",), limit=300),
    RequestQuery(service_codes=("noise-residential", "illegal-parking"), limit=1000),
    RequestQuery(requested_from=T0, requested_to=T0 + timedelta(days=1), limit=1000),
    RequestQuery(ids=(1, 2, 3, 999_999), limit=4),
]


@pytest.mark.parametrize("query", QUERIES, ids=[f"q{i}" for i in range(len(QUERIES))])
def test_find_open311_json__equals_python_projection(filled: Any, query: RequestQuery) -> None:
    uow: UnitOfWork = filled()
    with uow:
        rendered = orjson.loads(uow.requests.find_open311_json(query, BASE))
        expected = [open311_request(v, BASE) for v in uow.requests.find(query)]
    assert rendered == expected
    assert len(rendered) == len(expected)


def test_find_open311_json__awkward_values__round_trip(filled: Any) -> None:
    uow: UnitOfWork = filled()
    with uow:
        rendered = orjson.loads(
            uow.requests.find_open311_json(RequestQuery(requested_from=T0, requested_to=T0 + timedelta(hours=1)), BASE)
        )
    by_desc = {r["description"]: r for r in rendered}
    assert 'Quote " backslash \\ slash / tab \t newline \n end' in by_desc
    assert "Unicode: café — 東京 — 🚧 — \u2028 line sep" in by_desc
    media = {r["media_url"] for r in rendered}
    assert f"{BASE}/media/abc123.png" in media
    assert "https://example.org/photo.jpg?x=1&y=2" in media
    assert "" not in media
    assert all(len(r) == 17 for r in rendered)


@pytest.mark.parametrize("query", QUERIES, ids=[f"q{i}" for i in range(len(QUERIES))])
def test_open311_json_with_validator__equals_json_and_validator(filled: Any, query: RequestQuery) -> None:
    """One statement for both gives what the two give apart, byte for byte."""
    uow: UnitOfWork = filled()
    with uow:
        together = uow.requests.open311_json_with_validator(query, BASE)
        apart = uow.requests.find_open311_json(query, BASE), uow.requests.list_validator(query)
    assert together == apart
