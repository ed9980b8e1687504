"""Catalog use cases: load an area layer; read SLA calendars and add or remove their holidays."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from civicswitch.catalog.areas import AreaLayer, check_layer_name, parse_layer
from civicswitch.catalog.calendars import Calendar, Holiday
from civicswitch.core.clock import Clock
from civicswitch.core.errors import Invalid, NotFound
from civicswitch.people import audit
from civicswitch.people.policy import OPERATOR, Action, Principal, authorize

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedLayer:
    layer: str
    areas: int
    repaired: int
    valid_from: datetime | None


def load_layer(
    uow: UnitOfWork,
    name: str,
    document: bytes | str | dict[str, Any],
    *,
    key_property: str,
    name_property: str | None = None,
    valid_from: datetime | None = None,
    who: Principal = OPERATOR,
) -> LoadedLayer:
    """Check and repair every feature first, then store the layer in one transaction (whole or nothing)."""
    authorize(who, Action.CATALOG_MANAGE)
    if not key_property.strip():
        raise Invalid("--key names the property that holds each area's key", field="key")
    layer = AreaLayer(check_layer_name(name), key_property.strip(), (name_property or "").strip() or None)
    areas = parse_layer(document, layer, valid_from=valid_from)
    with uow:
        uow.catalog.add_layer_version(layer, areas, valid_from)
        uow.commit()
    repaired = sum(a.repaired for a in areas)
    log.info("layer %s loaded: %d areas (%d repaired), valid from %s", layer.name, len(areas), repaired, valid_from)
    return LoadedLayer(layer.name, len(areas), repaired, valid_from)


def list_calendars(uow: UnitOfWork, *, who: Principal = OPERATOR) -> list[Calendar]:
    authorize(who, Action.CATALOG_MANAGE)
    with uow:
        return uow.catalog.calendars()


def show_calendar(uow: UnitOfWork, code: str, *, who: Principal = OPERATOR) -> Calendar:
    authorize(who, Action.CATALOG_MANAGE)
    with uow:
        return _calendar(uow, code)


def _calendar(uow: UnitOfWork, code: str) -> Calendar:
    found = uow.catalog.calendar(code.strip())
    if found is None:
        known = ", ".join(c.code for c in uow.catalog.calendars()) or "none yet: add one in the catalog file"
        raise NotFound(f"no calendar {code.strip()!r} (calendars: {known})", field="calendar")
    return found


def add_holiday(
    uow: UnitOfWork, clock: Clock, code: str, day: date, name: str, *, who: Principal = OPERATOR
) -> Calendar:
    """Add a holiday to a calendar (or rename the one on that date). Due dates already set stay as they are;
    requests filed or changed from now on count it."""
    authorize(who, Action.CATALOG_MANAGE)
    holiday = Holiday(day, name.strip())
    with uow:
        calendar = uow.catalog.add_calendar(_calendar(uow, code).with_holiday(holiday))
        audit.record(
            uow, clock.now(), who, Action.CATALOG_MANAGE, "calendar", calendar.code,
            detail={"op": "add_holiday", "date": day.isoformat(), "name": holiday.name},
        )  # fmt: skip
        uow.commit()
    log.info("calendar %s: holiday %s (%s) added", calendar.code, day.isoformat(), holiday.name)
    return calendar


def remove_holiday(uow: UnitOfWork, clock: Clock, code: str, day: date, *, who: Principal = OPERATOR) -> Calendar:
    authorize(who, Action.CATALOG_MANAGE)
    with uow:
        calendar = uow.catalog.add_calendar(_calendar(uow, code).without_holiday(day))
        audit.record(
            uow, clock.now(), who, Action.CATALOG_MANAGE, "calendar", calendar.code,
            detail={"op": "remove_holiday", "date": day.isoformat()},
        )  # fmt: skip
        uow.commit()
    log.info("calendar %s: holiday %s removed", calendar.code, day.isoformat())
    return calendar
