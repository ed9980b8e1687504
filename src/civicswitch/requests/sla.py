"""Due dates and SLA states: pure functions of a start, a service's target, a calendar, the time spent on hold and
the time asked about. No clock is read here: callers pass ``now``.

- **hours**: wall-clock hours (an hour is an hour, day or night, whatever the calendar).
- **calendar days**: days on the calendar's local clock (3 days from Friday 15:00 is Monday 15:00 local time, also
  over a change to or from daylight saving time, when that is 71 or 73 real hours).
- **business days**: working time on the calendar's working days (its weekdays minus its holidays, local time):
  one business day is one day's working hours (08:00-17:00 makes 9 hours), so 3 business days from Friday 15:00
  on such a calendar with Monday a holiday are Friday's last 2 hours, Tuesday's and Wednesday's 9 and 7 more on
  Thursday: Thursday 15:00. A request filed after hours starts counting when work next starts.

Time on hold (``pauses``) does not count: a due date moves on by the working time (business days) or the
local time (calendar days) or the wall-clock time (hours) that the request spent on hold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from civicswitch.catalog.calendars import Calendar, SlaTarget, SlaUnit
from civicswitch.core.errors import Invalid
from civicswitch.requests.model import Event, ServiceRequest, Status
from civicswitch.settings import Settings, effective_settings

if TYPE_CHECKING:
    from civicswitch.catalog.model import Service
    from civicswitch.storage.ports import UnitOfWork

# A service whose business-day target names no calendar: Monday to Friday, 08:00-17:00, no holidays.
DEFAULT_CALENDAR = Calendar(code="default", name="Monday to Friday, 08:00-17:00")
DEFAULT_DUE_SOON = timedelta(hours=24)
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Pause:
    """An interval the clock stood still (the request was on hold); both ends timezone-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a pause needs timezone-aware ends")


def _merged(pauses: Iterable[Pause], start: datetime) -> list[tuple[datetime, datetime]]:
    """The pauses after ``start``, clipped to it, sorted and merged where they overlap (empty ones dropped)."""
    found: list[tuple[datetime, datetime]] = []
    for p in sorted(pauses, key=lambda p: p.start):
        s, e = max(p.start, start), p.end
        if e <= s:
            continue
        if found and s <= found[-1][1]:
            found[-1] = (found[-1][0], max(found[-1][1], e))
        else:
            found.append((s, e))
    return found


