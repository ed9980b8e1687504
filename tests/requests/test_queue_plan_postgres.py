"""The staff queue's text search on PostgreSQL (requests/queue_sql.py, migration 0015): its statements spell the GIN
index's expression, so a count per status reads that index alone (one scoped word: ``#b<body>/<status>/<word>``),
not the (body_id, status) index's hundreds of thousands of entries; a page of a few matches reads them by id (never
computing each request's document while walking the queue), a page of many walks the queue's ordered index,
testing each request's words (no index)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Select

from civicswitch.requests import queue, queue_sql
from civicswitch.requests.model import Status
from civicswitch.requests.queue import QueueFilter, QueueScope
from civicswitch.requests.queue_sql import SqlQueueStore
from civicswitch.requests.search import PG_INDEX, area_hex

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
    assert f"Bitmap Index Scan on {PG_INDEX}" in page and "to_tsvector" not in page, page  # the few, from the index
    assert (found.total, found.counts) == (180, {Status.NEW: 60, Status.IN_PROGRESS: 60, Status.CLOSED: 60})


def test_queue_on_postgres__area_search_counts__read_the_scoped_words_index_alone(pg: Engine) -> None:
    """A liaison's search: the document holds each request's areas with its status (migration 0021), so its counts
    per status and its few matches are the GIN index's (``#a<area hex>/<status>/<word>``), never every match of
    the city tested for its areas (nor request_areas read)."""
    with pg.begin() as conn:
        conn.exec_driver_sql(
            """UPDATE service_requests SET areas = '{"districts": "St. John''s"}' WHERE mod(id, 2) = 0"""
        )
        conn.exec_driver_sql("ANALYZE service_requests")
    district = QueueScope(areas=frozenset({("districts", "St. John's")}))
    with pg.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        store = SqlQueueStore(conn)
        counts = _plan(conn, store.counts_statement(district, QueueFilter(text="pothole")))
        page = _plan(conn, store.page_statement(district, QueueFilter(text="pothole")))
        found = store.queue(district, QueueFilter(text="pothole", statuses=(*Status,)))
    assert counts.count(f"Bitmap Index Scan on {PG_INDEX}") == len(Status), counts
    lexeme = "#a" + area_hex("districts", "St. John's") + "/closed/pothole"
    assert lexeme in counts, counts  # the key in hex: nothing to quote
    assert "request_areas" not in counts, counts
    assert "areas ->>" not in counts and "areas ->" not in counts, counts
    assert f"Bitmap Index Scan on {PG_INDEX}" in page and "to_tsvector" not in page, page
    assert (found.total, found.counts) == (90, {Status.NEW: 30, Status.IN_PROGRESS: 30, Status.CLOSED: 30})


def test_queue_on_postgres__search_with_few_matches__sorted_in_a_subquery_only_the_pages_rows_joined(
    pg: Engine,
) -> None:
    """The open matches (120) are read from the GIN index with their sort keys alone, at most PG_FEW + 1 (a LIMIT
    in a subquery), sorted and paged there: only the page's rows (3) are read whole and joined."""
    with pg.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        store = SqlQueueStore(conn)
        query = QueueFilter(text="pothole", page=2, page_size=3)
        plan = _plan(conn, store.page_statement(DOT, query))
        found = store.queue(DOT, query)
        expected = conn.exec_driver_sql("SELECT id FROM service_requests WHERE status <> 'closed' ORDER BY id")
        open_ids = list(expected.scalars())
    assert [r.id for r in found.rows] == open_ids[3:6]  # filed together: by id
    assert (found.total, found.counts) == (120, {Status.NEW: 60, Status.IN_PROGRESS: 60, Status.CLOSED: 60})
    assert f"Bitmap Index Scan on {PG_INDEX}" in plan and "to_tsvector" not in plan, plan
    assert "WindowAgg" in plan, plan  # the matches counted and paged in the subquery, before the rows are joined


def test_queue_on_postgres__search_past_the_cap_guessed_few__its_matches_read_sorted_else_walked(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A status's count stopped at the cap (50 of 60): the planner's estimate decides between reading up to PG_FEW
    matches (a guess of few) and walking the queue (a guess of many); both give the same page."""
    monkeypatch.setattr(queue, "SEARCH_COUNT_CAP", 50)
    query = QueueFilter(text="pothole", page=2, page_size=7)
    pages = []
    for estimate in (100, 100_000):
        with pg.connect() as conn:
            store = SqlQueueStore(conn)
            monkeypatch.setattr(store, "_estimate", lambda scope, query, n=estimate: n)
            pages.append([r.id for r in store.queue(DOT, query).rows])
            assert store._pg_few(DOT, query) is (estimate == 100)
    with pg.connect() as conn:
        expected = conn.exec_driver_sql("SELECT id FROM service_requests WHERE status <> 'closed' ORDER BY id")
        assert pages[0] == pages[1] == list(expected.scalars())[7:14]


def test_queue_on_postgres__search_past_the_cap__only_the_capped_statuses_are_guessed(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner is asked for the statuses whose count stopped at the cap only (its guess of a rare word is an
    upper bound per status: summed over every status asked, "pothole" in the open statuses was guessed 15,750, and
    walked, where 1,223 matched); the statuses counted to the end add their counts."""
    monkeypatch.setattr(queue, "SEARCH_COUNT_CAP", 50)
    monkeypatch.setattr(queue_sql, "PG_FEW", 1000)
    with pg.begin() as conn:
        conn.exec_driver_sql("UPDATE service_requests SET status = 'on_hold' WHERE id IN (1, 4, 7)")
    asked: list[tuple[Status, ...]] = []
    for estimate, walked in ((2996, False), (2998, True)):  # 3 on hold + the guess, against 3 × PG_FEW
        with pg.connect() as conn:
            store = SqlQueueStore(conn)

            def guess(scope: QueueScope, query: QueueFilter, n: int = estimate) -> int:
                asked.append(query.statuses)
                return n

            monkeypatch.setattr(store, "_estimate", guess)
            found = store.queue(DOT, QueueFilter(text="pothole", page_size=5))
            assert store._pg_few(DOT, QueueFilter(text="pothole", page_size=5)) is not walked
            assert (found.counts[Status.ON_HOLD], len(found.rows)) == (3, 5)
    assert asked == [(Status.NEW, Status.IN_PROGRESS)] * 2


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
    monkeypatch.setattr(queue, "SEARCH_COUNT_CAP", 6)  # the counts (7 and 7) past the cap, more than PG_FEW in all
    with pg.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        store = SqlQueueStore(conn)
        query = QueueFilter(text="pothole", page_size=3)
        rows = store.queue(DOT, query).rows  # the counts say more than PG_FEW: walk
        page = _plan(conn, store.page_statement(DOT, query))
    assert PG_INDEX not in page and "to_tsvector" in page, page
    with pg.connect() as conn:  # the open ones (new and in progress) in filing order: filed together, by id
        first = conn.exec_driver_sql("SELECT id FROM service_requests WHERE status <> 'closed' ORDER BY id LIMIT 3")
        assert [r.id for r in rows] == list(first.scalars())
