"""SLA calendars and targets as catalog data: when a department works (days of the week, hours, holidays, time
zone), and how long a service's target gives it (hours, calendar days or business days on a calendar). The
arithmetic that turns them into due dates is in :mod:`civicswitch.requests.sla`."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from civicswitch.core.errors import Invalid, check_text

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})")
_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class SlaUnit(StrEnum):
    HOURS = "hours"  # wall-clock hours, whatever the day
    CALENDAR_DAYS = "calendar_days"  # days on the calendar's local clock (a day over a DST change is 23 or 25 h)
    BUSINESS_DAYS = "business_days"  # working days of a calendar, counted in its working hours


# Longest target: ten years, in either unit (a target beyond it is a typo, and bounds the due-date walk).
MAX_DAYS = 3660.0
MAX_AMOUNT = {SlaUnit.HOURS: MAX_DAYS * 24, SlaUnit.CALENDAR_DAYS: MAX_DAYS, SlaUnit.BUSINESS_DAYS: MAX_DAYS}


@dataclass(frozen=True, slots=True)
class Holiday:
    day: date
    name: str

    def __post_init__(self) -> None:
        check_text(self.name, "holiday name", 200)
        if not self.name.strip():
            raise Invalid(f"holiday {self.day.isoformat()} needs a name", field="holidays")


@dataclass(frozen=True, slots=True)
class Calendar:
    """When work happens. ``timezone`` None: the instance's ``timezone`` setting. ``hours`` None: all day
    (24 h); else (opens, closes) on the same day, local time. Holidays are whole local days off."""

    code: str
    name: str = ""
    timezone: str | None = None
    workdays: frozenset[int] = frozenset(range(5))  # date.weekday(): 0 = Monday
    hours: tuple[time, time] | None = (time(8), time(17))
    holidays: tuple[Holiday, ...] = ()
    id: int | None = None

    def __post_init__(self) -> None:
        if _CODE.fullmatch(self.code) is None:
            raise Invalid(
                f"calendar code {self.code!r} must be 1 to 64 of a-z, 0-9, '_' and '-' (starting with a letter or "
                "digit)",
                field="calendars",
            )
        check_text(self.name, f"calendar {self.code!r} name", 200)
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise Invalid(
                    f"calendar {self.code!r}: unknown timezone {self.timezone!r}; use an IANA name such as "
                    "America/New_York",
                    field="timezone",
                ) from None
        if not self.workdays or not self.workdays <= frozenset(range(7)):
            raise Invalid(f"calendar {self.code!r}: at least one working day is needed", field="workdays")
        if self.hours is not None:
            opens, closes = self.hours
            if opens.tzinfo is not None or closes.tzinfo is not None or not opens < closes:
                raise Invalid(
                    f"calendar {self.code!r}: working hours must open before they close on the same day "
                    f"(got {_clock(opens)}-{_clock(closes)})",
                    field="hours",
                )
        days = [h.day for h in self.holidays]
        if len(days) != len(set(days)):
            raise Invalid(f"calendar {self.code!r}: a date is listed as a holiday twice", field="holidays")
        object.__setattr__(self, "holidays", tuple(sorted(self.holidays, key=lambda h: h.day)))

    def zone(self, default: str) -> ZoneInfo:
        return ZoneInfo(self.timezone or default)

    def holiday_dates(self) -> frozenset[date]:
        return frozenset(h.day for h in self.holidays)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and day not in self.holiday_dates()

    def with_holiday(self, holiday: Holiday) -> Calendar:
        """A copy with ``holiday`` added, or renamed when that date already is one."""
        kept = tuple(h for h in self.holidays if h.day != holiday.day)
        return _replace(self, holidays=(*kept, holiday))

    def without_holiday(self, day: date) -> Calendar:
        if day not in self.holiday_dates():
            raise Invalid(f"calendar {self.code!r} has no holiday on {day.isoformat()}", field="date")
        return _replace(self, holidays=tuple(h for h in self.holidays if h.day != day))

    def describe_hours(self) -> str:
        return "24h" if self.hours is None else f"{_clock(self.hours[0])}-{_clock(self.hours[1])}"

    def document(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "timezone": self.timezone,
            "workdays": [WEEKDAYS[d] for d in sorted(self.workdays)],
            "hours": self.describe_hours(),
            "holidays": [{"date": h.day.isoformat(), "name": h.name} for h in self.holidays],
        }

    @classmethod
    def from_document(cls, data: object) -> Calendar:
        """``{code, name?, timezone?, workdays?: [mon..sun], hours?: "08:00-17:00" | "24h", holidays?: [{date,
        name}]}``; the defaults are Monday to Friday, 08:00-17:00, in the instance's time zone."""
        if not isinstance(data, Mapping):
            raise Invalid(f"a calendar must be an object, got {data!r}", field="calendars")
        code = data.get("code")
        if not isinstance(code, str):
            raise Invalid(f"a calendar needs a code, got {code!r}", field="calendars")
        unknown = set(data) - {"code", "name", "timezone", "workdays", "hours", "holidays"}
        if unknown:
            raise Invalid(f"calendar {code!r}: unknown field {', '.join(sorted(map(str, unknown)))}", field="calendars")
        name, zone = data.get("name") or "", data.get("timezone") or None
        if not isinstance(name, str) or (zone is not None and not isinstance(zone, str)):
            raise Invalid(f"calendar {code!r}: name and timezone are text", field="calendars")
        holidays = data.get("holidays") or []
        if not isinstance(holidays, list):
            raise Invalid(f"calendar {code!r}: holidays must be a list of {{date, name}}", field="holidays")
        return cls(
            code=code,
            name=name,
            timezone=zone,
            workdays=parse_workdays(data.get("workdays", WEEKDAYS[:5]), code),
            hours=parse_hours(data.get("hours", "08:00-17:00"), code),
            holidays=tuple(parse_holiday(h, code) for h in holidays),
        )


