"""The measures (requests/metrics.py) on every store: hand-built requests — reopened, transferred twice, closed as a
duplicate, referred, still open, filed outside the range — and percentiles checked by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.errors import Forbidden, Invalid
from civicswitch.people.policy import OPERATOR, Principal, Role
from civicswitch.requests.metrics import CloseTimes, MetricsQuery, Volume, parse_by, time_to_close, volume
from civicswitch.requests.model import Channel, CloseReason, ServiceRequest, Status
from civicswitch.storage.ports import UnitOfWork

CATALOG = {
    "bodies": [{"code": "DOT", "name": "Transportation"}, {"code": "DSNY", "name": "Sanitation"},
               {"code": "DEP", "name": "Environment"}],
    "services": [{"code": "pothole", "name": "Pothole", "body": "DOT"},
                 {"code": "dumping", "name": "Dumping", "body": "DSNY"}],
}  # fmt: skip
T0 = datetime(2025, 3, 1, tzinfo=UTC)
RANGE = MetricsQuery(T0, T0 + timedelta(days=31))
EXECUTIVE = Principal(kind="staff", name="mayor@city.gov", role=Role.EXECUTIVE)


def filed(
    hours_to_close: float | None,
    *,
    service: str = "pothole",
    body: str | None = "DOT",
    reason: CloseReason | None = CloseReason.FIXED,
    at: datetime = T0 + timedelta(days=1),
    channel: Channel = Channel.WEB,
    area: str | None = "north",
    transfers: int = 0,
) -> ServiceRequest:
    closed = None if hours_to_close is None else at + timedelta(hours=hours_to_close)
    return ServiceRequest(
        service_code=service, requested_at=at, channel=channel, address="1 Main St", body_code=body,
        status=Status.NEW if closed is None else Status.CLOSED, close_reason=None if closed is None else reason,
        closed_at=closed, updated_at=closed or at, areas=None if area is None else {"wards": area},
        transfers=transfers,
    )  # fmt: skip


@pytest.fixture
def make(store_uow_factory: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
    load_catalog(store_uow_factory(), CATALOG)
    return store_uow_factory


def store(make: Callable[[], UnitOfWork], *requests: ServiceRequest) -> None:
    with make() as uow:
        for r in requests:
            uow.requests.add(r, None)
        uow.commit()


def test_time_to_close__five_closures__median_and_percentiles_interpolated(make: Callable[[], UnitOfWork]) -> None:
    store(make, *(filed(h) for h in (1, 2, 3, 4, 10)))
    assert time_to_close(make(), OPERATOR, RANGE) == [CloseTimes("all", 5, 3.0, 5.2, 7.6)]


def test_time_to_close__duplicates_referrals_and_open_ones__not_timed_but_counted_in_volume(
    make: Callable[[], UnitOfWork],
) -> None:
    store(make, filed(2), filed(4, reason=CloseReason.NO_ACTION), filed(0.1, reason=CloseReason.DUPLICATE),
          filed(0.2, reason=CloseReason.REFERRED), filed(None), filed(1, at=T0 - timedelta(hours=2)))  # fmt: skip
    assert time_to_close(make(), OPERATOR, RANGE) == [CloseTimes("all", 2, 3.0, 3.6, 3.8)]
    assert volume(make(), OPERATOR, RANGE) == [Volume("all", 5, 4, 1)]


def test_time_to_close__reopened_then_closed_again__timed_to_the_last_closing(make: Callable[[], UnitOfWork]) -> None:
    request = filed(5)
    store(make, request)
    with make() as uow:
        assert request.id is not None
        again = uow.requests.get(request.id)
        assert again is not None
        again.status, again.close_reason, again.closed_at = Status.CLOSED, CloseReason.FIXED, T0 + timedelta(days=3)
        uow.requests.save(again)  # reopened and closed again two days later: the closing time is the last one
        uow.commit()
    assert time_to_close(make(), OPERATOR, RANGE) == [CloseTimes("all", 1, 48.0, 48.0, 48.0)]


def test_volume__by_body_after_transfers__counted_with_the_body_that_owns_it_now(
    make: Callable[[], UnitOfWork],
) -> None:
    store(make, filed(None, body="DEP", transfers=2), filed(1), filed(None, body=None))
    assert volume(make(), OPERATOR, MetricsQuery(RANGE.since, RANGE.until, "body")) == [
        Volume("(none)", 1, 0, 1), Volume("DEP", 1, 0, 1), Volume("DOT", 1, 1, 0),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("service", ["dumping", "pothole"]),
        ("channel", ["phone", "web"]),
        ("area:wards", ["(none)", "north", "south"]),
    ],
)
def test_volume__grouped__one_row_per_group(make: Callable[[], UnitOfWork], by: str, expected: list[str]) -> None:
    from civicswitch.catalog.handlers import load_layer

    square = [[[-74.01, 40.70], [-73.99, 40.70], [-73.99, 40.72], [-74.01, 40.72], [-74.01, 40.70]]]
    north = {"type": "Feature", "properties": {"k": "north"}, "geometry": {"type": "Polygon", "coordinates": square}}
    layer = {"type": "FeatureCollection", "features": [north]}
    load_layer(make(), "wards", layer, key_property="k")
    store(make, filed(1, service="dumping", channel=Channel.PHONE, area="south"), filed(2), filed(None, area=None))
    grouping, layer_name = parse_by(by)
    rows = volume(make(), OPERATOR, MetricsQuery(RANGE.since, RANGE.until, grouping, layer_name))
    assert [r.group for r in rows] == expected
    assert sum(r.filed for r in rows) == 3


def test_metrics__an_executive__may_read_them_and_an_agent_may_not(make: Callable[[], UnitOfWork]) -> None:
    store(make, filed(1))
    assert volume(make(), EXECUTIVE, RANGE) == [Volume("all", 1, 1, 0)]
    with pytest.raises(Forbidden):
        volume(make(), Principal(kind="staff", name="agent@city.gov", role=Role.AGENT), RANGE)


@pytest.mark.parametrize(
    ("text", "message"),
    [("ward", "use service, body, channel or area:LAYER"), ("area:", "use service")],
)
def test_parse_by__wrong_grouping__says_what_is_possible(text: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse_by(text)


def test_metrics_query__range_backwards_or_area_without_layer__refused() -> None:
    with pytest.raises(Invalid, match="ends after it starts"):
        MetricsQuery(RANGE.until, RANGE.since)
    with pytest.raises(Invalid, match="area:LAYER"):
        MetricsQuery(RANGE.since, RANGE.until, "area")


def test_metrics__unknown_layer__refused_with_its_name(make: Callable[[], UnitOfWork]) -> None:
    with pytest.raises(Invalid, match="no layer 'wards'"):
        volume(make(), OPERATOR, MetricsQuery(RANGE.since, RANGE.until, "area", "wards"))
