"""The duplicate check's query on SQLite (requests/sql.py ``_nearby_statement``): it finds candidates through the
(service_id, grid_cell, requested_at) index, whatever the planner's statistics say about the requested_at indexes.

Ordered by plain ``requested_at``, SQLite may walk an index on requested_at to skip the sort and filter a service's
whole time window row by row (at 1,000,000 rows: 7.9 ms against 0.16 ms per POST). Without statistics (no ANALYZE was
ever run), the parent_id index looks selective for "not merged", which nearly every row is. The statistics below
make both wrong plans look cheap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from civicswitch.core.db import make_engine
from civicswitch.requests.sql import _nearby_statement
from civicswitch.routing.grid import box_around, cells_in

CELL_INDEX = "ix_service_requests_service_cell_requested"
# sqlite_stat1 rows: (index, "rows rows-per-first-column rows-per-first-two ...")
MISLEADING_STATS = [
    (CELL_INDEX, "1000000 50000 50000 1"),  # grid_cell looks useless (as when most rows have none)
    ("ix_service_requests_service_requested", "1000000 50000 2 1"),
    ("ix_service_requests_requested", "1000000 2 1"),
    ("ix_service_requests_parent", "1000000 100"),  # parent_id looks selective (nearly all rows have none)
]


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Any:
    path = tmp_path / "plan.db"
    path.write_bytes(sqlite_template.read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def _values(exclude: bool) -> dict[str, Any]:
    box = box_around(40.7359, -73.9911, 75)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    values: dict[str, Any] = {
        "service_id": 1, "cells": cells_in(box), "requested_since": now - timedelta(days=30),
        "closed_since": now - timedelta(days=7), "south": box.south, "north": box.north, "west": box.west,
        "east": box.east, "limit": 200,
    }  # fmt: skip
    if exclude:
        values["exclude_id"] = 7
    return values


def _plan(engine: Engine, exclude: bool, stats: list[tuple[str, str]] | None) -> str:
    with engine.connect() as conn:
        if stats is not None:
            conn.exec_driver_sql("ANALYZE")
            conn.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'service_requests'")
            for index, stat in stats:
                conn.exec_driver_sql(
                    "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('service_requests', ?, ?)", (index, stat)
                )
            conn.commit()
            conn.exec_driver_sql("ANALYZE sqlite_schema")  # reload the statistics
        context = conn.execute(_nearby_statement("sqlite", exclude), _values(exclude)).context
        sql, params = context.statement, context.parameters[0]
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(sql), params).all()
    return "\n".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize("exclude", [False, True])
@pytest.mark.parametrize("stats", [None, MISLEADING_STATS], ids=["no statistics", "misleading statistics"])
def test_nearby_query_on_sqlite__any_statistics__searches_the_grid_cell_index(
    sqlite_engine: Engine, exclude: bool, stats: list[tuple[str, str]] | None
) -> None:
    plan = _plan(sqlite_engine, exclude, stats)
    assert f"USING INDEX {CELL_INDEX} (service_id=? AND grid_cell=?" in plan, plan
    assert "SCAN service_requests" not in plan, plan
