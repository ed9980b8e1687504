"""The webhook sender: CloudEvents body, Standard Webhooks signature (checked with the reference library), and
what each reply means."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors.webhook import WebhookSender, check_config, retry_after
from civicswitch.hub.model import Connector, ConnectorKind, MessageType, OutboundMessage, OutcomeKind
from civicswitch.hub.signing import new_secret

SECRET = new_secret()
CONNECTOR = Connector(
    "dot-hook", ConnectorKind.WEBHOOK, "DOT", check_config({"url": "https://dot.example/hook"}), SECRET
)
MESSAGE = OutboundMessage(
    delivery_id=1,
    idempotency_key="cs_0123456789abcdef",
    type=MessageType.CREATED,
    request_id=7,
    envelope={
        "specversion": "1.0",
        "id": "cs_0123456789abcdef",
        "type": "gov.civicswitch.request.created",
        "source": "urn:civicswitch:requests",
        "data": {"service_request_id": "7", "description": "Pothole ø"},
    },
)


def _send(handler: object) -> tuple[object, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if isinstance(handler, Exception):
            raise handler
        assert callable(handler)
        response: httpx.Response = handler(request)
        return response

    async def go() -> object:
        sender = WebhookSender(transport=httpx.MockTransport(record))
        try:
            return await sender.send(CONNECTOR, MESSAGE)
        finally:
            await sender.aclose()

    return asyncio.run(go()), seen


def test_send__signature__verifies_with_the_standard_webhooks_library() -> None:
    outcome, (request,) = _send(lambda r: httpx.Response(202, json={"external_id": "WO-1"}))
    body = request.content.decode()
    assert Webhook(SECRET).verify(body, dict(request.headers)) == MESSAGE.envelope
    assert request.headers["webhook-id"] == MESSAGE.idempotency_key
    assert request.headers["content-type"] == "application/cloudevents+json"
    assert outcome.kind == OutcomeKind.DELIVERED and outcome.external_id == "WO-1"  # type: ignore[attr-defined]


def test_send__tampered_body__the_library_rejects_it() -> None:
    _, (request,) = _send(lambda r: httpx.Response(200))
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(request.content.decode().replace("Pothole", "Potholes"), dict(request.headers))


@pytest.mark.parametrize(
    ("reply", "kind", "wait"),
    [
        (httpx.Response(200, text="ok"), OutcomeKind.DELIVERED, None),
        (httpx.Response(410, text="gone"), OutcomeKind.GONE, None),
        (httpx.Response(429, headers={"retry-after": "120"}), OutcomeKind.RETRY, 120.0),
        (httpx.Response(503, text="busy"), OutcomeKind.RETRY, None),
        (httpx.Response(408), OutcomeKind.RETRY, None),
        (httpx.Response(400, text="no such field"), OutcomeKind.FAILED, None),
        (httpx.Response(301, headers={"location": "http://elsewhere"}), OutcomeKind.FAILED, None),
    ],
)
def test_send__reply__maps_to_an_outcome(reply: httpx.Response, kind: OutcomeKind, wait: float | None) -> None:
    outcome, _ = _send(lambda r: reply)
    assert outcome.kind == kind and outcome.retry_after == wait  # type: ignore[attr-defined]


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
def test_send__network_trouble__retry(error: Exception) -> None:
    outcome, _ = _send(error)
    assert outcome.kind == OutcomeKind.RETRY  # type: ignore[attr-defined]


def test_retry_after__http_date__seconds_from_now() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert retry_after("Sat, 28 Nov 2026 12:01:00 GMT", now) == 60.0
    assert retry_after("soon", now) is None and retry_after(None, now) is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"url": "ftp://x"}, "http"),
        ({"url": "https://x", "timeout_s": 0}, "timeout_s"),
        ({"url": "https://x", "x": 1}, "unknown"),
    ],
)
def test_check_config__bad_settings__clear_error(config: dict[str, object], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        check_config(config)


def test_check_config__defaults() -> None:
    assert check_config({"url": "https://x/h"}) == {"url": "https://x/h", "timeout_s": 10.0, "include_contact": False}
    assert json.dumps(check_config({"url": "https://x/h", "include_contact": True}))
