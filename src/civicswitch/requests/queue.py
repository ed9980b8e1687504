"""The staff queue: the requests a signed-in staff member may work, filtered, sorted and paged, with counts.

Who sees what is the policy's ``request.view`` row: the reach of the principal's role (any request, its bodies'
requests, those assigned to its organisation, those in its areas) becomes a :class:`QueueScope`, which every store
applies in the query itself, so a page never holds a request the principal may not see. The store port
(:class:`QueueStore`) has an SQL implementation (``queue_sql.py``) and an in-memory one (``queue_memory.py``); a
contract test runs against both.

Besides status, service, area, owner and text, the queue filters by SLA state (due soon, overdue: open requests
not on hold, judged at the filter's ``now`` with the instance's ``sla_due_soon_hours``), by assignee (a staff
account, or nobody) and by bounced (transferred to another body at least once). Each row's SLA state for the
page is :func:`row_sla`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from civicswitch.core.errors import Forbidden, Invalid
from civicswitch.people.policy import Action, Principal, Reach, reach_of
from civicswitch.people.users import parse_area
from civicswitch.requests.access import authorize_on
from civicswitch.requests.model import OPEN_STATUSES, Event, ServiceRequest, Status
from civicswitch.requests.sla import DEFAULT_DUE_SOON, SlaState, sla_state
from civicswitch.requests.staff import load_request

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

PAGE_SIZE = 50
COUNT_CAP = 10_000  # counts per status stop here: the page says "10,000+" (a count of 300,000 costs a scan)
# A text search's counts per status stop sooner: the page says "1,000+". Each counted match is a row read (a word's
# index counts nothing without the rows on PostgreSQL), and a clerk narrows a search of thousands, not pages it.
SEARCH_COUNT_CAP = 1_000
MAX_TEXT = 200


class Sort(StrEnum):
    OLDEST = "oldest"  # filed first (the default: the longest waiting on top)
    NEWEST = "newest"
    UPDATED = "updated"  # most recently changed first
    DUE = "due"  # the earliest due date first; no due date last


class SlaFilter(StrEnum):
    """The SLA states the queue filters by (open requests not on hold, with a due date)."""

    DUE_SOON = "due_soon"  # due within the instance's sla_due_soon_hours
    OVERDUE = "overdue"  # past the due date


class QueueSla(StrEnum):
    """A row's SLA state as the queue shows it."""

    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    ON_HOLD = "on_hold"  # the clock stands still; the due date moves on when it leaves hold
    NO_TARGET = "no_target"  # its service has no SLA target
    MET = "met"  # closed by its due date
    MISSED = "missed"  # closed after it


@dataclass(frozen=True, slots=True)
class QueueScope:
    """The part of all requests a principal may see. ``everything`` or any of the others (they add up)."""

    everything: bool = False
    bodies: frozenset[str] = frozenset()  # owned by one of these
    org: str | None = None  # assigned to this partner organisation
    areas: frozenset[tuple[str, str]] = frozenset()  # (layer, key): routed into one of these areas

    @property
    def empty(self) -> bool:
        return not (self.everything or self.bodies or self.org or self.areas)


def queue_scope(who: Principal) -> QueueScope:
    """The policy's reach for ``request.view`` as a filter; :class:`Forbidden` for a role that sees no queue."""
    reach = reach_of(who, Action.REQUEST_VIEW)
    if reach is None:
        raise Forbidden(f"{who.role} may not {Action.REQUEST_VIEW} ({who.name})")
    match reach:
        case Reach.ANY:
            return QueueScope(everything=True)
        case Reach.OWN_BODY | Reach.OWN_BODY_OR_FORMER:
            return QueueScope(bodies=who.bodies)
        case Reach.ASSIGNED_ORG:
            return QueueScope(org=who.org)
        case Reach.OWN_AREA:
            return QueueScope(areas=who.areas)
    raise Forbidden(f"{who.role} has no queue for {reach}")  # FILED_BY_SELF: not a reach of request.view


