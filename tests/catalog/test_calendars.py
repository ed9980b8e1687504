"""SLA calendars and targets as catalog data (catalog/calendars.py): construction rules, the file form, the
service notice, and a service's ``sla`` beside the older ``sla_hours``."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from civicswitch.catalog.calendars import Calendar, Holiday, SlaTarget, SlaUnit, sla_notice
from civicswitch.catalog.model import Service
from civicswitch.catalog.tables import calendar_holidays, calendars
from civicswitch.core.errors import Invalid

CITY = {
    "code": "city-hall",
    "name": "City Hall",
    "timezone": "America/Chicago",
    "workdays": ["mon", "tue", "wed", "thu", "fri"],
    "hours": "08:30-16:30",
    "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}, {"date": "2026-01-01", "name": "New Year's Day"}],
}


def test_calendar_document__round_trip__same_calendar_holidays_by_date() -> None:
    calendar = Calendar.from_document(CITY)
    assert calendar.hours == (time(8, 30), time(16, 30))
    assert calendar.workdays == frozenset(range(5))
    assert [h.day for h in calendar.holidays] == [date(2026, 1, 1), date(2026, 12, 25)]
    assert Calendar.from_document(calendar.document()) == calendar


def test_calendar_document__only_a_code__weekdays_office_hours_instance_zone() -> None:
    calendar = Calendar.from_document({"code": "default"})
    assert (calendar.timezone, calendar.workdays) == (None, frozenset(range(5)))
    assert calendar.describe_hours() == "08:00-17:00"


@pytest.mark.parametrize("hours", ["24h", None, "00:00-24:00"])
def test_calendar_document__all_day_hours__none(hours: object) -> None:
    assert Calendar.from_document({"code": "crews", "hours": hours}).hours is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "City Hall"}, "calendar code"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"workdays": []}, "at least one working day"),
        ({"workdays": ["funday"]}, "workdays are some of"),
        ({"hours": "17:00-08:00"}, "open before they close"),
        ({"hours": "9 to 5"}, "hours are like"),
        ({"hours": "08:00-24:00"}, "24h"),
        ({"holidays": [{"date": "2026-13-01", "name": "x"}]}, "not YYYY-MM-DD"),
        ({"holidays": [{"date": "2026-12-25"}]}, "needs a name"),
        ({"holidays": [{"date": "2026-12-25", "name": "a"}, {"date": "2026-12-25", "name": "b"}]}, "twice"),
        ({"colour": "red"}, "unknown field colour"),
    ],
)
def test_calendar_document__bad_field__invalid_naming_it(change: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        Calendar.from_document({**CITY, **change})


def test_calendar__holiday_added_and_removed__sorted_and_renamed_in_place() -> None:
    calendar = Calendar.from_document(CITY)
    added = calendar.with_holiday(Holiday(date(2026, 7, 3), "Independence Day (observed)"))
    assert [h.day.month for h in added.holidays] == [1, 7, 12]
    renamed = added.with_holiday(Holiday(date(2026, 7, 3), "Fourth of July (observed)"))
    assert [h.name for h in renamed.holidays if h.day.month == 7] == ["Fourth of July (observed)"]
    assert renamed.without_holiday(date(2026, 7, 3)).holidays == calendar.holidays
    with pytest.raises(Invalid, match="no holiday on 2026-07-04"):
        calendar.without_holiday(date(2026, 7, 4))


def test_calendar__text_over_its_column_length__invalid() -> None:
    assert calendars.c.code.type.length == 64 and calendar_holidays.c.name.type.length == 200
    Calendar("x" * 64, holidays=(Holiday(date(2026, 1, 1), "y" * 200),))
    with pytest.raises(Invalid):
        Calendar("x" * 65)
    with pytest.raises(Invalid, match="longer than 200"):
        Holiday(date(2026, 1, 1), "y" * 201)


# -- targets ----------------------------------------------------------------------------------------------
def test_sla_target_document__round_trip() -> None:
    target = SlaTarget.from_document({"amount": 3, "unit": "business_days", "calendar": "city-hall"})
    assert target == SlaTarget(3.0, SlaUnit.BUSINESS_DAYS, "city-hall")
    assert target.document() == {"amount": 3, "unit": "business_days", "calendar": "city-hall"}
    assert SlaTarget.from_document({"amount": 36}).document() == {"amount": 36, "unit": "hours"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"amount": -1, "unit": "hours"}, "from 0 to"),
        ({"amount": 4000, "unit": "business_days"}, "from 0 to 3660"),
        ({"amount": "3", "unit": "hours"}, "must be a number"),
        ({"amount": True}, "must be a number"),
        ({"amount": 3, "unit": "weeks"}, "sla.unit is one of"),
        ({"amount": 3, "unit": "hours", "calendar": "city-hall"}, "takes no calendar"),
        ({"amount": 3, "days": 2}, "unknown field days"),
        (3, "must be an object"),
    ],
)
def test_sla_target_document__bad__invalid(document: object, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        SlaTarget.from_document(document)


def test_service__sla_hours__is_a_target_in_hours_and_the_same_service() -> None:
    old = Service("pothole", "Pothole", sla_hours=72)
    assert old.sla == SlaTarget(72, SlaUnit.HOURS)
    assert old == Service("pothole", "Pothole", sla=SlaTarget(72))


def test_service__sla_in_days__no_sla_hours() -> None:
    service = Service("pothole", "Pothole", sla=SlaTarget(3, SlaUnit.BUSINESS_DAYS, "city-hall"))
    assert service.sla_hours is None


def test_service__sla_and_sla_hours_differ__invalid() -> None:
    with pytest.raises(Invalid, match="not two different targets"):
        Service("pothole", "Pothole", sla_hours=24, sla=SlaTarget(3, SlaUnit.CALENDAR_DAYS))


@pytest.mark.parametrize(
    ("target", "notice"),
    [
        (SlaTarget(72), "Target response time: 3 days."),
        (SlaTarget(1, SlaUnit.BUSINESS_DAYS), "Target response time: 1 business day."),
        (SlaTarget(2.5, SlaUnit.BUSINESS_DAYS), "Target response time: 3 business days."),
        (SlaTarget(5, SlaUnit.CALENDAR_DAYS), "Target response time: 5 days."),
        (SlaTarget(1, SlaUnit.CALENDAR_DAYS), "Target response time: 1 day."),
    ],
)
def test_sla_notice__each_unit__in_words(target: SlaTarget, notice: str) -> None:
    assert sla_notice(target) == notice
