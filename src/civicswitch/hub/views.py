"""What the hub store hands back: claimed messages, settlements, delivery rows, health counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from civicswitch.hub.model import DeliveryState, MessageType, OutboundMessage, Problem, ProblemKind


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """An outbox row to write (``connector_code`` None: a manual bridge task for ``body_code``)."""

    connector_code: str | None
    body_code: str
    request_id: int | None  # None: mail to a resident about an area (people/area_follows)
    type: MessageType
    idempotency_key: str
    payload: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class Claimed:
    connector_code: str
    attempts: int  # attempts made before this one
    message: OutboundMessage


@dataclass(frozen=True, slots=True)
class Settlement:
    """The result of one attempt, written back by the worker."""

    delivery_id: int
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    at: datetime
    last_error: str | None = None
    last_status: int | None = None
    external_id: str | None = None
    worker: str | None = None  # who claimed it: a worker whose lease ran out cannot overwrite a newer outcome


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    connector_code: str | None
    body_code: str
    request_id: int | None  # None: mail to a resident about an area
    type: str
    idempotency_key: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    last_status: int | None
    external_id: str | None
    effort_minutes: float | None
    done_by: str | None
    payload: dict[str, Any]
    # a manual bridge task a person claimed (so two clerks don't re-key it): who, since when, until when
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    claimed_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ManualEffort:
    """The manual bridge's cost for one body over a period: tasks done and the minutes people spent on them."""

    body_code: str
    tasks: int
    minutes: float


@dataclass(frozen=True, slots=True)
class HealthCounts:
    """Raw per-connector figures (``connector_code`` None: the manual bridge of ``body_code``)."""

    connector_code: str | None
    body_code: str
    counts: dict[str, int]  # state → rows
    oldest_pending_at: datetime | None
    latencies_s: list[float]  # created → delivered, of recent deliveries
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    effort_minutes: float = 0.0


@dataclass(frozen=True, slots=True)
class ProblemSummary:
    """One connector's problems of one kind since a moment: how many, the first, and the latest in full."""

    connector_code: str
    kind: ProblemKind
    count: int
    first_at: datetime
    latest: Problem
