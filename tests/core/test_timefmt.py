"""Open311 date-times: lenient parsing (DT-03), one output form (DT-02)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from civicswitch.core.timefmt import format_datetime, parse_datetime

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
NOON = datetime(2024, 4, 15, 22, 51, 53, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2024-04-15T22:51:53Z",
        "2024-04-15T22:51:53z",
        "2024-04-15T22:51:53UTC",
        "2024-04-15T22:51:53 Z",
        "2024-04-15T22:51:53+00:00",
        "2024-04-15T22:51:53-00:00",
        "2024-04-15T18:51:53-04:00",
        "2024-04-15T18:51:53-0400",
        "2024-04-16T04:21:53+05:30",
        "2024-04-16T04:21:53+0530",
        "2024-04-15 22:51:53Z",
        "2024-04-15 18:51:53-04:00",
        "2024-04-15T22:51:53",
        "2024-04-15 22:51:53",
        "  2024-04-15T22:51:53Z  ",
    ],
)
def test_parse_datetime__accepted_forms__same_instant_in_utc(text: str) -> None:
    parsed = parse_datetime(text)
    assert parsed == NOON
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "micro"),
    [("2024-04-15T22:51:53.5Z", 500000), ("2024-04-15T22:51:53.123456Z", 123456),
     ("2024-04-15T22:51:53.123456789Z", 123456), ("2024-04-15T18:51:53.250-04:00", 250000)],
)  # fmt: skip
def test_parse_datetime__fractions__kept_to_microseconds(text: str, micro: int) -> None:
    assert parse_datetime(text) == NOON.replace(microsecond=micro)


def test_parse_datetime__no_seconds__minute_precision() -> None:
    assert parse_datetime("2024-04-15T22:51Z") == NOON.replace(second=0)


def test_parse_datetime__naive__is_utc() -> None:
    assert parse_datetime("2024-04-15T22:51:53").tzinfo is not None
    assert parse_datetime("2024-04-15T22:51:53") == parse_datetime("2024-04-15T22:51:53Z")


def test_parse_datetime__date_only__start_of_day_utc() -> None:
    assert parse_datetime("2024-04-15") == datetime(2024, 4, 15, tzinfo=UTC)


def test_parse_datetime__date_only_end_of_day__last_second_utc() -> None:
    assert parse_datetime("2024-04-15", end_of_day=True) == datetime(2024, 4, 15, 23, 59, 59, tzinfo=UTC)


def test_parse_datetime__end_of_day__ignored_when_a_time_is_given() -> None:
    assert parse_datetime("2024-04-15T10:00:00Z", end_of_day=True) == datetime(2024, 4, 15, 10, tzinfo=UTC)


def test_parse_datetime__offset_crossing_midnight__moves_the_date() -> None:
    assert parse_datetime("2024-12-31T23:30:00-05:00") == datetime(2025, 1, 1, 4, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["", " ", "yesterday", "2024/04/15", "15-04-2024", "2024-4-15", "20240415", "2024-04-15T", "2024-04-15T22",
     "2024-04-15T22:51:5", "2024-04-15t22:51:53Z", "2024-13-01", "2024-02-30", "2023-02-29", "2024-04-15T24:00:00Z",
     "2024-04-15T22:60:00Z", "2024-04-15T22:51:60Z", "2024-04-15T22:51:53+24:00", "2024-04-15T22:51:53+05",
     "2024-04-15T22:51:53+5:30", "2024-04-15T22:51:53 EST", "2024-04-15T22:51:53.Z", "1713221513",
     "2024-04-15T22:51:53Z trailing", "２０２４-04-15", "2024-04-15T22:51:53ZZ",
     "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
)  # fmt: skip
def test_parse_datetime__not_a_w3c_date_time__value_error(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_datetime(text)


@pytest.mark.parametrize(
    "value",
    [NOON, NOON.replace(microsecond=999999), NOON.astimezone(timezone(timedelta(hours=-4))),
     NOON.astimezone(timezone(timedelta(hours=5, minutes=30))), datetime(1, 1, 1, tzinfo=UTC),
     datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)],
)  # fmt: skip
def test_format_datetime__always_utc_z_whole_seconds(value: datetime) -> None:
    text = format_datetime(value)
    assert STAMP.match(text), text
    assert parse_datetime(text) == value.replace(microsecond=0)


def test_format_datetime__offset__converted_to_utc() -> None:
    assert format_datetime(parse_datetime("2024-04-15T18:51:53.9-04:00")) == "2024-04-15T22:51:53Z"


def test_format_datetime__small_years__zero_padded() -> None:
    assert format_datetime(datetime(987, 6, 5, 4, 3, 2, tzinfo=UTC)) == "0987-06-05T04:03:02Z"
