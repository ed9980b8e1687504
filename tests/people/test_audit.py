"""``civicswitch audit verify``'s check on a real database: any edit, removal or insertion is named."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user, disable_user, reset_password, verify_audit
from civicswitch.storage.sql import SqlUnitOfWork


@pytest.fixture
def logged(engine: Engine, clock: FixedClock) -> Engine:
    """Five audit entries: three accounts added, one disabled, one password reset."""
    for email in ("a@city.gov", "b@city.gov", "c@city.gov"):
        add_user(SqlUnitOfWork(engine), clock, AddUser(email, "agent", password="a long enough password"))
    disable_user(SqlUnitOfWork(engine), clock, "b@city.gov", reason="left the team")
    reset_password(SqlUnitOfWork(engine), clock, "c@city.gov")
    return engine


def _check(engine: Engine) -> tuple[int, list[tuple[int | None, str]]]:
    check = verify_audit(SqlUnitOfWork(engine, writing=False), batch=2)  # pages of 2: the walk crosses pages
    return check.entries, [(p.entry_id, p.what.split(":")[0]) for p in check.problems]


def test_audit_verify__untouched__intact(logged: Engine) -> None:
    assert _check(logged) == (5, [])


def test_audit_verify__a_reason_edited__that_entry_named(logged: Engine) -> None:
    with logged.begin() as conn:
        conn.execute(text("UPDATE audit_log SET reason = 'nothing to see' WHERE id = 4"))
    assert _check(logged) == (5, [(4, "edited")])


def test_audit_verify__an_entry_deleted__gap_and_broken_link_named(logged: Engine) -> None:
    with logged.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 3"))
    assert _check(logged) == (4, [(4, "gap"), (4, "broken link")])


def test_audit_verify__an_entry_edited_and_its_hash_recomputed__next_link_broken(logged: Engine) -> None:
    """Rewriting an entry and its own hash is still caught: the next entry points at the old hash."""
    from civicswitch.people import audit

    with SqlUnitOfWork(logged, writing=False) as uow:
        second = uow.audit.entries()[1]
    forged = audit.AuditEntry(**{**{f: getattr(second, f) for f in second.__dataclass_fields__}, "reason": "forged"})
    new_hash = audit.entry_hash(forged)
    with logged.begin() as conn:
        conn.execute(text("UPDATE audit_log SET reason = 'forged', hash = :h WHERE id = 2"), {"h": new_hash})
    assert _check(logged) == (5, [(3, "broken link")])


def test_audit_verify__detail_of_the_newest_changed__named(logged: Engine) -> None:
    with logged.begin() as conn:
        conn.execute(text("UPDATE audit_log SET principal = 'operator someone else' WHERE id = 5"))
    assert _check(logged) == (5, [(5, "edited")])
