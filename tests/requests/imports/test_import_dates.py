"""The mapping's date formats: compiled formats agree with strptime, local times become UTC, errors name the formats."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from civicswitch.requests.imports.dates import parser

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("%m/%d/%Y %I:%M:%S %p", "02/28/2023 11:45:00 PM"),
        ("%m/%d/%Y %I:%M:%S %p", "01/01/2023 12:00:01 AM"),
        ("%m/%d/%Y %I:%M:%S %p", "07/04/2023 12:30:00 PM"),
        ("%m/%d/%Y %H:%M", "3/14/2025 1:20"),
        ("%Y-%m-%d %H:%M:%S", "2011-07-01 01:32:33"),
        ("%d.%m.%y %H:%M:%S.%f", "05.11.24 08:09:10.5"),
    ],
)
def test_parser__compiled_format__agrees_with_strptime(fmt: str, text: str) -> None:
    expected = datetime.strptime(text, fmt).replace(tzinfo=NEW_YORK).astimezone(UTC)
    assert parser([fmt], NEW_YORK)(text) == expected


def test_parser__local_time__is_converted_to_utc_across_daylight_saving() -> None:
    parse = parser(["%m/%d/%Y %I:%M:%S %p"], NEW_YORK)
    assert parse("01/15/2023 09:00:00 AM") == datetime(2023, 1, 15, 14, 0, tzinfo=UTC)  # EST, UTC-5
    assert parse("07/15/2023 09:00:00 AM") == datetime(2023, 7, 15, 13, 0, tzinfo=UTC)  # EDT, UTC-4


def test_parser__iso_with_offset__keeps_the_offset_not_the_zone() -> None:
    parse = parser(["iso"], NEW_YORK)
    assert parse("2025-09-04T22:37:50Z") == datetime(2025, 9, 4, 22, 37, 50, tzinfo=UTC)
    assert parse("2024-04-15T22:51:53.000") == datetime(2024, 4, 16, 2, 51, 53, tzinfo=UTC)  # local: EDT


def test_parser__several_formats__tries_them_in_order() -> None:
    parse = parser(["%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M", "iso"], UTC)
    assert parse("3/14/2025 1:20") == datetime(2025, 3, 14, 1, 20, tzinfo=UTC)
    assert parse("2024-04-15T22:51:53.000") == datetime(2024, 4, 15, 22, 51, 53, tzinfo=UTC)


def test_parser__a_directive_not_compiled__falls_back_to_strptime() -> None:
    parse = parser(["%d %b %Y %H:%M"], UTC)
    assert parse("05 Nov 2024 08:09") == datetime(2024, 11, 5, 8, 9, tzinfo=UTC)


@pytest.mark.parametrize("text", ["13/45/2023 10:00:00 AM", "02/28/2023 13:00:00 PM", "yesterday", ""])
def test_parser__value_in_no_format__raises_naming_the_formats(text: str) -> None:
    with pytest.raises(ValueError, match="%m/%d/%Y %I:%M:%S %p"):
        parser(["%m/%d/%Y %I:%M:%S %p"], UTC)(text)
