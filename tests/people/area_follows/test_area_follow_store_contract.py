"""The area follows' store (people/area_follows) against the fake, SQLite and PostgreSQL: a follow kept as given,
changed in place, found by address, the "every change" follows of some areas (confirmed and not stopped only), the
digests due (the longest due first, at most the limit); and the request store's ``area_events``: an area's public
timeline of a period, newest first, of one service or all."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from civicswitch.catalog.loader import load_catalog
from civicswitch.people.area_follows.model import AreaFollow, Cadence
from civicswitch.people.links import address_digest
from civicswitch.requests.model import Channel, Event, ServiceRequest
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _follow(email: str = "ana@example.org", **more: Any) -> AreaFollow:
    values: dict[str, Any] = {"email": email, "layer": "districts", "area_key": "D1", "service_code": None,
                              "cadence": Cadence.DAILY, "created_at": T0, "language": "es", **more}  # fmt: skip
    return AreaFollow(**values)


def test_area_follows__added_read_changed_found_by_address(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        ana = uow.area_follows.add(_follow())
        ben = uow.area_follows.add(_follow("ben@example.org", service_code="pothole", cadence=Cadence.EVERY_CHANGE))
        uow.commit()
    assert ana.id is not None and ben.id is not None and ana.id != ben.id
    with store_uow_factory() as uow:
        assert uow.area_follows.get(ana.id) == ana
        assert uow.area_follows.get(10**12) is None
        confirmed = ana.confirmed(T0 + timedelta(minutes=5))
        uow.area_follows.save(confirmed)
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.area_follows.get(ana.id) == confirmed
        assert confirmed.due_at == T0 + timedelta(days=1, minutes=5) and confirmed.told_until == confirmed.confirmed_at
        assert uow.area_follows.of_address(address_digest(" ANA@example.org ")) == [confirmed]
        assert uow.area_follows.of_address(address_digest("carla@example.org")) == []


def test_area_follows__every_change__only_confirmed_and_not_stopped_of_the_areas_asked(
    store_uow_factory: MakeUow,
) -> None:
    at = T0 + timedelta(hours=1)
    with store_uow_factory() as uow:
        told = uow.area_follows.add(_follow(cadence=Cadence.EVERY_CHANGE).confirmed(at))
        uow.area_follows.add(_follow("ben@example.org", cadence=Cadence.EVERY_CHANGE))  # not confirmed
        uow.area_follows.add(dataclasses.replace(_follow("carla@example.org", cadence=Cadence.EVERY_CHANGE)
                                                 .confirmed(at), stopped_at=at))  # fmt: skip
        uow.area_follows.add(_follow("dan@example.org").confirmed(at))  # a digest
        other = uow.area_follows.add(_follow("eve@example.org", area_key="D2", cadence=Cadence.EVERY_CHANGE)
                                     .confirmed(at))  # fmt: skip
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.area_follows.every_change([("districts", "D1")]) == [told]
        assert uow.area_follows.every_change([("districts", "D1"), ("districts", "D2")]) == [told, other]
        assert uow.area_follows.every_change([("wards", "D1")]) == []
        assert uow.area_follows.every_change([]) == []


def test_area_follows__due__active_digests_whose_time_came__longest_due_first__at_most_the_limit(
    store_uow_factory: MakeUow,
) -> None:
    with store_uow_factory() as uow:
        late = uow.area_follows.add(_follow("ana@example.org").confirmed(T0))
        later = uow.area_follows.add(_follow("ben@example.org").confirmed(T0 + timedelta(hours=2)))
        uow.area_follows.add(_follow("carla@example.org", cadence=Cadence.WEEKLY).confirmed(T0))
        uow.area_follows.add(_follow("dan@example.org"))  # unconfirmed: never due
        uow.area_follows.add(dataclasses.replace(_follow("eve@example.org").confirmed(T0), stopped_at=T0))
        uow.commit()
    day = T0 + timedelta(days=1, hours=3)
    with store_uow_factory() as uow:
        assert uow.area_follows.due(T0 + timedelta(hours=23), 10) == []
        assert uow.area_follows.due(day, 10) == [late, later]
        assert uow.area_follows.due(day, 1) == [late]
        told = late.told(day)
        assert told.due_at == T0 + timedelta(days=2) and told.told_until == day  # the next period, not a day on
        uow.area_follows.save(told)
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.area_follows.due(day, 10) == [later]


CATALOG: dict[str, Any] = {
    "bodies": [{"code": "DOT", "name": "Department of Transportation"}],
    "services": [{"code": "pothole", "name": "Pothole", "body": "DOT"},
                 {"code": "graffiti", "name": "Graffiti", "body": "DOT"}],
}  # fmt: skip


def _request(uow: UnitOfWork, service: str, area: str, at: datetime) -> int:
    request = ServiceRequest(service_code=service, requested_at=at, channel=Channel.WEB, address="5 Elm St",
                             areas={"districts": area, "boroughs": "B1"}, body_code="DOT")  # fmt: skip
    request.pending_events.append(Event(at=at, kind="submitted", description="Received"))
    return uow.requests.add(request, None)


def test_area_events__the_period_of_one_area__public_only__newest_first__one_service_or_all(
    store_uow_factory: MakeUow,
) -> None:
    load_catalog(store_uow_factory(), CATALOG)
    with store_uow_factory() as uow:
        first = _request(uow, "pothole", "D1", T0)
        second = _request(uow, "graffiti", "D1", T0 + timedelta(hours=1))
        _request(uow, "pothole", "D2", T0 + timedelta(hours=2))  # another area
        _request(uow, "pothole", "D1", T0 - timedelta(days=2))  # before the period
        uow.commit()
    with store_uow_factory() as uow:
        request = uow.requests.get(first)
        assert request is not None
        request.pending_events += [
            Event(at=T0 + timedelta(hours=3), kind="note", description="Crew sent"),
            Event(at=T0 + timedelta(hours=4), kind="note", description="Staff only", public=False),
        ]
        uow.requests.save(request)
        uow.commit()
    since, until = T0 - timedelta(hours=1), T0 + timedelta(days=1)
    with store_uow_factory() as uow:
        found = uow.requests.area_events("districts", "D1", None, since, until, 100)
        newest_first = [(first, "note", "Crew sent"), (second, "submitted", "Received"),
                        (first, "submitted", "Received")]  # fmt: skip
        assert [(rid, e.kind, e.description) for rid, e in found] == newest_first
        potholes = uow.requests.area_events("districts", "D1", "pothole", since, until, 100)
        assert [rid for rid, _ in potholes] == [first, first]
        assert len(uow.requests.area_events("districts", "D1", None, since, until, 2)) == 2
        assert uow.requests.area_events("districts", "D1", None, T0 + timedelta(hours=3), until, 100) == []
        assert uow.requests.area_events("districts", "D9", None, since, until, 100) == []
        assert uow.requests.area_events("districts", "D1", "no-such", since, until, 100) == []
