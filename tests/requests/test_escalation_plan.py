"""The escalation queue's statements on SQLite (requests/escalation_sql.py): the bounced requests come through the
``transfers`` index, and the overdue ones through the open requests in filing order, never sorted whole (at
1,000,000 rows with 146,000 open, sorting them by due date took 0.5 s a page; the walk stops when the page is
full)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.db import make_engine
from civicswitch.requests.escalation_sql import SqlEscalationStore
from civicswitch.requests.model import Channel, ServiceRequest
from civicswitch.storage.sql import SqlUnitOfWork


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Any:
    path = tmp_path / "plan.db"
    path.write_bytes(sqlite_template.read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def test_escalations_sqlite__bounced_by_the_transfers_index_overdue_by_a_walk_in_filing_order(
    sqlite_engine: Any, catalog_data: dict[str, Any]
) -> None:
    load_catalog(SqlUnitOfWork(sqlite_engine), catalog_data)
    with SqlUnitOfWork(sqlite_engine) as uow:
        bounced = ServiceRequest(service_code="pothole", requested_at=datetime(2026, 11, 1, tzinfo=UTC),
                                 channel=Channel.WEB, body_code="DOT", transfers=2, lat=40.7, long=-74.0)  # fmt: skip
        bounced.record_submission(bounced.requested_at, client_id=None)
        uow.requests.add(bounced, None)
        uow.commit()
    statements: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, parameters))

    event.listen(sqlite_engine, "before_cursor_execute", grab)
    with sqlite_engine.connect() as conn:
        SqlEscalationStore(conn).escalations(
            min_transfers=2, overdue_before=datetime(2026, 12, 1, tzinfo=UTC), limit=50, offset=0
        )
        event.remove(sqlite_engine, "before_cursor_execute", grab)
        plans = [
            " | ".join(str(r[3]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
            for sql, params in statements
            if sql.lstrip().upper().startswith("SELECT")
        ]
    assert len(plans) == 4, plans  # bounced count and page, overdue page and capped count
    bounced_count, bounced_page, late_page, late_count = plans
    assert "ix_service_requests_transfers" in bounced_count and "ix_service_requests_transfers" in bounced_page
    assert "ix_service_requests_public_requested" in late_page and "TEMP B-TREE" not in late_page
    assert "ix_service_requests_public_requested" in late_count
