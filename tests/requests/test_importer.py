"""Importing historical requests: the shipped demo data, idempotence, and all-or-nothing on a bad row."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from importlib import resources
from itertools import islice
from typing import Any

import pytest
from sqlalchemy import Engine

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import Invalid
from civicswitch.demo.city import catalog_document, install
from civicswitch.requests import importer
from civicswitch.requests.importer import import_requests, rows_from_bytes
from civicswitch.requests.model import Status
from civicswitch.requests.views import RequestQuery
from civicswitch.storage.sql import SqlUnitOfWork

RAW = (resources.files("civicswitch.demo") / "data" / "requests.csv.gz").read_bytes()


def demo_rows(n: int | None = None) -> list[dict[str, str]]:
    return list(islice(rows_from_bytes(RAW), n))


@pytest.fixture
def demo_catalog(engine: Engine) -> Callable[[], SqlUnitOfWork]:
    load_catalog(SqlUnitOfWork(engine), catalog_document())
    return lambda: SqlUnitOfWork(engine)


def count(make: Callable[[], SqlUnitOfWork]) -> int:
    with make() as uow:
        return uow.requests.count()


# -- the shipped demo data -----------------------------------------------------------------------------------
def test_install__demo_data_twice__second_run_inserts_nothing(engine: Engine, clock: FixedClock) -> None:
    total = len(demo_rows())
    first = install(SqlUnitOfWork(engine), clock)
    assert (first.requests.read, first.requests.inserted, first.requests.already_present) == (total, total, 0)
    with SqlUnitOfWork(engine) as uow:
        assert uow.requests.count() == total
        newest = uow.requests.find(RequestQuery(limit=1))
    second = install(SqlUnitOfWork(engine), clock)
    assert (second.requests.read, second.requests.inserted, second.requests.already_present) == (total, 0, total)
    with SqlUnitOfWork(engine) as uow:
        assert uow.requests.count() == total
        assert uow.requests.find(RequestQuery(limit=1)) == newest


def test_import__part_then_all__inserts_only_the_rest(demo_catalog: Callable[[], SqlUnitOfWork]) -> None:
    rows = demo_rows(300)
    assert import_requests(demo_catalog(), rows[100:200], source="nyc311").inserted == 100
    result = import_requests(demo_catalog(), rows, source="nyc311")
    assert (result.read, result.inserted, result.already_present) == (300, 200, 100)
    assert count(demo_catalog) == 300


def test_import__same_rows_from_another_source__imported_again(demo_catalog: Callable[[], SqlUnitOfWork]) -> None:
    rows = demo_rows(20)
    import_requests(demo_catalog(), rows, source="nyc311")
    assert import_requests(demo_catalog(), rows, source="other").inserted == 20


def test_import__rows__become_requests_with_their_history(demo_catalog: Callable[[], SqlUnitOfWork]) -> None:
    rows = demo_rows(400)
    import_requests(demo_catalog(), rows, source="nyc311")
    closed_row = next(r for r in rows if r["status"] == "closed" and r["close_reason"])
    new_row = next(r for r in rows if r["status"] == "new")
    with demo_catalog() as uow:
        stored = {v.source_ref: v for v in uow.requests.find(RequestQuery(limit=1000))}
        closed = stored[f"nyc311:{closed_row['source_id']}"]
        new = stored[f"nyc311:{new_row['source_id']}"]
        timelines = uow.requests.events([closed.id, new.id])
    assert (closed.status, closed.close_reason, closed.service_code) == (
        "closed", closed_row["close_reason"], closed_row["service_code"])  # fmt: skip
    assert [(e.kind, e.status_to) for e in timelines[closed.id]] == [("submitted", Status.NEW),
                                                                     ("status_changed", Status.CLOSED)]  # fmt: skip
    assert timelines[closed.id][1].data == {"imported": True}
    assert [e.kind for e in timelines[new.id]] == ["submitted"]


# -- a bad row: Invalid naming its line, nothing inserted ----------------------------------------------------
def with_row(rows: list[dict[str, str]], index: int, **changes: str) -> list[dict[str, str]]:
    changed = [dict(r) for r in rows]
    changed[index].update(changes)
    return changed


def line_of(index: int) -> int:
    """The file line of row ``index``: line 1 is the header."""
    return index + 2


@pytest.mark.parametrize("batch", [2000, 10], ids=["one-batch", "many-batches"])
def test_import__unknown_service_code__invalid_naming_the_line_and_nothing_inserted(
    demo_catalog: Callable[[], SqlUnitOfWork], monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(importer, "BATCH", batch)
    rows = with_row(demo_rows(60), 47, service_code="no-such-service")
    with pytest.raises(Invalid, match=rf"^line {line_of(47)}: unknown service_code 'no-such-service'$"):
        import_requests(demo_catalog(), rows, source="nyc311")
    assert count(demo_catalog) == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"requested_at": ""}, "requested_at is required"),
        ({"requested_at": "last tuesday"}, "requested_at: 'last tuesday' is not a W3C date-time"),
        ({"closed_at": "2024-02-30T00:00:00Z"}, "closed_at: "),
        ({"status": "resolved"}, "'resolved' is not a valid Status"),
        ({"close_reason": "because"}, "'because' is not a valid CloseReason"),
        ({"lat": "north"}, "could not convert string to float"),
        ({"lat": "91", "long": "-74"}, "lat must be within ±90"),
        ({"lat": "nan", "long": "-74"}, "lat must be within ±90"),
        ({"lat": "40.7", "long": ""}, "lat and long must be given together"),
        ({"zipcode": "1" * 21}, "zipcode is longer than 20 characters"),
        ({"source_id": ""}, "source_id is required"),
    ],
    ids=lambda v: ",".join(v) if isinstance(v, dict) else None,
)
def test_import__bad_row__invalid_naming_the_line_and_nothing_inserted(
    demo_catalog: Callable[[], SqlUnitOfWork], monkeypatch: pytest.MonkeyPatch, changes: dict[str, str], message: str
) -> None:
    monkeypatch.setattr(importer, "BATCH", 10)
    rows = with_row(demo_rows(40), 33, **changes)
    with pytest.raises(Invalid) as caught:
        import_requests(demo_catalog(), rows, source="nyc311")
    assert caught.value.description.startswith(f"line {line_of(33)}: ")
    assert message in caught.value.description
    assert count(demo_catalog) == 0


def test_import__repeated_source_id__invalid_naming_both_lines(
    demo_catalog: Callable[[], SqlUnitOfWork], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH", 10)
    rows = demo_rows(40)
    rows = with_row(rows, 35, source_id=rows[4]["source_id"])
    with pytest.raises(Invalid, match=rf"^line {line_of(35)}: source_id '\d+' repeats line {line_of(4)}$"):
        import_requests(demo_catalog(), rows, source="nyc311")
    assert count(demo_catalog) == 0


def test_import__bad_row_after_earlier_imports__keeps_only_the_earlier_imports(
    demo_catalog: Callable[[], SqlUnitOfWork],
) -> None:
    rows = demo_rows(30)
    import_requests(demo_catalog(), rows[:10], source="nyc311")
    with pytest.raises(Invalid, match="line 27: "):
        import_requests(demo_catalog(), with_row(rows, 25, service_code="nope"), source="nyc311")
    assert count(demo_catalog) == 10


# -- the file format -----------------------------------------------------------------------------------------
def test_rows_from_bytes__gzip_and_plain__same_rows() -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["source_id", "service_code"])
    writer.writeheader()
    writer.writerow({"source_id": "1", "service_code": "x, with comma"})
    plain = text.getvalue().encode("utf-8")
    import gzip

    expected: list[dict[str, Any]] = [{"source_id": "1", "service_code": "x, with comma"}]
    assert list(rows_from_bytes(plain)) == expected
    assert list(rows_from_bytes(gzip.compress(plain))) == expected
