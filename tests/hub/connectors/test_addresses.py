"""Connectors do not reach this machine or private networks unless allowed, and do not read huge replies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors import open311, webhook
from civicswitch.hub.connectors.addresses import MAX_REPLY_BYTES
from civicswitch.hub.connectors.open311 import Open311Poller, Open311Sender, PollFailed
from civicswitch.hub.model import Connector, ConnectorKind, MessageType, OutboundMessage, OutcomeKind
from civicswitch.hub.signing import new_secret

MESSAGE = OutboundMessage(
    1,
    "cs_0123456789abcdef",
    MessageType.CREATED,
    7,
    {"specversion": "1.0", "id": "cs_0123456789abcdef", "data": {"service_request_id": "7", "service_code": "x"}},
)
PRIVATE = [
    "http://127.0.0.1:9/h",
    "http://10.1.2.3/h",
    "http://192.168.0.10/h",
    "http://172.16.5.5/h",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/h",
    "http://[::1]:8080/h",
    "http://[fe80::1]/h",
    "http://[::ffff:127.0.0.1]/h",
    "http://0.0.0.0/h",
    "http://localhost:8080/h",
    "http://api.localhost/h",
]


def _resolves_to(*addresses: str) -> Callable[[str, int], object]:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize("url", PRIVATE)
def test_webhook_config__private_address__refused_naming_allow_private(url: str) -> None:
    with pytest.raises(Invalid, match="allow_private"):
        webhook.check_config({"url": url})


@pytest.mark.parametrize("url", PRIVATE)
def test_open311_config__private_endpoint__refused_unless_allowed(url: str) -> None:
    endpoint = url.rsplit("/", 1)[0] or url
    with pytest.raises(Invalid, match="allow_private"):
        open311.check_config({"endpoint": endpoint})
    assert open311.check_config({"endpoint": endpoint, "allow_private": True})["allow_private"] is True


def test_webhook_config__private_address_allowed__kept_in_the_config() -> None:
    config = webhook.check_config({"url": "http://127.0.0.1:9/h", "allow_private": True})
    assert config["allow_private"] is True
    assert webhook.check_config(config) == config
    with pytest.raises(Invalid, match="true or false"):
        webhook.check_config({"url": "http://127.0.0.1:9/h", "allow_private": "yes"})


def test_webhook_config__public_address_and_names__accepted() -> None:
    for url in ("https://8.8.8.8/h", "https://dsny.city.example/hook", "https://[2001:4860:4860::8888]/h"):
        assert "allow_private" not in webhook.check_config({"url": url})


def _webhook_send(url: str, resolver: object, *, allow: bool = False, reply: httpx.Response | None = None) -> object:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply or httpx.Response(200, json={"external_id": "WO-1"})

    config = webhook.check_config({"url": url, **({"allow_private": True} if allow else {})})
    connector = Connector("hook", ConnectorKind.WEBHOOK, "DOT", config, new_secret())

    async def go() -> object:
        sender = webhook.WebhookSender(transport=httpx.MockTransport(handler), resolver=resolver)  # type: ignore[arg-type]
        try:
            return await sender.send(connector, MESSAGE)
        finally:
            await sender.aclose()

    outcome = asyncio.run(go())
    return outcome, seen


def test_webhook_send__host_name_resolving_to_loopback__failed_and_nothing_sent() -> None:
    outcome, seen = _webhook_send("https://dept.example/hook", _resolves_to("93.184.216.34", "127.0.0.1"))
    assert outcome.kind == OutcomeKind.FAILED  # type: ignore[attr-defined]
    assert "resolves to 127.0.0.1" in outcome.detail and "allow_private" in outcome.detail  # type: ignore[attr-defined]
    assert seen == []


def test_webhook_send__host_name_resolving_to_metadata_address_but_allowed__sent() -> None:
    outcome, seen = _webhook_send("https://dept.example/hook", _resolves_to("169.254.169.254"), allow=True)
    assert outcome.kind == OutcomeKind.DELIVERED and len(seen) == 1  # type: ignore[attr-defined]


def test_webhook_send__public_address__sent() -> None:
    outcome, seen = _webhook_send("https://dept.example/hook", _resolves_to("93.184.216.34"))
    assert outcome.kind == OutcomeKind.DELIVERED and len(seen) == 1  # type: ignore[attr-defined]


async def _endless(size: int) -> AsyncIterator[bytes]:
    chunk = b"x" * 65536
    for _ in range(size // len(chunk) + 1):
        yield chunk


@pytest.mark.parametrize("declared", [True, False])
def test_webhook_send__reply_over_a_mebibyte__failed_with_a_clear_error(declared: bool) -> None:
    size = MAX_REPLY_BYTES + 1
    reply = (
        httpx.Response(200, content=b"x" * size)
        if declared
        else httpx.Response(200, stream=httpx.ByteStream(b"x" * size), headers={"transfer-encoding": "chunked"})
    )
    outcome, _ = _webhook_send("https://dept.example/hook", _resolves_to("93.184.216.34"), reply=reply)
    assert outcome.kind == OutcomeKind.FAILED  # type: ignore[attr-defined]
    assert "larger than 1024 KiB" in outcome.detail  # type: ignore[attr-defined]


def test_webhook_send__reply_just_under_the_limit__delivered() -> None:
    reply = httpx.Response(200, content=b" " * (MAX_REPLY_BYTES - 100) + b'{"id": 1}')
    outcome, _ = _webhook_send("https://dept.example/hook", _resolves_to("93.184.216.34"), reply=reply)
    assert outcome.kind == OutcomeKind.DELIVERED  # type: ignore[attr-defined]


def _open311_connector(**extra: object) -> Connector:
    config = open311.check_config({"endpoint": "https://dept.example/open311/v2", **extra})
    return Connector("o", ConnectorKind.OPEN311, "DOT", config, "key")


def test_open311_send__endpoint_resolving_to_a_private_address__failed_and_nothing_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=[{"service_request_id": "1"}])

    async def go() -> object:
        sender = Open311Sender(transport=httpx.MockTransport(handler), resolver=_resolves_to("10.0.0.8"))  # type: ignore[arg-type]
        try:
            return await sender.send(_open311_connector(), MESSAGE)
        finally:
            await sender.aclose()

    outcome = asyncio.run(go())
    assert outcome.kind == OutcomeKind.FAILED and "resolves to 10.0.0.8" in outcome.detail  # type: ignore[attr-defined]
    assert seen == []


def test_open311_send__huge_reply__failed_with_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, content=b"[" + b" " * (2 * MAX_REPLY_BYTES) + b"]")

    async def go() -> object:
        sender = Open311Sender(transport=httpx.MockTransport(handler), resolver=_resolves_to("93.184.216.34"))  # type: ignore[arg-type]
        try:
            return await sender.send(_open311_connector(), MESSAGE)
        finally:
            await sender.aclose()

    outcome = asyncio.run(go())
    assert outcome.kind == OutcomeKind.FAILED and "larger than 1024 KiB" in outcome.detail  # type: ignore[attr-defined]


@pytest.mark.parametrize(("address", "body", "expected"), [
    ("127.0.0.1", b"[]", "resolves to 127.0.0.1"),
    ("93.184.216.34", b"[" + b" " * (2 * MAX_REPLY_BYTES) + b"]", "larger than 1024 KiB"),
])  # fmt: skip
def test_open311_poll__private_address_or_huge_reply__poll_failed_saying_why(
    address: str, body: bytes, expected: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async def go() -> object:
        poller = Open311Poller(transport=httpx.MockTransport(handler), resolver=_resolves_to(address))  # type: ignore[arg-type]
        try:
            return await poller.poll(_open311_connector(), None)
        finally:
            await poller.aclose()

    with pytest.raises(PollFailed, match=expected):
        asyncio.run(go())
