"""The hub store's contract, against the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.errors import Conflict, NotFound
from civicswitch.hub.model import Connector, ConnectorKind, DeliveryState, MessageType, StatusMap
from civicswitch.hub.views import NewDelivery, Settlement
from civicswitch.requests.model import Channel, ServiceRequest
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
LEASE = timedelta(seconds=60)


@pytest.fixture
def hub(store_uow_factory: MakeUow, catalog_data: dict[str, Any]) -> tuple[MakeUow, list[int]]:
    load_catalog(store_uow_factory(), catalog_data)
    with store_uow_factory() as uow:
        uow.hub.add_connector(Connector("dot-hook", ConnectorKind.WEBHOOK, "DOT", {"url": "http://x"}, "whsec_a"), T0)
        uow.hub.add_connector(Connector("dot-bus", ConnectorKind.NATS, "DOT", {}), T0)
        ids = []
        for _ in range(3):
            r = ServiceRequest(service_code="graffiti", requested_at=T0, channel=Channel.OPEN311, lat=1.0, long=1.0)
            ids.append(uow.requests.add(r, None))
        uow.requests.take_changes()  # this test writes its own outbox rows
        uow.commit()
    return store_uow_factory, ids


def _row(
    connector: str | None, request_id: int, key: str, at: datetime = T0, type_: MessageType = MessageType.CREATED
) -> NewDelivery:
    return NewDelivery(connector, "DOT", request_id, type_, key, {"id": key}, at)


def _enqueue(make: MakeUow, *rows: NewDelivery) -> None:
    with make() as uow:
        uow.hub.enqueue(rows)
        uow.commit()


def _claim(make: MakeUow, now: datetime = T0, limit: int = 100) -> list[str]:
    with make() as uow:
        found = uow.hub.claim("w1", now, limit, LEASE)
        uow.commit()
    return [c.message.idempotency_key for c in found]


def _settle(
    make: MakeUow, key: str, state: DeliveryState, at: datetime = T0, nxt: datetime | None = None, **kw: Any
) -> None:
    with make() as uow:
        (row,) = [d for d in uow.hub.deliveries(limit=1000) if d.idempotency_key == key]
        uow.hub.settle([Settlement(row.id, state, row.attempts, nxt, at, **kw)])  # attempts count from the claim
        uow.commit()


def test_connectors__update_without_secret__keeps_the_stored_secret(hub: tuple[MakeUow, list[int]]) -> None:
    make, _ = hub
    with make() as uow:
        uow.hub.add_connector(
            Connector("dot-hook", ConnectorKind.WEBHOOK, "DOT", {"url": "http://y"}, None,
                      StatusMap({"DONE": "closed/fixed"}), enabled=False, disabled_reason="paused"), T0)  # fmt: skip
        uow.commit()
    with make() as uow:
        found = uow.hub.connector("dot-hook")
        assert found is not None and found.secret == "whsec_a" and found.config == {"url": "http://y"}
        assert found.status_map.inbound == {"DONE": "closed/fixed"} and not found.enabled
        assert [c.code for c in uow.hub.connectors()] == ["dot-bus", "dot-hook"]
        assert uow.hub.set_enabled("dot-hook", True, None) and not uow.hub.set_enabled("nope", True, None)


def test_claim__per_request_and_connector__only_the_oldest_open_message(hub: tuple[MakeUow, list[int]]) -> None:
    make, (a, b, _) = hub
    _enqueue(make, _row("dot-hook", a, "a1"), _row("dot-hook", a, "a2"), _row("dot-bus", a, "a1-bus"),
             _row("dot-hook", b, "b1"), _row(None, b, "b-manual"))  # fmt: skip
    assert _claim(make) == ["a1", "a1-bus", "b1"]
    assert _claim(make) == []  # in flight, and a2 waits behind a1
    _settle(make, "a1", DeliveryState.DELIVERED)
    assert _claim(make) == ["a2"]


def test_claim__retrying_waits_for_its_time_and_blocks_what_follows(hub: tuple[MakeUow, list[int]]) -> None:
    make, (a, _, _) = hub
    _enqueue(make, _row("dot-hook", a, "a1"), _row("dot-hook", a, "a2"))
    assert _claim(make) == ["a1"]
    _settle(make, "a1", DeliveryState.RETRYING, nxt=T0 + 10 * S, last_error="HTTP 503")
    assert _claim(make, T0 + 5 * S) == []
    assert _claim(make, T0 + 10 * S) == ["a1"]


def test_claim__expired_lease__claimed_again_and_disabled_connector__not_claimed(
    hub: tuple[MakeUow, list[int]],
) -> None:
    make, (a, b, _) = hub
    _enqueue(make, _row("dot-hook", a, "a1"), _row("dot-bus", b, "b1"))
    with make() as uow:
        uow.hub.set_enabled("dot-bus", False, "410 Gone")
        uow.commit()
    assert _claim(make) == ["a1"]
    assert _claim(make, T0 + LEASE - S) == []
    assert _claim(make, T0 + LEASE + S) == ["a1"]  # the first worker died: its lease ran out


def test_settle_replay__dead_comes_back_pending_with_the_same_key(hub: tuple[MakeUow, list[int]]) -> None:
    make, (a, b, _) = hub
    _enqueue(make, _row("dot-hook", a, "a1"), _row("dot-hook", b, "b1"))
    _claim(make)
    _settle(make, "a1", DeliveryState.DEAD, last_error="HTTP 400: bad", last_status=400)
    _settle(make, "b1", DeliveryState.DELIVERED, external_id="WO-7")
    with make() as uow:
        dead = uow.hub.deliveries(states=[DeliveryState.DEAD])
        assert [(d.idempotency_key, d.last_error, d.last_status, d.attempts) for d in dead] == [
            ("a1", "HTTP 400: bad", 400, 1)
        ]
        assert uow.hub.external_id(b, "DOT") == "WO-7" and uow.hub.request_for_external("DOT", "WO-7") == b
        assert uow.hub.replay(None, "dot-hook", T0 + S) == 1
        uow.commit()
    assert _claim(make, T0 + S) == ["a1"]


def test_manual_tasks__not_claimed__completed_with_effort(hub: tuple[MakeUow, list[int]]) -> None:
    make, (a, _, _) = hub
    _enqueue(make, _row(None, a, "m1"))
    assert _claim(make) == []
    with make() as uow:
        (task,) = uow.hub.deliveries(manual=True, states=[DeliveryState.PENDING])
        assert uow.hub.complete_manual(task.id, "SR-99", 12.5, "Ana", T0 + S) == a
        uow.commit()
    with make() as uow:
        (done,) = uow.hub.deliveries(manual=True)
        assert (done.state, done.effort_minutes, done.done_by, done.external_id) == (
            DeliveryState.DELIVERED,
            12.5,
            "Ana",
            "SR-99",
        )
        with pytest.raises(Conflict):
            uow.hub.complete_manual(task.id, None, 1, "Ana", T0)
        with pytest.raises(NotFound):
            uow.hub.complete_manual(999, None, 1, "Ana", T0)
        (health,) = [h for h in uow.hub.health_rows(T0 + S) if h.connector_code is None]
        assert health.effort_minutes == 12.5 and health.counts == {"delivered": 1}


def test_delivery__by_id__the_one_row_or_none(hub: tuple[MakeUow, list[int]]) -> None:
    make, (a, b, _) = hub
    _enqueue(make, _row("dot-hook", a, "a1"), _row(None, b, "b-manual"))
    with make() as uow:
        listed = {d.idempotency_key: d for d in uow.hub.deliveries(limit=1000)}
        manual, hooked = listed["b-manual"], listed["a1"]
        assert uow.hub.delivery(manual.id) == manual and uow.hub.delivery(hooked.id) == hooked
        assert (manual.connector_code, manual.body_code, manual.request_id) == (None, "DOT", b)
        assert uow.hub.delivery(hooked.id + manual.id + 1) is None
        assert uow.hub.delivery(0) is None and uow.hub.delivery(-1) is None and uow.hub.delivery(2**40) is None


def test_deliveries__after_id__the_next_page_by_id(hub: tuple[MakeUow, list[int]]) -> None:
    """Keyset paging (the manual bridge's pages): the rows after an id, by id, up to the limit."""
    make, (a, b, c) = hub
    _enqueue(make, _row(None, a, "m1"), _row(None, b, "m2"), _row(None, c, "m3"))
    with make() as uow:
        ids = [d.id for d in uow.hub.deliveries(manual=True, limit=1000)]
        assert len(ids) == 3 and ids == sorted(ids)
        assert [d.id for d in uow.hub.deliveries(manual=True, limit=2)] == ids[:2]
        assert [d.id for d in uow.hub.deliveries(manual=True, limit=2, after_id=ids[1])] == ids[2:]
        assert uow.hub.deliveries(manual=True, after_id=ids[2]) == []


def test_manual_claim__one_holder_at_a_time__renewed_released_and_lapsing(hub: tuple[MakeUow, list[int]]) -> None:
    make, (a, _, _) = hub
    _enqueue(make, _row(None, a, "m1"))
    with make() as uow:
        (task,) = uow.hub.deliveries(manual=True)
        assert task.claimed_by is None
        assert uow.hub.claim_manual(task.id, "staff:1 ana", T0, T0 + 60 * S) == a
        uow.commit()
    with make() as uow:
        with pytest.raises(Conflict, match="claimed by staff:1 ana"):
            uow.hub.claim_manual(task.id, "staff:2 bo", T0 + S, T0 + 61 * S)
        uow.hub.claim_manual(task.id, "staff:1 ana", T0 + 30 * S, T0 + 90 * S)  # renewed by its holder
        uow.commit()
    with make() as uow:
        (held,) = uow.hub.deliveries(manual=True)
        assert (held.claimed_by, held.claimed_at, held.claimed_until) == ("staff:1 ana", T0, T0 + 90 * S)
        uow.hub.release_manual(task.id, "staff:2 bo")  # not the holder: nothing happens
        uow.commit()
    with make() as uow:
        assert uow.hub.deliveries(manual=True)[0].claimed_by == "staff:1 ana"
        uow.hub.claim_manual(task.id, "staff:2 bo", T0 + 91 * S, T0 + 200 * S)  # the claim lapsed: free again
        uow.commit()
    with make() as uow:
        (taken,) = uow.hub.deliveries(manual=True)
        assert (taken.claimed_by, taken.claimed_at) == ("staff:2 bo", T0 + 91 * S)
        uow.hub.release_manual(task.id, "staff:2 bo")
        uow.commit()
    with make() as uow:
        assert uow.hub.deliveries(manual=True)[0].claimed_by is None
        uow.hub.complete_manual(task.id, "SR-1", 5, "Bo", T0 + 300 * S)
        with pytest.raises(Conflict, match="no longer open"):
            uow.hub.claim_manual(task.id, "staff:1 ana", T0 + 301 * S, T0 + 400 * S)
        with pytest.raises(NotFound):
            uow.hub.claim_manual(999, "staff:1 ana", T0, T0 + S)
        uow.commit()


def test_manual_effort__tasks_and_minutes_per_body_since(hub: tuple[MakeUow, list[int]]) -> None:
    make, (a, b, _) = hub
    _enqueue(make, _row(None, a, "m1"), _row(None, b, "m2"), _row(None, a, "m3"))
    with make() as uow:
        t1, t2, t3 = uow.hub.deliveries(manual=True)
        uow.hub.complete_manual(t1.id, None, 4, "Ana", T0)
        uow.hub.complete_manual(t2.id, None, 6, "Ana", T0 + 10 * S)
        uow.hub.complete_manual(t3.id, None, 2.5, "Bo", T0 + 20 * S)
        uow.commit()
    with make() as uow:
        everything = uow.hub.manual_effort(T0)
        later = uow.hub.manual_effort(T0 + 5 * S)
    bodies = {t.body_code for t in (t1, t2, t3)}
    assert sum(e.tasks for e in everything) == 3 and sum(e.minutes for e in everything) == 12.5
    assert {e.body_code for e in everything} == bodies
    assert sum(e.tasks for e in later) == 2 and sum(e.minutes for e in later) == 8.5


def test_external_refs__same_id_for_another_request__conflict(hub: tuple[MakeUow, list[int]]) -> None:
    make, (a, b, _) = hub
    with make() as uow:
        uow.hub.add_external_ref(a, "DOT", "WO-1", T0)
        uow.hub.add_external_ref(a, "DOT", "WO-1", T0)  # the same again: fine
        with pytest.raises(Conflict):
            uow.hub.add_external_ref(b, "DOT", "WO-1", T0)


def test_seen_messages_and_cursors__remembered(hub: tuple[MakeUow, list[int]]) -> None:
    make, _ = hub
    with make() as uow:
        assert uow.hub.seen_message("dot-hook", "msg_1", T0) is False
        assert uow.hub.cursor("dot-hook") is None
        uow.hub.set_cursor("dot-hook", "2026-11-28T12:00:00Z", T0)
        uow.commit()
    with make() as uow:
        assert uow.hub.seen_message("dot-hook", "msg_1", T0) is True
        assert uow.hub.seen_message("dot-bus", "msg_1", T0) is False
        assert uow.hub.cursor("dot-hook") == "2026-11-28T12:00:00Z"
        uow.hub.set_cursor("dot-hook", "later", T0)
        assert uow.hub.cursor("dot-hook") == "later"


def test_health_rows__counts_oldest_latency_and_last_error(hub: tuple[MakeUow, list[int]]) -> None:
    make, (a, b, c) = hub
    _enqueue(make, _row("dot-hook", a, "a1"), _row("dot-hook", b, "b1"), _row("dot-hook", c, "c1", T0 + S))
    _claim(make)
    _settle(make, "a1", DeliveryState.DELIVERED, at=T0 + 2 * S)
    _settle(make, "b1", DeliveryState.RETRYING, at=T0 + 3 * S, nxt=T0 + 60 * S, last_error="HTTP 503")
    with make() as uow:
        (row,) = [h for h in uow.hub.health_rows(T0 + 10 * S) if h.connector_code == "dot-hook"]
    assert row.counts == {"delivered": 1, "retrying": 1, "pending": 1}  # c1 was not due at the claim
    assert row.oldest_pending_at == T0 and row.latencies_s == [2.0]
    assert row.last_success_at == T0 + 2 * S and row.last_error == "HTTP 503" and row.last_error_at == T0 + 3 * S


def test_settle__worker_whose_lease_ran_out__cannot_overwrite_the_newer_outcome(hub: tuple[MakeUow, list[int]]) -> None:
    make, (a, _, _) = hub
    _enqueue(make, _row("dot-hook", a, "a1"))
    with make() as uow:
        (first,) = uow.hub.claim("w1", T0, 10, LEASE)
        uow.commit()
    with make() as uow:
        (second,) = uow.hub.claim("w2", T0 + LEASE + S, 10, LEASE)  # w1 stalled past its lease
        uow.hub.settle(
            [Settlement(second.message.delivery_id, DeliveryState.DELIVERED, second.attempts, None, T0, worker="w2")]
        )
        uow.hub.settle(
            [
                Settlement(
                    first.message.delivery_id, DeliveryState.RETRYING, first.attempts, T0, T0, "timed out", worker="w1"
                )
            ]
        )
        uow.commit()
    with make() as uow:
        (row,) = uow.hub.deliveries()
    assert (first.attempts, second.attempts) == (1, 2)  # each claim is an attempt, even one whose worker died
    assert (row.state, row.attempts, row.last_error) == (DeliveryState.DELIVERED, 2, None)
