"""Due dates and SLA states (requests/sla.py): worked examples, then properties over many seeded random cases
(hypothesis is not a test dependency; a fixed seed keeps every run the same)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from civicswitch.catalog.calendars import Calendar, Holiday, SlaTarget, SlaUnit
from civicswitch.requests.model import Event, Status
from civicswitch.requests.sla import (
    DEFAULT_CALENDAR,
    DEFAULT_DUE_SOON,
    Pause,
    SlaState,
    due_at,
    due_soon,
    hold_pauses,
    sla_state,
)
from civicswitch.requests.views import RequestView
from civicswitch.settings import SettingError, Settings, check_stored

NY = ZoneInfo("America/New_York")
LABOR_DAY = Holiday(date(2026, 9, 7), "Labor Day")  # a Monday
OFFICE = Calendar(code="office", timezone="America/New_York", holidays=(LABOR_DAY,))  # Mon-Fri 08:00-17:00
ROUND_THE_CLOCK = Calendar(code="crews", timezone="America/New_York", hours=None, holidays=(LABOR_DAY,))


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


def days(n: float, unit: SlaUnit = SlaUnit.BUSINESS_DAYS) -> SlaTarget:
    return SlaTarget(n, unit)


# -- worked examples ------------------------------------------------------------------------------------------
def test_due_at__friday_afternoon_with_monday_holiday__thursday_same_time() -> None:
    # Friday 15:00: Friday's last 2 working hours, Tuesday 9, Wednesday 9, then 7 on Thursday: 15:00.
    assert due_at(ny(2026, 9, 4, 15), days(3), OFFICE) == ny(2026, 9, 10, 15)


def test_due_at__friday_afternoon_without_the_holiday__wednesday() -> None:
    plain = Calendar(code="plain", timezone="America/New_York")
    assert due_at(ny(2026, 9, 4, 15), days(3), plain) == ny(2026, 9, 9, 15)


def test_due_at__filed_on_saturday__counts_from_the_next_working_morning() -> None:
    # Saturday: nothing counts until Tuesday 08:00 (Monday is Labor Day); one day is Tuesday's whole day.
    assert due_at(ny(2026, 9, 5, 11), days(1), OFFICE) == ny(2026, 9, 8, 17)


def test_due_at__last_working_minute__due_at_closing_not_next_morning() -> None:
    assert due_at(ny(2026, 9, 8, 8), days(1), OFFICE) == ny(2026, 9, 8, 17)


def test_due_at__half_a_business_day__half_the_working_hours() -> None:
    assert due_at(ny(2026, 9, 8, 8), days(0.5), OFFICE) == ny(2026, 9, 8, 12, 30)


def test_due_at__calendar_days_over_the_spring_dst_change__same_local_time_71_hours() -> None:
    # 2026-03-08: clocks go from 02:00 EST to 03:00 EDT in New York.
    start = ny(2026, 3, 6, 15)
    due = due_at(start, days(3, SlaUnit.CALENDAR_DAYS), ROUND_THE_CLOCK)
    assert due == ny(2026, 3, 9, 15)
    assert due - start == timedelta(hours=71)
    assert due.utcoffset() == timedelta(0)  # answered in UTC


def test_due_at__calendar_days_over_the_autumn_dst_change__73_hours() -> None:
    start = ny(2026, 10, 30, 15)  # 2026-11-01: back to EST
    due = due_at(start, days(3, SlaUnit.CALENDAR_DAYS), ROUND_THE_CLOCK)
    assert due == ny(2026, 11, 2, 15)
    assert due - start == timedelta(hours=73)


def test_due_at__hours_over_the_dst_change__wall_clock_hours() -> None:
    start = ny(2026, 3, 7, 12)
    assert due_at(start, SlaTarget(24), ROUND_THE_CLOCK) - start == timedelta(hours=24)


def test_due_at__business_days_in_working_hours_over_the_dst_change__local_opening_hours() -> None:
    # Friday 16:00 EST, 2 business days: Friday 1 h, Monday 9 h (EDT), Tuesday 8 h: Tuesday 16:00 EDT.
    assert due_at(ny(2026, 3, 6, 16), days(2), OFFICE) == ny(2026, 3, 10, 16)


def test_due_at__hold_over_a_weekend__only_the_working_hours_on_hold_count() -> None:
    # Filed Thursday 08:00 for 2 business days (due Friday 17:00); on hold Friday 12:00 to Monday 10:00 (Labor
    # Day): Friday's last 5 working hours are lost, so it is due 5 working hours into Tuesday.
    hold = Pause(ny(2026, 9, 4, 12), ny(2026, 9, 7, 10))
    assert due_at(ny(2026, 9, 3, 8), days(2), OFFICE) == ny(2026, 9, 4, 17)
    assert due_at(ny(2026, 9, 3, 8), days(2), OFFICE, [hold]) == ny(2026, 9, 8, 13)


def test_due_at__hold_over_a_weekend_in_hours__the_whole_hold_counts() -> None:
    hold = Pause(ny(2026, 9, 4, 12), ny(2026, 9, 7, 10))  # 70 hours
    start = ny(2026, 9, 3, 8)
    assert due_at(start, SlaTarget(48), None, [hold]) == start + timedelta(hours=48 + 70)


def test_due_at__hold_after_the_due_date__changes_nothing() -> None:
    start = ny(2026, 9, 8, 8)
    late = Pause(ny(2026, 9, 20, 8), ny(2026, 9, 25, 8))
    assert due_at(start, days(1), OFFICE, [late]) == due_at(start, days(1), OFFICE)


def test_due_at__no_calendar__monday_to_friday_office_hours_in_the_default_zone() -> None:
    # Friday 2026-09-04 16:00 UTC, 1 business day of 9 hours: 1 on Friday, 8 on Monday: Monday 16:00 UTC.
    start = datetime(2026, 9, 4, 16, tzinfo=UTC)
    assert due_at(start, days(1)) == datetime(2026, 9, 7, 16, tzinfo=UTC)
    assert DEFAULT_CALENDAR.hours == (time(8), time(17))


def test_due_at__calendar_without_zone__counts_in_the_default_timezone() -> None:
    local = Calendar(code="local")
    assert due_at(ny(2026, 9, 8, 8), days(1), local, default_timezone="America/New_York") == ny(2026, 9, 8, 17)


def test_due_at__zero_target__due_at_once_even_out_of_hours() -> None:
    saturday = ny(2026, 9, 5, 11)
    assert due_at(saturday, days(0), OFFICE) == saturday
    assert due_at(saturday, SlaTarget(0), None) == saturday


def test_due_soon__setting__hours_as_a_duration() -> None:
    assert due_soon(Settings(sla_due_soon_hours=36)) == timedelta(hours=36)
    assert due_soon(Settings()) == DEFAULT_DUE_SOON == timedelta(hours=24)


def test_due_soon__negative_setting__refused() -> None:
    with pytest.raises(SettingError, match="sla_due_soon_hours"):
        check_stored({"sla_due_soon_hours": -1})


def test_due_at__naive_start__refused() -> None:
    with pytest.raises(ValueError):
        due_at(datetime(2026, 9, 8, 8), days(1), OFFICE)


# -- hold_pauses ------------------------------------------------------------------------------------------
def _moved(at: datetime, frm: Status, to: Status) -> Event:
    return Event(at=at, kind="status_changed", status_from=frm, status_to=to)


def test_hold_pauses__holds_in_the_timeline__one_pause_each_and_the_open_one_ends_now() -> None:
    t = ny(2026, 9, 1, 9)
    timeline = [
        Event(at=t, kind="submitted", status_to=Status.NEW),
        _moved(t + timedelta(hours=1), Status.NEW, Status.ACKNOWLEDGED),
        _moved(t + timedelta(hours=2), Status.ACKNOWLEDGED, Status.ON_HOLD),
        Event(at=t + timedelta(hours=3), kind="note", status_from=Status.ON_HOLD),
        _moved(t + timedelta(hours=4), Status.ON_HOLD, Status.IN_PROGRESS),
        _moved(t + timedelta(hours=5), Status.IN_PROGRESS, Status.ON_HOLD),
    ]
    now = t + timedelta(hours=8)
    assert hold_pauses(timeline, now) == [
        Pause(t + timedelta(hours=2), t + timedelta(hours=4)),
        Pause(t + timedelta(hours=5), now),
    ]


# -- sla_state -------------------------------------------------------------------------------------------
def _view(status: str, expected: datetime | None, updated: datetime) -> RequestView:
    return RequestView(
        1, "pothole", "Pothole", status, None, None, "", None, updated, updated, expected, "1 Main St", None, None,
        None, None, None, None, "open311", {}, None, None,
    )  # fmt: skip


DUE = datetime(2026, 9, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "now", "state"),
    [
        ("new", DUE - timedelta(days=3), SlaState.ON_TIME),
        ("in_progress", DUE - timedelta(hours=24), SlaState.DUE_SOON),
        ("acknowledged", DUE, SlaState.DUE_SOON),
        ("in_progress", DUE + timedelta(seconds=1), SlaState.OVERDUE),
    ],
)
def test_sla_state__open_request__by_time_left(status: str, now: datetime, state: SlaState) -> None:
    assert sla_state(_view(status, DUE, DUE - timedelta(days=5)), now) == state


def test_sla_state__due_soon_threshold__is_the_callers_setting() -> None:
    view = _view("new", DUE, DUE - timedelta(days=5))
    assert sla_state(view, DUE - timedelta(hours=30), due_soon=timedelta(hours=48)) == SlaState.DUE_SOON
    assert sla_state(view, DUE - timedelta(hours=30), due_soon=timedelta(hours=24)) == SlaState.ON_TIME


def test_sla_state__closed__met_or_missed_by_closing_time() -> None:
    assert sla_state(_view("closed", DUE, DUE), DUE + timedelta(days=9)) == SlaState.MET
    assert sla_state(_view("closed", DUE, DUE + timedelta(minutes=1)), DUE) == SlaState.MISSED
    late_note = _view("closed", DUE, DUE + timedelta(days=2))
    assert sla_state(late_note, DUE + timedelta(days=3), closed_at=DUE - timedelta(hours=1)) == SlaState.MET


def test_sla_state__on_hold__judged_when_the_hold_began() -> None:
    view = _view("on_hold", DUE, DUE - timedelta(days=5))
    assert sla_state(view, DUE + timedelta(days=2), on_hold_since=DUE - timedelta(days=2)) == SlaState.ON_TIME
    assert sla_state(view, DUE + timedelta(days=2)) == SlaState.OVERDUE  # hold start unknown: judged now


def test_sla_state__no_target__none() -> None:
    assert sla_state(_view("new", None, DUE), DUE) is None


# -- properties over seeded random cases -------------------------------------------------------------------
ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Sydney", "America/Santiago"]


def _random_calendar(rng: random.Random) -> Calendar:
    workdays = frozenset(rng.sample(range(7), rng.randint(1, 7)))
    hours = None if rng.random() < 0.3 else (time(rng.randint(0, 11), rng.choice((0, 30))), time(rng.randint(12, 23)))
    start = date(2026, 1, 1)
    holidays = {start + timedelta(days=rng.randint(0, 500)) for _ in range(rng.randint(0, 20))}
    return Calendar(
        code="c", timezone=rng.choice(ZONES), workdays=workdays, hours=hours,
        holidays=tuple(Holiday(d, "h") for d in holidays),
    )  # fmt: skip


def _random_start(rng: random.Random) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 365 * 24 * 60))


def _random_pauses(rng: random.Random, start: datetime) -> list[Pause]:
    pauses = []
    for _ in range(rng.randint(0, 4)):
        s = start + timedelta(minutes=rng.randint(-600, 30 * 24 * 60))
        pauses.append(Pause(s, s + timedelta(minutes=rng.randint(0, 5 * 24 * 60))))
    return pauses


CASES = 300


@pytest.mark.parametrize("unit", list(SlaUnit))
def test_due_at__any_case__never_before_the_start_and_monotonic_in_the_amount(unit: SlaUnit) -> None:
    rng = random.Random(f"monotonic-{unit}")
    for _ in range(CASES):
        calendar = None if unit is SlaUnit.HOURS else _random_calendar(rng)
        start = _random_start(rng)
        pauses = _random_pauses(rng, start)
        a, b = sorted(rng.uniform(0, 30) for _ in range(2))
        first = due_at(start, SlaTarget(a, unit), calendar, pauses)
        second = due_at(start, SlaTarget(b, unit), calendar, pauses)
        assert start <= first <= second, (calendar, start, pauses, a, b)


@pytest.mark.parametrize("unit", list(SlaUnit))
def test_due_at__any_case__a_pause_never_brings_it_forward(unit: SlaUnit) -> None:
    rng = random.Random(f"pause-{unit}")
    for _ in range(CASES):
        calendar = None if unit is SlaUnit.HOURS else _random_calendar(rng)
        start, target = _random_start(rng), SlaTarget(rng.uniform(0, 20), unit)
        pauses = _random_pauses(rng, start)
        assert due_at(start, target, calendar, pauses) >= due_at(start, target, calendar), (calendar, start, pauses)


def test_due_at__business_days__due_in_working_time_of_a_working_day() -> None:
    rng = random.Random("working-time")
    for _ in range(CASES):
        calendar = _random_calendar(rng)
        start = _random_start(rng)
        due = due_at(start, SlaTarget(rng.uniform(0.01, 20), SlaUnit.BUSINESS_DAYS), calendar)
        local = due.astimezone(calendar.zone("UTC"))
        # At closing time the due moment may be exactly the end of a working window (00:00 next day for 24h).
        day = local.date() if calendar.hours is not None or local.time() != time(0) else local.date() - timedelta(1)
        assert calendar.is_working_day(day), (calendar, start, local)
        if calendar.hours is not None:
            opens, closes = calendar.hours
            assert opens <= local.time().replace(tzinfo=None) <= closes or local.fold, (calendar, start, local)


def test_due_at__business_days__splitting_the_target_adds_up() -> None:
    # Spending a then b business days is spending a + b (when no pause and no DST jump sits in the way).
    rng = random.Random("additive")
    for _ in range(CASES):
        calendar = Calendar(
            code="c", timezone="UTC", workdays=frozenset(rng.sample(range(7), rng.randint(1, 7))),
            hours=rng.choice([None, (time(8), time(17)), (time(6, 30), time(22))]),
        )  # fmt: skip
        start = _random_start(rng)
        a, b = rng.randint(0, 10) / 4, rng.randint(0, 10) / 4
        middle = due_at(start, SlaTarget(a, SlaUnit.BUSINESS_DAYS), calendar)
        whole = due_at(start, SlaTarget(a + b, SlaUnit.BUSINESS_DAYS), calendar)
        assert due_at(middle, SlaTarget(b, SlaUnit.BUSINESS_DAYS), calendar) == whole, (calendar, start, a, b)


def test_due_at__calendar_days_without_pauses__same_local_clock_time() -> None:
    rng = random.Random("calendar-days")
    for _ in range(CASES):
        zone = ZoneInfo(rng.choice(ZONES))
        start = _random_start(rng)
        n = rng.randint(1, 60)
        due = due_at(start, SlaTarget(n, SlaUnit.CALENDAR_DAYS), Calendar(code="c", timezone=zone.key))
        local_start, local_due = start.astimezone(zone), due.astimezone(zone)
        assert local_due.date() == local_start.date() + timedelta(days=n)
        # The same wall-clock time, unless the start's time does not exist on the due date (a DST gap).
        if local_due.replace(tzinfo=None).time() != local_start.replace(tzinfo=None).time():
            assert abs(local_due.utcoffset() - local_start.utcoffset()) > timedelta(0)  # type: ignore[operator]


def test_due_at__business_days__a_pause_wholly_out_of_working_time_changes_nothing() -> None:
    rng = random.Random("out-of-hours-pause")
    for _ in range(CASES):
        calendar = _random_calendar(rng)
        if calendar.hours is None:
            continue
        start = _random_start(rng)
        target = SlaTarget(rng.uniform(0.1, 10), SlaUnit.BUSINESS_DAYS)
        # A pause from one closing time to the next opening time of the same calendar (a night off).
        zone = calendar.zone("UTC")
        day = start.astimezone(zone).date() + timedelta(days=rng.randint(0, 10))
        night = Pause(
            datetime.combine(day, calendar.hours[1], zone),
            datetime.combine(day + timedelta(1), calendar.hours[0], zone),
        )
        assert due_at(start, target, calendar, [night]) == due_at(start, target, calendar), (calendar, start, night)
