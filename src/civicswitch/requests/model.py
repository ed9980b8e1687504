"""The service-request aggregate and the canonical status model (DESIGN.md §3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from civicswitch.core.errors import IllegalTransition, Invalid, check_text


class Status(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    CLOSED = "closed"
    REOPENED = "reopened"


class CloseReason(StrEnum):
    FIXED = "fixed"
    DUPLICATE = "duplicate"
    NOT_OURS = "not_ours"
    REFERRED = "referred"
    NO_ACTION = "no_action"
    CANCELLED = "cancelled"


class Channel(StrEnum):
    """How a request reached us."""

    OPEN311 = "open311"
    WEB = "web"
    PHONE = "phone"
    MOBILE = "mobile"
    EMAIL = "email"
    AGENT = "agent"
    IMPORT = "import"
    OTHER = "other"


# new → acknowledged → in_progress ⇄ on_hold → closed, reopened → acknowledged …
# Any open state may close (a duplicate or a request that is not ours closes straight from new).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.CLOSED}),
    Status.ACKNOWLEDGED: frozenset({Status.IN_PROGRESS, Status.ON_HOLD, Status.CLOSED}),
    Status.IN_PROGRESS: frozenset({Status.ON_HOLD, Status.CLOSED}),
    Status.ON_HOLD: frozenset({Status.IN_PROGRESS, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.REOPENED}),
    Status.REOPENED: frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.CLOSED}),
}

# The longest text each stored field takes (the column lengths of requests/tables.py; a test keeps them equal).
REQUEST_LIMITS = {"address_id": 100, "zipcode": 20, "device_id": 200, "account_id": 200, "token": 64, "source_ref": 120}
CONTACT_LIMITS = {"first_name": 200, "last_name": 200, "email": 320, "phone": 50}
EVENT_LIMITS = {"kind": 30, "external_id": 200, "external_status": 60}
_REQUEST_TEXTS = ("service_code", "description", "address", "status_notes", "media_url", "body_code", *REQUEST_LIMITS)

COORDINATE_DECIMALS = 7

OPEN_STATUSES: tuple[Status, ...] = tuple(s for s in Status if s is not Status.CLOSED)


def open311_status(status: Status | str) -> str:
    """The core Open311 projection: ``open`` or ``closed`` (STAT-01)."""
    return "closed" if status == Status.CLOSED else "open"


# The FixMyStreet update extension's lower-case statuses (checklist §3.6a).
_FMS_CLOSED = {
    CloseReason.FIXED: "fixed",
    CloseReason.DUPLICATE: "duplicate",
    CloseReason.NOT_OURS: "not_councils_responsibility",
    CloseReason.REFERRED: "internal_referral",
    CloseReason.NO_ACTION: "no_further_action",
    CloseReason.CANCELLED: "cancelled",
}
_FMS_OPEN = {
    Status.NEW: "open",
    Status.ACKNOWLEDGED: "investigating",
    Status.IN_PROGRESS: "in_progress",
    Status.ON_HOLD: "action_scheduled",
    Status.REOPENED: "open",
}


def fms_status(status: Status | str, close_reason: CloseReason | str | None) -> str:
    if status == Status.CLOSED:
        return _FMS_CLOSED.get(CloseReason(close_reason), "closed") if close_reason else "closed"
    return _FMS_OPEN[Status(status)]


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of a request's append-only timeline."""

    at: datetime
    kind: str
    description: str = ""
    status_from: Status | None = None
    status_to: Status | None = None
    close_reason: CloseReason | None = None
    public: bool = True
    client_id: int | None = None
    external_id: str | None = None
    external_status: str | None = None
    media_url: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def __post_init__(self) -> None:
        for name in ("kind", "description", "external_id", "external_status", "media_url"):
            check_text(getattr(self, name), name, EVENT_LIMITS.get(name))


