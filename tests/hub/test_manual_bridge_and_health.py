"""The manual bridge queue stays true, health shows what is wrong now, refused inbound rows are quarantined, hub
times have sub-second resolution, and photos reach departments as absolute URLs (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.hub.connectors.batch import BatchPoller
from civicswitch.hub.connectors.fake import FakeSender
from civicswitch.hub.handlers import add_connector, complete_manual, health
from civicswitch.hub.model import ConnectorKind, DeliveryState, Outcome, OutcomeKind
from civicswitch.hub.worker import Worker
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import ChangeRequest, MergeRequests, PostUpdate, SubmitRequest
from civicswitch.requests.handlers import post_update, submit_request
from civicswitch.requests.model import Channel, ServiceRequest
from civicswitch.requests.staff import change_request, merge_requests
from civicswitch.storage.sql import SqlUnitOfWork


def _submit(engine: Engine, clock: FixedClock, key: str, service: str = "graffiti", **extra: Any) -> str:
    cmd = SubmitRequest(service_code=service, api_key=key, lat="40.7", long="-73.9", **extra)
    rid = submit_request(SqlUnitOfWork(engine, clock=clock), clock, cmd).service_request_id
    assert rid is not None
    return rid


def _tasks(engine: Engine, rid: str) -> list[Any]:
    with SqlUnitOfWork(engine, writing=False) as uow:
        return uow.hub.deliveries(manual=True, request_id=int(rid), limit=100)


def _health_of(engine: Engine, clock: FixedClock, code: str) -> dict[str, Any]:
    (found,) = [h for h in health(SqlUnitOfWork(engine), clock) if h["connector"] == code]
    return found


# -- the manual bridge queue -----------------------------------------------------------------------------------
def test_manual_task__request_transferred__withdrawn_with_a_note_and_the_new_owner_gets_one(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _submit(engine, clock, keys["submit"], address_string="12 Main St", zipcode="10001")
    change_request(SqlUnitOfWork(engine), clock, ChangeRequest(None, rid, service_code="pothole", principal=OPERATOR))

    old, new = _tasks(engine, rid)
    assert (old.body_code, old.state, old.last_error) == (
        "DSNY",
        DeliveryState.WITHDRAWN,
        "withdrawn: request transferred to DOT",
    )
    assert (new.body_code, new.state) == ("DOT", DeliveryState.PENDING)
    assert (new.payload["data"]["lat"], new.payload["data"]["long"], new.payload["data"]["address"]) == (
        40.7,
        -73.9,
        "12 Main St",
    )


def test_manual_task__request_merged_into_another__withdrawn_naming_the_parent(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    parent = _submit(engine, clock, keys["submit"])
    child = _submit(engine, clock, keys["submit"])
    merge_requests(SqlUnitOfWork(engine), clock, MergeRequests(None, child, parent, principal=OPERATOR))

    (task,) = _tasks(engine, child)
    assert task.state == DeliveryState.WITHDRAWN
    assert task.last_error == f"withdrawn: request merged into request {parent} (closed as a duplicate)"
    assert [t.state for t in _tasks(engine, parent)] == [DeliveryState.PENDING]


def test_manual_task__request_closed_elsewhere__withdrawn_and_done_tasks_untouched(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    closed, done = _submit(engine, clock, keys["submit"]), _submit(engine, clock, keys["submit"])
    (finished,) = _tasks(engine, done)
    complete_manual(SqlUnitOfWork(engine), clock, finished.id, external_id="SR-9", minutes=4, by="Ana")
    clock.advance(timedelta(minutes=5))
    for rid in (closed, done):
        post_update(
            SqlUnitOfWork(engine), clock, PostUpdate(keys["update_dsny"], rid, f"u-{rid}", "FIXED", clock.now())
        )

    (task,) = _tasks(engine, closed)
    assert (task.state, task.last_error) == (DeliveryState.WITHDRAWN, "withdrawn: request closed elsewhere (fixed)")
    (kept,) = _tasks(engine, done)
    assert (kept.state, kept.done_by, kept.effort_minutes, kept.external_id) == (
        DeliveryState.DELIVERED,
        "Ana",
        4,
        "SR-9",
    )


def test_manual_api__done_and_withdrawn__who_minutes_reference_and_why(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    _, admin = create_client(SqlUnitOfWork(engine), clock, "Admin", frozenset({Scope.ADMIN}))
    done, gone = _submit(engine, clock, keys["submit"]), _submit(engine, clock, keys["submit"])
    (task,) = _tasks(engine, done)
    headers = {"x-api-key": admin}
    pending = client.get("/api/v1/manual", headers=headers).json()["tasks"]
    assert {(t["lat"], t["long"]) for t in pending} == {(40.7, -73.9)}
    reply = client.post(
        f"/api/v1/manual/{task.id}/done", headers=headers, json={"minutes": 6.5, "by": "Bo", "external_id": "SR-1"}
    )
    assert reply.status_code == 200
    post_update(SqlUnitOfWork(engine), clock, PostUpdate(keys["update_dsny"], gone, "u1", "CANCELLED", clock.now()))

    (finished,) = client.get("/api/v1/manual", params={"done": "true"}, headers=headers).json()["tasks"]
    (withdrawn,) = client.get("/api/v1/manual", params={"withdrawn": "true"}, headers=headers).json()["tasks"]
    assert (finished["done_by"], finished["effort_minutes"], finished["external_id"]) == ("Bo", 6.5, "SR-1")
    assert withdrawn["withdrawn_reason"] == "withdrawn: request closed elsewhere (cancelled)"
    assert client.get("/api/v1/manual", headers=headers).json()["tasks"] == []


# -- health, timestamps --------------------------------------------------------------------------------------
def _hook(engine: Engine, clock: FixedClock) -> None:
    add_connector(
        SqlUnitOfWork(engine), clock, code="dsny-hook", kind="webhook", body="DSNY",
        config={"url": "http://127.0.0.1:9/hook", "allow_private": True},
    )  # fmt: skip


def test_health__connector_failing_now__alert_at_once_then_ok_after_a_success(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    _hook(engine, clock)
    _submit(engine, clock, keys["submit"])
    sender = FakeSender([Outcome(OutcomeKind.RETRY, "HTTP 503: down", 503)])
    worker = Worker(lambda: SqlUnitOfWork(engine), clock, {ConnectorKind.WEBHOOK: sender})
    asyncio.run(worker.run_once())

    failing = _health_of(engine, clock, "dsny-hook")
    assert (
        failing["status"] == "alert"
        and "failing now" in failing["problems"][0]
        and "HTTP 503" in failing["problems"][0]
    )

    clock.advance(timedelta(seconds=10))
    asyncio.run(worker.run_once())
    assert _health_of(engine, clock, "dsny-hook")["status"] == "ok"


def test_health__latency__sub_second_from_the_outbox_stamp_to_delivery(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    _hook(engine, clock)
    clock.advance(timedelta(milliseconds=130))
    _submit(engine, clock, keys["submit"])
    clock.advance(timedelta(milliseconds=250))
    worker = Worker(lambda: SqlUnitOfWork(engine), clock, {ConnectorKind.WEBHOOK: FakeSender()})
    assert asyncio.run(worker.run_once()) == 1  # due at once, though stamped 0.13 s past a whole second

    found = _health_of(engine, clock, "dsny-hook")
    assert found["latency_p50_s"] == pytest.approx(0.25) and found["latency_p95_s"] == pytest.approx(0.25)
    assert worker.summary().startswith("1 message(s) attempted: 1 delivered")


# -- batch rows the hub refuses ------------------------------------------------------------------------------
@pytest.fixture
def batch_dirs(tmp_path: Path) -> dict[str, Path]:
    found = {"outbox_dir": tmp_path / "to-dep", "inbox_dir": tmp_path / "from-dep"}
    for path in found.values():
        path.mkdir()
    return found


def _drop(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    then = time.time() - 120
    os.utime(path, (then, then))


def test_batch_poll__unknown_request_and_unmapped_status__quarantined_with_file_line_reason_and_alert(
    engine: Engine, clock: FixedClock, keys: dict[str, str], batch_dirs: dict[str, Path]
) -> None:
    add_connector(
        SqlUnitOfWork(engine), clock, code="dsny-files", kind="batch", body="DSNY",
        config={**{k: str(v) for k, v in batch_dirs.items()}, "settle_s": 0},
        status_map={"inbound": {"Completed": "closed/fixed"}},
    )  # fmt: skip
    rid = _submit(engine, clock, keys["submit"])
    _drop(
        batch_dirs["inbox_dir"],
        "status.csv",
        "update_id,service_request_id,status,updated_datetime\r\n"
        f"u1,{rid},Completed,2026-11-28T12:00:00Z\r\n"
        "u2,999999,Completed,2026-11-28T12:00:00Z\r\n"
        f"u3,{rid},Frobnicated,2026-11-28T12:00:00Z\r\n",
    )
    worker = Worker(lambda: SqlUnitOfWork(engine), clock, {}, pollers={ConnectorKind.BATCH: BatchPoller(clock=clock)})

    assert asyncio.run(worker.poll_due()) == 1

    (rejects,) = (batch_dirs["inbox_dir"] / "quarantine").glob("status.csv.*.rejects.csv")
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "file,line,reason,row"
    assert lines[1].startswith("status.csv,3,refused: no request 999999") and lines[1].endswith(
        'u2,999999,Completed,2026-11-28T12:00:00Z"'
    )
    assert lines[2].startswith("status.csv,4,refused: status 'Frobnicated' is not in this connector's status map")
    found = _health_of(engine, clock, "dsny-files")
    assert found["status"] == "alert" and found["inbound"]["quarantined_24h"] == 2
    assert (
        found["inbound"]["last_quarantined"]["file"] == "status.csv"
        and found["inbound"]["last_quarantined"]["line"] == 4
    )
    assert "2 inbound row(s) quarantined" in found["problems"][0]
    assert worker.counts["rows_quarantined"] == 2 and worker.counts["updates_applied"] == 1


def test_batch_poll__inbox_gone__polling_failure_shown_now_and_cleared_by_a_good_poll(
    engine: Engine, clock: FixedClock, keys: dict[str, str], batch_dirs: dict[str, Path]
) -> None:
    add_connector(
        SqlUnitOfWork(engine), clock, code="dsny-files", kind="batch", body="DSNY",
        config={**{k: str(v) for k, v in batch_dirs.items()}, "settle_s": 0, "poll_every_s": 1},
    )  # fmt: skip
    batch_dirs["inbox_dir"].rename(batch_dirs["inbox_dir"].with_name("moved"))
    worker = Worker(lambda: SqlUnitOfWork(engine), clock, {}, pollers={ConnectorKind.BATCH: BatchPoller(clock=clock)})
    asyncio.run(worker.poll_due())

    failing = _health_of(engine, clock, "dsny-files")
    assert failing["status"] == "alert" and failing["inbound"]["poll_failures"] == 1
    assert "polling failing since" in failing["problems"][0] and "inbox" in failing["problems"][0]

    batch_dirs["inbox_dir"].with_name("moved").rename(batch_dirs["inbox_dir"])
    worker = Worker(lambda: SqlUnitOfWork(engine), clock, {}, pollers={ConnectorKind.BATCH: BatchPoller(clock=clock)})
    asyncio.run(worker.poll_due())
    assert _health_of(engine, clock, "dsny-files")["status"] == "idle"


# -- photos ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "stored", "expected"),
    [
        ("https://311.example.gov/", None, "https://311.example.gov/media/m1"),
        ("", "https://stored.example.gov", "https://stored.example.gov/media/m1"),
        ("", None, None),
    ],
)
def test_outbox__photo_uploaded_to_us__absolute_url_under_the_public_url(
    engine: Engine, clock: FixedClock, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    env: str, stored: str | None, expected: str | None,
) -> None:  # fmt: skip
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", env)
    with SqlUnitOfWork(engine, clock=clock) as uow:
        if stored:
            uow.settings.set("public_url", stored, clock.now())
        request = ServiceRequest(
            service_code="graffiti", requested_at=clock.now(), channel=Channel.OPEN311, lat=40.7, long=-73.9,
            media_url="/media/m1", body_code="DSNY",
        )  # fmt: skip
        request.record_submission(clock.now(), client_id=None)
        rid = uow.requests.add(request, None)
        uow.commit()

    (task,) = _tasks(engine, str(rid))
    assert task.payload["data"]["media_url"] == expected
