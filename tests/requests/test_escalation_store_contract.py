"""``EscalationStore.escalations`` on memory, SQLite and PostgreSQL: open requests bounced at least N times (the most
bounced first), then those overdue before a moment (not on hold; the oldest filed first); paged, with the total.
And the use case on top: the rule from the settings, who bounced a request and why, and the policy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import Forbidden
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.people.policy import OPERATOR, Principal, Role
from civicswitch.requests.commands import TransferRequest
from civicswitch.requests.escalation import EscalationRule, escalation_queue
from civicswitch.requests.model import Channel, CloseReason, ServiceRequest, Status
from civicswitch.requests.work import transfer_request
from civicswitch.settings import Settings
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=10)
H = timedelta(hours=1)


def _request(i: int, **extra: Any) -> ServiceRequest:
    r = ServiceRequest(service_code="pothole", requested_at=T0 + i * H, channel=Channel.WEB, lat=40.7, long=-74.0,
                       body_code="DOT", description=f"report {i}", **extra)  # fmt: skip
    r.record_submission(r.requested_at, client_id=None)
    return r


@pytest.fixture
def city(store_uow_factory: MakeUow, catalog_data: dict[str, Any]) -> tuple[MakeUow, dict[str, int]]:
    load_catalog(store_uow_factory(), catalog_data)
    specs: dict[str, dict[str, Any]] = {
        "calm": {},  # no transfers, no due date
        "bounced3": {"transfers": 3},
        "bounced2": {"transfers": 2, "expected_at": NOW + H},
        "bounced1": {"transfers": 1},
        "late5d": {"expected_at": NOW - 5 * 24 * H},
        "late3h": {"expected_at": NOW - 3 * H},  # overdue, but by less than the rule
        "late_held": {"expected_at": NOW - 9 * 24 * H, "status": Status.ON_HOLD},
        "late_closed": {"expected_at": NOW - 9 * 24 * H},
        "bounced_closed": {"transfers": 4},
        "late9d_bounced1": {"transfers": 1, "expected_at": NOW - 9 * 24 * H},
    }
    ids = {}
    with store_uow_factory() as uow:
        for i, (name, extra) in enumerate(specs.items()):
            ids[name] = uow.requests.add(_request(i, **extra), None)
        uow.commit()
    with store_uow_factory() as uow:
        for name in ("late_closed", "bounced_closed"):
            closed = uow.requests.get(ids[name])
            assert closed is not None
            closed.transition(Status.CLOSED, T0 + 20 * H, reason=CloseReason.FIXED)
            uow.requests.save(closed)
        uow.commit()
    return store_uow_factory, ids


def found(make: MakeUow, bounces: int | None, before: datetime | None, limit: int = 50, offset: int = 0) -> Any:
    with make() as uow:
        got = uow.escalations.escalations(min_transfers=bounces, overdue_before=before, limit=limit, offset=offset)
    assert not got.more
    return [r.id for r in got.rows], got.total


def test_escalations__bounced_or_overdue__most_bounced_then_oldest_overdue(
    city: tuple[MakeUow, dict[str, int]],
) -> None:
    make, ids = city
    rows, total = found(make, 2, NOW - 48 * H)
    assert rows == [ids[n] for n in ("bounced3", "bounced2", "late5d", "late9d_bounced1")]
    assert total == 4


def test_escalations__one_criterion_off__only_the_other_counts(city: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = city
    assert found(make, 2, None) == ([ids["bounced3"], ids["bounced2"]], 2)
    assert found(make, None, NOW - 48 * H) == ([ids["late5d"], ids["late9d_bounced1"]], 2)
    assert found(make, None, None) == ([], 0)
    assert found(make, 1, None)[0] == [ids[n] for n in ("bounced3", "bounced2", "bounced1", "late9d_bounced1")]


def test_escalations__paged__total_counts_every_page(city: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = city
    assert found(make, 2, NOW - 48 * H, limit=3) == ([ids[n] for n in ("bounced3", "bounced2", "late5d")], 4)
    assert found(make, 2, NOW - 48 * H, limit=3, offset=3) == ([ids["late9d_bounced1"]], 4)
    assert found(make, 2, NOW - 48 * H, limit=1, offset=1) == ([ids["bounced2"]], 4)
    assert found(make, 2, NOW - 48 * H, limit=2, offset=1) == ([ids["bounced2"], ids["late5d"]], 4)


def test_escalations__rows_carry_what_the_page_shows(city: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = city
    with make() as uow:
        (row,) = uow.escalations.escalations(min_transfers=3, overdue_before=None, limit=5, offset=0).rows
    assert (row.id, row.service_code, row.service_name, row.status, row.body_code, row.transfers) == (
        ids["bounced3"], "pothole", "Pothole", Status.NEW, "DOT", 3,
    )  # fmt: skip
    assert row.description == "report 1" and row.requested_at == T0 + H and row.expected_at is None


# -- the use case ------------------------------------------------------------------------------------------------
def test_escalation_rule__from_settings__defaults_two_bounces_and_48_hours() -> None:
    rule = EscalationRule.from_settings(Settings(database_url="sqlite:///unused.db"))
    assert rule == EscalationRule(2, timedelta(hours=48))
    custom = Settings(database_url="sqlite:///unused.db", escalation_bounces=0, escalation_overdue_hours=6)
    assert EscalationRule.from_settings(custom) == EscalationRule(0, timedelta(hours=6))


def test_escalation_queue__bounces__who_moved_it_when_and_why(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    make = store_uow_factory
    clock = FixedClock(T0)
    load_catalog(make(), catalog_data)
    ana = add_user(make(), clock, AddUser("ana@city.gov", "department", bodies=("DOT",), name="Ana Ruiz",
                                         password="a long enough password")).user.principal()  # fmt: skip
    sam = add_user(make(), clock, AddUser("sam@city.gov", "department", bodies=("DSNY",),
                                         password="a long enough password")).user.principal()  # fmt: skip
    with make() as uow:
        rid = uow.requests.add(_request(0), None)
        uow.commit()
    clock.advance(H)
    transfer_request(make(), clock, TransferRequest(ana, str(rid), "DSNY", "a sanitation matter"))
    clock.advance(H)
    transfer_request(make(), clock, TransferRequest(sam, str(rid), "DOT", "it is a road defect"))
    executive = Principal(kind="staff", name="exec@city.gov", role=Role.EXECUTIVE, user_id=99)
    page = escalation_queue(make(), clock, executive, EscalationRule(2, None))
    assert page.total == 1 and page.pages == 1
    (item,) = page.items
    assert item.row.id == rid and item.bounced and item.overdue_by is None
    assert [(b.from_body, b.to_body, b.by, b.reason) for b in item.bounces] == [
        ("DOT", "DSNY", "Ana Ruiz", "a sanitation matter"),
        ("DSNY", "DOT", "sam@city.gov", "it is a road defect"),
    ]
    assert [b.at for b in item.bounces] == [T0 + H, T0 + 2 * H]


def test_escalation_queue__overdue__by_how_much(city: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = city
    page = escalation_queue(make(), FixedClock(NOW), OPERATOR, EscalationRule(0, timedelta(hours=48)))
    assert [(i.row.id, i.overdue_by, i.bounced) for i in page.items] == [
        (ids["late5d"], timedelta(days=5), False),
        (ids["late9d_bounced1"], timedelta(days=9), False),
    ]


def test_escalations__many_overdue__counted_up_to_the_limit(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import civicswitch.requests.escalation_memory
    import civicswitch.requests.escalation_sql

    for module in (civicswitch.requests.escalation_sql, civicswitch.requests.escalation_memory):
        monkeypatch.setattr(module, "COUNT_LIMIT", 3)
    load_catalog(store_uow_factory(), catalog_data)
    with store_uow_factory() as uow:
        for i in range(5):
            uow.requests.add(_request(i, expected_at=NOW - 72 * H), None)
        uow.requests.add(_request(6, transfers=2), None)
        uow.commit()
    with store_uow_factory() as uow:
        got = uow.escalations.escalations(min_transfers=2, overdue_before=NOW - 48 * H, limit=10, offset=0)
    assert (len(got.rows), got.total, got.more) == (6, 4, True)


@pytest.mark.parametrize("role", [Role.DEPARTMENT, Role.AGENT, Role.PARTNER, Role.LIAISON, Role.APP])
def test_escalation_queue__not_admin_or_executive__refused(city: tuple[MakeUow, dict[str, int]], role: Role) -> None:
    make, _ = city
    who = Principal(kind="staff", name="someone", role=role, bodies=frozenset({"DOT"}))
    with pytest.raises(Forbidden):
        escalation_queue(make(), FixedClock(NOW), who, EscalationRule())
