"""The duplicate-check and follower parts of the request store, against the fake, SQLite and PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.requests.model import (
    Channel,
    CloseReason,
    Contact,
    Follower,
    FollowVia,
    Notice,
    ServiceRequest,
    Status,
)
from civicswitch.routing.grid import box_around, cells_in
from civicswitch.routing.nearby import NearbyQuery
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HERE = (40.7359, -73.9911)  # Union Square


def _store(new_uow: MakeUow, catalog: dict[str, Any], *requests: ServiceRequest) -> list[int]:
    load_catalog(new_uow(), catalog)
    with new_uow() as uow:
        ids = [uow.requests.add(r, None) for r in requests]
        uow.commit()
    return ids


def _request(lat: float, long: float, at: datetime, service: str = "graffiti", **kw: Any) -> ServiceRequest:
    return ServiceRequest(service_code=service, requested_at=at, channel=Channel.OPEN311, lat=lat, long=long, **kw)


def _query(
    radius_m: float = 100, *, exclude: int | None = None, limit: int = 200, service: str = "graffiti"
) -> NearbyQuery:
    box = box_around(*HERE, radius_m)
    return NearbyQuery(
        service_code=service, south=box.south, west=box.west, north=box.north, east=box.east,
        cells=tuple(cells_in(box)), requested_since=T0 - 30 * DAY, closed_since=T0 - 3 * DAY,
        exclude_id=exclude, limit=limit,
    )  # fmt: skip


def _closed(r: ServiceRequest, at: datetime, reason: CloseReason = CloseReason.FIXED) -> ServiceRequest:
    r.transition(Status.CLOSED, at, reason=reason)
    return r


def test_nearby__same_service_in_the_box__found_newest_first(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    lat, long = HERE
    ids = _store(
        store_uow_factory,
        catalog_data,
        _request(lat, long, T0 - 2 * DAY),
        _request(lat + 0.0004, long, T0 - DAY),  # 44 m north
        _request(lat, long, T0 - DAY, service="pothole", attributes={"size": "small"}),  # another service
        _request(lat + 0.01, long, T0 - DAY),  # 1.1 km away: outside the box
        _request(lat, long, T0 - 40 * DAY),  # filed before the window
    )
    with store_uow_factory() as uow:
        found = uow.requests.nearby(_query())
    assert [n.id for n in found] == [ids[1], ids[0]]
    assert found[0].lat == pytest.approx(lat + 0.0004) and found[0].status == "new"


def test_nearby__closed_requests__only_recent_closures_not_duplicates_cancellations_or_referrals(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    lat, long = HERE
    ids = _store(
        store_uow_factory,
        catalog_data,
        _closed(_request(lat, long, T0 - 10 * DAY), T0 - DAY),  # fixed yesterday: offered
        _closed(_request(lat, long, T0 - 10 * DAY), T0 - 5 * DAY),  # fixed 5 days ago: too old
        _closed(_request(lat, long, T0 - 10 * DAY), T0 - DAY, CloseReason.DUPLICATE),
        _closed(_request(lat, long, T0 - 10 * DAY), T0 - DAY, CloseReason.CANCELLED),
        _closed(_request(lat, long, T0 - 10 * DAY), T0 - DAY, CloseReason.REFERRED),
        _closed(_request(lat, long, T0 - 10 * DAY), T0 - DAY, CloseReason.NO_ACTION),  # closed for what it said
    )
    with store_uow_factory() as uow:
        found = uow.requests.nearby(_query())
    assert sorted((n.id, n.status, n.close_reason) for n in found) == [
        (ids[0], "closed", "fixed"),
        (ids[5], "closed", "no_action"),
    ]


def test_nearby__merged_request_and_excluded_id__left_out_and_limit_applies(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    lat, long = HERE
    ids = _store(store_uow_factory, catalog_data, *(_request(lat, long, T0 - i * DAY) for i in range(1, 6)))
    with store_uow_factory() as uow:
        child = uow.requests.get(ids[0])
        assert child is not None
        child.parent_id = ids[1]
        uow.requests.save(child)
        uow.commit()
    with store_uow_factory() as uow:
        assert [n.id for n in uow.requests.nearby(_query(exclude=ids[1]))] == ids[2:]
        assert [n.id for n in uow.requests.nearby(_query(limit=2))] == ids[1:3]
        assert uow.requests.nearby(_query(service="no-such-service")) == []
        assert uow.requests.merged_count() == 1


def test_nearby__box_edge__inside_counts_and_outside_does_not(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    box = box_around(*HERE, 100)
    ids = _store(
        store_uow_factory,
        catalog_data,
        # Stored coordinates have 7 decimals: the corner rounded inwards, and a point 1e-6° (11 cm) north of it.
        _request(math.floor(box.north * 1e7) / 1e7, math.floor(box.east * 1e7) / 1e7, T0 - DAY),
        _request(box.north + 1e-6, HERE[1], T0 - DAY),
    )
    with store_uow_factory() as uow:
        assert [n.id for n in uow.requests.nearby(_query())] == [ids[0]]


def test_followers__add_list_delete__round_trip(store_uow_factory: MakeUow, catalog_data: dict[str, Any]) -> None:
    (rid,) = _store(store_uow_factory, catalog_data, _request(*HERE, T0))
    with store_uow_factory() as uow:
        uow.requests.add_follower(rid, Follower(Contact(email="a@example.org"), FollowVia.FOLLOW, T0))
        uow.requests.add_follower(
            rid, Follower(Contact(phone="555-0100", first_name="B"), FollowVia.MERGE, T0 + DAY, from_request_id=rid)
        )
        uow.requests.add_follower(rid, Follower(Contact(), FollowVia.FOLLOW, T0 + DAY, account_id="acct-9"))
        uow.commit()
    with store_uow_factory() as uow:
        found = uow.requests.followers(rid)
        assert [(f.contact.email, f.contact.phone, f.account_id, f.via, f.from_request_id) for f in found] == [
            ("a@example.org", None, None, FollowVia.FOLLOW, None),
            (None, "555-0100", None, FollowVia.MERGE, rid),
            (None, None, "acct-9", FollowVia.FOLLOW, None),
        ]
        assert found[1].created_at == T0 + DAY and all(f.id is not None for f in found)
        uow.requests.delete_followers(rid)
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.requests.followers(rid) == []


def test_followers__confirm__stamps_once_and_only_that_follower(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    (rid,) = _store(store_uow_factory, catalog_data, _request(*HERE, T0))
    with store_uow_factory() as uow:
        a = uow.requests.add_follower(rid, Follower(Contact(email="a@example.org"), FollowVia.FOLLOW, T0))
        uow.requests.add_follower(rid, Follower(Contact(email="b@example.org"), FollowVia.FOLLOW, T0))
        uow.commit()
    assert a.id is not None
    for at in (T0 + DAY, T0 + 2 * DAY):  # the second confirmation changes nothing
        with store_uow_factory() as uow:
            uow.requests.confirm_follower(a.id, at)
            uow.commit()
    with store_uow_factory() as uow:
        assert [f.confirmed_at for f in uow.requests.followers(rid)] == [T0 + DAY, None]


def test_notices__taken_once__and_gone_after_a_rollback(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    (rid,) = _store(store_uow_factory, catalog_data, _request(*HERE, T0))
    with store_uow_factory() as uow:
        uow.requests.add_notice(Notice(rid, "follow_confirmation", "a@example.org", T0))
        taken = uow.requests.take_notices()
        assert [(n.request_id, n.to) for n in taken] == [(rid, "a@example.org")]
        assert uow.requests.take_notices() == []
        uow.requests.add_notice(Notice(rid, "follow_confirmation", "b@example.org", T0))
        uow.rollback()
        assert uow.requests.take_notices() == []


def test_request__parent_id__round_trips(store_uow_factory: MakeUow, catalog_data: dict[str, Any]) -> None:
    a, b = _store(store_uow_factory, catalog_data, _request(*HERE, T0), _request(*HERE, T0))
    with store_uow_factory() as uow:
        child = uow.requests.get(b)
        assert child is not None and child.parent_id is None
        child.parent_id = a
        uow.requests.save(child)
        uow.commit()
    with store_uow_factory() as uow:
        stored = uow.requests.get(b)
        assert stored is not None and stored.parent_id == a


def test_catalog__duplicate_policy__round_trips_and_exports(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    from civicswitch.catalog.loader import export_catalog
    from civicswitch.catalog.model import DuplicatePolicy

    services = catalog_data["services"]
    services[0]["duplicates"] = {"radius_m": 30, "open_days": 14, "closed_days": 1}
    services[1]["duplicates"] = False
    load_catalog(store_uow_factory(), catalog_data)
    with store_uow_factory() as uow:
        first, second, third = (uow.catalog.service(s["code"]) for s in services[:3])
    assert first is not None and first.duplicates == DuplicatePolicy(30, 14, 1)
    assert second is not None and second.duplicates.enabled is False
    assert third is not None and third.duplicates == DuplicatePolicy()
    exported = {s["code"]: s["duplicates"] for s in export_catalog(store_uow_factory())["services"]}
    assert exported[services[1]["code"]] == {"enabled": False}
    assert exported[services[0]["code"]] == {"radius_m": 30.0, "open_days": 14.0, "closed_days": 1.0}
