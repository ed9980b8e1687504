"""requests/public_map.py, on the in-memory store: what the map and the list may show of a request, by its
service's ``residents.public_location``."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from civicswitch.catalog.loader import load_catalog
from civicswitch.catalog.model import PublicLocation
from civicswitch.core.geo import generalised
from civicswitch.requests.model import Channel, ServiceRequest
from civicswitch.requests.public_map import MapFilters, public_list, public_points, shown
from civicswitch.requests.views import MapRequest
from civicswitch.storage.memory import MemoryUnitOfWork

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
POINT = (40.7359123, -73.9911456)


def _uow(catalog_data: dict[str, Any]) -> MemoryUnitOfWork:
    data = copy.deepcopy(catalog_data)
    for service in data["services"]:
        if service["code"] == "graffiti":
            service["residents"] = {"public_location": "generalised"}
    uow = MemoryUnitOfWork()
    load_catalog(uow, data)
    with uow:
        for code, days in (("graffiti", 1), ("pothole", 2), ("pothole", 91)):
            at = NOW - timedelta(days=days)
            r = ServiceRequest(service_code=code, requested_at=at, channel=Channel.WEB, lat=POINT[0], long=POINT[1],
                               address="12 Private Lane")  # fmt: skip
            r.record_submission(at, client_id=None)
            uow.requests.add(r, None)
        uow.commit()
    return uow


def test_shown__generalised__cell_centre_and_no_address__exact_as_reported() -> None:
    row = MapRequest(7, "graffiti", "new", None, NOW, NOW, *POINT, "12 Private Lane")
    rough = shown(row, PublicLocation.GENERALISED)
    assert (rough.lat, rough.long, rough.address, rough.approximate) == (*generalised(*POINT), None, True)
    exact = shown(row, PublicLocation.EXACT)
    assert (exact.lat, exact.long, exact.address, exact.approximate) == (*POINT, "12 Private Lane", False)
    nowhere = shown(row._replace(lat=None, long=None), PublicLocation.GENERALISED)
    assert (nowhere.lat, nowhere.long, nowhere.address) == (None, None, None)


def test_public_list__window_newest_first_each_by_its_services_setting(catalog_data: dict[str, Any]) -> None:
    found = public_list(_uow(catalog_data), MapFilters(), NOW)
    assert [(e.service_code, e.approximate, e.address) for e in found.entries] == [
        ("graffiti", True, None), ("pothole", False, "12 Private Lane")]  # fmt: skip
    assert found.more is False


def test_public_list__unknown_service__the_careful_way(catalog_data: dict[str, Any]) -> None:
    found = public_list(_uow(catalog_data), MapFilters(), NOW, places={})
    assert all(e.approximate and e.address is None for e in found.entries)


def test_public_points__box_tested_on_what_is_shown(catalog_data: dict[str, Any]) -> None:
    lat, long = generalised(*POINT)
    around_point = (POINT[0] - 0.0001, POINT[1] - 0.0001, POINT[0] + 0.0001, POINT[1] + 0.0001)
    around_centre = (lat - 0.00001, long - 0.00001, lat + 0.00001, long + 0.00001)
    assert [e.service_code for e in public_points(_uow(catalog_data), MapFilters(), NOW, around_point).entries] == [
        "pothole"]  # fmt: skip
    assert [e.service_code for e in public_points(_uow(catalog_data), MapFilters(), NOW, around_centre).entries] == [
        "graffiti"]  # fmt: skip


def test_public_points__cap__newest_and_more(catalog_data: dict[str, Any]) -> None:
    found = public_points(_uow(catalog_data), MapFilters(), NOW, cap=1)
    assert [e.service_code for e in found.entries] == ["graffiti"] and found.more is True
