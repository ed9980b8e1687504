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
from row_counts import row_counts

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


# -- scope: a connector changes only its body's requests; a disabled connector changes nothing ----------------
def _counts(engine: Engine) -> dict[str, int]:
    return row_counts(engine)


def test_signed_update__another_bodys_request__403_and_nothing_written(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    """DSNY's connector, correctly signed, on DOT's pothole request: refused, nothing written."""
    secret, _ = _setup(client, engine, clock, keys)
    pothole = client.post(
        "/open311/v2/requests.json",
        data={"api_key": keys["submit"], "service_code": "pothole", "lat": "40.7", "long": "-73.9",
              "attribute[size]": "small"},
    ).json()[0]["service_request_id"]  # fmt: skip
    before = _counts(engine)
    reply = _push(client, secret, clock, _update(pothole, "DONE", clock))
    assert reply.status_code == 403, reply.text
    assert "owned by DSNY" in reply.text
    assert _counts(engine) == before
    assert _shown(client, pothole)["status"] == "open"


def test_connector_key__another_bodys_request__403_own_body_200(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    made = add_connector(SqlUnitOfWork(engine), clock, code="dsny-o311", kind="open311", body="DSNY",
                         config={"endpoint": "https://dsny.example.gov/open311/v2"})  # fmt: skip
    assert made.api_key is not None
    post = lambda rid, uid: client.post("/open311/v2/servicerequestupdates.json", data={  # noqa: E731
        "api_key": made.api_key, "service_request_id": rid, "update_id": uid, "status": "IN_PROGRESS",
        "updated_datetime": clock.now().isoformat()})  # fmt: skip
    graffiti = client.post("/open311/v2/requests.json", data={
        "api_key": keys["submit"], "service_code": "graffiti", "lat": "40.7", "long": "-73.9"}).json()[0]  # fmt: skip
    pothole = client.post("/open311/v2/requests.json", data={
        "api_key": keys["submit"], "service_code": "pothole", "lat": "40.7", "long": "-73.9",
        "attribute[size]": "small"}).json()[0]  # fmt: skip
    assert post(pothole["service_request_id"], "a").status_code == 403
    assert post(graffiti["service_request_id"], "b").status_code == 200


def test_connector_disabled__key_and_signatures_refused__enabled_again_both_work(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    from civicswitch.hub.handlers import set_enabled

    secret, rid = _setup(client, engine, clock, keys)
    with SqlUnitOfWork(engine, writing=False) as uow:
        connector = uow.hub.connector("dsny-hook")
    assert connector is not None and connector.client_id is not None
    made_key = add_connector(SqlUnitOfWork(engine), clock, code="dsny-o311", kind="open311", body="DSNY",
                             config={"endpoint": "https://dsny.example.gov/open311/v2"}).api_key  # fmt: skip
    form = {"api_key": made_key, "service_request_id": rid, "status": "IN_PROGRESS",
            "updated_datetime": clock.now().isoformat()}  # fmt: skip
    set_enabled(SqlUnitOfWork(engine), "dsny-hook", False, "maintenance", clock=clock)
    set_enabled(SqlUnitOfWork(engine), "dsny-o311", False, "maintenance", clock=clock)
    before = _counts(engine)
    signed = _push(client, secret, clock, _update(rid, "WIP", clock))
    keyed = client.post("/open311/v2/servicerequestupdates.json", data={**form, "update_id": "k1"})
    assert (signed.status_code, keyed.status_code) == (403, 403)
    assert "disabled" in signed.text and "suspended" in keyed.text
    assert _counts(engine) == before
    set_enabled(SqlUnitOfWork(engine), "dsny-hook", True, clock=clock)
    set_enabled(SqlUnitOfWork(engine), "dsny-o311", True, clock=clock)
    assert _push(client, secret, clock, _update(rid, "WIP", clock), msg="msg_2").status_code == 200
    clock.advance(timedelta(minutes=1))
    again = client.post("/open311/v2/servicerequestupdates.json", data={
        **form, "update_id": "k2", "status": "CLOSED", "updated_datetime": clock.now().isoformat()})  # fmt: skip
    assert again.status_code == 200, again.text


def test_connector_disabled_by_a_410__its_key_suspended_too(
    engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    """The worker disables a connector whose system answered 410; its key is refused like an operator's disable."""
    import asyncio

    from civicswitch.hub.connectors.fake import FakeSender
    from civicswitch.hub.model import ConnectorKind, Outcome, OutcomeKind
    from civicswitch.hub.worker import Worker
    from civicswitch.requests.commands import SubmitRequest
    from civicswitch.requests.handlers import submit_request

    made = add_connector(SqlUnitOfWork(engine), clock, code="dsny-hook", kind="webhook", body="DSNY",
                         config={"url": "https://dsny.example.gov/h"})  # fmt: skip
    submit_request(SqlUnitOfWork(engine), clock, SubmitRequest("graffiti", keys["submit"], lat="40.7", long="-73.9"))
    sender = FakeSender([Outcome(OutcomeKind.GONE, detail="410 Gone", status_code=410)])
    worker = Worker(lambda: SqlUnitOfWork(engine), clock, {ConnectorKind.WEBHOOK: sender})
    asyncio.run(worker.run_once())
    with SqlUnitOfWork(engine, writing=False) as uow:
        client = uow.clients.get(made.connector.client_id or 0)
        assert uow.hub.connector("dsny-hook").enabled is False  # type: ignore[union-attr]
    assert client is not None and client.suspended == "connector disabled"
