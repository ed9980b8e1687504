"""SLA calendars and targets in the catalog store, the catalog file, and the calendar use cases: the same on
memory, SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from civicswitch.catalog.calendars import Calendar, Holiday, SlaTarget, SlaUnit
from civicswitch.catalog.handlers import add_holiday, list_calendars, remove_holiday, show_calendar
from civicswitch.catalog.loader import export_catalog, load_catalog
from civicswitch.catalog.model import Body, Service
from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import Forbidden, Invalid, NotFound
from civicswitch.people.policy import Principal, Role
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
CLOCK = FixedClock(datetime(2026, 9, 1, 12, tzinfo=UTC))
OFFICE = Calendar(
    code="city-hall", name="City Hall", timezone="America/Chicago", holidays=(Holiday(date(2026, 9, 7), "Labor Day"),)
)


def _stored(make: MakeUow, write: Callable[[UnitOfWork], Any]) -> Any:
    with make() as uow:
        found = write(uow)
        uow.commit()
    return found


def test_calendar_store__added__read_back_whole(store_uow_factory: MakeUow) -> None:
    crews = Calendar(code="crews", workdays=frozenset(range(7)), hours=None)
    _stored(store_uow_factory, lambda uow: uow.catalog.add_calendar(OFFICE))
    _stored(store_uow_factory, lambda uow: uow.catalog.add_calendar(crews))
    with store_uow_factory() as uow:
        found = uow.catalog.calendar("city-hall")
        listed = uow.catalog.calendars()
        assert uow.catalog.calendar("nope") is None
    assert found is not None and found.id is not None
    assert (found.timezone, found.hours, found.holidays, found.name) == (
        OFFICE.timezone, OFFICE.hours, OFFICE.holidays, "City Hall"
    )  # fmt: skip
    assert [c.code for c in listed] == ["city-hall", "crews"]
    assert (listed[1].hours, listed[1].timezone, listed[1].workdays) == (None, None, frozenset(range(7)))


def test_calendar_store__added_again__replaces_holidays_keeps_id(store_uow_factory: MakeUow) -> None:
    first = _stored(store_uow_factory, lambda uow: uow.catalog.add_calendar(OFFICE))
    changed = Calendar(code="city-hall", timezone="America/Chicago", holidays=(Holiday(date(2026, 11, 26), "Thanks"),))
    second = _stored(store_uow_factory, lambda uow: uow.catalog.add_calendar(changed))
    assert second.id == first.id
    assert [h.day for h in second.holidays] == [date(2026, 11, 26)]


def test_service_store__sla_in_business_days__read_back_with_its_calendar(store_uow_factory: MakeUow) -> None:
    target = SlaTarget(3, SlaUnit.BUSINESS_DAYS, "city-hall")

    def write(uow: UnitOfWork) -> None:
        uow.catalog.add_calendar(OFFICE)
        uow.catalog.add_body(Body("DOT", "Transportation"))
        uow.catalog.add_service(Service("pothole", "Pothole", body_code="DOT", sla=target))
        uow.catalog.add_service(Service("graffiti", "Graffiti", body_code="DOT", sla_hours=48))

    _stored(store_uow_factory, write)
    with store_uow_factory() as uow:
        pothole, graffiti = uow.catalog.service("pothole"), uow.catalog.service("graffiti")
    assert pothole is not None and graffiti is not None
    assert (pothole.sla, pothole.sla_hours) == (target, None)
    assert (graffiti.sla, graffiti.sla_hours) == (SlaTarget(48), 48)


def test_service_store__unknown_calendar__invalid(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow, pytest.raises(Invalid, match="unknown calendar 'nope'"):
        uow.catalog.add_service(Service("pothole", "Pothole", sla=SlaTarget(3, SlaUnit.BUSINESS_DAYS, "nope")))


# -- the catalog file ---------------------------------------------------------------------------------------
def _document(catalog_data: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(catalog_data)
    document["calendars"] = [OFFICE.document()]
    document["services"][0]["sla"] = {"amount": 3, "unit": "business_days", "calendar": "city-hall"}
    del document["services"][0]["sla_hours"]
    return document


def test_catalog_file__calendars_and_sla__exported_as_loaded(store_uow_factory: MakeUow, catalog_data: Any) -> None:
    load_catalog(store_uow_factory(), _document(catalog_data))
    exported = export_catalog(store_uow_factory())
    assert exported["calendars"] == [OFFICE.document()]
    pothole = next(s for s in exported["services"] if s["code"] == "pothole")
    assert (pothole["sla"], pothole["sla_hours"]) == (
        {"amount": 3, "unit": "business_days", "calendar": "city-hall"}, None
    )  # fmt: skip
    load_catalog(store_uow_factory(), exported)  # what was exported loads again, unchanged
    assert export_catalog(store_uow_factory()) == exported


def test_catalog_file__old_sla_hours__a_target_in_hours_exported_both_ways(
    store_uow_factory: MakeUow, catalog_data: Any
) -> None:
    load_catalog(store_uow_factory(), catalog_data)  # no calendars section, sla_hours: 72
    exported = export_catalog(store_uow_factory())
    pothole = next(s for s in exported["services"] if s["code"] == "pothole")
    assert (pothole["sla_hours"], pothole["sla"]) == (72, {"amount": 72, "unit": "hours"})
    assert exported["calendars"] == []


def test_catalog_file__service_names_a_calendar_not_loaded__nothing_stored(
    store_uow_factory: MakeUow, catalog_data: Any
) -> None:
    document = _document(catalog_data)
    document["services"][0]["sla"]["calendar"] = "elsewhere"
    with pytest.raises(Invalid, match="unknown calendar 'elsewhere'"):
        load_catalog(store_uow_factory(), document)
    with store_uow_factory() as uow:
        assert uow.catalog.services(include_inactive=True) == [] and uow.catalog.calendars() == []


def test_catalog_file__sla_and_different_sla_hours__invalid(catalog_data: Any, store_uow_factory: MakeUow) -> None:
    document = _document(catalog_data)
    document["services"][0]["sla_hours"] = 24
    with pytest.raises(Invalid, match="differ"):
        load_catalog(store_uow_factory(), document)


# -- use cases -----------------------------------------------------------------------------------------------
def test_add_holiday__then_remove__stored_each_time_and_audited(store_uow_factory: MakeUow) -> None:
    _stored(store_uow_factory, lambda uow: uow.catalog.add_calendar(OFFICE))
    added = add_holiday(store_uow_factory(), CLOCK, "city-hall", date(2026, 11, 26), " Thanksgiving ")
    assert [h.name for h in show_calendar(store_uow_factory(), "city-hall").holidays] == ["Labor Day", "Thanksgiving"]
    removed = remove_holiday(store_uow_factory(), CLOCK, "city-hall", date(2026, 9, 7))
    assert [h.day for h in added.holidays] == [date(2026, 9, 7), date(2026, 11, 26)]
    assert [h.day for h in removed.holidays] == [date(2026, 11, 26)]
    assert [c.holidays for c in list_calendars(store_uow_factory())] == [removed.holidays]
    with store_uow_factory() as uow:
        entries = uow.audit.entries(object_type="calendar")
    assert [e.detail["op"] for e in entries] == ["add_holiday", "remove_holiday"]


def test_add_holiday__unknown_calendar__not_found_listing_the_known(store_uow_factory: MakeUow) -> None:
    _stored(store_uow_factory, lambda uow: uow.catalog.add_calendar(OFFICE))
    with pytest.raises(NotFound, match="calendars: city-hall"):
        add_holiday(store_uow_factory(), CLOCK, "town-hall", date(2026, 11, 26), "Thanksgiving")


@pytest.mark.parametrize("role", [Role.DEPARTMENT, Role.AGENT, Role.EXECUTIVE])
def test_calendar_use_cases__not_admin__forbidden(store_uow_factory: MakeUow, role: Role) -> None:
    who = Principal("staff", "someone", role, bodies=frozenset({"DOT"}), user_id=9)
    _stored(store_uow_factory, lambda uow: uow.catalog.add_calendar(OFFICE))
    with pytest.raises(Forbidden):
        add_holiday(store_uow_factory(), CLOCK, "city-hall", date(2026, 11, 26), "Thanksgiving", who=who)
    with pytest.raises(Forbidden):
        list_calendars(store_uow_factory(), who=who)