@dataclass(frozen=True, slots=True)
class QueueFilter:
    statuses: tuple[Status, ...] = OPEN_STATUSES  # the default queue: everything still open
    service_code: str | None = None
    area: tuple[str, str] | None = None  # (layer, key)
    body_code: str | None = None  # narrows within the scope (an admin looking at one department)
    text: str | None = None  # in the description or address, or the request's number
    sort: Sort = Sort.OLDEST
    page: int = 1
    page_size: int = PAGE_SIZE
    sla: SlaFilter | None = None  # due soon or overdue, judged at ``now``
    now: datetime | None = None  # required with ``sla``
    due_soon: timedelta = DEFAULT_DUE_SOON  # the instance's sla_due_soon_hours
    assignee: int | None = None  # assigned to this staff account
    unassigned: bool = False  # assigned to nobody
    bounced: bool = False  # transferred to another body at least once
    filed_by: int | None = None  # filed on a resident's behalf by this staff account (a liaison's "Filed by me")

    def __post_init__(self) -> None:
        if self.sla is not None and self.now is None:
            raise ValueError("an SLA filter needs the time to judge it at (now)")
        if self.assignee is not None and self.unassigned:
            raise Invalid("choose one assignee: a person or nobody", field="assignee")
        if self.page < 1:
            raise Invalid("page must be 1 or more", field="page")
        if not 1 <= self.page_size <= 200:
            raise Invalid("page_size must be between 1 and 200", field="page_size")
        if self.text is not None and len(self.text) > MAX_TEXT:
            raise Invalid(f"the search text is longer than {MAX_TEXT} characters", field="q")
        if not self.statuses:
            raise Invalid("choose at least one status", field="status")

    @property
    def count_cap(self) -> int:
        """Where each count per status stops (one more than this means "more"): :data:`SEARCH_COUNT_CAP` for a text
        search, else :data:`COUNT_CAP`."""
        return SEARCH_COUNT_CAP if (self.text or "").strip() else COUNT_CAP


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: int
    service_code: str
    service_name: str
    status: Status
    body_code: str | None
    address: str | None
    description: str  # the first 160 characters
    requested_at: datetime
    updated_at: datetime
    expected_at: datetime | None
    assigned_org: str | None
    assignee_user_id: int | None = None
    transfers: int = 0
    closed_at: datetime | None = None


def row_sla(row: QueueRow, now: datetime, due_soon: timedelta = DEFAULT_DUE_SOON) -> QueueSla:
    """Where a queue row stands against its due date at ``now`` (as :func:`~civicswitch.requests.sla.sla_state`,
    with on hold and no target as states of their own)."""
    if row.status == Status.ON_HOLD:
        return QueueSla.ON_HOLD
    state = sla_state(row, now, due_soon=due_soon, closed_at=row.closed_at)
    if state is None:
        return QueueSla.NO_TARGET
    return {
        SlaState.ON_TIME: QueueSla.ON_TIME,
        SlaState.DUE_SOON: QueueSla.DUE_SOON,
        SlaState.OVERDUE: QueueSla.OVERDUE,
        SlaState.MET: QueueSla.MET,
        SlaState.MISSED: QueueSla.MISSED,
    }[state]


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[QueueRow]
    total: int  # matching the filter (all pages), each status counted up to ``cap``
    counts: dict[Status, int] = field(default_factory=dict)  # per status, the filter's other criteria applied
    page: int = 1
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    more: bool = False  # some status's count stopped at ``cap``: the total is "at least"
    cap: int = COUNT_CAP  # where each count stopped (the query's count_cap): a count above it is "cap+"

    def count_text(self, n: int) -> str:
        """A count as the page shows it: "1,000+" past the cap."""
        return f"{self.cap:,}+" if n > self.cap else f"{n:,}"


