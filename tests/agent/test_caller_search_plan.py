"""The caller search's statements on SQLite (agent/sql.py): a phone number, an email and a department's reference
are looked up through their indexes (the digits-only phone and case-folded email expressions of migration
0012_agent_console, and external_refs.external_id), never by a scan of every contact. Names and addresses are a
contains-match no B-tree index serves: those two statements scan (bounded by the limit), as docs/staff-guide.md
says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from civicswitch.agent.ports import CallerQuery, phone_forms
from civicswitch.core.db import make_engine
from civicswitch.storage.sql import SqlUnitOfWork


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    path = tmp_path / "plan.db"
    path.write_bytes(sqlite_template.read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def _plans(engine: Engine, run: Any) -> list[tuple[str, str]]:
    """(statement, its query plan) for every SELECT ``run`` sends."""
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with SqlUnitOfWork(engine, writing=False) as uow:
            run(uow)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    with engine.connect() as conn:
        return [
            (sql, " | ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)))
            for sql, params in seen
        ]


def _first(plans: list[tuple[str, str]], table: str) -> str:
    return next(plan for sql, plan in plans if f"FROM {table}" in sql and "JOIN" not in sql)


def test_search_plan__phone_email_reference__each_through_its_index(sqlite_engine: Engine) -> None:
    phone = _plans(sqlite_engine, lambda uow: uow.callers.find(CallerQuery.parse("(555) 010-0100")))
    assert "USING INDEX ix_request_contacts_phone_digits" in _first(phone, "request_contacts")
    email = _plans(sqlite_engine, lambda uow: uow.callers.find(CallerQuery.parse("Rosa@Example.org")))
    assert "USING INDEX ix_request_contacts_email_lower" in _first(email, "request_contacts")
    reference = _plans(sqlite_engine, lambda uow: uow.callers.find(CallerQuery.parse("WO-4411")))
    assert "USING INDEX ix_external_refs_external_id" in _first(reference, "external_refs")
    number = _plans(sqlite_engine, lambda uow: uow.callers.find(CallerQuery.parse("#42")))
    assert "INTEGER PRIMARY KEY" in _first(number, "service_requests")


def test_history_plan__contacts_and_followers__through_the_indexes(sqlite_engine: Engine) -> None:
    plans = _plans(sqlite_engine, lambda uow: uow.callers.history("rosa@example.org", phone_forms("5550100100")))
    contacts, followers = _first(plans, "request_contacts"), _first(plans, "request_followers")
    for plan, table in ((contacts, "request_contacts"), (followers, "request_followers")):
        assert f"ix_{table}_email_lower" in plan and f"ix_{table}_phone_digits" in plan, plan
        assert f"SCAN {table}" not in plan


def test_search_plan__names_and_addresses__a_bounded_scan(sqlite_engine: Engine) -> None:
    plans = _plans(sqlite_engine, lambda uow: uow.callers.find(CallerQuery.parse("Elm Street")))
    assert "SCAN request_contacts" in _first(plans, "request_contacts")
    assert "SCAN service_requests" in _first(plans, "service_requests")