def _shifted(due: datetime, pauses: list[tuple[datetime, datetime]]) -> datetime:
    """``due`` moved on by each pause that starts before it (pauses sorted, merged, none before the start)."""
    for s, e in pauses:
        if s >= due:
            break
        due += e - s
    return due


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as an instant (in a gap that a change to summer time skips, as the offset before
    it reads it; an hour that happens twice, its first time)."""
    return local.replace(tzinfo=zone).astimezone(UTC)


def due_at(
    start: datetime,
    target: SlaTarget,
    calendar: Calendar | None = None,
    pauses: Sequence[Pause] = (),
    *,
    default_timezone: str = "UTC",
) -> datetime:
    """When a request started at ``start`` is due under ``target`` (in UTC). ``calendar`` is the target's calendar
    (None: :data:`DEFAULT_CALENDAR`); a calendar without a time zone, and calendar days without a calendar, count in
    ``default_timezone`` (the instance's ``timezone`` setting)."""
    if start.tzinfo is None:
        raise ValueError("due_at needs a timezone-aware start")
    start = start.astimezone(UTC)
    held = _merged(pauses, start)
    if target.unit is SlaUnit.HOURS:
        return _shifted(start + timedelta(hours=target.amount), held)
    zone = calendar.zone(default_timezone) if calendar is not None else ZoneInfo(default_timezone)
    local_start = _local(start, zone)
    local_held = [(_local(s, zone), _local(e, zone)) for s, e in held]
    if target.unit is SlaUnit.CALENDAR_DAYS:
        return _utc(_shifted(local_start + timedelta(days=target.amount), local_held), zone)
    return _utc(_business(local_start, target.amount, calendar or DEFAULT_CALENDAR, local_held), zone)


def _business(start: datetime, days: float, calendar: Calendar, held: list[tuple[datetime, datetime]]) -> datetime:
    """Walk the working windows (local, naive) from ``start`` until ``days`` days of working time are spent."""
    opens, closes = calendar.hours or (time(0), None)
    day_length = (
        _DAY if closes is None else datetime.combine(start.date(), closes) - datetime.combine(start.date(), opens)
    )
    need = timedelta(seconds=days * day_length.total_seconds())
    if not need:
        return start  # a target of nothing is due at once, in or out of hours
    holidays = calendar.holiday_dates()
    day = start.date()
    # Past the last holiday and the last pause every week has a working day: the walk always ends.
    horizon = max([day, *holidays, *(e.date() for _, e in held)])
    limit = (horizon - day).days + 7 * (math.ceil(days) + 2)
    cursor = start
    i = 0  # the first pause that may still matter
    for _ in range(limit):
        if day.weekday() in calendar.workdays and day not in holidays:
            window_end = datetime.combine(day + _DAY, time(0)) if closes is None else datetime.combine(day, closes)
            at = max(cursor, datetime.combine(day, opens))
            while at < window_end:
                while i < len(held) and held[i][1] <= at:
                    i += 1
                if i < len(held) and held[i][0] <= at:
                    at = held[i][1]
                    continue
                stop = min(window_end, held[i][0]) if i < len(held) else window_end
                if stop - at >= need:
                    return at + need
                need -= stop - at
                at = stop
        day += _DAY
        cursor = max(cursor, datetime.combine(day, time(0)))
    raise Invalid(f"calendar {calendar.code!r}: no due date within {limit} days", field="sla")  # pragma: no cover


def hold_pauses(events: Iterable[Event], until: datetime) -> list[Pause]:
    """The intervals a request's timeline shows it on hold; one still going ends at ``until``."""
    pauses: list[Pause] = []
    since: datetime | None = None
    for e in sorted(events, key=lambda e: e.at):  # stable: entries of the same second keep the timeline's order
        if e.status_to is None:
            continue  # a note: no change of status
        if e.status_to == Status.ON_HOLD and since is None:
            since = e.at
        elif e.status_to != Status.ON_HOLD and since is not None:
            pauses.append(Pause(since, max(since, e.at)))
            since = None
    if since is not None:
        pauses.append(Pause(since, max(since, until)))
    return pauses


class SlaState(StrEnum):
    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    MET = "met"  # closed by its due date
    MISSED = "missed"  # closed after it


class _Due(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def expected_at(self) -> datetime | None: ...
    @property
    def updated_at(self) -> datetime | None: ...


def due_soon(settings: Settings) -> timedelta:
    """The instance's "due soon" threshold (the ``sla_due_soon_hours`` setting), for :func:`sla_state`."""
    return timedelta(hours=settings.sla_due_soon_hours)


def sla_state(
    request: _Due,
    now: datetime,
    *,
    due_soon: timedelta = DEFAULT_DUE_SOON,
    closed_at: datetime | None = None,
    on_hold_since: datetime | None = None,
) -> SlaState | None:
    """Where a request (a :class:`~civicswitch.requests.views.RequestView` or the aggregate) stands against its
    due date (``expected_at``); None when its service has no target.

    A closed request is ``met`` or ``missed`` by when it closed: ``closed_at``, else the request's own
    ``closed_at`` (the aggregate has it), else its ``updated_at`` (a view's last change, which is its closing
    unless a note came later). An open one is ``overdue`` past its due date, ``due_soon`` within ``due_soon`` of
    it, else ``on_time``. On hold, the clock stands still: with ``on_hold_since`` it is judged at that time."""
    due = request.expected_at
    if due is None:
        return None
    if request.status == Status.CLOSED:
        ended = closed_at or getattr(request, "closed_at", None) or request.updated_at or now
        return SlaState.MET if ended <= due else SlaState.MISSED
    at = min(now, on_hold_since) if request.status == Status.ON_HOLD and on_hold_since is not None else now
    if at > due:
        return SlaState.OVERDUE
    return SlaState.DUE_SOON if due - at <= due_soon else SlaState.ON_TIME


def service_due(uow: UnitOfWork, service: Service, start: datetime, pauses: Sequence[Pause] = ()) -> datetime | None:
    """The due date of a request of ``service`` started at ``start``, in ``uow``'s open transaction: its calendar
    read from the catalog, and the instance's time zone (stored setting or environment) only when the calendar
    leaves it open. None when the service has no target."""
    target = service.sla
    if target is None:
        return None
    if target.unit is SlaUnit.HOURS:
        return due_at(start, target, None, pauses)
    calendar = uow.catalog.calendar(target.calendar) if target.calendar is not None else None
    zone = "UTC"
    if calendar is None or calendar.timezone is None:
        zone = effective_settings(uow.settings.all()).timezone
    return due_at(start, target, calendar, pauses, default_timezone=zone)


def refresh_due(uow: UnitOfWork, request: ServiceRequest, now: datetime) -> None:
    """After a request leaves hold: its due date again, from its filing time, without the time it spent on hold
    (its stored timeline and the entries it gained in this unit of work)."""
    service = uow.catalog.service(request.service_code)
    if service is None or service.sla is None or request.id is None:
        return
    stored = uow.requests.events([request.id], public_only=False).get(request.id, [])
    pauses = hold_pauses([*stored, *request.pending_events], until=now)
    request.expected_at = service_due(uow, service, request.requested_at, pauses)


def left_hold(before: Status, request: ServiceRequest) -> bool:
    return before == Status.ON_HOLD and request.status != Status.ON_HOLD
