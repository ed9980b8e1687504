"""The service-request aggregate and the canonical status model (DESIGN.md §3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from civicswitch.catalog.model import LANGUAGE_CODE
from civicswitch.core.errors import Conflict, IllegalTransition, Invalid, check_text


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
    WALK_IN = "walk_in"  # a resident at a counter, filed by an agent
    LIAISON = "liaison"  # filed on a resident's behalf by a volunteer liaison, with the resident's consent
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
REQUEST_LIMITS = {
    "address_id": 100, "zipcode": 20, "device_id": 200, "account_id": 200, "token": 64,
    "source_ref": 120,
}  # fmt: skip
CONTACT_LIMITS = {"first_name": 200, "last_name": 200, "email": 320, "phone": 50}
EVENT_LIMITS = {"kind": 30, "external_id": 200, "external_status": 60}
_REQUEST_TEXTS = ("service_code", "description", "address", "status_notes", "media_url", "body_code", *REQUEST_LIMITS)

COORDINATE_DECIMALS = 7

# Timeline kinds that are notes to the owning body's systems when public (the outbox sends them as ``note``): a
# note, and a liaison's verdict on a fix seen on site (requests/work.py).
NOTE_KINDS = frozenset({"note", "fix_confirmed", "fix_disputed"})

# The closures whose time is the time a fix takes (the report page's "usually closed within"): not a duplicate, a
# referral, a cancellation or "not ours", which close at once whatever the work.
TIMED_CLOSURES: frozenset[CloseReason | None] = frozenset({CloseReason.FIXED, CloseReason.NO_ACTION})

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
class Notice:
    """A message to a resident (not to a department), handed to the outbox when the unit of work commits. Not
    part of the timeline: it carries the address. ``queued`` is set by the outbox writer when an instance's
    residents' mail connector takes it (none configured: it is dropped, and the follower stays unconfirmed)."""

    request_id: int | None  # None: mail about an area, not one request (people/area_follows)
    kind: str  # "follow_confirmation"
    to: str  # the resident's address
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    queued: bool = False


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone the residents' mail about a request goes to: its filer or a confirmed follower, by email, in their
    language (None: the instance's)."""

    email: str
    language: str | None
    filer: bool


class Answer(StrEnum):
    """A resident's answer to "Is it fixed?" after a closure (requests/answers.py)."""

    FIXED = "fixed"
    NOT_FIXED = "not_fixed"  # still a problem


class Answerer(StrEnum):
    FILER = "filer"  # the link in the closure mail to the person who reported it
    FOLLOWER = "follower"  # the same link, to a confirmed follower
    VISITOR = "visitor"  # anyone on the request's page (no link: they prove nothing about who they are)


class AnswerOutcome(StrEnum):
    RECORDED = "recorded"  # counted, nothing else done ("fixed")
    REOPENED = "reopened"  # still a problem within the service's window: the request went back to its owner
    NEW_REQUEST = "new_request"  # still a problem after the window, or said by a visitor: a new, linked request


# The closures residents are asked "Is it fixed?" about: the others say why nothing is to be fixed here (a
# duplicate: its request asks; referred, not ours: someone else's; cancelled).
ASKED_CLOSURES: frozenset[CloseReason | None] = frozenset({CloseReason.FIXED, CloseReason.NO_ACTION, None})
RATINGS = range(1, 6)  # the satisfaction rating: 1 (very dissatisfied) … 5 (very satisfied)


@dataclass(slots=True)
class FixAnswer:
    """One person's answer to "Is it fixed?" about one closure of a request, and their rating (1–5) of how it was
    handled. A filer or follower (``address_digest``: people/links.py) has one per closure, changed by answering
    again; each visitor's answer is its own. Figures for the dashboards (reopen and satisfaction counts)."""

    request_id: int
    closed_at: datetime  # the closure answered
    answered_at: datetime
    answer: Answer
    answerer: Answerer
    outcome: AnswerOutcome
    address_digest: str | None = None
    new_request_id: int | None = None
    rating: int | None = None
    rated_at: datetime | None = None
    language: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.rating is not None and self.rating not in RATINGS:
            raise Invalid("a rating is a whole number from 1 to 5", field="rating")
        if (self.answerer is Answerer.VISITOR) != (self.address_digest is None):
            raise Invalid("a filer's or follower's answer names their address; a visitor's does not", field="token")


class FollowVia(StrEnum):
    FOLLOW = "follow"  # chose "follow this one instead" of filing again
    MERGE = "merge"  # filed or followed a request that staff merged into this one


@dataclass(frozen=True, slots=True)
class Follower:
    """Someone to tell about a request besides its filer. Personal data: never in public output."""

    contact: Contact
    via: FollowVia
    created_at: datetime
    account_id: str | None = None
    from_request_id: int | None = None
    confirmed_at: datetime | None = None  # an email follower hears nothing until the address is confirmed
    id: int | None = None
    language: str | None = None  # the language of the page they followed from (None: the instance's)
    stopped_at: datetime | None = None  # asked for no more mail about this request (the link in every message)

    def __post_init__(self) -> None:
        check_text(self.account_id, "account_id", REQUEST_LIMITS["account_id"])
        if self.language is not None and LANGUAGE_CODE.fullmatch(self.language) is None:
            raise Invalid(f"language {self.language!r} is not a language code (e.g. es, pt-BR)", field="language")
        if self.contact.is_empty() and not self.account_id:
            raise Invalid("a follower needs an email, a phone number or an account_id", field="email")

    def same_person(self, other: Follower) -> bool:
        mine, theirs = self.contact, other.contact
        return bool(
            (mine.email and theirs.email and mine.email.casefold() == theirs.email.casefold())
            or (mine.phone and theirs.phone and mine.phone == theirs.phone)
            or (self.account_id and self.account_id == other.account_id)
        )


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
    parent_id: int | None = None  # the request this one was merged into
    assigned_org: str | None = None  # the partner organisation (a body of kind partner) doing the work
    filed_by_user_id: int | None = None  # the agent or liaison who filed it on a resident's behalf
    consent: str | None = None  # the resident's consent as the liaison recorded it
    assignee_user_id: int | None = None  # the colleague (a staff account) working it
    transfers: int = 0  # how many times it moved to another body (a transfer by staff is a "bounce")
    language: str | None = None  # the resident's language ("es"): their messages and the envelope (None: ours)
    id: int | None = None
    pending_events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.requested_at.tzinfo is None:
            raise Invalid("requested_at must be timezone-aware")
        if self.updated_at is None:
            self.updated_at = self.requested_at
        if self.language is not None and LANGUAGE_CODE.fullmatch(self.language) is None:  # at most 12 < 16
            raise Invalid(f"language {self.language!r} is not a language code (e.g. es, pt-BR)", field="language")
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

    def record_possible_duplicates(self, at: datetime, matches: list[dict[str, Any]]) -> Event:
        """The likely duplicates found at intake, for staff to confirm (merge) or ignore; not public."""
        ids = ", ".join(str(m["service_request_id"]) for m in matches)
        event = Event(
            at=at,
            kind="possible_duplicates",
            description=f"Possible duplicate of request(s) {ids}",
            public=False,
            data={"candidates": matches},
        )
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
        data: Mapping[str, Any] | None = None,
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
            data=dict(data or {}),
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
        data: Mapping[str, Any] | None = None,
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
            data=dict(data or {}),
        )
        if public and note:
            self.status_notes = note
        self.updated_at = max(at, self.updated_at or at)
        self.pending_events.append(event)
        return event

    # -- staff changes -------------------------------------------------------------------------------
    def reassign(
        self,
        at: datetime,
        *,
        service_code: str,
        lat: float | None,
        long: float | None,
        body_code: str | None,
        areas: dict[str, str] | None,
        expected_at: datetime | None,
        body_names: dict[str | None, str],
        rule: str | None,
        note: str = "",
        client_id: int | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Event:
        """Staff changed the service, the location or the owner (after the rules ran again, or a transfer by hand).
        A new owner is a **transfer** (a public ``transferred`` entry naming both bodies, counted in ``transfers``);
        otherwise a staff-only ``changed`` entry. ``data`` is added to the entry's (who, why)."""
        if self.status == Status.CLOSED:
            raise IllegalTransition(
                f"request {self.id} is closed; reopen it before changing its service or location", field="status"
            )
        changes: dict[str, Any] = {}
        if service_code != self.service_code:
            changes["service_code"] = [self.service_code, service_code]
        if (lat, long) != (self.lat, self.long):
            changes["location"] = [[self.lat, self.long], [lat, long]]
        if body_code != self.body_code:
            changes["body"] = [self.body_code, body_code]
        if areas != self.areas:
            changes["areas"] = [self.areas, areas]
        if not changes:
            raise Invalid(
                "nothing to change: the service and location are the ones the request has", field="service_code"
            )
        transfer = body_code != self.body_code
        if transfer:
            old, new = body_names.get(self.body_code, "no owner"), body_names.get(body_code, "no owner")
            text = f"Transferred from {old} to {new}"
        else:
            what = " and ".join(k.replace("_code", "") for k in changes if k != "areas") or "areas"
            text = f"Changed {what}; owner unchanged"
        if note:
            text = f"{text}: {note}"
        event = Event(
            at=at,
            kind="transferred" if transfer else "changed",
            description=text,
            status_from=self.status,
            public=transfer,
            client_id=client_id,
            data={**changes, "rule": rule, **(data or {})},
        )
        if transfer:
            self.transfers += 1
        self.service_code, self.body_code, self.areas, self.expected_at = service_code, body_code, areas, expected_at
        if (lat, long) != (self.lat, self.long):
            self.lat, self.long = lat, long
            self.__post_init__()  # the same checks and rounding as a new request
        self.updated_at = max(at, self.updated_at or at)
        self.pending_events.append(event)
        return event

    def close_as_duplicate_of(self, parent: ServiceRequest, at: datetime, *, client_id: int | None = None) -> Event:
        """Merge this request into ``parent``: it closes as ``duplicate`` pointing at the parent."""
        if parent.id is None or self.id is None:
            raise ValueError("merge needs stored requests")
        if parent.id == self.id:
            raise Invalid("a request cannot be merged into itself", field="parent")
        if self.parent_id is not None:
            raise Conflict(f"request {self.id} was already merged into request {self.parent_id}")
        if parent.parent_id is not None:
            raise Invalid(
                f"request {parent.id} was itself merged into request {parent.parent_id}: merge into that one",
                field="parent",
            )
        if parent.service_code != self.service_code:
            raise Invalid(
                f"request {self.id} is {self.service_code!r} and request {parent.id} is {parent.service_code!r}: "
                "change the service first (requests of different services are different problems)",
                field="parent",
            )
        if self.status == Status.CLOSED:
            raise IllegalTransition(f"request {self.id} is already closed ({self.close_reason})", field="status")
        event = self.transition(
            Status.CLOSED,
            at,
            reason=CloseReason.DUPLICATE,
            note=f"Duplicate of request {parent.id}; follow that request for updates.",
            client_id=client_id,
        )
        self.parent_id = parent.id
        return event

    def absorb(
        self, child: ServiceRequest, notes: list[Event], at: datetime, *, followers: int, client_id: int | None = None
    ) -> Event:
        """The parent's side of a merge: the child's report and its notes are carried onto this timeline (with
        their media and visibility) and a staff ``merged`` entry counts what came across."""
        assert child.id is not None
        if child.description or child.media_url:
            self.add_note(
                at,
                f"Also reported as request {child.id}" + (f": {child.description}" if child.description else ""),
                media_url=child.media_url,
                client_id=client_id,
                public=False,
            )
        for note in notes:
            carried = Event(
                at=at,
                kind="note",
                description=f"From request {child.id}: {note.description}" if note.description else "",
                status_from=self.status,
                public=note.public,
                client_id=client_id,
                media_url=note.media_url,
                data={"merged_from": child.id, "event": note.id, "at": note.at.isoformat()},
            )
            self.pending_events.append(carried)
        event = Event(
            at=at,
            kind="merged",
            description=(
                f"Request {child.id} merged into this one ({followers} follower(s), {len(notes)} note(s) carried)"
            ),
            status_from=self.status,
            public=False,
            client_id=client_id,
            data={"child": child.id, "followers": followers, "notes": len(notes)},
        )
        self.updated_at = max(at, self.updated_at or at)
        self.pending_events.append(event)
        return event
