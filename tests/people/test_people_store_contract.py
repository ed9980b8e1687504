"""The staff-account and audit stores keep the same promises in memory, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from civicswitch.core.errors import Conflict
from civicswitch.people import audit
from civicswitch.people.audit import AuditEntry
from civicswitch.people.policy import Role
from civicswitch.people.users import StaffUser
from civicswitch.storage.ports import UnitOfWork

AT = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _user(email: str = "ana@city.gov", **extra: object) -> StaffUser:
    fields: dict[str, object] = {"email": email, "role": Role.DEPARTMENT, "password_hash": "$argon2id$x",
                                 "created_at": AT, "password_changed_at": AT, "bodies": frozenset({"DOT"})}  # fmt: skip
    fields.update(extra)
    return StaffUser(**fields)  # type: ignore[arg-type]


def test_users__add_get_and_by_email__round_trip_every_field(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    wanted = _user(name="Ana", areas=frozenset({("districts", "101")}), must_change_password=True)
    with store_uow_factory() as uow:
        stored = uow.users.add(wanted)
        uow.commit()
    assert stored.id is not None
    with store_uow_factory() as uow:
        assert uow.users.get(stored.id) == stored
        assert uow.users.by_email("ana@city.gov") == stored
        assert uow.users.by_email("nobody@city.gov") is None
        assert uow.users.get(999) is None


def test_users__same_email_twice__conflict(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    with store_uow_factory() as uow:
        uow.users.add(_user())
        uow.commit()
    with store_uow_factory() as uow, pytest.raises(Conflict):
        uow.users.add(_user(role=Role.AGENT, bodies=frozenset()))


def test_users__save__every_field_written(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    with store_uow_factory() as uow:
        stored = uow.users.add(_user())
        uow.commit()
    changed = StaffUser(
        email="ana@city.gov", role=Role.PARTNER, password_hash="$argon2id$y", created_at=AT,
        password_changed_at=AT + timedelta(days=1), org="FIXIT", disabled_at=AT + timedelta(days=2), id=stored.id,
    )  # fmt: skip
    with store_uow_factory() as uow:
        uow.users.save(changed)
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.users.all() == [changed]


def _entry(n: int, who: str = "staff:1 ana@city.gov", obj: str | None = "7") -> AuditEntry:
    return AuditEntry(at=AT + timedelta(seconds=n), principal=who, action="request.merge", object_type="request",
                      object_id=obj, reason=f"reason {n}", detail={"n": n, "nested": {"ok": True}})  # fmt: skip


def test_audit__append__chained_ids_and_hashes_then_verified(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    with store_uow_factory() as uow:
        first = uow.audit.append(_entry(1), audit.entry_hash)
        second = uow.audit.append(_entry(2), audit.entry_hash)
        uow.commit()
    assert (first.id, second.id) == (1, 2)
    assert first.prev_hash == audit.GENESIS and second.prev_hash == first.hash
    with store_uow_factory() as uow:
        stored = uow.audit.entries()
    assert stored == [first, second]  # every field round-trips, microseconds included
    assert audit.verify(stored) == (2, [])


def test_audit__filters__principal_prefix_object_after_and_limit(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    with store_uow_factory() as uow:
        for n, who, obj in ((1, "staff:1 ana@city.gov", "7"), (2, "staff:12 bo@city.gov", "7"),
                            (3, "client:1 App", "8"), (4, "staff:1 ana@city.gov", "8")):  # fmt: skip
            uow.audit.append(_entry(n, who, obj), audit.entry_hash)
        uow.commit()
    with store_uow_factory() as uow:
        assert [e.id for e in uow.audit.entries(principal="staff:1")] == [1, 4]  # not staff:12
        assert [e.id for e in uow.audit.entries(object_type="request", object_id="8")] == [3, 4]
        assert [e.id for e in uow.audit.entries(after_id=2, limit=1)] == [3]


def test_audit__rolled_back__nothing_kept_and_the_chain_continues(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    with store_uow_factory() as uow:
        uow.audit.append(_entry(1), audit.entry_hash)
        uow.commit()
    with store_uow_factory() as uow:
        uow.audit.append(_entry(2), audit.entry_hash)  # not committed
    with store_uow_factory() as uow:
        third = uow.audit.append(_entry(3), audit.entry_hash)
        uow.commit()
    with store_uow_factory() as uow:
        entries = uow.audit.entries()
    assert [e.id for e in entries] == [1, 2] and entries[1] == third
    assert audit.verify(entries) == (2, [])


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_audit__concurrent_writers_on_postgres__one_chain_no_fork(database_url: str) -> None:
    """Eight threads append at once: the advisory lock serialises them, so ids are 1…N and every entry links
    to the one before (no two entries share a predecessor)."""
    from civicswitch.core.db import make_engine
    from civicswitch.storage.sql import SqlUnitOfWork

    engine = make_engine(database_url)
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(5):
                with SqlUnitOfWork(engine) as uow:
                    uow.audit.append(_entry(n * 10 + i), audit.entry_hash)
                    uow.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    with SqlUnitOfWork(engine) as uow:
        entries = uow.audit.entries()
    assert [e.id for e in entries] == list(range(1, 41))
    assert audit.verify(entries) == (40, [])
    engine.dispose()


def test_clients__body_limit_and_suspension__set_read_back_and_cleared(
    store_uow_factory: Callable[[], UnitOfWork],
) -> None:
    from civicswitch.people.clients import ApiClient, Scope

    client = ApiClient(name="DOT system", key_prefix="cs_abc", key_hash="h" * 64, scopes=frozenset({Scope.UPDATE}),
                       created_at=AT, body_code="DOT")  # fmt: skip
    with store_uow_factory() as uow:
        stored = uow.clients.add(client)
        uow.commit()
    assert stored.id is not None and stored.body_code == "DOT"
    with store_uow_factory() as uow:
        assert uow.clients.set_limit(stored.id, 0) and uow.clients.suspend(stored.id, "connector disabled")
        assert uow.clients.set_body(stored.id, "DSNY")
        assert not uow.clients.set_limit(999, 5) and not uow.clients.suspend(999, "x")
        uow.commit()
    with store_uow_factory() as uow:
        found = uow.clients.get(stored.id)
        assert found is not None and (found.rate_limit, found.suspended, found.body_code) == (
            0,
            "connector disabled",
            "DSNY",
        )
        uow.clients.suspend(stored.id, None)
        uow.commit()
    with store_uow_factory() as uow:
        again = uow.clients.by_hash("h" * 64)
        assert again is not None and again.suspended is None
