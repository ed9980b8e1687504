"""The staff queue's text search on PostgreSQL (requests/queue_sql.py, migration 0015): its statements spell the GIN
index's expression, so a count per status reads that index alone (one scoped word: ``#b<body>/<status>/<word>``),
not the (body_id, status) index's hundreds of thousands of entries; a page of a few matches reads them by id (never
computing each request's document while walking the queue), a page of many walks the queue's ordered index,
testing each request's words (no index)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Select, event

from civicswitch.requests import queue, queue_sql
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


def test_queue_on_postgres__search_with_few_matches__reads_each_match_once_and_only_the_pages_rows(pg: Engine) -> None:
    """The open matches (120) are read once from the GIN index with their sort keys, which counts them; the closed
    ones are counted alone; the page's rows are the page's ids alone (3), not every match's row, sorted."""
    with pg.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        statements: list[str] = []
        event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        found = SqlQueueStore(conn).queue(DOT, QueueFilter(text="pothole", page=2, page_size=3))
        rows_read = statements[-1]
        expected = conn.exec_driver_sql("SELECT id FROM service_requests WHERE status <> 'closed' ORDER BY id")
        open_ids = list(expected.scalars())
    assert [r.id for r in found.rows] == open_ids[3:6]  # filed together: by id
    assert (found.total, found.counts) == (120, {Status.NEW: 60, Status.IN_PROGRESS: 60, Status.CLOSED: 60})
    searched = [s for s in statements if "request_search_document" in s]
    assert len(searched) == 2 and "UNION ALL" in searched[0] and "count(" not in searched[0], statements
    assert "count(" in searched[1] and "closed" in searched[1] and "in_progress" not in searched[1], statements
    assert "request_search_document" not in rows_read and rows_read.count("%(id_1_") == 3, rows_read


def test_queue_on_postgres__search_counts__stop_at_the_search_cap(pg: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue, "SEARCH_COUNT_CAP", 50)
    with pg.connect() as conn:
        found = SqlQueueStore(conn).queue(DOT, QueueFilter(text="pothole", page_size=10))
    assert (found.total, found.more, found.cap) == (100, True, 50)
    assert found.counts == {Status.NEW: 51, Status.IN_PROGRESS: 51, Status.CLOSED: 51}
    assert found.count_text(51) == "50+" and len(found.rows) == 10


def test_queue_on_postgres__search_with_many_matches__page_walks_the_queue_testing_each_requests_words(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_sql, "PG_FEW", 10)
    monkeypatch.setattr(queue, "SEARCH_COUNT_CAP", 5)  # each status past the cap, and more than PG_FEW in all
    with pg.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        store = SqlQueueStore(conn)
        page = _plan(conn, store.page_statement(DOT, QueueFilter(text="pothole")))
        rows = store.queue(DOT, QueueFilter(text="pothole", page_size=3)).rows
    assert PG_INDEX not in page and "to_tsvector" in page, page
    with pg.connect() as conn:  # the open ones (new and in progress) in filing order: filed together, by id
        first = conn.exec_driver_sql("SELECT id FROM service_requests WHERE status <> 'closed' ORDER BY id LIMIT 3")
        assert [r.id for r in rows] == list(first.scalars())
