"""Time is a port: domain code asks a clock, never ``datetime.now()``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def precise(self) -> datetime:
        """The current instant with its fraction of a second (never before :meth:`now`): for measurements such
        as delivery latency, where whole seconds would hide everything that matters."""
        ...


class SystemClock:
    """The wall clock, truncated to whole seconds (Open311 has second precision)."""

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    def precise(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for tests and replays: stands still until told to move, and only ever moves forward.

    It keeps the port's promises: reads are aware UTC in whole seconds (``precise`` keeps the fraction it was
    set or advanced to) and never go back.
    """

    def __init__(self, at: datetime) -> None:
        self._at = self._checked(at)

    @staticmethod
    def _checked(at: datetime) -> datetime:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        return at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at.replace(microsecond=0)

    def precise(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError(f"FixedClock cannot go back in time (advance by {delta})")
        self._at = self._at + delta

    def set(self, at: datetime) -> None:
        at = self._checked(at)
        if at < self._at:
            raise ValueError(f"FixedClock cannot go back in time (from {self._at.isoformat()} to {at.isoformat()})")
        self._at = at
