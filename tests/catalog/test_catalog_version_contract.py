"""The catalog version (what the Open311 catalog cache checks per request): the same on memory, SQLite and PostgreSQL.

Every committed catalog write moves it; reads, and writes that are rolled back, do not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from itertools import pairwise
from typing import Any

from shapely.geometry import box

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.calendars import Calendar, Holiday
from civicswitch.catalog.loader import load_catalog
from civicswitch.catalog.model import Body, Service
from civicswitch.catalog.rules import RoutingRule
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]


def version(make: MakeUow) -> int:
    with make() as uow:
        return uow.catalog.version()


def test_catalog_version__never_written__zero(store_uow_factory: MakeUow) -> None:
    assert version(store_uow_factory) == 0


def test_catalog_version__each_kind_of_write__moves_it(store_uow_factory: MakeUow) -> None:
    layer = AreaLayer("wards", "ward", "name")
    writes: list[Callable[[UnitOfWork], Any]] = [
        lambda uow: uow.catalog.add_body(Body("DOT", "Transportation")),
        lambda uow: uow.catalog.add_calendar(Calendar("city-hall")),
        lambda uow: uow.catalog.add_calendar(Calendar("city-hall", holidays=(Holiday(date(2026, 12, 25), "Xmas"),))),
        lambda uow: uow.catalog.add_body(Body("DOT", "Dept. of Transportation")),  # the same body renamed
        lambda uow: uow.catalog.add_service(Service("pothole", "Pothole", body_code="DOT")),
        lambda uow: uow.catalog.add_service(Service("pothole", "Pothole", description="A hole.", body_code="DOT")),
        lambda uow: uow.catalog.add_layer_version(layer, [Area("wards", "a", "A", box(0, 0, 1, 1))], None),
        lambda uow: uow.catalog.replace_rules([RoutingRule(layer="wards", area="a", body="DOT")]),
        lambda uow: uow.catalog.replace_rules([]),
    ]
    seen = [version(store_uow_factory)]
    for write in writes:
        with store_uow_factory() as uow:
            write(uow)
            uow.commit()
        seen.append(version(store_uow_factory))
    assert all(later > earlier for earlier, later in pairwise(seen)), seen


def test_catalog_version__reads_and_rolled_back_writes__leave_it(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    load_catalog(store_uow_factory(), catalog_data)
    before = version(store_uow_factory)
    with store_uow_factory() as uow:
        uow.catalog.services()
        uow.catalog.bodies()
        uow.catalog.rules()
        uow.catalog.calendars()
        uow.catalog.add_body(Body("PARKS", "Parks"))
        assert uow.catalog.version() > before  # the writer sees its own write
        # no commit: dropped
    assert version(store_uow_factory) == before
    with store_uow_factory() as uow:
        assert uow.catalog.body("PARKS") is None


def test_catalog_version__catalog_import__moves_it_once_committed(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    load_catalog(store_uow_factory(), catalog_data)
    first = version(store_uow_factory)
    assert first > 0
    catalog_data["services"][0]["name"] = "Pothole (road)"
    load_catalog(store_uow_factory(), catalog_data)
    assert version(store_uow_factory) > first


def _service_name(make: MakeUow, code: str) -> str | None:
    with make() as uow:
        found = uow.catalog.service(code)
        return None if found is None else found.name


def test_catalog_service__changed_and_committed__the_next_unit_reads_the_change(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        uow.catalog.add_body(Body("DOT", "Transportation"))
        uow.catalog.add_service(Service("pothole", "Pothole", body_code="DOT"))
        uow.commit()
    assert _service_name(store_uow_factory, "pothole") == "Pothole"  # read (and kept for this version)
    assert _service_name(store_uow_factory, "graffiti") is None
    with store_uow_factory() as uow:
        uow.catalog.add_service(Service("pothole", "Pothole (road)", body_code="DOT"))
        uow.catalog.add_service(Service("graffiti", "Graffiti", body_code="DOT"))
        assert uow.catalog.service("pothole") == Service("pothole", "Pothole (road)", body_code="DOT", id=1)
        uow.commit()
    assert _service_name(store_uow_factory, "pothole") == "Pothole (road)"
    assert _service_name(store_uow_factory, "graffiti") == "Graffiti"


def test_catalog_service__changed_then_rolled_back__nobody_reads_the_change(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        uow.catalog.add_body(Body("DOT", "Transportation"))
        uow.catalog.add_service(Service("pothole", "Pothole", body_code="DOT"))
        uow.commit()
    with store_uow_factory() as uow:
        uow.catalog.add_service(Service("pothole", "Pothole (dropped)", body_code="DOT"))
        assert uow.catalog.service("pothole") is not None
        # no commit
    assert _service_name(store_uow_factory, "pothole") == "Pothole"
    with store_uow_factory() as uow:  # another writer moves the version to where the dropped write had it
        uow.catalog.add_service(Service("pothole", "Pothole (kept)", body_code="DOT"))
        uow.commit()
    assert _service_name(store_uow_factory, "pothole") == "Pothole (kept)"
