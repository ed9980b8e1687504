"""What every sender promises (``hub/connectors/__init__.py``): an Outcome for every message — never an exception
for a delivery problem — safe under concurrency, a healthy receiver means delivered, an unreachable one means
retry, and closing is clean. Run against the fake and every real sender kind, each with a local receiver."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from civicswitch.hub.connectors import Sender, batch, email, nats, open311, webhook
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _open311(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[Sender, Connector]:
    config = open311.check_config({"endpoint": "https://dept.example/open311/v2", "timeout_s": 2})
    connector = Connector("c", ConnectorKind.OPEN311, "DOT", config, "their-key")
    return open311.Open311Sender(transport=httpx.MockTransport(handler)), connector


def _open311_created(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json=[{"service_request_id": "DEP-1"}])


def _batch(tmp: Path, *, ready: bool) -> tuple[Sender, Connector]:
    out, inbox = tmp / "out", tmp / "in"
    inbox.mkdir(parents=True, exist_ok=True)
    out.mkdir(exist_ok=True)
    config = batch.check_config({"outbox_dir": str(out), "inbox_dir": str(inbox)})
    if not ready:
        out.rmdir()  # the drop folder is gone (an unmounted share)
    return batch.BatchSender(schedule=False), Connector("c", ConnectorKind.BATCH, "DOT", config)


class _Accept:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def _email(port: int) -> tuple[Sender, Connector]:
    config = email.check_config(
        {
            "to": ["intake@dept.example"],
            "from": "311 <noreply@city.example>",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "timeout_s": 5,
        }
    )
    return email.EmailSender(), Connector("c", ConnectorKind.EMAIL, "DOT", config)


def _nats(port: int, stream: str | None) -> tuple[Sender, Connector]:
    settings: dict[str, Any] = {"servers": [f"nats://127.0.0.1:{port}"], "timeout_s": 2}
    if stream:
        settings.update(subject_prefix=f"contract.{stream}", stream=stream, create_stream=True)
    return nats.NatsSender(), Connector("c", ConnectorKind.NATS, "DOT", nats.check_config(settings))


CASES = {
    "fake": Case(
        healthy=lambda: (FakeSender(), Connector("c", ConnectorKind.WEBHOOK, "DOT")),
        unreachable=lambda: (
            FakeSender([Outcome(OutcomeKind.RETRY, "down")] * 100),
            Connector("c", ConnectorKind.WEBHOOK, "DOT"),
        ),
    ),
    "webhook": Case(healthy=lambda: _webhook(lambda r: httpx.Response(204)), unreachable=lambda: _webhook(_refuse)),
    "open311": Case(healthy=lambda: _open311(_open311_created), unreachable=lambda: _open311(_refuse)),
}
KINDS = [*sorted(CASES), "batch", "email", "nats"]


@pytest.fixture
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    """The case for a kind; batch, email and nats get real folders and servers."""
    kind = request.param
    if kind in CASES:
        yield CASES[kind]
    elif kind == "batch":
        yield Case(
            healthy=lambda: _batch(tmp_path / "ok", ready=True),
            unreachable=lambda: _batch(tmp_path / "no", ready=False),
        )
    elif kind == "email":
        from aiosmtpd.controller import Controller

        controller = Controller(_Accept(), hostname="127.0.0.1", port=_free_port())
        controller.start()
        try:
            closed = _free_port()
            yield Case(healthy=lambda: _email(controller.port), unreachable=lambda: _email(closed))
        finally:
            controller.stop()
    else:
        try:
            socket.create_connection(("127.0.0.1", 4222), timeout=1).close()
        except OSError:
            pytest.skip("NATS is not running at 127.0.0.1:4222")
        stream = "CONTRACT_" + secrets.token_hex(4).upper()
        try:
            yield Case(healthy=lambda: _nats(4222, stream), unreachable=lambda: _nats(_free_port(), None))
        finally:
            asyncio.run(_drop_stream(stream))


async def _drop_stream(stream: str) -> None:
    import nats as nats_client

    client = await nats_client.connect("nats://127.0.0.1:4222")
    try:
        await client.jetstream().delete_stream(stream)
    except Exception:
        pass
    finally:
        await client.close()


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


@pytest.mark.parametrize("case", KINDS, indirect=True)
def test_sender__healthy_receiver__every_message_delivered_under_concurrency(case: Case) -> None:
    outcomes = asyncio.run(_send_all(case.healthy(), 50))
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 50


@pytest.mark.parametrize("case", KINDS, indirect=True)
def test_sender__unreachable_receiver__retry_not_an_exception(case: Case) -> None:
    outcomes = asyncio.run(_send_all(case.unreachable(), 5))
    assert {o.kind for o in outcomes} == {OutcomeKind.RETRY} and all(o.detail for o in outcomes)
