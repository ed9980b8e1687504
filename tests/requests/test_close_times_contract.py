"""``close_times``: how long a service's requests took to close lately, in an area or everywhere (the report
page's "usually closed within"), against the fake, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.requests.model import Channel, CloseReason, ServiceRequest, Status
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _closed(hours: float, closed_ago_days: float, *, service: str = "graffiti", area: str = "A",
            reason: CloseReason = CloseReason.FIXED) -> ServiceRequest:  # fmt: skip
    closed_at = T0 - timedelta(days=closed_ago_days)
    r = ServiceRequest(service_code=service, requested_at=closed_at - hours * HOUR, channel=Channel.OPEN311,
                       lat=40.7, long=-73.9, areas={"districts": area, "boroughs": "X"})  # fmt: skip
    r.transition(Status.CLOSED, closed_at, reason=reason)
    return r


def _store(new_uow: MakeUow, catalog: dict[str, Any], *requests: ServiceRequest) -> None:
    load_catalog(new_uow(), catalog)
    with new_uow() as uow:
        for r in requests:
            uow.requests.add(r, None)
        uow.commit()


def test_close_times__recent_fixed_closures_of_the_service__hours_each(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    open_one = ServiceRequest(service_code="graffiti", requested_at=T0 - 2 * HOUR, channel=Channel.OPEN311,
                              address="1 Main St")  # fmt: skip
    _store(
        store_uow_factory, catalog_data,
        _closed(5, 1), _closed(48, 10), _closed(2, 30, reason=CloseReason.NO_ACTION),
        _closed(1, 2, reason=CloseReason.DUPLICATE), _closed(3, 2, reason=CloseReason.REFERRED),  # not the fix's time
        _closed(7, 100),  # closed before the window
        _closed(9, 1, service="pothole"),  # another service
        open_one,
    )  # fmt: skip
    with store_uow_factory() as uow:
        hours = uow.requests.close_times("graffiti", T0 - timedelta(days=90))
        assert sorted(round(h, 6) for h in hours) == [2.0, 5.0, 48.0]
        assert uow.requests.close_times("no-such-service", T0 - timedelta(days=90)) == []


def test_close_times__area_and_limit__only_that_area_the_most_recent_first(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    _store(store_uow_factory, catalog_data, _closed(1, 1), _closed(2, 2), _closed(3, 3, area="B"), _closed(4, 4))
    since = T0 - timedelta(days=90)
    with store_uow_factory() as uow:
        assert sorted(uow.requests.close_times("graffiti", since, ("districts", "A"))) == pytest.approx([1, 2, 4])
        assert uow.requests.close_times("graffiti", since, ("districts", "B")) == pytest.approx([3])
        assert uow.requests.close_times("graffiti", since, ("districts", "C")) == []
        assert sorted(uow.requests.close_times("graffiti", since, limit=2)) == pytest.approx([1, 2])
