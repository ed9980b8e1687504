"""Open311 date/time: lenient parsing (DT-03) and the one output form (DT-02)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

_W3C = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*(?P<tz>Z|z|[+-]\d{2}:?\d{2}|UTC)?)?$"
)


def parse_datetime(value: str, *, end_of_day: bool = False) -> datetime:
    """Parse a W3C/ISO 8601 date-time leniently; naive values are taken as UTC.

    Accepts ``Z`` and ``±HH:MM`` offsets, fractional seconds, a space instead of ``T``, no timezone, and a
    date alone (its start, or its last second with ``end_of_day``). Raises ``ValueError`` otherwise.
    """
    text = value.strip()
    match = _W3C.match(text)
    if match is None:
        raise ValueError(
            f"{value!r} is not a W3C date-time; use e.g. 2024-04-15T22:51:53Z or 2024-04-15T18:51:53-04:00"
        )
    try:
        day = date.fromisoformat(match["date"])
        if match["time"] is None:
            moment = datetime.combine(day, time(23, 59, 59) if end_of_day else time(0, 0, 0))
            return moment.replace(tzinfo=UTC)
        clock_part = match["time"]
        if "." in clock_part:
            head, frac = clock_part.split(".", 1)
            clock_part = f"{head}.{frac[:6].ljust(6, '0')}"
        tz = match["tz"] or "+00:00"
        if tz in ("Z", "z", "UTC"):
            tz = "+00:00"
        elif ":" not in tz:
            tz = f"{tz[:3]}:{tz[3:]}"
        parsed = datetime.fromisoformat(f"{match['date']}T{clock_part}{tz}").astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # OverflowError: an offset pushing year 1 or 9999 out of range
        raise ValueError(f"{value!r} is not a valid date-time: {exc}") from None
    return parsed


def format_datetime(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, no fractions (DT-02)."""
    # Not strftime("%Y"): the C library does not zero-pad years below 1000.
    v = value.astimezone(UTC)
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}Z"
