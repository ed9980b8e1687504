"""Residents' mail in tests: an SMTP server (aiosmtpd) that keeps what it receives, the residents' mail connector
pointed at it, and one run of the delivery worker (tests in tests/web and tests/web/browser use them)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.hub.connectors.email import EmailSender
from civicswitch.hub.handlers import add_connector
from civicswitch.hub.model import ConnectorKind
from civicswitch.hub.worker import Worker
from civicswitch.storage.sql import SqlUnitOfWork


@dataclass
class Inbox:
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 Ok: queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def residents_mail(engine: Engine, clock: FixedClock, port: int) -> None:
    add_connector(
        SqlUnitOfWork(engine),
        clock,
        code="residents-mail",
        kind="email",
        body="DSNY",
        config={"from": "City 311 <noreply@city.example.gov>", "smtp_host": "127.0.0.1", "smtp_port": port,
                "audience": "residents", "html": True},
    )  # fmt: skip


def deliver(engine: Engine, clock: FixedClock) -> int:
    async def run() -> int:
        sender = EmailSender(now=clock.now)
        worker = Worker(lambda: SqlUnitOfWork(engine), clock, {ConnectorKind.EMAIL: sender})
        try:
            return await worker.run_once()
        finally:
            await sender.aclose()

    # in a thread of its own: a browser test's Playwright runs an event loop in this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def plain_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())