def _replace(calendar: Calendar, **changes: Any) -> Calendar:
    values = {f: getattr(calendar, f) for f in ("code", "name", "timezone", "workdays", "hours", "holidays", "id")}
    return Calendar(**{**values, **changes})


def _clock(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def parse_workdays(value: object, code: str) -> frozenset[int]:
    items: Iterable[object] = (
        value.split(",") if isinstance(value, str) else value if isinstance(value, list | tuple) else ()
    )
    found = set()
    for item in items:
        key = str(item).strip().lower()[:3]
        if key not in WEEKDAYS:
            raise Invalid(
                f"calendar {code!r}: workdays are some of {', '.join(WEEKDAYS)}, got {item!r}", field="workdays"
            )
        found.add(WEEKDAYS.index(key))
    return frozenset(found)


def parse_hours(value: object, code: str) -> tuple[time, time] | None:
    """``"08:00-17:00"``, or ``"24h"`` (also ``null`` and ``"00:00-24:00"``) for all day."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("24h", "24/7", "00:00-24:00")):
        return None
    found = _HOURS.fullmatch(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise Invalid(f"calendar {code!r}: hours are like 08:00-17:00, or 24h; got {value!r}", field="hours")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h2 == 24 and m2 == 0:
        raise Invalid(f"calendar {code!r}: a working day ending at 24:00 is 24h, or ends at 23:59", field="hours")
    try:
        return time(h1, m1), time(h2, m2)
    except ValueError:
        raise Invalid(f"calendar {code!r}: hours are like 08:00-17:00, got {value!r}", field="hours") from None


def parse_holiday(value: object, code: str) -> Holiday:
    if not isinstance(value, Mapping) or "date" not in value:
        raise Invalid(
            f"calendar {code!r}: a holiday is {{date: YYYY-MM-DD, name: ...}}, got {value!r}", field="holidays"
        )
    day = value["date"]
    try:
        parsed = day if isinstance(day, date) else date.fromisoformat(str(day))
    except ValueError:
        raise Invalid(f"calendar {code!r}: holiday date {day!r} is not YYYY-MM-DD", field="holidays") from None
    name = value.get("name")
    if not isinstance(name, str):
        raise Invalid(f"calendar {code!r}: holiday {parsed.isoformat()} needs a name", field="holidays")
    return Holiday(parsed, name.strip())


@dataclass(frozen=True, slots=True)
class SlaTarget:
    """A service's target: ``amount`` of ``unit``; ``calendar`` names the calendar that says what a business day
    is and in which time zone days are counted (None: Monday to Friday 08:00-17:00 in the instance's zone, no
    holidays). Hours are wall-clock hours and take no calendar."""

    amount: float
    unit: SlaUnit = SlaUnit.HOURS
    calendar: str | None = field(default=None)

    def __post_init__(self) -> None:
        amount = self.amount
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
            raise Invalid(f"sla.amount must be a number, got {amount!r}", field="sla")
        object.__setattr__(self, "amount", float(amount))
        try:
            object.__setattr__(self, "unit", SlaUnit(self.unit))
        except ValueError:
            raise Invalid(f"sla.unit is one of {', '.join(SlaUnit)}, got {self.unit!r}", field="sla") from None
        if not 0 <= self.amount <= MAX_AMOUNT[self.unit]:
            raise Invalid(f"sla.amount must be from 0 to {MAX_AMOUNT[self.unit]:g} {self.unit}", field="sla")
        if self.unit is SlaUnit.HOURS and self.calendar is not None:
            raise Invalid("an sla in hours counts wall-clock hours and takes no calendar", field="sla")

    def document(self) -> dict[str, Any]:
        amount: float | int = int(self.amount) if self.amount.is_integer() else self.amount
        return {"amount": amount, "unit": str(self.unit), **({"calendar": self.calendar} if self.calendar else {})}

    @classmethod
    def from_document(cls, data: object) -> SlaTarget:
        if not isinstance(data, Mapping):
            raise Invalid(f"sla must be an object {{amount, unit, calendar}}, got {data!r}", field="sla")
        unknown = set(data) - {"amount", "unit", "calendar"}
        if unknown:
            raise Invalid(f"sla: unknown field {', '.join(sorted(map(str, unknown)))}", field="sla")
        calendar = data.get("calendar")
        if calendar is not None and not isinstance(calendar, str):
            raise Invalid(f"sla.calendar is a calendar's code, got {calendar!r}", field="sla")
        amount = data.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise Invalid(f"sla.amount must be a number, got {amount!r}", field="sla")
        return cls(amount, data.get("unit", SlaUnit.HOURS), calendar)


def sla_notice(target: SlaTarget | float | None) -> str | None:
    """The ``service_notice`` a resident sees: the service's target time, in words (a number is hours)."""
    if target is None:
        return None
    if not isinstance(target, SlaTarget):
        target = SlaTarget(target)
    amount = target.amount
    if target.unit is SlaUnit.HOURS:
        if amount < 48:
            whole = math.ceil(amount)
            return f"Target response time: {whole} hour{'s' if whole != 1 else ''}."
        return f"Target response time: {math.ceil(amount / 24)} days."
    whole = math.ceil(amount)
    kind = "business day" if target.unit is SlaUnit.BUSINESS_DAYS else "day"
    return f"Target response time: {whole} {kind}{'s' if whole != 1 else ''}."
