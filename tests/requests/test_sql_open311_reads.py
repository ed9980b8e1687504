"""``SqlOpen311Reads.view_with_validator`` (GET one request on the driver's connection) gives exactly what
``SqlRequestStore.view_with_validator`` gives, value for value and type for type, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from civicswitch.catalog.loader import load_catalog
from civicswitch.requests.model import Channel, CloseReason, ServiceRequest, Status
from civicswitch.requests.sql import SqlOpen311Reads
from civicswitch.storage.sql import SqlUnitOfWork

T0 = datetime(2025, 3, 1, 12, 0, 30, 123456, tzinfo=UTC)


def _requests() -> list[ServiceRequest]:
    base = ServiceRequest(service_code="graffiti", requested_at=T0, channel=Channel.OPEN311, lat=40.7128,
                          long=-74.006, source_ref="t:0", body_code="DSNY")  # fmt: skip
    variants: list[dict[str, Any]] = [
        {"description": 'Quote " <b> café 🚧', "attributes": {"size": "small", "lanes": ["left", "right"]}},
        {"areas": {"borough": "Manhattan"}, "address": "1 A St", "lat": None, "long": None, "zipcode": "10001"},
        {
            "status": Status.CLOSED,
            "close_reason": CloseReason.FIXED,
            "closed_at": T0 + timedelta(hours=5),
            "updated_at": T0 + timedelta(hours=5),
            "status_notes": "Fixed.",
            "expected_at": T0 + timedelta(days=3),
        },
        {"media_url": "/media/abc.png", "token": "tok-1", "body_code": None, "lat": 40.712345678901234},
    ]
    return [
        dataclasses.replace(base, source_ref=f"t:{i}", requested_at=T0 + timedelta(minutes=i), **changes)
        for i, changes in enumerate(variants, start=1)
    ]


@pytest.fixture
def stored(engine: Engine, catalog_data: dict[str, Any]) -> list[int]:
    load_catalog(SqlUnitOfWork(engine), catalog_data)
    with SqlUnitOfWork(engine) as uow:
        ids = [uow.requests.add(r, None) for r in _requests()]
        uow.commit()
    return ids


def test_view_with_validator__every_request__same_as_the_store(engine: Engine, stored: list[int]) -> None:
    reads = SqlOpen311Reads(engine)
    for request_id in stored:
        with SqlUnitOfWork(engine, writing=False) as uow:
            expected = uow.requests.view_with_validator(request_id)
        found = reads.view_with_validator(request_id)
        assert expected is not None and found == expected
        assert [type(v) for v in found[0]] == [type(v) for v in expected[0]]
        assert found[0].requested_at.tzinfo is not None and found[0].requested_at.utcoffset() == timedelta(0)


def test_view_with_validator__unknown_id__none(engine: Engine, stored: list[int]) -> None:
    assert SqlOpen311Reads(engine).view_with_validator(max(stored) + 1) is None


def test_view_with_validator__request_or_catalog_changed__validator_moves(engine: Engine, stored: list[int]) -> None:
    reads = SqlOpen311Reads(engine)
    first = reads.view_with_validator(stored[0])
    with SqlUnitOfWork(engine) as uow:
        request = uow.requests.get(stored[0])
        assert request is not None
        request.status_notes = "Seen"
        uow.requests.save(request)
        uow.commit()
    second = reads.view_with_validator(stored[0])
    assert first is not None and second is not None and second[1] != first[1]
    assert second[0].status_notes == "Seen"
    with engine.begin() as conn:
        conn.execute(text("UPDATE catalog_version SET version = version + 1"))
    third = reads.view_with_validator(stored[0])
    assert third is not None and third[1] != second[1]


def test_view_with_validator__leaves_no_connection_checked_out(engine: Engine, stored: list[int]) -> None:
    reads = SqlOpen311Reads(engine)
    before = engine.pool.checkedout()  # type: ignore[attr-defined]
    for request_id in [*stored, 10**6]:
        reads.view_with_validator(request_id)
    assert engine.pool.checkedout() == before  # type: ignore[attr-defined]


def test_view_with_validator__then_a_unit_of_work__still_transactional(engine: Engine, stored: list[int]) -> None:
    """The connections it used go back to the pool as they came (PostgreSQL's out of autocommit): a unit of work
    on them still writes nothing it does not commit."""
    reads = SqlOpen311Reads(engine)
    for _ in range(3):
        reads.view_with_validator(stored[0])
    with SqlUnitOfWork(engine) as uow:
        request = uow.requests.get(stored[0])
        assert request is not None
        request.status_notes = "never committed"
        uow.requests.save(request)
    found = reads.view_with_validator(stored[0])
    assert found is not None and found[0].status_notes != "never committed"
