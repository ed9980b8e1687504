"""The staff queue's text search on PostgreSQL (requests/queue_sql.py, migration 0015): its statements spell the GIN
index's expression, so a count per status reads that index alone (one scoped word: ``#b<body>/<status>/<word>``),
not the (body_id, status) index's hundreds of thousands of entries; a page of a few matches reads them by id (never
computing each request's document while walking the queue), a page of many walks the queue's ordered index,
testing each request's words (no index)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Select

from civicswitch.requests import queue_sql
from civicswitch.requests.model import Status
from civicswitch.requests.queue import QueueFilter, QueueScope
from civicswitch.requests.queue_sql import SqlQueueStore
from civicswitch.requests.search import PG_INDEX

DOT = QueueScope(bodies=frozenset({"DOT"}))


@pytest.fixture
def pg(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plans")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO bodies (code, name) VALUES ('DOT', 'Transportation')")
        conn.exec_driver_sql("INSERT INTO services (code, name, keywords) VALUES ('pothole', 'Pothole', '[]')")
        conn.exec_driver_sql(
            "INSERT INTO service_requests (service_id, status, description, body_id, requested_at, updated_at, "
            "channel, attributes) SELECT 1, s, 'deep pothole ' || i, 1, now(), now(), 'web', '{}' "
            "FROM generate_series(1, 60) AS i, unnest(ARRAY['new', 'in_progress', 'closed']) AS s"
        )
        conn.exec_driver_sql("ANALYZE service_requests")
    return engine


def _plan(conn: Connection, statement: Select[Any]) -> str:
    sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    return "\n".join(conn.exec_driver_sql("EXPLAIN " + sql).scalars())


def test_queue_on_postgres__search_counts__read_the_scoped_words_index_alone(pg: Engine) -> None:
    with pg.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")  # a few rows: the plan as at a city's size
        store = SqlQueueStore(conn)
        counts = _plan(conn, store.counts_statement(DOT, QueueFilter(text="pothole")))
        page = _plan(conn, store.page_statement(DOT, QueueFilter(text="pothole")))
        found = store.queue(DOT, QueueFilter(text="pothole", statuses=(*Status,)))
    assert counts.count(f"Bitmap Index Scan on {PG_INDEX}") == len(Status), counts
    assert "#b1/closed/pothole" in counts and "ix_service_requests_body_status" not in counts, counts
    assert "request_search_document" not in page and "id = ANY" in page, page  # the few, by id
    assert (found.total, found.counts) == (180, {Status.NEW: 60, Status.IN_PROGRESS: 60, Status.CLOSED: 60})


def test_queue_on_postgres__search_with_many_matches__page_walks_the_queue_testing_each_requests_words(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_sql, "PG_FEW", 10)
    with pg.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        store = SqlQueueStore(conn)
        page = _plan(conn, store.page_statement(DOT, QueueFilter(text="pothole")))
        rows = store.queue(DOT, QueueFilter(text="pothole", page_size=3)).rows
    assert PG_INDEX not in page and "to_tsvector" in page, page
    with pg.connect() as conn:  # the open ones (new and in progress) in filing order: filed together, by id
        first = conn.exec_driver_sql("SELECT id FROM service_requests WHERE status <> 'closed' ORDER BY id LIMIT 3")
        assert [r.id for r in rows] == list(first.scalars())
