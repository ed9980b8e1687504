"""Outbox rows written with each change, and the worker that delivers them (fake sender; both databases)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.hub.connectors.fake import FakeSender
from civicswitch.hub.handlers import add_connector, health, replay
from civicswitch.hub.model import ConnectorKind, DeliveryState, MessageType, Outcome, OutcomeKind
from civicswitch.hub.worker import Worker
from civicswitch.requests.commands import PostUpdate, SubmitRequest
from civicswitch.requests.handlers import post_update, submit_request
from civicswitch.storage.sql import SqlUnitOfWork


def _submit(engine: Engine, clock: FixedClock, key: str, service: str = "graffiti", **extra: Any) -> str:
    cmd = SubmitRequest(service_code=service, api_key=key, lat="40.7", long="-73.9", **extra)
    rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
    assert rid is not None
    return rid


def _rows(engine: Engine, **kw: Any) -> list[Any]:
    with SqlUnitOfWork(engine, writing=False) as uow:
        return uow.hub.deliveries(limit=1000, **kw)


def _worker(engine: Engine, clock: FixedClock, sender: FakeSender) -> Worker:
    return Worker(lambda: SqlUnitOfWork(engine), clock, {ConnectorKind.WEBHOOK: sender, ConnectorKind.NATS: sender})


def _hook(engine: Engine, clock: FixedClock, code: str = "dsny-hook", body: str = "DSNY", **kw: Any) -> Any:
    return add_connector(
        SqlUnitOfWork(engine),
        clock,
        code=code,
        kind="webhook",
        body=body,
        config={"url": "http://127.0.0.1:9/hook", "allow_private": True},
        **kw,
    )


def test_outbox__body_without_connector__a_manual_bridge_task(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _submit(engine, clock, keys["submit"])
    (task,) = _rows(engine)
    assert (task.connector_code, task.body_code, task.request_id, task.type) == (None, "DSNY", int(rid), "created")
    assert (
        task.payload["type"] == "gov.civicswitch.request.created" and task.payload["data"]["service_code"] == "graffiti"
    )


def test_outbox__connector__created_then_note_and_status_in_order_not_echoed(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    made = _hook(engine, clock)
    assert made.secret and made.secret.startswith("whsec_") and made.api_key
    rid = _submit(engine, clock, keys["submit"], description="Tags on the wall")
    clock.advance(timedelta(minutes=1))
    post_update(
        SqlUnitOfWork(engine),
        clock,
        PostUpdate(keys["update_dsny"], rid, "u1", "IN_PROGRESS", clock.now(), "crew sent"),
    )
    post_update(
        SqlUnitOfWork(engine), clock, PostUpdate(made.api_key, rid, "u2", "FIXED", clock.now(), "done")
    )  # the connector's own
    rows = _rows(engine)
    assert [(r.connector_code, r.type) for r in rows] == [("dsny-hook", "created"), ("dsny-hook", "status_changed")]
    assert (
        rows[0].payload["data"]["description"] == "Tags on the wall"
        and rows[1].payload["data"]["status"] == "in_progress"
    )
    assert len({r.idempotency_key for r in rows}) == 2 and all(r.idempotency_key == r.payload["id"] for r in rows)


def test_worker__delivers_in_order_per_request(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> None:
    _hook(engine, clock)
    rid = _submit(engine, clock, keys["submit"])
    post_update(SqlUnitOfWork(engine), clock, PostUpdate(keys["update_dsny"], rid, "u1", "INVESTIGATING", clock.now()))
    sender = FakeSender()
    worker = _worker(engine, clock, sender)
    assert asyncio.run(worker.run_once()) == 1  # the status change waits for the creation
    assert asyncio.run(worker.run_once()) == 1
    assert [m.type for _, m in sender.sent] == [MessageType.CREATED, MessageType.STATUS_CHANGED]
    assert {r.state for r in _rows(engine)} == {DeliveryState.DELIVERED}


def test_worker__failures__retried_on_schedule_then_dead_then_replayed(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    _hook(engine, clock, retry_schedule=[10, 20])
    _submit(engine, clock, keys["submit"])
    sender = FakeSender([Outcome(OutcomeKind.RETRY, "HTTP 503", 503)] * 3)
    worker = _worker(engine, clock, sender)
    asyncio.run(worker.run_once())
    (row,) = _rows(engine)
    assert (row.state, row.attempts, row.next_attempt_at) == (
        DeliveryState.RETRYING,
        1,
        clock.now() + timedelta(seconds=10),
    )
    assert asyncio.run(worker.run_once()) == 0  # not due yet
    clock.advance(timedelta(seconds=10))
    asyncio.run(worker.run_once())
    clock.advance(timedelta(seconds=20))
    asyncio.run(worker.run_once())
    (row,) = _rows(engine)
    assert (row.state, row.attempts, row.last_error) == (DeliveryState.DEAD, 3, "HTTP 503")
    (h,) = [h for h in health(SqlUnitOfWork(engine), clock) if h["connector"] == "dsny-hook"]
    assert h["status"] == "alert" and h["counts"]["dead"] == 1
    assert replay(SqlUnitOfWork(engine), clock) == 1
    asyncio.run(worker.run_once())
    (row,) = _rows(engine)
    assert row.state == DeliveryState.DELIVERED and len({m.idempotency_key for _, m in sender.sent}) == 1


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        (Outcome(OutcomeKind.FAILED, "HTTP 400: bad", 400), DeliveryState.DEAD),
        (Outcome(OutcomeKind.GONE, "HTTP 410 Gone", 410), DeliveryState.RETRYING),
        (Outcome(OutcomeKind.RETRY, "HTTP 429", 429, retry_after=3600), DeliveryState.RETRYING),
    ],
)
def test_worker__outcomes__dead_paused_or_later(
    engine: Engine, clock: FixedClock, keys: dict[str, str], outcome: Outcome, state: DeliveryState
) -> None:
    _hook(engine, clock)
    _submit(engine, clock, keys["submit"])
    asyncio.run(_worker(engine, clock, FakeSender([outcome])).run_once())
    (row,) = _rows(engine)
    assert row.state == state and row.last_status == outcome.status_code
    with SqlUnitOfWork(engine, writing=False) as uow:
        connector = uow.hub.connector("dsny-hook")
    assert connector is not None and connector.enabled == (outcome.kind != OutcomeKind.GONE)
    if outcome.retry_after:
        assert row.next_attempt_at == clock.now() + timedelta(hours=1)


def test_worker__sender_raises__message_kept_for_retry(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> None:
    class Broken(FakeSender):
        async def send(self, connector: Any, message: Any) -> Outcome:
            raise RuntimeError("bug")

    _hook(engine, clock)
    _submit(engine, clock, keys["submit"])
    asyncio.run(_worker(engine, clock, Broken()).run_once())
    (row,) = _rows(engine)
    assert row.state == DeliveryState.RETRYING and "RuntimeError: bug" in (row.last_error or "")


def test_worker__delivered_with_external_id__kept_as_the_request_reference(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    _hook(engine, clock)
    rid = _submit(engine, clock, keys["submit"])
    asyncio.run(_worker(engine, clock, FakeSender([Outcome.delivered(external_id="WO-42")])).run_once())
    with SqlUnitOfWork(engine, writing=False) as uow:
        assert uow.hub.external_id(int(rid), "DSNY") == "WO-42"


def test_outbox__transfer__old_owner_told_and_new_owner_gets_it(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    from civicswitch.requests.commands import ChangeRequest
    from civicswitch.requests.staff import change_request

    _hook(engine, clock)
    _hook(engine, clock, code="dot-hook", body="DOT")
    rid = _submit(engine, clock, keys["submit"])
    change_request(SqlUnitOfWork(engine), clock, ChangeRequest(keys["admin"], rid, service_code="pothole"))
    rows = _rows(engine)
    assert [(r.connector_code, r.type) for r in rows] == [
        ("dsny-hook", "created"), ("dsny-hook", "transferred"), ("dot-hook", "created"),
    ]  # fmt: skip
    assert rows[1].payload["data"]["transferred_to"] == "DOT"


def test_outbox__import_and_rollback__write_nothing(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> None:
    from civicswitch.requests.model import Channel, ServiceRequest

    _hook(engine, clock)

    def request(ref: str) -> ServiceRequest:
        r = ServiceRequest("graffiti", clock.now(), Channel.IMPORT, lat=1.0, long=1.0, source_ref=ref, body_code="DSNY")
        r.record_submission(clock.now(), client_id=None)
        return r

    with SqlUnitOfWork(engine) as uow:
        uow.requests.add(request("rolled-back"), None)
        uow.rollback()
        uow.requests.add_many([request("hist-1"), request("hist-2")])  # history: nothing to deliver
        uow.commit()
    with SqlUnitOfWork(engine, writing=False) as uow:
        assert uow.requests.count() == 2
    assert _rows(engine) == []


def test_worker__open311_token_only__remembered_then_the_poller_id_becomes_the_reference(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    from civicswitch.hub.inbound import apply_update
    from civicswitch.hub.model import InboundUpdate

    add_connector(
        SqlUnitOfWork(engine),
        clock,
        code="dsny-311",
        kind="open311",
        body="DSNY",
        config={"endpoint": "https://dsny.example/open311/v2"},
        secret="their-key",
    )
    rid = _submit(engine, clock, keys["submit"])
    sender = FakeSender([Outcome.delivered("token=tk-9; the department accepted the request but had not assigned")])
    from civicswitch.hub.connectors.open311 import Open311Poller

    worker = Worker(
        lambda: SqlUnitOfWork(engine),
        clock,
        {ConnectorKind.OPEN311: sender},
        pollers={ConnectorKind.OPEN311: Open311Poller()},
    )
    asyncio.run(worker.run_once())
    with SqlUnitOfWork(engine) as uow:
        assert "tk-9" in (uow.hub.cursor("dsny-311") or "")
        connector = uow.hub.connector("dsny-311")
        assert connector is not None
        update = InboundUpdate("token:tk-9", "", clock.now(), service_request_id=rid, external_id="DSNY-77")
        assert apply_update(uow, connector, update, now=clock.now()).applied
        uow.commit()
    with SqlUnitOfWork(engine, writing=False) as uow:
        assert uow.hub.request_for_external("DSNY", "DSNY-77") == int(rid)


@pytest.mark.parametrize(
    ("status", "expected"), [("investigating", "acknowledged"), ("fixed", "closed"), ("open", "new")]
)
def test_inbound__open311_statuses__understood_without_a_map(
    engine: Engine, clock: FixedClock, keys: dict[str, str], status: str, expected: str
) -> None:
    from civicswitch.hub.inbound import apply_update
    from civicswitch.hub.model import InboundUpdate

    add_connector(
        SqlUnitOfWork(engine),
        clock,
        code="dsny-311",
        kind="open311",
        body="DSNY",
        config={"endpoint": "https://dsny.example/open311/v2"},
        secret="k",
    )
    rid = _submit(engine, clock, keys["submit"])
    with SqlUnitOfWork(engine) as uow:
        connector = uow.hub.connector("dsny-311")
        assert connector is not None
        apply_update(uow, connector, InboundUpdate("u1", status, clock.now(), service_request_id=rid), now=clock.now())
        uow.commit()
    with SqlUnitOfWork(engine, writing=False) as uow:
        request = uow.requests.get(int(rid))
        assert request is not None and request.status == expected


def test_worker__dead_letters__alert_logged_without_anyone_asking(
    engine: Engine, clock: FixedClock, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    _hook(engine, clock)
    _submit(engine, clock, keys["submit"])
    worker = _worker(engine, clock, FakeSender([Outcome(OutcomeKind.FAILED, "HTTP 400: unknown field", 400)]))
    asyncio.run(worker.run_once())
    worker._last_health = -1e9  # as if a minute had passed
    with caplog.at_level("WARNING", logger="civicswitch.hub.handlers"):
        worker._watch_health()
    assert "connector dsny-hook alert: 1 dead message(s)" in caplog.text
