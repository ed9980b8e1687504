"""The audit store's filters for the audit log page (action, time range, newest first, paging before an id), the
same in memory, on SQLite and on PostgreSQL; and the use case reading a staff email as that account."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import Invalid, NotFound
from civicswitch.people import audit
from civicswitch.people.audit import AuditEntry
from civicswitch.people.handlers import AddUser, add_user, audit_entries
from civicswitch.storage.ports import UnitOfWork

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
MakeUow = Callable[[], UnitOfWork]


def _fill(make: MakeUow) -> None:
    """Six entries an hour apart: 1 sign-in, 2 merge, 3 sign-in, 4 read_contact, 5 merge, 6 sign-in."""
    actions = ["session.sign_in", "request.merge", "session.sign_in", "request.read_contact", "request.merge",
               "session.sign_in"]  # fmt: skip
    with make() as uow:
        for n, action in enumerate(actions, start=1):
            entry = AuditEntry(at=AT + n * H, principal=f"staff:{n % 2 + 1} someone", action=action,
                               object_type="request", object_id=str(n))  # fmt: skip
            uow.audit.append(entry, audit.entry_hash)
        uow.commit()


def _ids(make: MakeUow, **filters: object) -> list[int | None]:
    with make() as uow:
        return [e.id for e in uow.audit.entries(**filters)]  # type: ignore[arg-type]


def test_audit_entries__action_and_time_range(store_uow_factory: MakeUow) -> None:
    _fill(store_uow_factory)
    assert _ids(store_uow_factory, action="session.sign_in") == [1, 3, 6]
    assert _ids(store_uow_factory, since=AT + 2 * H, until=AT + 5 * H) == [2, 3, 4]  # since included, until not
    assert _ids(store_uow_factory, action="request.merge", since=AT + 3 * H) == [5]
    assert _ids(store_uow_factory, principal="staff:1", action="session.sign_in") == [6]


def test_audit_entries__newest_first_paged_before_an_id(store_uow_factory: MakeUow) -> None:
    _fill(store_uow_factory)
    assert _ids(store_uow_factory, newest_first=True, limit=2) == [6, 5]
    assert _ids(store_uow_factory, newest_first=True, limit=2, before_id=5) == [4, 3]
    assert _ids(store_uow_factory, newest_first=True, before_id=3, action="session.sign_in") == [1]
    assert _ids(store_uow_factory, before_id=4) == [1, 2, 3]


def test_audit_entries_use_case__a_staff_email_reads_as_that_account(store_uow_factory: MakeUow) -> None:
    clock = FixedClock(AT)
    ana = add_user(store_uow_factory(), clock, AddUser("ana@city.gov", "agent", password="a long enough password"))
    found = audit_entries(store_uow_factory(), principal="ANA@city.gov", newest_first=True)
    assert [e.principal for e in found] == []  # the operator added her: nothing by her yet
    with store_uow_factory() as uow:
        audit.record(uow, clock.now(), ana.user.principal(), "request.read_contact", "request", "9")
        uow.commit()
    (entry,) = audit_entries(store_uow_factory(), principal="ana@city.gov")
    assert entry.principal == f"staff:{ana.user.id} ana@city.gov" and entry.object_id == "9"
    with pytest.raises(NotFound):
        audit_entries(store_uow_factory(), principal="nobody@city.gov")
    with pytest.raises(Invalid):
        audit_entries(store_uow_factory(), since=AT, until=AT)


def test_audit_entries__who__the_account_under_each_of_its_labels_and_no_other(store_uow_factory: MakeUow) -> None:
    labels = ["staff:3 ana@city.gov", "staff:30 bo@city.gov", "staff:3", "staff:3 ana@new.city.gov", "staff:3x y",
              "staff:2 cy@city.gov", "staff:3 ana@city.gov", "client:3 app", "staff:3\x01odd",
              "staff:3 ana%_x"]  # fmt: skip
    with store_uow_factory() as uow:
        for n, label in enumerate(labels):
            entry = AuditEntry(at=AT + n * H, principal=label, action="request.work", object_type="request",
                               object_id=str(n))  # fmt: skip
            uow.audit.append(entry, audit.entry_hash)
        uow.commit()
    # ids are 1-based: a prefix is the account under any of its labels (its email changed), never staff:30
    assert _ids(store_uow_factory, principal="staff:3") == [1, 3, 4, 7, 10]
    assert _ids(store_uow_factory, principal="staff:3", newest_first=True, limit=2) == [10, 7]
    assert _ids(store_uow_factory, principal="staff:3", newest_first=True, before_id=4) == [3, 1]
    assert _ids(store_uow_factory, principal="staff:3 ana@city.gov") == [1, 7]  # a whole label
    assert _ids(store_uow_factory, principal="staff:3 ana%") == [10]  # LIKE's wildcards are plain characters here
    assert _ids(store_uow_factory, principal="staff:30") == [2]
    assert _ids(store_uow_factory, principal="staff:4") == [] and _ids(store_uow_factory, principal="client:3") == [8]
