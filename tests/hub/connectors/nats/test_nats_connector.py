"""The NATS connector: settings, and publishing to JetStream on the real server at 127.0.0.1:4222 (skipped when it
cannot be reached), each test with a stream and subject prefix of its own, deleted afterwards. Restart and
authentication tests start a private ``nats-server`` on a free port (skipped when the binary is missing)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import nats
import nats.js.errors
import pytest
from nats.aio.client import Client

from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors.nats import CONTENT_TYPE, KIND, NatsSender, check_config, subject_for
from civicswitch.hub.model import Connector, ConnectorKind, MessageType, OutboundMessage, Outcome, OutcomeKind

SERVER = "nats://127.0.0.1:4222"
T = TypeVar("T")


# -- helpers ----------------------------------------------------------------------------------------------
def envelope(key: str, type_: MessageType = MessageType.CREATED) -> dict[str, Any]:
    """A CloudEvent shaped like hub/outbox.py's."""
    return {
        "specversion": "1.0",
        "id": key,
        "source": "urn:civicswitch:requests",
        "type": f"gov.civicswitch.request.{type_}",
        "subject": "7",
        "time": "2026-11-28T12:00:00+00:00",
        "datacontenttype": "application/json",
        "data": {
            "service_request_id": "7",
            "service_code": "pothole",
            "status": "new",
            "external_status": None,
            "description": "Deep pothole — right lane",
            "lat": 40.7128,
            "long": -74.006,
            "address": "100 Main St",
            "zipcode": "10001",
            "media_url": None,
            "attributes": {"depth_cm": 12},
            "areas": ["ward-3"],
            "agency": "DPW",
            "requested_datetime": "2026-11-28T12:00:00+00:00",
            "expected_datetime": None,
            "status_notes": None,
            "note": None,
        },
    }


def outbound(key: str, type_: MessageType = MessageType.CREATED) -> OutboundMessage:
    return OutboundMessage(delivery_id=1, idempotency_key=key, type=type_, request_id=7, envelope=envelope(key, type_))


