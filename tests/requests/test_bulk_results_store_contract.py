"""The bulk results store's contract (requests/bulk.py), against the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from civicswitch.people.policy import Role
from civicswitch.people.users import StaffUser
from civicswitch.requests.bulk import BulkResult
from civicswitch.requests.commands import BulkItem
from civicswitch.requests.model import Status
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
M = timedelta(minutes=1)


@pytest.fixture
def user_id(store_uow_factory: MakeUow) -> int:
    with store_uow_factory() as uow:
        user = uow.users.add(StaffUser(email="ana@city.gov", role=Role.DEPARTMENT, password_hash="x", created_at=T0,
                                       password_changed_at=T0))  # fmt: skip
        uow.commit()
    assert user.id is not None
    return user.id


def _result(token: str, user_id: int, at: datetime) -> BulkResult:
    items = (BulkItem("12", True, status=Status.ACKNOWLEDGED), BulkItem("13", False, "cannot go from closed — «é»"),
             BulkItem("999", False, "service_request_id '999' does not exist"))  # fmt: skip
    return BulkResult(token, user_id, "acknowledge", items, at, at + 30 * M)


def test_bulk_results__added__read_back_whole_by_token(store_uow_factory: MakeUow, user_id: int) -> None:
    kept = _result("t" * 43, user_id, T0)
    with store_uow_factory() as uow:
        uow.bulk_results.add(kept)
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.bulk_results.get("t" * 43) == kept
        assert uow.bulk_results.get("u" * 43) is None and uow.bulk_results.get("") is None


def test_bulk_results__not_committed__not_kept(store_uow_factory: MakeUow, user_id: int) -> None:
    with store_uow_factory() as uow:
        uow.bulk_results.add(_result("a" * 43, user_id, T0))
    with store_uow_factory() as uow:
        assert uow.bulk_results.get("a" * 43) is None


def test_bulk_results__purge__only_those_expired_before(store_uow_factory: MakeUow, user_id: int) -> None:
    with store_uow_factory() as uow:
        for n, token in enumerate("abc"):
            uow.bulk_results.add(_result(token * 43, user_id, T0 + n * 10 * M))  # expire at 30, 40, 50 min
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.bulk_results.purge(T0 + 40 * M) == 1  # expired at 30 (40 is not before 40)
        uow.commit()
    with store_uow_factory() as uow:
        assert [uow.bulk_results.get(t * 43) is not None for t in "abc"] == [False, True, True]
        assert uow.bulk_results.purge(T0) == 0
