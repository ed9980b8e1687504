"""SQLite's bulk insert of requests (``SqlRequestStore._sqlite_bulk_requests``, the import's path) writes the same
rows as the insert triggers it stands in for — request_areas and both search indexes — and leaves the triggers in
place. If a migration changes one of those triggers and not the store's statements, this fails."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.db import make_engine
from civicswitch.requests.model import Channel, CloseReason, ServiceRequest, Status
from civicswitch.requests.sql import _SQLITE_BULK
from civicswitch.storage.sql import SqlUnitOfWork

CATALOG = {
    "bodies": [{"code": "DOT", "name": "Transportation"}, {"code": "DSNY", "name": "Sanitation"}],
    "services": [{"code": "pothole", "name": "Pothole", "body": "DOT"},
                 {"code": "dumping", "name": "Dumping", "body": "DSNY"}],
}  # fmt: skip
T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def requests(prefix: str) -> list[ServiceRequest]:
    out = []
    for i in range(40):
        closed = i % 3 == 0
        out.append(
            ServiceRequest(
                service_code="pothole" if i % 2 else "dumping",
                requested_at=T0 + timedelta(hours=i),
                channel=Channel.IMPORT,
                description=f"Hole number {i} near the école, très profond" if i % 4 else "",
                lat=40.7 + i / 1000 if i % 5 else None,
                long=-74.0 if i % 5 else None,
                address=None if i % 5 else f"{i} Main St & 3rd Ave",
                areas={"boroughs": f"B{i % 3}", "wards": f"W{i % 7}"} if i % 5 else None,
                status=Status.CLOSED if closed else (Status.IN_PROGRESS if i % 2 else Status.NEW),
                close_reason=CloseReason.FIXED if closed else None,
                closed_at=T0 + timedelta(hours=i + 5) if closed else None,
                body_code=None if i == 7 else ("DOT" if i % 2 else "DSNY"),
                source_ref=f"{prefix}:{i}",
            )
        )
    return out


@pytest.fixture
def make(tmp_path: Path, sqlite_template: Path) -> Callable[[str], Engine]:
    def fresh(name: str) -> Engine:
        path = tmp_path / f"{name}.db"
        shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        load_catalog(SqlUnitOfWork(engine), CATALOG)
        return engine

    return fresh


def written(engine: Engine) -> dict[str, Any]:
    """Everything the triggers write, keyed by the request's source reference instead of its id."""
    with engine.begin() as conn:
        ref = dict(conn.execute(text("SELECT id, source_ref FROM service_requests")).all())
        areas = sorted((ref[r[0]], *r[1:]) for r in conn.execute(text("SELECT * FROM request_areas")).all())
        out: dict[str, Any] = {"areas": areas}
        for fts in ("service_request_words", "request_address_words"):
            conn.execute(
                text(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.v_{fts} USING fts5vocab(main, {fts}, instance)")
            )
            rows = conn.execute(text(f"SELECT term, doc, col FROM temp.v_{fts}")).all()
            out[fts] = sorted((term, ref[doc], col) for term, doc, col in rows)
    return out


def test_bulk_insert__sqlite__writes_what_the_triggers_write_and_keeps_them(make: Callable[[str], Engine]) -> None:
    bulk, one_by_one = make("bulk"), make("triggers")
    with SqlUnitOfWork(bulk) as uow:
        uow.requests.add_many(requests("r"))  # every request has a source reference: the bulk path
        uow.commit()
    with SqlUnitOfWork(one_by_one) as uow:
        for r in requests("r"):
            uow.requests.add(r, None)  # one INSERT each: the triggers
        uow.commit()
    got, expected = written(bulk), written(one_by_one)
    assert got["areas"] and got["service_request_words"] and got["request_address_words"]
    assert got == expected
    with bulk.begin() as conn:
        triggers = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    assert set(_SQLITE_BULK) <= triggers
    with SqlUnitOfWork(bulk) as uow:  # and they still work for the next single insert
        uow.requests.add(requests("later")[1], None)
        uow.commit()
    with bulk.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM request_areas WHERE request_id = 41")).scalar() == 2


def test_bulk_insert__sqlite__second_batch_writes_only_its_own_rows(make: Callable[[str], Engine]) -> None:
    bulk, one_by_one = make("bulk"), make("triggers")
    for part in (requests("a"), requests("b")):
        with SqlUnitOfWork(bulk) as uow:
            uow.requests.add_many(part)
            uow.commit()
        with SqlUnitOfWork(one_by_one) as uow:
            for r in part:
                uow.requests.add(r, None)
            uow.commit()
    assert written(bulk) == written(one_by_one)