def connector(secret: str | None = None, **settings: Any) -> Connector:
    return Connector(code="bus", kind=ConnectorKind.NATS, body_code="DPW", config=check_config(settings), secret=secret)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reachable(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def run(make: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await make()

    return asyncio.run(main())


class Place:
    """A stream and subject prefix of one test's own on the shared server."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:12]
        self.stream = f"CSTEST_{tag}"
        self.prefix = f"cstest.{tag}.requests"


@pytest.fixture(scope="module")
def jetstream_server() -> str:
    if not reachable(4222):
        pytest.skip(f"no NATS server at {SERVER}: the NATS connector's real-server tests are skipped")

    async def probe() -> str | None:
        client = await nats.connect(SERVER, connect_timeout=2, max_reconnect_attempts=1, allow_reconnect=False)
        try:
            await client.jetstream().account_info()
            return None
        except nats.js.errors.Error as exc:
            return f"JetStream is not enabled on {SERVER} ({exc})"
        finally:
            await client.close()

    problem = run(probe)
    if problem:
        pytest.skip(problem)
    return SERVER


@pytest.fixture
def place(jetstream_server: str) -> Iterator[Place]:
    spot = Place()
    yield spot

    async def cleanup() -> None:
        client = await nats.connect(jetstream_server)
        try:
            await client.jetstream().delete_stream(spot.stream)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await client.close()

    run(cleanup)


async def with_client(server: str, use: Callable[[Client], Awaitable[T]]) -> T:
    client = await nats.connect(server)
    try:
        return await use(client)
    finally:
        await client.close()


async def stored(server: str, stream: str) -> list[Any]:
    """Every message the stream holds, read by a fresh (ephemeral) JetStream subscriber."""

    async def read(client: Client) -> list[Any]:
        js = client.jetstream()
        info = await js.stream_info(stream)
        if not info.state.messages:
            return []
        subscription = await js.pull_subscribe(">", stream=stream)
        messages = await subscription.fetch(info.state.messages, timeout=5)
        for message in messages:
            await message.ack()
        await subscription.unsubscribe()
        return list(messages)

    return await with_client(server, read)


# -- settings ---------------------------------------------------------------------------------------------
def test_kind__nats_package__is_the_nats_kind() -> None:
    assert KIND == ConnectorKind.NATS


def test_check_config__no_settings__defaults_filled_in() -> None:
    assert check_config({}) == {
        "servers": ["nats://127.0.0.1:4222"],
        "subject_prefix": "civicswitch.requests",
        "stream": None,
        "create_stream": False,
        "duplicate_window_s": 86400.0,
        "timeout_s": 5.0,
        "user": None,
        "include_contact": False,
    }


def test_check_config__comma_separated_servers__split_into_a_list() -> None:
    config = check_config({"servers": "nats://a:4222, tls://b:4222"})

    assert config["servers"] == ["nats://a:4222", "tls://b:4222"]


def test_check_config__normalised_config__checks_to_itself() -> None:
    config = check_config({"servers": ["nats://a:4222"], "stream": "REQ", "create_stream": True, "user": "hub"})

    assert check_config(config) == config


def test_subject_for__prefix_and_type__dot_joined() -> None:
    assert subject_for("civicswitch.requests", MessageType.CREATED) == "civicswitch.requests.created"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"servers": []}, "servers"),
        ({"servers": "http://a:4222"}, "servers"),
        ({"servers": ["nats://"]}, "servers"),
        ({"servers": ["nats://user:pw@a:4222"]}, "servers"),
        ({"servers": 4222}, "servers"),
        ({"subject_prefix": "civic.*"}, "subject_prefix"),
        ({"subject_prefix": "civic..requests"}, "subject_prefix"),
        ({"subject_prefix": "civic requests"}, "subject_prefix"),
        ({"subject_prefix": "civic.>"}, "subject_prefix"),
        ({"stream": "a.b"}, "stream"),
        ({"create_stream": True}, "create_stream"),
        ({"create_stream": "yes", "stream": "S"}, "create_stream"),
        ({"duplicate_window_s": 0}, "duplicate_window_s"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"timeout_s": True}, "timeout_s"),
        ({"user": "a b"}, "user"),
        ({"subject": "x"}, "subject"),
    ],
)
def test_check_config__bad_setting__invalid_naming_it(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(Invalid) as caught:
        check_config(settings)

    assert named in caught.value.description


# -- publishing to the real server ------------------------------------------------------------------------
def test_send__real_server__subscriber_reads_the_cloudevent(jetstream_server: str, place: Place) -> None:
    conn = connector(servers=[jetstream_server], subject_prefix=place.prefix, stream=place.stream, create_stream=True)
    message = outbound("cs_" + uuid.uuid4().hex)

    async def scenario() -> tuple[Outcome, list[Any]]:
        sender = NatsSender()
        try:
            outcome = await sender.send(conn, message)
        finally:
            await sender.aclose()
        return outcome, await stored(jetstream_server, place.stream)

    outcome, messages = run(scenario)

    assert outcome.kind == OutcomeKind.DELIVERED, outcome.detail
    assert outcome.detail == f"stream {place.stream} seq 1"
    [got] = messages
    assert got.subject == f"{place.prefix}.created"
    assert got.headers["Nats-Msg-Id"] == message.idempotency_key
    assert got.headers["Content-Type"] == CONTENT_TYPE == "application/cloudevents+json"
    assert json.loads(got.data) == message.envelope


def test_send__core_subscriber_listening__receives_it_live(jetstream_server: str, place: Place) -> None:
    conn = connector(servers=[jetstream_server], subject_prefix=place.prefix, stream=place.stream, create_stream=True)
    message = outbound("cs_" + uuid.uuid4().hex, MessageType.STATUS_CHANGED)

    async def scenario(client: Client) -> tuple[Outcome, Any]:
        subscription = await client.subscribe(f"{place.prefix}.>")
        sender = NatsSender()
        try:
            outcome = await sender.send(conn, message)
        finally:
            await sender.aclose()
        return outcome, await subscription.next_msg(timeout=5)

    outcome, got = run(lambda: with_client(jetstream_server, scenario))

    assert outcome.kind == OutcomeKind.DELIVERED, outcome.detail
    assert got.subject == f"{place.prefix}.status_changed"
    assert json.loads(got.data)["id"] == message.idempotency_key


def test_send__same_message_twice__stored_once(jetstream_server: str, place: Place) -> None:
    conn = connector(servers=[jetstream_server], subject_prefix=place.prefix, stream=place.stream, create_stream=True)
    message = outbound("cs_" + uuid.uuid4().hex)

    async def scenario() -> tuple[list[Outcome], list[Any]]:
        sender = NatsSender()
        try:
            outcomes = [await sender.send(conn, message), await sender.send(conn, message)]
        finally:
            await sender.aclose()
        # a resend from another process (a new sender, a new connection) is dropped too
        again = NatsSender()
        try:
            outcomes.append(await again.send(conn, message))
        finally:
            await again.aclose()
        return outcomes, await stored(jetstream_server, place.stream)

    outcomes, messages = run(scenario)

    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 3
    assert "duplicate" not in outcomes[0].detail
    assert "duplicate" in outcomes[1].detail
    assert "duplicate" in outcomes[2].detail
    assert len(messages) == 1


def test_send__created_stream__keeps_message_ids_for_the_duplicate_window(jetstream_server: str, place: Place) -> None:
    conn = connector(
        servers=[jetstream_server],
        subject_prefix=place.prefix,
        stream=place.stream,
        create_stream=True,
        duplicate_window_s=3600,
    )

    async def scenario() -> Any:
        sender = NatsSender()
        try:
            await sender.send(conn, outbound("cs_" + uuid.uuid4().hex))
        finally:
            await sender.aclose()
        return await with_client(jetstream_server, lambda c: c.jetstream().stream_info(place.stream))

    info = run(scenario)

    assert info.config.duplicate_window == 3600
    assert info.config.subjects == [f"{place.prefix}.>"]


def test_send__50_concurrent__all_stored_over_one_connection(jetstream_server: str, place: Place) -> None:
    conn = connector(servers=[jetstream_server], subject_prefix=place.prefix, stream=place.stream, create_stream=True)
    messages = [outbound(f"cs_{uuid.uuid4().hex}") for _ in range(50)]

    async def scenario() -> tuple[list[Outcome], int, list[Any]]:
        sender = NatsSender()
        try:
            outcomes = await asyncio.gather(*(sender.send(conn, m) for m in messages))
            connections = len(sender._conns)
        finally:
            await sender.aclose()
        return list(outcomes), connections, await stored(jetstream_server, place.stream)

    outcomes, connections, got = run(scenario)

    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 50
    assert connections == 1
    assert sorted(m.headers["Nats-Msg-Id"] for m in got) == sorted(m.idempotency_key for m in messages)


def test_send__no_stream_takes_the_subject__retry_naming_the_stream(jetstream_server: str, place: Place) -> None:
    conn = connector(servers=[jetstream_server], subject_prefix=place.prefix, stream=place.stream, timeout_s=2)

    async def scenario() -> Outcome:
        sender = NatsSender()
        try:
            return await sender.send(conn, outbound("cs_" + uuid.uuid4().hex))
        finally:
            await sender.aclose()

    outcome = run(scenario)

    assert outcome.kind == OutcomeKind.RETRY
    assert f"{place.prefix}.created" in outcome.detail
    assert place.stream in outcome.detail


def test_send__subject_lands_in_another_stream__failed(jetstream_server: str, place: Place) -> None:
    conn = connector(servers=[jetstream_server], subject_prefix=place.prefix, stream=place.stream + "_OTHER")

    async def scenario() -> Outcome:
        await with_client(
            jetstream_server, lambda c: c.jetstream().add_stream(name=place.stream, subjects=[f"{place.prefix}.>"])
        )
        sender = NatsSender()
        try:
            return await sender.send(conn, outbound("cs_" + uuid.uuid4().hex))
        finally:
            await sender.aclose()

    outcome = run(scenario)

    assert outcome.kind == OutcomeKind.FAILED
    assert "expected stream does not match" in outcome.detail


def test_send__existing_stream_without_create__published_into_it(jetstream_server: str, place: Place) -> None:
    conn = connector(servers=[jetstream_server], subject_prefix=place.prefix)

    async def scenario() -> Outcome:
        await with_client(
            jetstream_server, lambda c: c.jetstream().add_stream(name=place.stream, subjects=[f"{place.prefix}.>"])
        )
        sender = NatsSender()
        try:
            return await sender.send(conn, outbound("cs_" + uuid.uuid4().hex, MessageType.NOTE))
        finally:
            await sender.aclose()

    outcome = run(scenario)

    assert outcome.kind == OutcomeKind.DELIVERED, outcome.detail
    assert outcome.detail.startswith(f"stream {place.stream} seq 1")


def test_send__server_unreachable__retry() -> None:
    conn = connector(servers=[f"nats://127.0.0.1:{free_port()}"], timeout_s=1)

    async def scenario() -> list[Outcome]:
        sender = NatsSender()
        try:
            return list(await asyncio.gather(*(sender.send(conn, outbound(f"cs_{i}")) for i in range(5))))
        finally:
            await sender.aclose()

    started = time.monotonic()
    outcomes = run(scenario)

    assert [o.kind for o in outcomes] == [OutcomeKind.RETRY] * 5
    assert "cannot connect" in outcomes[0].detail
    assert time.monotonic() - started < 10  # one connect attempt answers the waiting sends


# -- a private server: restarts and authentication --------------------------------------------------------
class PrivateServer:
    def __init__(self, tmp: Path, *args: str) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            pytest.skip("nats-server is not installed: private-server tests are skipped")
        self.binary = binary
        self.port = free_port()
        self.args = ["-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(tmp / "js"), *args]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not reachable(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"nats-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[Callable[..., PrivateServer]]:
    servers: list[PrivateServer] = []

    def make(*args: str) -> PrivateServer:
        server = PrivateServer(tmp_path, *args)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


def test_send__server_restarted__retry_while_down_then_reconnects(
    private_server: Callable[..., PrivateServer],
) -> None:
    server = private_server()
    conn = connector(servers=[server.url], stream="REQUESTS", create_stream=True, timeout_s=1)

    async def scenario() -> tuple[Outcome, Outcome, Outcome]:
        sender = NatsSender(connect_backoff_s=0)
        try:
            before = await sender.send(conn, outbound("cs_before"))
            server.stop()
            down = await sender.send(conn, outbound("cs_down"))
            server.start()
            deadline = time.monotonic() + 15
            after = await sender.send(conn, outbound("cs_after"))
            while after.kind != OutcomeKind.DELIVERED and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                after = await sender.send(conn, outbound("cs_after"))
            return before, down, after
        finally:
            await sender.aclose()

    before, down, after = run(scenario)

    assert before.kind == OutcomeKind.DELIVERED, before.detail
    assert down.kind == OutcomeKind.RETRY
    assert after.kind == OutcomeKind.DELIVERED, after.detail
    # the stream outlived the restart (cs_down may have landed too: the client flushes what it buffered)
    assert after.detail.startswith("stream REQUESTS seq ")


def test_send__token_in_secret__authenticates(private_server: Callable[..., PrivateServer]) -> None:
    server = private_server("--auth", "s3cret-token")

    async def scenario() -> tuple[Outcome, Outcome]:
        sender = NatsSender()
        try:
            right = await sender.send(
                connector("s3cret-token", servers=[server.url], stream="R", create_stream=True), outbound("cs_1")
            )
            wrong = await sender.send(
                connector("wrong", servers=[server.url], stream="R", create_stream=True, timeout_s=1), outbound("cs_2")
            )
            return right, wrong
        finally:
            await sender.aclose()

    right, wrong = run(scenario)

    assert right.kind == OutcomeKind.DELIVERED, right.detail
    assert wrong.kind == OutcomeKind.RETRY
    assert "cannot connect" in wrong.detail


def test_send__user_and_password_secret__authenticates(private_server: Callable[..., PrivateServer]) -> None:
    server = private_server("--user", "hub", "--pass", "pa55")
    conn = connector("pa55", servers=[server.url], user="hub", stream="R", create_stream=True)

    async def scenario() -> Outcome:
        sender = NatsSender()
        try:
            return await sender.send(conn, outbound("cs_1"))
        finally:
            await sender.aclose()

    outcome = run(scenario)

    assert outcome.kind == OutcomeKind.DELIVERED, outcome.detail