def total_of(counts: dict[Status, int], statuses: tuple[Status, ...], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """The requests of ``statuses`` given counts per status stopped at ``cap`` + 1, and whether that is only "at
    least"."""
    chosen = [n for status, n in counts.items() if status in statuses]
    return sum(min(n, cap) for n in chosen), any(n > cap for n in chosen)


class QueueStore(Protocol):
    def queue(self, scope: QueueScope, query: QueueFilter) -> QueuePage:
        """Rows of ``scope`` matching ``query``, sorted (ties by id) and paged, with the total and status counts."""
        ...


def snippet(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def staff_queue(uow: UnitOfWork, who: Principal, query: QueueFilter) -> QueuePage:
    """The queue ``who`` may see (the policy's ``request.view``), read in one transaction."""
    scope = queue_scope(who)
    if scope.empty:
        return QueuePage([], 0, {}, query.page, query.page_size)
    with uow:
        return uow.queue.queue(scope, query)


@dataclass(frozen=True, slots=True)
class StaffRequestView:
    """One request as staff see it: the request, names for its codes, and the whole timeline (public and
    staff-only entries). Never the contact data: that is its own audited read (``read_contact``)."""

    request: ServiceRequest
    service_name: str
    body_name: str | None
    timeline: list[Event]


def staff_request(uow: UnitOfWork, who: Principal, public_id: str) -> StaffRequestView:
    """The staff view of one request, if the policy's ``request.view`` lets ``who`` see it (else 403; an unknown
    number is 404 for everyone)."""
    with uow:
        request = load_request(uow, public_id)
        request_id = request.id
        assert request_id is not None
        authorize_on(uow, who, Action.REQUEST_VIEW, request)
        service = uow.catalog.service(request.service_code)
        body = uow.catalog.body(request.body_code) if request.body_code else None
        timeline = uow.requests.events([request_id], public_only=False).get(request_id, [])
    return StaffRequestView(
        request=request,
        service_name=service.name if service else request.service_code,
        body_name=body.name if body else None,
        timeline=list(timeline),
    )


def queue_filter(
    statuses: Sequence[str] | None = None,
    service_code: str | None = None,
    area: str | None = None,
    body: str | None = None,
    text: str | None = None,
    sort: Sort | str = Sort.OLDEST,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    *,
    sla: str | None = None,
    assignee: str | None = None,
    bounced: bool = False,
    filed_by_me: bool = False,
    me: int | None = None,
    now: datetime | None = None,
    due_soon: timedelta = DEFAULT_DUE_SOON,
) -> QueueFilter:
    """A :class:`QueueFilter` from what a form or a query string gives (blank values mean "any"). ``assignee`` is
    ``me`` (the account ``me``), ``none`` (nobody) or a staff account's number; ``sla`` is judged at ``now``."""
    chosen: list[Status] = []
    for value in statuses or ():
        if not value.strip():
            continue
        try:
            chosen.append(Status(value.strip()))
        except ValueError:
            raise Invalid(f"unknown status {value!r}; one of {', '.join(Status)}", field="status") from None
    where = parse_area(area) if area and area.strip() else None
    try:
        order = Sort(sort)
    except ValueError:
        raise Invalid(f"unknown sort {sort!r}; one of {', '.join(Sort)}", field="sort") from None
    state: SlaFilter | None = None
    if sla and sla.strip():
        try:
            state = SlaFilter(sla.strip())
        except ValueError:
            raise Invalid(f"unknown SLA state {sla!r}; one of {', '.join(SlaFilter)}", field="sla") from None
    person: int | None = None
    who = (assignee or "").strip()
    if who == "me":
        if me is None:
            raise Invalid("only a signed-in staff account has requests assigned to it", field="assignee")
        person = me
    elif who.isascii() and who.isdigit() and len(who) <= 18:
        person = int(who)
    elif who not in ("", "none"):
        raise Invalid(f"unknown assignee {assignee!r}: me, none or a staff account's number", field="assignee")
    if filed_by_me and me is None:
        raise Invalid("only a signed-in staff account files requests on residents' behalf", field="filed")
    return QueueFilter(
        filed_by=me if filed_by_me else None,
        sla=state,
        now=now if state is not None else None,
        due_soon=due_soon,
        assignee=person,
        unassigned=who == "none",
        bounced=bounced,
        statuses=tuple(dict.fromkeys(chosen)) or OPEN_STATUSES,
        service_code=(service_code or "").strip() or None,
        area=where,
        body_code=(body or "").strip() or None,
        text=(text or "").strip() or None,
        sort=order,
        page=page,
        page_size=page_size,
    )
