"""Hub domain: connectors (how a body's system is reached), outbound messages, delivery states, status maps."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from civicswitch.core.errors import Invalid, check_text
from civicswitch.requests.model import CloseReason, Status


class ConnectorKind(StrEnum):
    WEBHOOK = "webhook"
    OPEN311 = "open311"
    BATCH = "batch"
    EMAIL = "email"
    NATS = "nats"
    MANUAL = "manual"


class DeliveryState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    DEAD = "dead"
    WITHDRAWN = "withdrawn"  # a manual bridge task whose request was transferred, merged, referred or closed


class MessageType(StrEnum):
    """What happened, as the CloudEvents ``type`` suffix (``gov.civicswitch.request.<type>``)."""

    CREATED = "created"  # a new request for this body (also: transferred to it, referred to it)
    STATUS_CHANGED = "status_changed"
    NOTE = "note"
    TRANSFERRED = "transferred"  # moved away from this body
    # To a resident, through the instance's residents' mail connector (hub/residents.py), never to a body:
    FOLLOW_CONFIRMATION = "follow_confirmation"  # "confirm you want updates on request N": a signed link
    RESIDENT_UPDATE = "resident_update"  # what changed on a request they filed or follow (hub/updates.py)
    # To a resident following an area (people/area_follows): the confirmation link, a change, a digest
    AREA_FOLLOW_CONFIRMATION = "area_follow_confirmation"
    AREA_UPDATE = "area_update"
    AREA_DIGEST = "area_digest"


PROBLEM_RETENTION = timedelta(days=7)

# Seconds to wait after the 1st, 2nd, … failed attempt; when spent the delivery is dead (about 8 h in all).
DEFAULT_RETRY_SCHEDULE: tuple[int, ...] = (10, 30, 120, 600, 1800, 3600, 7200, 14400)

_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def canonical_status(text: str) -> tuple[Status, CloseReason | None]:
    """``closed/fixed`` → (closed, fixed); ``in_progress`` → (in_progress, None)."""
    status, _, reason = text.strip().lower().partition("/")
    try:
        return Status(status), (CloseReason(reason) if reason else None)
    except ValueError:
        known = ", ".join([*(s.value for s in Status), *(f"closed/{r.value}" for r in CloseReason)])
        raise Invalid(f"{text!r} is not a canonical status ({known})") from None


def canonical_text(status: Status | str, reason: CloseReason | str | None) -> str:
    return f"{status}/{reason}" if status == Status.CLOSED and reason else str(status)


@dataclass(frozen=True, slots=True)
class StatusMap:
    """A connector's two-way map between external status codes and the canonical model (DESIGN §3).

    ``inbound``: external code → canonical (``"DONE": "closed/fixed"``); ``outbound``: canonical → external code
    (``"closed/fixed": "DONE"``, ``"in_progress": "WIP"``). Codes are matched case-insensitively inbound; the raw
    external code is always kept on the timeline."""

    inbound: Mapping[str, str] = field(default_factory=dict)
    outbound: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for target in self.inbound.values():
            canonical_status(target)
        for source in self.outbound:
            canonical_status(source)

    def to_canonical(self, external: str) -> tuple[Status, CloseReason | None]:
        wanted = external.strip().casefold()
        for code, target in self.inbound.items():
            if code.casefold() == wanted:
                return canonical_status(target)
        try:
            return canonical_status(external)  # canonical names are always understood
        except Invalid:
            known = ", ".join(sorted(self.inbound)) or "canonical statuses only"
            raise Invalid(
                f"status {external!r} is not in this connector's status map ({known})", field="status"
            ) from None

    def to_external(self, status: Status | str, reason: CloseReason | str | None) -> str:
        exact = canonical_text(status, reason)
        return self.outbound.get(exact) or self.outbound.get(str(status)) or exact

    def document(self) -> dict[str, dict[str, str]]:
        return {"inbound": dict(self.inbound), "outbound": dict(self.outbound)}

    @classmethod
    def from_document(cls, data: object) -> StatusMap:
        if data is None:
            return cls()
        if not isinstance(data, Mapping) or set(data) - {"inbound", "outbound"}:
            raise Invalid("status_map must be an object with 'inbound' and/or 'outbound' maps")
        parts: dict[str, dict[str, str]] = {}
        for side in ("inbound", "outbound"):
            raw = data.get(side) or {}
            if not isinstance(raw, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
            ):
                raise Invalid(f"status_map.{side} must map strings to strings")
            parts[side] = dict(raw)
        return cls(**parts)


@dataclass(frozen=True, slots=True)
class Connector:
    """How one body's system is reached. ``config`` holds the kind's settings (never secrets); ``secret`` signs
    and verifies messages and is never shown after creation."""

    code: str
    kind: ConnectorKind
    body_code: str
    config: Mapping[str, Any] = field(default_factory=dict)
    secret: str | None = None
    status_map: StatusMap = field(default_factory=StatusMap)
    enabled: bool = True
    disabled_reason: str | None = None
    retry_schedule: tuple[int, ...] = DEFAULT_RETRY_SCHEDULE
    client_id: int | None = None  # the API client it acts as inbound
    id: int | None = None

    def __post_init__(self) -> None:
        if not _CODE.fullmatch(self.code):
            raise Invalid(f"connector code {self.code!r}: lower-case letters, digits, '-' and '_', at most 64")
        check_text(self.disabled_reason, "disabled_reason", 500)
        if not self.retry_schedule or any(s <= 0 for s in self.retry_schedule) or len(self.retry_schedule) > 30:
            raise Invalid("retry_schedule must be 1–30 positive numbers of seconds")

    def next_attempt(self, attempts: int, now: datetime, retry_after: float | None = None) -> datetime | None:
        """When to try again after ``attempts`` failed attempts (None: the schedule is spent, dead-letter).
        A receiver's ``Retry-After`` is honoured when it asks for longer than the schedule (at most a day)."""
        if attempts > len(self.retry_schedule):
            return None
        wait = float(self.retry_schedule[attempts - 1])
        if retry_after is not None:
            wait = max(wait, min(retry_after, 86_400.0))
        return now + timedelta(seconds=wait)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to one connector: a CloudEvents 1.0 envelope (``envelope``) plus what senders need."""

    delivery_id: int
    idempotency_key: str  # also the CloudEvent id and the Standard Webhooks webhook-id
    type: MessageType
    request_id: int | None  # None: mail to a resident about an area (people/area_follows)
    envelope: Mapping[str, Any]
    external_id: str | None = None  # the body system's id for this request, once known


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # a temporary failure: try again later
    FAILED = "failed"  # a permanent failure for this message (e.g. 400): dead-letter it now
    GONE = "gone"  # the endpoint says it is gone for good (410): disable the connector


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    detail: str = ""
    status_code: int | None = None
    retry_after: float | None = None
    external_id: str | None = None  # the body system's id for the request, when its reply gives one

    @classmethod
    def delivered(cls, detail: str = "", *, status_code: int | None = None, external_id: str | None = None) -> Outcome:
        return cls(OutcomeKind.DELIVERED, detail, status_code, None, external_id)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an inbound update was read: a batch file (relative to the inbox), the line its row starts on, and
    the row as it was (CSV text), so a refused update can be quarantined like a bad row."""

    file: str
    line: int
    row: str = ""


class ProblemKind(StrEnum):
    POLL_FAILED = "poll_failed"  # the last poll(s) failed; cleared by the next good poll
    QUARANTINED = "quarantined"  # an inbound row or update refused (bad row, unknown request, unmapped status)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with a connector's inbound side, kept for its health."""

    kind: ProblemKind
    at: datetime
    detail: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class InboundUpdate:
    """A status change or note a body's system reports (webhook push, Open311 poll, batch file row)."""

    update_id: str
    status: str  # the external code, mapped by the connector's status map; "" for a note only
    at: datetime
    service_request_id: str | None = None
    external_id: str | None = None
    description: str = ""
    media_url: str | None = None
    origin: Origin | None = field(default=None, compare=False)  # where it was read (batch files)


def parse_retry_schedule(data: object) -> tuple[int, ...]:
    if data is None:
        return DEFAULT_RETRY_SCHEDULE
    if not isinstance(data, Sequence) or isinstance(data, str) or not all(isinstance(v, int) for v in data):
        raise Invalid("retry_schedule must be a list of whole seconds")
    return tuple(int(v) for v in data)
