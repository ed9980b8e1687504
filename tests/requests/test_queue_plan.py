"""The staff queue's queries on SQLite (requests/queue_sql.py): a department's queue — its page and its counts per
status — reads the (body_id, status, requested_at, id) index, never the whole table (at 1,000,000 requests a scan
of every body's requests for one department's page)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Select

from civicswitch.core.db import make_engine
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
    yield engine
    engine.dispose()


def _plan(engine: Engine, statement: Select[Any]) -> str:
    with engine.connect() as conn:
        context = conn.execute(statement).context
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(context.statement), context.parameters[0]).all()
    return "\n".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    "query",
    [
        QueueFilter(),
        QueueFilter(sort=Sort.DUE, sla=SlaFilter.OVERDUE, now=NOW, unassigned=True),
        QueueFilter(statuses=(Status.CLOSED,), bounced=True),
    ],
    ids=["open oldest first", "overdue unassigned", "closed bounced"],
)
def test_queue_on_sqlite__department_scope__page_and_counts_search_the_body_status_index(
    sqlite_engine: Engine, query: QueueFilter
) -> None:
    with sqlite_engine.connect() as conn:
        store = SqlQueueStore(conn)
        page, counts = store.page_statement(DOT, query), store.counts_statement(DOT, query)
    page_plan, counts_plan = _plan(sqlite_engine, page), _plan(sqlite_engine, counts)
    assert f"USING INDEX {BODY_INDEX} (body_id=? AND status=?)" in page_plan, page_plan
    assert f"INDEX {BODY_INDEX} (body_id=?)" in counts_plan, counts_plan
    assert "SCAN service_requests" not in page_plan + counts_plan
