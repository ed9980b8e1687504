"""``RequestStore.map_requests``: the public map's and list's recent requests, on memory, SQLite and PostgreSQL:
the window, the service and status filters (groups and canonical statuses), the box, located only, paging, and
only the few columns a map needs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.requests.model import Channel, CloseReason, ServiceRequest, Status
from civicswitch.requests.views import MapQuery, MapRequest
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
SINCE = T0 - 90 * 24 * H


def _request(service: str, at: datetime, lat: float | None = 40.7, long: float | None = -74.0,
             address: str | None = "1 Main St") -> ServiceRequest:  # fmt: skip
    r = ServiceRequest(service_code=service, requested_at=at, channel=Channel.OPEN311, lat=lat, long=long,
                       address=address, description="secret words")  # fmt: skip
    r.record_submission(at, client_id=None)
    return r


@pytest.fixture
def stored(store_uow_factory: MakeUow, catalog_data: dict[str, Any]) -> tuple[MakeUow, dict[str, int]]:
    load_catalog(store_uow_factory(), catalog_data)
    made = {
        "old": _request("graffiti", T0 - 100 * 24 * H),  # before the window
        "g1": _request("graffiti", T0 - 5 * H, lat=40.70, long=-74.00),
        "g2": _request("graffiti", T0 - 4 * H, lat=40.80, long=-73.90),
        "p1": _request("pothole", T0 - 3 * H, lat=40.71, long=-74.01),
        "p2": _request("pothole", T0 - 2 * H, lat=None, long=None, address="Corner of 5th and Main"),
        "p3": _request("pothole", T0 - 1 * H, lat=40.75, long=-73.95),
    }
    made["p1"].transition(Status.ACKNOWLEDGED, T0 - 2 * H)
    made["p3"].transition(Status.CLOSED, T0 - 0.5 * H, reason=CloseReason.FIXED)
    made["g2"].transition(Status.IN_PROGRESS, T0 - 3 * H)
    made["g2"].transition(Status.ON_HOLD, T0 - 2.5 * H)
    with store_uow_factory() as uow:
        ids = {name: uow.requests.add(r, None) for name, r in made.items()}
        uow.commit()
    return store_uow_factory, ids


def _ids(make: MakeUow, query: MapQuery, ids: dict[str, int]) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    with make() as uow:
        return [by_id[r.id] for r in uow.requests.map_requests(query)]


def test_map_requests__window__newest_first_with_the_map_columns(stored: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = stored
    assert _ids(make, MapQuery(since=SINCE), ids) == ["p3", "p2", "p1", "g2", "g1"]
    with make() as uow:
        newest = uow.requests.map_requests(MapQuery(since=SINCE, limit=1))
    assert newest == [MapRequest(ids["p3"], "pothole", "closed", "fixed", T0 - H, T0 - 0.5 * H, 40.75, -73.95,
                                 "1 Main St")]  # fmt: skip


def test_map_requests__services__only_theirs(stored: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = stored
    assert _ids(make, MapQuery(since=SINCE, service_codes=("graffiti",)), ids) == ["g2", "g1"]
    assert _ids(make, MapQuery(since=SINCE, service_codes=("graffiti", "pothole")), ids) == [
        "p3",
        "p2",
        "p1",
        "g2",
        "g1",
    ]
    assert _ids(make, MapQuery(since=SINCE, service_codes=("no-such",)), ids) == []


def test_map_requests__statuses__groups_and_canonical(stored: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = stored
    open_ = ("new", "acknowledged", "in_progress", "on_hold", "reopened")
    assert _ids(make, MapQuery(since=SINCE, statuses=open_), ids) == ["p2", "p1", "g2", "g1"]
    assert _ids(make, MapQuery(since=SINCE, statuses=("closed",)), ids) == ["p3"]
    assert _ids(make, MapQuery(since=SINCE, statuses=("on_hold",)), ids) == ["g2"]
    assert _ids(make, MapQuery(since=SINCE, statuses=("new",), service_codes=("pothole",)), ids) == ["p2"]
    assert _ids(make, MapQuery(since=SINCE, statuses=(*open_, "closed")), ids) == ["p3", "p2", "p1", "g2", "g1"]


def test_map_requests__box_and_located__points_inside_only(stored: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = stored
    assert _ids(make, MapQuery(since=SINCE, located=True), ids) == ["p3", "p1", "g2", "g1"]
    box = (40.69, -74.02, 40.76, -73.94)  # south, west, north, east: not g2 (40.80), not p2 (no point)
    assert _ids(make, MapQuery(since=SINCE, box=box), ids) == ["p3", "p1", "g1"]
    edge = (40.70, -74.00, 40.70, -74.00)  # inclusive edges
    assert _ids(make, MapQuery(since=SINCE, box=edge), ids) == ["g1"]


def test_map_requests__paging__limit_and_offset_in_order(stored: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = stored
    assert _ids(make, MapQuery(since=SINCE, limit=2), ids) == ["p3", "p2"]
    assert _ids(make, MapQuery(since=SINCE, limit=2, offset=2), ids) == ["p1", "g2"]
    assert _ids(make, MapQuery(since=SINCE, limit=2, offset=4), ids) == ["g1"]
    assert _ids(make, MapQuery(since=SINCE, limit=2, offset=6), ids) == []


def test_map_requests__same_time__newest_id_first(store_uow_factory: MakeUow, catalog_data: dict[str, Any]) -> None:
    load_catalog(store_uow_factory(), catalog_data)
    with store_uow_factory() as uow:
        first, second = (uow.requests.add(_request("graffiti", T0), None) for _ in range(2))
        uow.commit()
    with store_uow_factory() as uow:
        assert [r.id for r in uow.requests.map_requests(MapQuery(since=SINCE))] == [second, first]


@pytest.mark.parametrize("rows", [0, 10_000])
def test_map_requests__box_by_its_cells_or_by_the_walk__same_answer(
    stored: tuple[MakeUow, dict[str, int]], monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    """SQL reads a box with few requests by its grid cells, one with many by the walk in filing order (0: always)."""
    import civicswitch.requests.sql as sql

    monkeypatch.setattr(sql, "MAP_BOX_ROWS", rows)
    make, ids = stored
    box = (40.69, -74.02, 40.76, -73.94)
    assert _ids(make, MapQuery(since=SINCE, box=box), ids) == ["p3", "p1", "g1"]
    assert _ids(make, MapQuery(since=SINCE, box=box, statuses=("acknowledged",)), ids) == ["p1"]
    assert _ids(make, MapQuery(since=SINCE, box=box, limit=1, offset=1), ids) == ["p1"]
    sea = (40.3, -73.7, 40.31, -73.69)  # no request filed in its cells: nothing read beyond that count
    assert _ids(make, MapQuery(since=SINCE, box=sea), ids) == []
    wide = (40.0, -75.0, 41.0, -73.0)  # more cells than an IN list takes: the walk
    assert _ids(make, MapQuery(since=SINCE, box=wide), ids) == ["p3", "p1", "g2", "g1"]
