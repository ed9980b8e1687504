"""The escalation queue: open requests that the normal flow is failing. A request lands here when it was bounced
between bodies at least ``escalation_bounces`` times (its ``transfers`` count) or is overdue by more than
``escalation_overdue_hours`` (its due date, ``expected_at``); both are instance settings. Each one comes with its
bounces: when, from which body to which, who moved it and why (its ``transferred`` timeline entries).

A request on hold is not counted as overdue here: its clock stands still (requests/sla.py), so its due date moves
on when it leaves hold. It still lands here when it was bounced too often.

The store port (:class:`EscalationStore`) has an SQL implementation (``escalation_sql.py``, the ``transfers``
index and the open-status index) and an in-memory one (``escalation_memory.py``); a contract test runs against
memory, SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from civicswitch.core.clock import Clock
from civicswitch.core.errors import Invalid
from civicswitch.people.policy import Action, Principal, authorize
from civicswitch.requests.model import Event, Status

if TYPE_CHECKING:
    from civicswitch.settings import Settings
    from civicswitch.storage.ports import UnitOfWork

PAGE_SIZE = 50
TRANSFER_ACTIONS = ("request.transfer", "request.change")  # the audit log's names for moving a request


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """When a request is escalated: ``bounces`` transfers or more (0: never for that), or overdue by more than
    ``overdue`` (None: never for that)."""

    bounces: int = 2
    overdue: timedelta | None = timedelta(hours=48)

    def __post_init__(self) -> None:
        if self.bounces < 0:
            raise Invalid("escalation_bounces must be 0 or more", field="escalation_bounces")
        if self.overdue is not None and self.overdue < timedelta(0):
            raise Invalid("escalation_overdue_hours must be 0 or more", field="escalation_overdue_hours")

    @classmethod
    def from_settings(cls, settings: Settings) -> EscalationRule:
        return cls(settings.escalation_bounces, timedelta(hours=settings.escalation_overdue_hours))


@dataclass(frozen=True, slots=True)
class EscalationRow:
    """An escalated request as the store returns it."""

    id: int
    service_code: str
    service_name: str
    status: Status
    body_code: str | None
    address: str | None
    description: str  # the first 160 characters
    requested_at: datetime
    expected_at: datetime | None
    transfers: int


@dataclass(frozen=True, slots=True)
class EscalationRows:
    rows: list[EscalationRow]  # the page
    total: int  # how many are escalated in all (the overdue ones counted up to COUNT_LIMIT)
    more: bool = False  # there are more than ``total``: the overdue ones reached COUNT_LIMIT


# The overdue requests are counted up to this many: counting them all reads every open request (there is no index
# on the due date), while counting this many stops early when they are many.
COUNT_LIMIT = 10_000


class EscalationStore(Protocol):
    def escalations(
        self, *, min_transfers: int | None, overdue_before: datetime | None, limit: int, offset: int
    ) -> EscalationRows:
        """Open (not closed) requests with ``transfers >= min_transfers``, the most bounced first (then the oldest
        filed, then by id); after them the others not on hold with ``expected_at`` before ``overdue_before``, the
        oldest filed first (then by id). None turns a criterion off. A page of them and how many there are (the
        overdue ones counted up to :data:`COUNT_LIMIT`). SQL: the bounced ones are a range of the ``transfers``
        index, the overdue ones a walk of the open requests in filing order that stops when the page is full."""
        ...


@dataclass(frozen=True, slots=True)
class Bounce:
    """One move to another body: when, from and to, who moved it and why."""

    at: datetime
    from_body: str | None
    to_body: str | None
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class Escalation:
    row: EscalationRow
    bounced: bool  # transferred at least the rule's number of times
    overdue_by: timedelta | None  # past its due date by more than the rule allows (None: not that)
    bounces: list[Bounce] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EscalationPage:
    items: list[Escalation]
    total: int
    rule: EscalationRule
    page: int = 1
    page_size: int = PAGE_SIZE
    more: bool = False  # more than ``total`` are escalated (see COUNT_LIMIT)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _bounces(uow: UnitOfWork, request_id: int, timeline: list[Event]) -> list[Bounce]:
    """The ``transferred`` entries of a timeline, each with who made it: the staff account or API client the
    entry names, else the audit log's entry for that move (same request, same moment)."""
    moves = [e for e in timeline if e.kind == "transferred"]
    if not moves:
        return []
    logged: dict[datetime, str] | None = None
    out = []
    for e in moves:
        by = ""
        user_id = e.data.get("user_id")
        if isinstance(user_id, int):
            user = uow.users.get(user_id)
            by = (user.name or user.email) if user is not None else f"staff account {user_id}"
        elif e.client_id is not None:
            client = uow.clients.get(e.client_id)
            by = client.name if client is not None else f"API client {e.client_id}"
        else:
            if logged is None:
                entries = uow.audit.entries(object_type="request", object_id=str(request_id))
                logged = {a.at: a.principal for a in entries if a.action in TRANSFER_ACTIONS}
            by = logged.get(e.at, "")
        body = e.data.get("body")
        old, new = (body[0], body[1]) if isinstance(body, list) and len(body) == 2 else (None, None)
        reason = e.data.get("reason") or e.description.partition(": ")[2]
        out.append(Bounce(e.at, old, new, by or "not recorded", str(reason or "")))
    return out


def escalation_queue(
    uow: UnitOfWork, clock: Clock, who: Principal, rule: EscalationRule, *, page: int = 1, page_size: int = PAGE_SIZE
) -> EscalationPage:
    """The escalation queue ``who`` may see (the policy's ``escalation.view``): one page, read in one transaction."""
    authorize(who, Action.ESCALATION_VIEW)
    if page < 1:
        raise Invalid("page must be 1 or more", field="page")
    if not 1 <= page_size <= 200:
        raise Invalid("page_size must be between 1 and 200", field="page_size")
    now = clock.now()
    overdue_before = now - rule.overdue if rule.overdue is not None else None
    with uow:
        found = uow.escalations.escalations(
            min_transfers=rule.bounces or None,
            overdue_before=overdue_before,
            limit=page_size,
            offset=(page - 1) * page_size,
        )
        rows = found.rows
        timelines = uow.requests.events([r.id for r in rows], public_only=False) if rows else {}
        items = []
        for r in rows:
            late = (
                now - r.expected_at
                if overdue_before is not None
                and r.expected_at is not None
                and r.expected_at < overdue_before
                and r.status != Status.ON_HOLD
                else None
            )
            items.append(
                Escalation(
                    row=r,
                    bounced=bool(rule.bounces) and r.transfers >= rule.bounces,
                    overdue_by=late,
                    bounces=_bounces(uow, r.id, list(timelines.get(r.id, []))),
                )
            )
    return EscalationPage(items, found.total, rule, page, page_size, found.more)
