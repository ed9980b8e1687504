"""``recent_closures``: how long a service's requests took to close lately, with their areas (the report page's
"usually closed within"), against the fake, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

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


def test_recent_closures__fixed_or_no_action_of_the_service_in_the_window__hours_and_areas(
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
        found = uow.requests.recent_closures("graffiti", T0 - timedelta(days=90), ("districts", "wards"))
        assert sorted((round(h, 6), where) for h, where in found) == [
            (2.0, ("A", None)), (5.0, ("A", None)), (48.0, ("A", None))]  # fmt: skip
        assert [where for _, where in uow.requests.recent_closures("graffiti", T0 - timedelta(days=90))] == [()] * 3
        assert uow.requests.recent_closures("no-such-service", T0 - timedelta(days=90)) == []


def test_recent_closures__limit__the_most_recently_closed(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    _store(store_uow_factory, catalog_data, _closed(1, 1), _closed(2, 2), _closed(3, 3, area="B"), _closed(4, 4))
    since = T0 - timedelta(days=90)
    with store_uow_factory() as uow:
        found = uow.requests.recent_closures("graffiti", since, ("districts",), limit=3)
    assert sorted((round(h, 6), where) for h, where in found) == [(1.0, ("A",)), (2.0, ("A",)), (3.0, ("B",))]
