"""The staff queue's queries on SQLite (requests/queue_sql.py): a department's queue — its page and its counts per
status — reads the (body_id, status, requested_at, id) index, never the whole table (at 1,000,000 requests a scan
of every body's requests for one department's page)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Select

from civicswitch.core.db import make_engine
from civicswitch.requests import queue_sql
from civicswitch.requests.model import Status
from civicswitch.requests.queue import QueueFilter, QueueScope, SlaFilter, Sort
from civicswitch.requests.queue_sql import SqlQueueStore

BODY_INDEX = "ix_service_requests_body_status_requested"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
DOT = QueueScope(bodies=frozenset({"DOT"}))


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Any:
    path = tmp_path / "plan.db"
    path.write_bytes(sqlite_template.read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # the queue names bodies and services by id: they must exist
        conn.exec_driver_sql("INSERT INTO bodies (code, name) VALUES ('DOT', 'Transportation')")
        conn.exec_driver_sql("INSERT INTO services (code, name, keywords) VALUES ('pothole', 'Pothole', '[]')")
    yield engine
    engine.dispose()


def _plan(engine: Engine, statement: Select[Any]) -> str:
    with engine.connect() as conn:
        return _plan_on(conn, statement)


def _plan_on(conn: Connection, statement: Select[Any]) -> str:
    context = conn.execute(statement).context
    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(context.statement), context.parameters[0]).all()
    return "\n".join(str(r[-1]) for r in rows)


OPEN_INDEX = "ix_service_requests_open_body_"
SERVICE_INDEX = "ix_service_requests_service_status_body"


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (QueueFilter(), OPEN_INDEX + "requested (body_id=?)"),
        (QueueFilter(sort=Sort.NEWEST), OPEN_INDEX + "requested (body_id=?)"),
        (QueueFilter(sort=Sort.UPDATED), OPEN_INDEX + "updated (body_id=?)"),
        (
            QueueFilter(sort=Sort.DUE, sla=SlaFilter.OVERDUE, now=NOW, unassigned=True),
            OPEN_INDEX + "due (body_id=? AND expected_at",
        ),
        (QueueFilter(statuses=(Status.CLOSED,), bounced=True), BODY_INDEX + " (body_id=? AND status=?)"),
        (QueueFilter(statuses=(Status.CLOSED,), service_code="pothole"), BODY_INDEX + " (body_id=? AND status=?)"),
    ],
    ids=[
        "open oldest first",
        "open newest first",
        "open by update",
        "overdue unassigned by due",
        "closed bounced",
        "closed of a service",
    ],
)
def test_queue_on_sqlite__department_scope__page_walks_a_body_index_in_order__counts_stop_at_the_cap(
    sqlite_engine: Engine, query: QueueFilter, index: str
) -> None:
    with sqlite_engine.connect() as conn:
        store = SqlQueueStore(conn)
        page, counts = store.page_statement(DOT, query), store.counts_statement(DOT, query)
    page_plan, counts_plan = _plan(sqlite_engine, page), _plan(sqlite_engine, counts)
    assert f"USING INDEX {index}" in page_plan, page_plan
    if query.statuses != (Status.CLOSED,):
        assert "TEMP B-TREE" not in page_plan, page_plan  # read in order: the walk stops with the page
    searches = [line for line in counts_plan.splitlines() if "service_requests" in line]
    assert len(searches) == len(Status), counts_plan  # one capped count per status
    counted = (
        f"{SERVICE_INDEX} (service_id=? AND status=? AND body_id=?)"
        if query.service_code
        else f"{BODY_INDEX} (body_id=? AND status=?)"
    )
    assert all(f"INDEX {counted}" in line for line in searches), counts_plan
    assert "SCAN service_requests" not in page_plan + counts_plan


def _add(engine: Engine, description: str, status: str = "new") -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO service_requests (service_id, status, description, body_id, requested_at, updated_at, "
            "channel, attributes) VALUES (1, ?, ?, 1, '2026-11-01 09:00:00', '2026-11-01 09:00:00', 'web', '{}')",
            (status, description),
        )


@pytest.mark.parametrize("sort", [Sort.OLDEST, Sort.NEWEST, Sort.UPDATED])
def test_queue_on_sqlite__search_with_many_matches__page_walks_the_body_index_counts_read_the_fts_index(
    sqlite_engine: Engine, sort: Sort, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More than FEW matches (a common word): the body's ordered index is read until the page is full, each
    request looked up in the matches (read once), not every match read and sorted; the counts per status are the
    FTS index's alone (its scope column holds body and status)."""
    monkeypatch.setattr(queue_sql, "FEW", 0)
    _add(sqlite_engine, "deep pothole")
    query = QueueFilter(text="pothole", sort=sort)
    with sqlite_engine.connect() as conn:
        store = SqlQueueStore(conn)
        page, counts = store.page_statement(DOT, query), store.counts_statement(DOT, query)
    plan, counts_plan = _plan(sqlite_engine, page), _plan(sqlite_engine, counts)
    order = "updated" if sort is Sort.UPDATED else "requested"
    assert f"USING INDEX {OPEN_INDEX}{order} (body_id=?)" in plan, plan
    assert "VIRTUAL TABLE INDEX" in plan and "TEMP B-TREE" not in plan, plan
    assert "service_requests" not in counts_plan.replace("service_request_words", ""), counts_plan
    assert counts_plan.count("VIRTUAL TABLE INDEX") == len(Status), counts_plan


