"""What every sender promises (``hub/connectors/__init__.py``): an Outcome for every message — never an exception
for a delivery problem — safe under concurrency, a healthy receiver means delivered, an unreachable one means
retry, and closing is clean. Run against the fake and every real sender kind, each with a local receiver."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from civicswitch.hub.connectors import Sender, webhook
from civicswitch.hub.connectors.fake import FakeSender
from civicswitch.hub.model import Connector, ConnectorKind, MessageType, OutboundMessage, Outcome, OutcomeKind
from civicswitch.hub.signing import new_secret


@dataclass
class Case:
    """A sender with a working receiver, and one whose receiver cannot be reached."""

    healthy: Callable[[], tuple[Sender, Connector]]
    unreachable: Callable[[], tuple[Sender, Connector]]


def _webhook(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[Sender, Connector]:
    config = webhook.check_config({"url": "https://receiver.example/hook", "timeout_s": 2})
    connector = Connector("c", ConnectorKind.WEBHOOK, "DOT", config, new_secret())
    return webhook.WebhookSender(transport=httpx.MockTransport(handler)), connector


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


CASES = {
    "fake": Case(
        healthy=lambda: (FakeSender(), Connector("c", ConnectorKind.WEBHOOK, "DOT")),
        unreachable=lambda: (
            FakeSender([Outcome(OutcomeKind.RETRY, "down")] * 100),
            Connector("c", ConnectorKind.WEBHOOK, "DOT"),
        ),
    ),
    "webhook": Case(healthy=lambda: _webhook(lambda r: httpx.Response(204)), unreachable=lambda: _webhook(_refuse)),
}


def _message(n: int) -> OutboundMessage:
    key = f"cs_{n:032x}"
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": key,
        "type": "gov.civicswitch.request.created",
        "source": "urn:civicswitch:requests",
        "subject": str(n),
        "data": {"service_request_id": str(n), "service_code": "graffiti", "description": "x"},
    }
    return OutboundMessage(n, key, MessageType.CREATED, n, envelope)


async def _send_all(pair: tuple[Sender, Connector], n: int) -> list[Outcome]:
    sender, connector = pair
    try:
        return list(await asyncio.gather(*(sender.send(connector, _message(i)) for i in range(n))))
    finally:
        await sender.aclose()


@pytest.mark.parametrize("kind", sorted(CASES))
def test_sender__healthy_receiver__every_message_delivered_under_concurrency(kind: str) -> None:
    outcomes = asyncio.run(_send_all(CASES[kind].healthy(), 50))
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 50


@pytest.mark.parametrize("kind", sorted(CASES))
def test_sender__unreachable_receiver__retry_not_an_exception(kind: str) -> None:
    outcomes = asyncio.run(_send_all(CASES[kind].unreachable(), 5))
    assert {o.kind for o in outcomes} == {OutcomeKind.RETRY} and all(o.detail for o in outcomes)
