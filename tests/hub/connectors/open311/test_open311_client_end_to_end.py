"""End to end: our own Open311 server (create_app, in-process through httpx.ASGITransport) plays the department's
server. The sender files requests there and learns their ids; updates its back end posts there reach the poller;
status changes we send there change the request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from open311_client_support import NOW, closed_fixed, message, service_request
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.hub.connectors.open311 import Open311Poller, Open311Sender, check_config, token_in
from civicswitch.hub.model import Connector, ConnectorKind, MessageType, OutboundMessage, Outcome, OutcomeKind
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.storage.sql import SqlUnitOfWork

T = TypeVar("T")
ENDPOINT = "http://testserver/open311/v2"


def dot(secret: str, **config: Any) -> Connector:
    return Connector(
        code="dot-311",
        kind=ConnectorKind.OPEN311,
        body_code="DOT",
        config=check_config({"endpoint": ENDPOINT, "service_code_map": {"road-hole": "pothole"}, **config}),
        secret=secret,
    )


def with_sender(app: FastAPI, clock: FixedClock, work: Callable[[Open311Sender], Awaitable[T]]) -> T:
    async def go() -> T:
        sender = Open311Sender(transport=httpx.ASGITransport(app=app), clock=clock)
        try:
            return await work(sender)
        finally:
            await sender.aclose()

    return asyncio.run(go())


def send(app: FastAPI, clock: FixedClock, connector: Connector, m: OutboundMessage) -> Outcome:
    return with_sender(app, clock, lambda sender: sender.send(connector, m))


def poll(app: FastAPI, clock: FixedClock, connector: Connector, cursor: str | None) -> tuple[list[Any], str | None]:
    async def go() -> tuple[list[Any], str | None]:
        poller = Open311Poller(transport=httpx.ASGITransport(app=app), clock=clock)
        try:
            updates, new_cursor = await poller.poll(connector, cursor)
            return list(updates), new_cursor
        finally:
            await poller.aclose()

    return asyncio.run(go())


def created(code: str = "road-hole", **fields: Any) -> OutboundMessage:
    return message(request=service_request(service_code=code, **fields))


def test_send_created__our_open311_server__request_filed_and_its_id_kept(
    app: FastAPI, client: TestClient, keys: dict[str, str], clock: FixedClock
) -> None:
    outcome = send(app, clock, dot(keys["submit"]), created())
    assert outcome.kind == OutcomeKind.DELIVERED, outcome.detail
    assert outcome.external_id is not None
    (filed,) = client.get(f"/open311/v2/requests/{outcome.external_id}.json", params={"extensions": "true"}).json()
    assert filed["service_code"] == "pothole"  # through service_code_map
    assert filed["description"] == "Deep hole by the bus stop"
    assert (filed["lat"], filed["long"]) == (40.7128, -74.006)
    assert filed["address"] == "1 Main St"
    attributes = filed["extended_attributes"]["attributes"]
    assert attributes["size"] in ("small", ["small"])
    assert attributes["lanes"] == ["left", "right"]


def test_send_created__our_server_refuses__failed_with_its_description(
    app: FastAPI, keys: dict[str, str], clock: FixedClock
) -> None:
    outcome = send(app, clock, dot(keys["submit"]), created(attributes={}))  # pothole's size is required
    assert (outcome.kind, outcome.status_code) == (OutcomeKind.FAILED, 400)
    assert "size" in outcome.detail


def test_send_created__wrong_key__failed_403(app: FastAPI, clock: FixedClock) -> None:
    outcome = send(app, clock, dot("not-a-key"), created())
    assert (outcome.kind, outcome.status_code) == (OutcomeKind.FAILED, 403)
    assert "connector's secret" in outcome.detail


def test_send_created__batch_service__token_followed_to_the_id(
    app: FastAPI, client: TestClient, keys: dict[str, str], clock: FixedClock
) -> None:
    outcome = send(app, clock, dot(keys["submit"]), created("bulk-pickup", attributes={}))
    assert outcome.kind == OutcomeKind.DELIVERED, outcome.detail
    assert outcome.external_id is not None and token_in(outcome.detail) is None
    assert "from token" in outcome.detail
    (filed,) = client.get(f"/open311/v2/requests/{outcome.external_id}.json").json()
    assert filed["service_code"] == "bulk-pickup"


def test_poll_updates__update_posted_to_our_server__seen_once_by_the_poller(
    app: FastAPI, client: TestClient, keys: dict[str, str], clock: FixedClock
) -> None:
    connector = dot(keys["submit"], poll="updates")
    theirs = send(app, clock, connector, created()).external_id
    assert theirs is not None
    _, cursor = poll(app, clock, connector, None)
    clock.advance(timedelta(minutes=10))
    posted = client.post(
        "/open311/v2/servicerequestupdates.json",
        data={
            "api_key": keys["update"],
            "service_request_id": theirs,
            "update_id": "crm-1",
            "status": "IN_PROGRESS",
            "updated_datetime": "2026-11-28T12:10:00Z",
            "description": "Crew on the way",
        },
    )
    assert posted.status_code == 200, posted.text
    updates, cursor = poll(app, clock, connector, cursor)
    assert [(u.status, u.external_id, u.description) for u in updates] == [("in_progress", theirs, "Crew on the way")]
    assert updates[0].at == NOW + timedelta(minutes=10)
    assert updates[0].update_id == posted.json()[0]["update_id"]
    again, _ = poll(app, clock, connector, cursor)
    assert again == []


def test_poll_requests__status_change_on_our_server__seen_as_closed(
    app: FastAPI, client: TestClient, keys: dict[str, str], clock: FixedClock
) -> None:
    connector = dot(keys["submit"], poll="requests")
    theirs = send(app, clock, connector, created()).external_id
    first, cursor = poll(app, clock, connector, None)
    assert [(u.external_id, u.status) for u in first] == [(theirs, "open")]  # the new request itself
    clock.advance(timedelta(minutes=5))
    posted = client.post(
        "/open311/v2/servicerequestupdates.json",
        data={
            "api_key": keys["update"],
            "service_request_id": theirs,
            "update_id": "crm-2",
            "status": "FIXED",
            "updated_datetime": "2026-11-28T12:05:00Z",
            "description": "Filled",
        },
    )
    assert posted.status_code == 200, posted.text
    updates, cursor = poll(app, clock, connector, cursor)
    assert [(u.external_id, u.status, u.at) for u in updates] == [(theirs, "closed", NOW + timedelta(minutes=5))]
    again, _ = poll(app, clock, connector, cursor)
    assert again == []


def test_send_status_changed__our_server_with_updates__request_closed_there(
    app: FastAPI, client: TestClient, engine: Engine, clock: FixedClock
) -> None:
    _, key = create_client(
        SqlUnitOfWork(engine), clock, "DOT back end", frozenset({Scope.SUBMIT, Scope.UPDATE}), body_code="DOT"
    )
    connector = dot(key, updates_supported=True)
    theirs = send(app, clock, connector, created()).external_id
    assert theirs is not None
    request, event = closed_fixed("Filled the hole")
    change = message(MessageType.STATUS_CHANGED, request=request, event=event, on=connector, external_id=theirs)
    outcome = send(app, clock, connector, change)
    assert outcome.kind == OutcomeKind.DELIVERED, outcome.detail
    (filed,) = client.get(f"/open311/v2/requests/{theirs}.json", params={"extensions": "true"}).json()
    assert filed["status"] == "closed"
    assert filed["extended_attributes"]["close_reason"] == "fixed"
    assert filed["notes"][-1]["description"] == "Filled the hole"
    assert outcome.detail.startswith("update_id ")
    resent = send(app, clock, connector, change)  # the same idempotency key: their server dedupes
    assert resent.kind == OutcomeKind.DELIVERED and resent.detail == outcome.detail