@pytest.mark.parametrize(
    ("statuses", "sort"),
    [
        ((Status.NEW,), Sort.OLDEST),
        ((Status.NEW,), Sort.NEWEST),
        ((Status.NEW,), Sort.UPDATED),
        ((Status.CLOSED,), Sort.NEWEST),
    ],
)
def test_queue_on_sqlite__search_with_more_than_walk_above__page_walks_in_order_testing_each_requests_words(
    sqlite_engine: Engine, statuses: tuple[Status, ...], sort: Sort, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past WALK_ABOVE matches (a common word: 60,000 in a department's closed requests at 1,000,000), the ordered
    index is walked and each request's words tested (WORDS_FUNCTION): the matches are never listed first."""
    monkeypatch.setattr(queue_sql, "FEW", 0)
    monkeypatch.setattr(queue_sql, "WALK_ABOVE", 0)
    _add(sqlite_engine, "deep pothole", str(statuses[0]))
    _add(sqlite_engine, "a crack", str(statuses[0]))
    query = QueueFilter(text="pothole", sort=sort, statuses=statuses)
    with sqlite_engine.connect() as conn:
        store = SqlQueueStore(conn)
        page = store.page_statement(DOT, query)
        rows = store.queue(DOT, query).rows
        plan = _plan_on(conn, page)
    assert [r.description for r in rows] == ["deep pothole"]
    assert "VIRTUAL TABLE" not in plan and "TEMP B-TREE" not in plan, plan
    assert "USING INDEX ix_service_requests_" in plan and "(body_id=?" in plan, plan


def test_queue_on_sqlite__search_with_few_matches__page_and_counts_read_them_by_id(sqlite_engine: Engine) -> None:
    _add(sqlite_engine, "deep pothole")
    _add(sqlite_engine, "pothole again", "closed")
    _add(sqlite_engine, "graffiti")
    with sqlite_engine.connect() as conn:
        store = SqlQueueStore(conn)
        page = store.page_statement(DOT, QueueFilter(text="pothole"))
        counts = store.counts_statement(DOT, QueueFilter(text="pothole"))
        rows = store.queue(DOT, QueueFilter(text="pothole", statuses=(*Status,)))
    assert [r.description for r in rows.rows] == ["deep pothole", "pothole again"]
    plan, counts_plan = _plan(sqlite_engine, page), _plan(sqlite_engine, counts)
    by_id = "SEARCH service_requests USING INTEGER PRIMARY KEY (rowid=?)"
    assert by_id in plan and "ix_service_requests" not in plan, plan
    searches = [line for line in counts_plan.splitlines() if "service_requests" in line]
    assert searches == [by_id] * len(Status), counts_plan


def test_queue_on_sqlite__area_search_with_many_matches__counts_read_the_fts_index_page_reads_the_areas_by_id(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A liaison's search with more than FEW matches (a common word in a district): the FTS index holds each
    request's areas with its status (migration 0021), so the counts per status are its alone and the page looks up
    the area's matches by id, never walking the city's requests in order testing each one's areas."""
    monkeypatch.setattr(queue_sql, "FEW", 0)
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO service_requests (service_id, status, description, body_id, requested_at, updated_at, "
            "channel, attributes, areas) VALUES (1, 'new', 'loud music', 1, '2026-11-01 09:00:00', "
            "'2026-11-01 09:00:00', 'phone', '{}', '{\"districts\": \"112\"}')"
        )
    district = QueueScope(areas=frozenset({("districts", "112")}))
    query = QueueFilter(text="loud")
    with sqlite_engine.connect() as conn:
        store = SqlQueueStore(conn)
        page, counts = store.page_statement(district, query), store.counts_statement(district, query)
        found = store.queue(district, QueueFilter(text="loud", statuses=(*Status,)))
    plan, counts_plan = _plan(sqlite_engine, page), _plan(sqlite_engine, counts)
    assert (found.total, [r.description for r in found.rows]) == (1, ["loud music"])
    assert "service_requests" not in counts_plan.replace("service_request_words", ""), counts_plan
    assert counts_plan.count("VIRTUAL TABLE INDEX") == len(Status), counts_plan
    assert "SEARCH service_requests USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    assert "SCAN service_requests" not in plan and "ix_service_requests" not in plan, plan
