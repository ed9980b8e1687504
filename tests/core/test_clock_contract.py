"""The Clock port: every implementation answers aware UTC instants in whole seconds, never going back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from civicswitch.core.clock import Clock, FixedClock, SystemClock

START = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)

CLOCKS: dict[str, Callable[[], Clock]] = {
    "system": SystemClock,
    "fixed": lambda: FixedClock(START),
}


@pytest.fixture(params=sorted(CLOCKS))
def any_clock(request: pytest.FixtureRequest) -> Clock:
    return CLOCKS[request.param]()


def test_clock__now__is_aware_utc(any_clock: Clock) -> None:
    now = any_clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_clock__now__has_whole_seconds(any_clock: Clock) -> None:
    assert any_clock.now().microsecond == 0


def test_clock__successive_reads__never_go_back(any_clock: Clock) -> None:
    readings = [any_clock.now() for _ in range(200)]
    assert readings == sorted(readings)


def test_system_clock__now__is_the_wall_clock_truncated() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert before <= now <= after


def test_fixed_clock__stands_still() -> None:
    clock = FixedClock(START)
    assert clock.now() == clock.now() == START


def test_fixed_clock__other_zone__kept_as_the_same_instant_in_utc() -> None:
    clock = FixedClock(START.astimezone(timezone(timedelta(hours=-5))))
    assert clock.now() == START
    assert clock.now().utcoffset() == timedelta(0)


def test_fixed_clock__advance__moves_forward() -> None:
    clock = FixedClock(START)
    clock.advance(timedelta(minutes=90))
    assert clock.now() == START + timedelta(minutes=90)
    assert clock.now().utcoffset() == timedelta(0)


def test_fixed_clock__set__jumps_to_the_instant_in_utc() -> None:
    clock = FixedClock(START)
    later = datetime(2027, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    clock.set(later)
    assert clock.now() == later
    assert clock.now().utcoffset() == timedelta(0)


def test_fixed_clock__naive_start__rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2026, 11, 28, 12, 0))


def test_fixed_clock__set_naive__rejected_and_time_kept() -> None:
    clock = FixedClock(START)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2027, 1, 1))
    assert clock.now() == START


@pytest.mark.parametrize("start", [START.replace(microsecond=500_000), START])
def test_fixed_clock__fractional_start__reads_whole_seconds(start: datetime) -> None:
    assert FixedClock(start).now().microsecond == 0


def test_fixed_clock__fractional_advance__reads_whole_seconds() -> None:
    clock = FixedClock(START)
    clock.advance(timedelta(milliseconds=1500))
    assert clock.now() == START + timedelta(seconds=1)


def test_fixed_clock__negative_advance__rejected_so_time_never_goes_back() -> None:
    clock = FixedClock(START)
    with pytest.raises(ValueError, match="back"):
        clock.advance(timedelta(seconds=-1))
    assert clock.now() == START


def test_fixed_clock__set_earlier__rejected_so_time_never_goes_back() -> None:
    clock = FixedClock(START)
    with pytest.raises(ValueError, match="back"):
        clock.set(START - timedelta(seconds=1))
    clock.set(START)
    assert clock.now() == START


def test_clock__precise__aware_utc_never_before_now_and_never_back(any_clock: Clock) -> None:
    readings = []
    for _ in range(200):
        whole, exact = any_clock.now(), any_clock.precise()
        assert exact.utcoffset() == timedelta(0) and exact >= whole
        readings.append(exact)
    assert readings == sorted(readings)


def test_fixed_clock__precise__keeps_the_fraction_it_was_advanced_by() -> None:
    clock = FixedClock(START)
    clock.advance(timedelta(milliseconds=250))
    assert clock.precise() == START + timedelta(milliseconds=250) and clock.now() == START
