"""The hub store port (``hub/sql.py``, fake in ``hub/memory.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from civicswitch.hub.model import Connector, DeliveryState, Problem, ProblemKind
from civicswitch.hub.views import (
    Claimed,
    DeliveryView,
    HealthCounts,
    ManualEffort,
    NewDelivery,
    ProblemSummary,
    Settlement,
)


class HubStore(Protocol):
    def add_connector(self, connector: Connector, at: datetime) -> Connector:
        """Insert, or update the connector with the same code (a ``None`` secret keeps the stored one)."""
        ...

    def connectors(self) -> list[Connector]: ...
    def connector(self, code: str) -> Connector | None: ...
    def set_enabled(self, code: str, enabled: bool, reason: str | None) -> bool: ...
    def enqueue(self, rows: Sequence[NewDelivery]) -> None: ...
    def claim(self, worker: str, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
        """Mark up to ``limit`` due heads of line in flight for ``worker`` until ``now + lease`` and return them:
        pending/retrying rows whose time has come or in-flight rows whose lease ran out, of enabled connectors,
        with no earlier open row for the same request and connector (order per request is kept)."""
        ...

    def settle(self, results: Sequence[Settlement]) -> None: ...
    def deliveries(
        self,
        *,
        states: Sequence[DeliveryState] | None = None,
        connector: str | None = None,
        body: str | None = None,
        manual: bool | None = None,
        request_id: int | None = None,
        ids: Sequence[int] | None = None,
        limit: int = 100,
        after_id: int = 0,
        keys: Sequence[str] | None = None,
    ) -> list[DeliveryView]:
        """Deliveries by id; ``keys``: those with these idempotency keys (a unique index: a reply's references)."""
        ...

    def delivery(self, delivery_id: int) -> DeliveryView | None:
        """One delivery (a connector's or a manual bridge task) by its id, or None: a primary-key lookup."""
        ...

    def replay(self, ids: Sequence[int] | None, connector: str | None, now: datetime) -> int:
        """Dead deliveries (all, these ids, or this connector's) back to pending, due now; returns how many."""
        ...

    def complete_manual(self, delivery_id: int, external_id: str | None, minutes: float, by: str, now: datetime) -> int:
        """Mark a manual bridge task done (with the effort it took); returns its request id."""
        ...

    def claim_manual(self, delivery_id: int, by: str, now: datetime, until: datetime) -> int:
        """A person takes an open manual bridge task until ``until`` (claiming again renews it); :class:`Conflict`
        if someone else holds it or it is no longer open. Returns its request id."""
        ...

    def release_manual(self, delivery_id: int, by: str) -> None:
        """``by`` lets go of a task it holds (nothing happens if it holds none)."""
        ...

    def manual_effort(self, since: datetime) -> list[ManualEffort]:
        """Per body: manual bridge tasks done at or after ``since`` and the minutes they took."""
        ...

    def add_external_ref(self, request_id: int, body_code: str, external_id: str, at: datetime) -> None: ...
    def external_id(self, request_id: int, body_code: str) -> str | None: ...
    def request_for_external(self, body_code: str, external_id: str) -> int | None: ...
    def seen_message(self, connector: str, message_id: str, now: datetime) -> bool:
        """Record an inbound message id; True if it had been received before (a replay)."""
        ...

    def cursor(self, connector: str) -> str | None: ...
    def set_cursor(self, connector: str, cursor: str | None, now: datetime) -> None: ...
    def health_rows(self, now: datetime) -> list[HealthCounts]: ...
    def record_problems(self, connector: str, problems: Sequence[Problem]) -> None:
        """Keep problems of a connector's inbound side (rows older than a week are pruned)."""
        ...

    def clear_problems(self, connector: str, kind: ProblemKind) -> int: ...
    def problem_summaries(self, since: datetime) -> list[ProblemSummary]:
        """Per connector and kind: the problems at or after ``since``."""
        ...

    def withdraw_manual(
        self, request_id: int, reason: str, at: datetime, *, only: str | None = None, keep: str | None = None
    ) -> int:
        """Take a request's open manual bridge tasks out of the queue (``only`` this body's, or all but ``keep``'s),
        saying why; returns how many."""
        ...
