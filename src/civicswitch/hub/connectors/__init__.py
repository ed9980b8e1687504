"""Connectors: one package per kind. Each provides a :class:`Sender` (and, where the kind polls or reads files,
a :class:`Poller`) and has an in-memory fake; ``tests/hub/connectors/test_sender_contract.py`` runs the same
assertions against every sender."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from civicswitch.hub.model import Connector, InboundUpdate, OutboundMessage, Outcome


class Sender(Protocol):
    """Delivers outbound messages to one kind of system. Never raises for a delivery problem: it returns an
    :class:`Outcome` (delivered, retry later, failed for good, or gone). Must be safe to call concurrently."""

    async def send(self, connector: Connector, message: OutboundMessage) -> Outcome: ...

    async def aclose(self) -> None: ...


class Poller(Protocol):
    """Fetches updates a system does not push (Open311 polling, batch files). ``cursor`` is the high-water mark
    the last poll returned (None the first time); returns the updates and the new cursor.

    A poller may also define ``after_delivery(cursor, request_id, outcome, at) -> str | None``: the worker calls
    it for a message delivered without the system's id, and stores the cursor it returns (e.g. an Open311 token
    to resolve on the next poll)."""

    async def poll(self, connector: Connector, cursor: str | None) -> tuple[Sequence[InboundUpdate], str | None]: ...
