"""Helpers for the Open311 client connector tests: connectors, messages built by the real outbox, and a scripted
``httpx.MockTransport`` that records what it was sent.

Imported as ``open311_client_support`` (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx

from civicswitch.hub.connectors.open311 import check_config
from civicswitch.hub.model import Connector, ConnectorKind, MessageType, OutboundMessage, StatusMap
from civicswitch.hub.outbox import envelope
from civicswitch.requests.model import Channel, CloseReason, Event, ServiceRequest, Status

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
ENDPOINT = "https://dot.city.example/open311/v2"
KEY = "key"


def connector(status_map: StatusMap | None = None, secret: str | None = KEY, **config: Any) -> Connector:
    return Connector(
        code="dot-311",
        kind=ConnectorKind.OPEN311,
        body_code="DOT",
        config=check_config({"endpoint": ENDPOINT, **config}),
        secret=secret,
        status_map=status_map or StatusMap(),
    )


def service_request(**fields: Any) -> ServiceRequest:
    values: dict[str, Any] = {
        "service_code": "pothole",
        "requested_at": NOW,
        "channel": Channel.OPEN311,
        "description": "Deep hole by the bus stop",
        "lat": 40.7128,
        "long": -74.006,
        "address": "1 Main St",
        "attributes": {"size": "small", "lanes": ["left", "right"]},
        "body_code": "DOT",
        "id": 42,
    }
    values.update(fields)
    return ServiceRequest(**values)


def message(
    type_: MessageType = MessageType.CREATED,
    *,
    request: ServiceRequest | None = None,
    event: Event | None = None,
    on: Connector | None = None,
    external_id: str | None = None,
    contact: dict[str, Any] | None = None,
    key: str = "cs_0123456789abcdef",
) -> OutboundMessage:
    """A message whose envelope the outbox itself writes (``civicswitch.hub.outbox.envelope``)."""
    request = request or service_request()
    event = event or Event(at=NOW, kind="submitted", status_to=Status.NEW)
    assert request.id is not None
    return OutboundMessage(
        delivery_id=7,
        idempotency_key=key,
        type=type_,
        request_id=request.id,
        envelope=envelope(request, event, type_, on or connector(), key, contact),
        external_id=external_id,
    )


def closed_fixed(note: str = "Filled the hole") -> tuple[ServiceRequest, Event]:
    request = service_request(status=Status.CLOSED, close_reason=CloseReason.FIXED)
    return request, Event(
        at=NOW, kind="status_changed", description=note, status_from=Status.IN_PROGRESS, status_to=Status.CLOSED
    )


Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class Server:
    """A scripted Open311 server: replies queued per ``"METHOD /path-after-endpoint"`` (the last reply of a route
    repeats); every request is recorded."""

    routes: dict[str, deque[Reply]] = field(default_factory=dict)
    seen: list[httpx.Request] = field(default_factory=list)

    def on(self, route: str, *replies: Reply) -> Server:
        self.routes.setdefault(route, deque()).extend(replies)
        return self

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        route = f"{request.method} {_path(request)}"
        queue = self.routes.get(route)
        if not queue:
            return httpx.Response(599, text=f"unscripted route {route}")
        reply = queue.popleft() if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def requests(self, route: str) -> list[httpx.Request]:
        method, path = route.split(" ", 1)
        return [r for r in self.seen if r.method == method and _path(r) == path]


def _path(request: httpx.Request) -> str:
    """The path after the endpoint's, still percent-encoded."""
    raw = request.url.raw_path.decode("ascii").split("?", 1)[0]
    return raw.removeprefix(httpx.URL(ENDPOINT).path)


def ok(payload: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=payload, headers=headers)


def errors(status: int, description: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=[{"code": status, "description": description}], headers=headers)


def form_of(request: httpx.Request) -> list[tuple[str, str]]:
    """The form fields of a recorded POST, in order, repeated keys kept."""
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    return parse_qsl(request.content.decode("ascii"), keep_blank_values=True)


def params_of(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params.multi_items())


def as_json(response: httpx.Response) -> Any:
    return json.loads(response.content)


def first(pairs: list[tuple[str, str]]) -> Mapping[str, str]:
    """The first value of each field."""
    found: dict[str, str] = {}
    for key, value in pairs:
        found.setdefault(key, value)
    return found
