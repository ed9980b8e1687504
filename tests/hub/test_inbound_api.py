"""Signed inbound updates and the admin API of the hub (both databases)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.hub.handlers import add_connector
from civicswitch.hub.signing import sign_headers
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.storage.sql import SqlUnitOfWork

STATUS_MAP = {"inbound": {"ACK": "acknowledged", "WIP": "in_progress", "DONE": "closed/fixed"},
              "outbound": {"new": "NEW", "closed/fixed": "DONE"}}  # fmt: skip


def _setup(client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]) -> tuple[str, str]:
    made = add_connector(
        SqlUnitOfWork(engine),
        clock,
        code="dsny-hook",
        kind="webhook",
        body="DSNY",
        config={"url": "http://127.0.0.1:9/h", "allow_private": True},
        status_map=STATUS_MAP,
    )
    assert made.secret is not None
    reply = client.post(
        "/open311/v2/requests.json",
        data={"api_key": keys["submit"], "service_code": "graffiti", "lat": "40.7", "long": "-73.9"},
    )
    return made.secret, reply.json()[0]["service_request_id"]


def _push(client: TestClient, secret: str, clock: FixedClock, body: dict[str, Any], *, msg: str = "msg_1",
          tamper: bool = False, at: Any = None, headers: dict[str, str] | None = None) -> Any:  # fmt: skip
    text = json.dumps(body)
    signed = sign_headers(secret, msg, at or clock.now(), text)
    if tamper:
        text = text.replace("WIP", "DONE")
    return client.post(
        "/api/v1/connectors/dsny-hook/updates",
        content=text.encode(),
        headers={**signed, **(headers or {}), "content-type": "application/json"},
    )


def _update(rid: str, status: str, clock: FixedClock, uid: str = "u1") -> dict[str, Any]:
    return {"update_id": uid, "service_request_id": rid, "status": status, "updated_datetime": clock.now().isoformat(),
            "description": f"{status} by the crew"}  # fmt: skip


def _shown(client: TestClient, rid: str) -> Any:
    return client.get(f"/open311/v2/requests/{rid}.json").json()[0]


def test_signed_update__valid__applied_through_the_status_map(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    secret, rid = _setup(client, engine, clock, keys)
    reply = _push(client, secret, clock, _update(rid, "WIP", clock))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"service_request_id": rid, "applied": True, "duplicate": False, "flagged": None}
    with SqlUnitOfWork(engine, writing=False) as uow:
        request = uow.requests.get(int(rid))
        events = uow.requests.events([int(rid)])[int(rid)]
    assert request is not None and request.status == "in_progress"
    assert events[-1].external_status == "WIP" and events[-1].description == "WIP by the crew"


def test_signed_update__tampered_stale_unsigned_or_replayed__refused_and_nothing_applied(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    secret, rid = _setup(client, engine, clock, keys)
    body = _update(rid, "WIP", clock)
    tampered = _push(client, secret, clock, body, tamper=True)
    stale = _push(client, secret, clock, body, msg="msg_2", at=clock.now() - timedelta(minutes=6))
    wrong_key = _push(client, "whsec_" + "A" * 32, clock, body, msg="msg_3")
    unsigned = client.post("/api/v1/connectors/dsny-hook/updates", content=json.dumps(body).encode())
    assert [r.status_code for r in (tampered, stale, wrong_key, unsigned)] == [403, 403, 403, 403]
    assert "bad signature" in tampered.json()[0]["description"]
    assert "stale" in stale.json()[0]["description"]
    assert "webhook-id" in unsigned.json()[0]["description"]
    assert _shown(client, rid)["status"] == "open"
    first = _push(client, secret, clock, body, msg="msg_9")
    replayed = _push(client, secret, clock, body, msg="msg_9")
    assert first.status_code == 200 and replayed.status_code == 409
    assert "already received" in replayed.json()[0]["description"]


def test_signed_update__illegal_move__recorded_and_flagged_not_applied(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    secret, rid = _setup(client, engine, clock, keys)
    assert _push(client, secret, clock, _update(rid, "DONE", clock, "u1"), msg="m1").json()["applied"]
    clock.advance(timedelta(minutes=1))
    reply = _push(client, secret, clock, _update(rid, "WIP", clock, "u2"), msg="m2")
    assert reply.status_code == 200 and reply.json()["applied"] is False
    assert reply.json()["flagged"] == "cannot go from closed to in_progress"
    again = _push(client, secret, clock, _update(rid, "WIP", clock, "u2"), msg="m3")
    assert again.json()["duplicate"] is True
    with SqlUnitOfWork(engine, writing=False) as uow:
        events = uow.requests.events([int(rid)], public_only=False)[int(rid)]
    assert [e.kind for e in events if e.kind == "update_flagged"] == ["update_flagged"]
    assert _shown(client, rid)["status"] == "closed"


def test_signed_update__bad_body__clear_400_or_404(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    secret, rid = _setup(client, engine, clock, keys)
    unknown_status = _push(client, secret, clock, _update(rid, "MAYBE", clock), msg="a")
    no_request = _push(client, secret, clock, _update("999", "WIP", clock), msg="b")
    no_time = _push(client, secret, clock, {"update_id": "x", "service_request_id": rid, "status": "WIP"}, msg="c")
    assert (unknown_status.status_code, no_request.status_code, no_time.status_code) == (400, 404, 400)
    assert "not in this connector's status map (ACK, DONE, WIP)" in unknown_status.json()[0]["description"]
    assert "updated_datetime is required" in no_time.json()[0]["description"]
    assert client.post("/api/v1/connectors/nope/updates", content=b"{}").status_code == 404


def test_admin_api__health_dead_letters_and_manual_bridge(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    _, admin = create_client(SqlUnitOfWork(engine), clock, "Ops", frozenset({Scope.ADMIN}))
    staff = {"X-Api-Key": admin}
    client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": keys["submit"],
            "service_code": "pothole",
            "lat": "40.7",
            "long": "-73.9",
            "attribute[size]": "small",
        },
    )
    assert client.get("/api/v1/connectors/health", headers={"X-Api-Key": keys["submit"]}).status_code == 403
    (task,) = client.get("/api/v1/manual", headers=staff).json()["tasks"]
    assert task["body"] == "DOT" and task["service_code"] == "pothole"
    done = client.post(
        f"/api/v1/manual/{task['id']}/done", json={"minutes": 6, "by": "Ana", "external_id": "CW-1"}, headers=staff
    )
    assert done.status_code == 200 and client.get("/api/v1/manual", headers=staff).json()["tasks"] == []
    again = client.post(f"/api/v1/manual/{task['id']}/done", json={"minutes": 6, "by": "Ana"}, headers=staff)
    assert again.status_code == 409
    (manual,) = client.get("/api/v1/connectors/health", headers=staff).json()["connectors"]
    assert manual["connector"] == "manual" and manual["manual_minutes"] == 6 and manual["counts"]["delivered"] == 1
    assert client.get("/api/v1/deliveries", headers=staff).json() == {"deliveries": []}
    assert client.post("/api/v1/deliveries/replay", json={}, headers=staff).json() == {"replayed": 0}
