"""The caller search's statement on SQLite (agent/sql.py): a phone number, an email and a department's reference
are looked up through their indexes (the digits-only phone and case-folded email expressions of migration
0012_agent_console, and external_refs.external_id), never by a scan of every contact or request. Names and
addresses are read from their FTS5 tables (migration 0017_agent_search); past agent/words.py's LIST_CAP matches,
the requests are walked newest first (bounded by the page's limit), as docs/staff-guide.md says."""

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


def _search(engine: Engine, text: str) -> str:
    """The plan of the search's one statement (its first: the rows' details come after, by number)."""
    plans = _plans(engine, lambda uow: uow.callers.find(CallerQuery.parse(text, page=3)))
    return plans[0][1]


def test_search_plan__phone_email_reference__each_through_its_index(sqlite_engine: Engine) -> None:
    phone = _search(sqlite_engine, "(555) 010-0100")
    assert "SEARCH request_contacts USING INDEX ix_request_contacts_phone_digits" in phone
    email = _search(sqlite_engine, "Rosa@Example.org")
    assert "SEARCH request_contacts USING INDEX ix_request_contacts_email_lower" in email
    reference = _search(sqlite_engine, "WO-4411")
    assert "SEARCH external_refs USING INDEX ix_external_refs_external_id" in reference
    number = _search(sqlite_engine, "#42")
    assert "SEARCH service_requests USING INTEGER PRIMARY KEY" in number
    for plan in (phone, email, number):  # nothing is scanned ("WO-4411" is also looked for in names and addresses)
        assert "SCAN request_contacts" not in plan and "SCAN service_requests" not in plan, plan


def test_history_plan__contacts_and_followers__through_the_indexes(sqlite_engine: Engine) -> None:
    plans = _plans(sqlite_engine, lambda uow: uow.callers.history("rosa@example.org", phone_forms("5550100100")))
    contacts, followers = _first(plans, "request_contacts"), _first(plans, "request_followers")
    for plan, table in ((contacts, "request_contacts"), (followers, "request_followers")):
        assert f"ix_{table}_email_lower" in plan and f"ix_{table}_phone_digits" in plan, plan
        assert f"SCAN {table}" not in plan


def _word_plans(engine: Engine, text: str) -> str:
    """The plans of a search's statements on names and addresses (the first is the reference's)."""
    plans = _plans(engine, lambda uow: uow.callers.find(CallerQuery.parse(text, page=3)))
    return " || ".join(plan for sql, plan in plans if "external_refs" not in sql)


def test_search_plan__names_and_addresses__listed_from_their_word_indexes(sqlite_engine: Engine) -> None:
    plan = _word_plans(sqlite_engine, "Elm Street")
    assert "SCAN request_contact_words VIRTUAL TABLE" in plan and "SCAN request_address_words VIRTUAL TABLE" in plan
    assert "SCAN request_contacts" not in plan and "SCAN service_requests" not in plan, plan


def test_search_plan__names_and_addresses_past_the_list_cap__requests_walked_newest_first(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("civicswitch.agent.words.LIST_CAP", -1)  # every search past it: the walk
    plan = _word_plans(sqlite_engine, "Elm Street")
    walks = [p for p in plan.split(" || ") if "ix_service_requests_requested" in p]
    assert len(walks) == 2, plan  # names and addresses: each the requests newest first, no sort of the matches
    for walk in walks:
        assert "SCAN service_requests USING" in walk and "TEMP B-TREE" not in walk, walk
        assert "VIRTUAL TABLE" in walk and "SCAN request_contacts" not in walk, walk  # tested against the index