@dataclass(frozen=True, slots=True)
class Contact:
    """Personal data of the person who filed: never in public output."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None

    def __post_init__(self) -> None:
        for name, limit in CONTACT_LIMITS.items():
            check_text(getattr(self, name), name, limit)

    def is_empty(self) -> bool:
        return not any((self.first_name, self.last_name, self.email, self.phone))


@dataclass(slots=True)
class ServiceRequest:
    """The case. Status changes only through :meth:`transition`, which appends to the timeline."""

    service_code: str
    requested_at: datetime
    channel: Channel
    description: str = ""
    lat: float | None = None
    long: float | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    media_url: str | None = None
    attributes: dict[str, str | list[str]] = field(default_factory=dict)
    areas: dict[str, str] | None = None
    status: Status = Status.NEW
    close_reason: CloseReason | None = None
    status_notes: str | None = None
    body_code: str | None = None
    expected_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    client_id: int | None = None
    device_id: str | None = None
    account_id: str | None = None
    token: str | None = None
    source_ref: str | None = None
    id: int | None = None
    pending_events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.requested_at.tzinfo is None:
            raise Invalid("requested_at must be timezone-aware")
        if self.updated_at is None:
            self.updated_at = self.requested_at
        if len(self.description) > 4000:
            raise Invalid("description is longer than 4000 characters", field="description")
        for name in _REQUEST_TEXTS:
            check_text(getattr(self, name), name, REQUEST_LIMITS.get(name))
        for code, value in self.attributes.items():
            for item in (code, *([value] if isinstance(value, str) else value)):
                check_text(item, f"attribute[{code}]")
        if self.lat is not None and self.long is not None:
            # Seven decimal places is about a centimetre: more is noise from the device, and a fixed
            # precision keeps every rendering of a point (Python, SQLite, PostgreSQL) digit for digit the same.
            self.lat, self.long = round(self.lat, COORDINATE_DECIMALS), round(self.long, COORDINATE_DECIMALS)
        if (self.lat is None) != (self.long is None):
            raise Invalid("lat and long must be given together", field="lat")
        if (
            self.lat is not None
            and self.long is not None
            and (not (-90.0 <= self.lat <= 90.0) or not (-180.0 <= self.long <= 180.0))
        ):
            raise Invalid("lat must be within ±90 and long within ±180", field="lat")
        if self.lat is None and not self.address and not self.address_id:
            raise Invalid("a location is required: lat and long, address_string or address_id", field="location")

    @property
    def public_id(self) -> str:
        if self.id is None:
            raise ValueError("request has no id yet")
        return str(self.id)

    def record_submission(self, at: datetime, *, client_id: int | None) -> None:
        self.pending_events.append(
            Event(
                at=at,
                kind="submitted",
                status_to=self.status,
                client_id=client_id,
                description="Request received",
            )
        )

    def record_routing(self, at: datetime, note: str, *, rule: str | None) -> Event:
        """Where the request went and why (the rule that decided); staff-facing, not public."""
        event = Event(at=at, kind="routed", description=note, public=False, data={"rule": rule, "areas": self.areas})
        self.pending_events.append(event)
        return event

    def transition(
        self,
        to: Status,
        at: datetime,
        *,
        reason: CloseReason | None = None,
        note: str = "",
        client_id: int | None = None,
        external_id: str | None = None,
        external_status: str | None = None,
        media_url: str | None = None,
    ) -> Event:
        """Move to ``to``; an illegal move raises :class:`IllegalTransition` and changes nothing."""
        if to not in TRANSITIONS[self.status]:
            allowed = ", ".join(sorted(TRANSITIONS[self.status])) or "none"
            raise IllegalTransition(
                f"request {self.id}: cannot go from {self.status} to {to} (allowed: {allowed})",
                field="status",
            )
        if to == Status.CLOSED and reason is None:
            reason = CloseReason.FIXED
        if to != Status.CLOSED and reason is not None:
            raise Invalid("a close reason goes only with the closed status", field="close_reason")
        event = Event(
            at=at,
            kind="status_changed",
            status_from=self.status,
            status_to=to,
            close_reason=reason,
            description=note,
            client_id=client_id,
            external_id=external_id,
            external_status=external_status,
            media_url=media_url,
        )
        self.status = to
        self.close_reason = reason
        self.closed_at = at if to == Status.CLOSED else None
        if note:
            self.status_notes = note
        self.updated_at = max(at, self.updated_at or at)
        self.pending_events.append(event)
        return event

    def add_note(
        self,
        at: datetime,
        note: str,
        *,
        client_id: int | None = None,
        external_id: str | None = None,
        external_status: str | None = None,
        media_url: str | None = None,
        public: bool = True,
    ) -> Event:
        """A comment or update that does not change the status. It records the status it was made in
        (``status_from`` and, when closed, ``close_reason``), so update feeds show the status of its time."""
        event = Event(
            at=at,
            kind="note",
            description=note,
            status_from=self.status,
            close_reason=self.close_reason if self.status == Status.CLOSED else None,
            client_id=client_id,
            external_id=external_id,
            external_status=external_status,
            media_url=media_url,
            public=public,
        )
        if public and note:
            self.status_notes = note
        self.updated_at = max(at, self.updated_at or at)
        self.pending_events.append(event)
        return event
