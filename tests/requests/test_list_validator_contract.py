"""``RequestStore.list_validator``: the ETag source of public request lists and single requests, on memory, SQLite and
PostgreSQL. It stays put while nothing a list shows changes, and moves on every visible change (status, notes,
merges, photos, a request entering or leaving the page, the catalog's names)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.catalog.model import Body
from civicswitch.requests.model import Channel, ServiceRequest, Status
from civicswitch.requests.views import RequestQuery
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
WINDOW = RequestQuery(requested_from=T0 - 100 * H, requested_to=T0 + 100 * H, limit=1000)


@pytest.fixture
def stored(store_uow_factory: MakeUow, catalog_data: dict[str, Any]) -> tuple[MakeUow, list[int]]:
    """Five graffiti requests an hour apart (the last is the newest)."""
    load_catalog(store_uow_factory(), catalog_data)
    with store_uow_factory() as uow:
        ids = [uow.requests.add(request(T0 + i * H), None) for i in range(5)]
        uow.commit()
    return store_uow_factory, ids


def request(at: datetime) -> ServiceRequest:
    r = ServiceRequest(service_code="graffiti", requested_at=at, channel=Channel.OPEN311, lat=40.7, long=-74.0,
                       body_code="DSNY")  # fmt: skip
    r.record_submission(at, client_id=None)
    return r


def validator(make: MakeUow, query: RequestQuery = WINDOW) -> tuple[int, str]:
    with make() as uow:
        return uow.requests.list_validator(query)


def change(make: MakeUow, request_id: int, edit: Callable[[ServiceRequest], Any]) -> None:
    with make() as uow:
        r = uow.requests.get(request_id)
        assert r is not None
        edit(r)
        uow.requests.save(r)
        uow.commit()


def test_list_validator__nothing_changed__same_and_counts_what_find_selects(stored: tuple[MakeUow, list[int]]) -> None:
    make, _ = stored
    first = validator(make)
    with make() as uow:
        found = uow.requests.find(WINDOW)
    assert first == validator(make)
    assert first[0] == len(found) == 5


def test_list_validator__status_change__moves(stored: tuple[MakeUow, list[int]]) -> None:
    make, ids = stored
    before = validator(make)
    change(make, ids[2], lambda r: r.transition(Status.ACKNOWLEDGED, T0 + 10 * H))
    assert validator(make) != before


def test_list_validator__note_dated_before_the_last_update__moves(stored: tuple[MakeUow, list[int]]) -> None:
    """A back end may report an update dated in the past: updated_datetime stays, the list still changed."""
    make, ids = stored
    change(make, ids[1], lambda r: r.transition(Status.ACKNOWLEDGED, T0 + 10 * H))
    before = validator(make)
    change(make, ids[1], lambda r: r.add_note(T0 + 5 * H, "Crew booked"))
    with make() as uow:
        saved = uow.requests.get(ids[1])
    assert saved is not None and saved.updated_at == T0 + 10 * H
    assert validator(make) != before


def test_list_validator__merge__moves_for_both_requests(stored: tuple[MakeUow, list[int]]) -> None:
    make, ids = stored
    child_q, parent_q = RequestQuery(ids=(ids[3],), limit=1), RequestQuery(ids=(ids[0],), limit=1)
    before = validator(make, child_q), validator(make, parent_q)
    with make() as uow:
        child, parent = uow.requests.get(ids[3]), uow.requests.get(ids[0])
        assert child is not None and parent is not None
        child.close_as_duplicate_of(parent, T0 + 10 * H)
        parent.absorb(child, [], T0 + 10 * H, followers=0)
        uow.requests.save(child)
        uow.requests.save(parent)
        uow.commit()
    after = validator(make, child_q), validator(make, parent_q)
    assert after[0] != before[0] and after[1] != before[1]


def test_list_validator__photo_added_by_an_update__moves(stored: tuple[MakeUow, list[int]]) -> None:
    make, ids = stored
    one = RequestQuery(ids=(ids[4],), limit=1)
    before = validator(make, one)
    change(make, ids[4], lambda r: r.add_note(T0 + 10 * H, "", media_url="https://example.org/after.jpg"))
    assert validator(make, one) != before


def test_list_validator__new_request_in_the_window__moves(stored: tuple[MakeUow, list[int]]) -> None:
    make, _ = stored
    before = validator(make)
    with make() as uow:
        uow.requests.add(request(T0 + 20 * H), None)
        uow.commit()
    after = validator(make)
    assert after != before and after[0] == before[0] + 1


def test_list_validator__earlier_page_shrinks__later_page_moves(stored: tuple[MakeUow, list[int]]) -> None:
    """Page 2 of open requests shifts when a request on page 1 closes, though no row of page 2 was written."""
    make, ids = stored
    page2 = RequestQuery(statuses=("new",), requested_from=T0 - H, requested_to=T0 + 10 * H, limit=2, offset=2)
    before = validator(make, page2)
    change(make, ids[4], lambda r: r.transition(Status.CLOSED, T0 + 10 * H))  # the newest: on page 1
    after = validator(make, page2)
    assert after != before and after[0] == before[0] == 2


def test_list_validator__request_outside_the_list_saved__same(stored: tuple[MakeUow, list[int]]) -> None:
    make, ids = stored
    first_two = RequestQuery(ids=(ids[0], ids[1]), limit=2)
    before = validator(make, first_two)
    change(make, ids[4], lambda r: r.add_note(T0 + 10 * H, "Elsewhere"))
    assert validator(make, first_two) == before


def test_list_validator__catalog_renamed__moves(stored: tuple[MakeUow, list[int]]) -> None:
    """The agency name a request shows comes from the catalog."""
    make, ids = stored
    one = RequestQuery(ids=(ids[0],), limit=1)
    before = validator(make, one)
    with make() as uow:
        uow.catalog.add_body(Body("DSNY", "Sanitation Department"))
        uow.commit()
    assert validator(make, one) != before


def test_list_validator__unknown_id__counts_nothing(stored: tuple[MakeUow, list[int]]) -> None:
    make, ids = stored
    assert validator(make, RequestQuery(ids=(max(ids) + 100,), limit=1))[0] == 0
    assert validator(make, RequestQuery(ids=(ids[0],), limit=1))[0] == 1


def test_view_with_validator__the_view_find_gives_and_the_validator_of_its_query(
    stored: tuple[MakeUow, list[int]],
) -> None:
    make, ids = stored
    change(make, ids[2], lambda r: r.add_note(T0 + 10 * H, "Seen"))
    one = RequestQuery(ids=(ids[2],), limit=1)
    with make() as uow:
        found = uow.requests.view_with_validator(ids[2])
        assert found is not None
        assert found == (uow.requests.find(one)[0], uow.requests.list_validator(one)[1])
        assert uow.requests.view_with_validator(max(ids) + 100) is None
    change(make, ids[2], lambda r: r.transition(Status.ACKNOWLEDGED, T0 + 11 * H))
    with make() as uow:
        after = uow.requests.view_with_validator(ids[2])
    assert after is not None and after[1] != found[1]


EVERY_KIND_OF_FILTER = {
    "everything": RequestQuery(),
    "one service": RequestQuery(service_codes=("pothole",)),
    "two services": RequestQuery(service_codes=("pothole", "graffiti")),
    "unknown service": RequestQuery(service_codes=("nope",)),
    "known and unknown service": RequestQuery(service_codes=("nope", "graffiti")),
    "open": RequestQuery(statuses=("new", "acknowledged", "in_progress", "on_hold", "reopened")),
    "closed": RequestQuery(statuses=("closed",)),
    "open and closed": RequestQuery(statuses=("new", "acknowledged", "in_progress", "on_hold", "reopened", "closed")),
    "some statuses": RequestQuery(statuses=("acknowledged", "new")),
    "one status": RequestQuery(statuses=("closed",), service_codes=("graffiti",)),
    "requested from": RequestQuery(requested_from=T0 + 3 * H),
    "requested window": RequestQuery(requested_from=T0 + H, requested_to=T0 + 6 * H),
    "requested to": RequestQuery(requested_to=T0 + 2 * H),
    "updated after": RequestQuery(updated_from=T0 + 9 * H),
    "updated before": RequestQuery(updated_to=T0 + 9 * H),
    "updated window, open pothole": RequestQuery(
        service_codes=("pothole",), statuses=("new",), updated_from=T0, updated_to=T0 + 20 * H
    ),
    "page 2 of 3": RequestQuery(limit=3, offset=3),
    "page past the end": RequestQuery(limit=3, offset=30),
    "ids": RequestQuery(ids=(3, 1, 7, 999), limit=4),
    "ids beat the filters": RequestQuery(ids=(2,), service_codes=("nope",), limit=1),
    "no ids": RequestQuery(ids=(), limit=0),
}


@pytest.mark.parametrize("name", list(EVERY_KIND_OF_FILTER))
def test_list_validator__every_kind_of_filter__the_rows_find_selects_in_its_order(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any], name: str
) -> None:
    """The validator lists exactly find()'s rows, in find()'s order (the SQL store builds its own statement)."""
    load_catalog(store_uow_factory(), catalog_data)
    with store_uow_factory() as uow:
        for i in range(10):
            r = request(T0 + i * H)
            if i % 3 == 0:
                r.service_code, r.body_code, r.attributes = "pothole", "DOT", {"size": "small"}
            if i % 4 == 1:
                r.transition(Status.ACKNOWLEDGED, T0 + (i + 5) * H)
            if i % 4 == 2:
                r.transition(Status.CLOSED, T0 + (i + 8) * H)
            uow.requests.add(r, None)
        uow.commit()
    query = EVERY_KIND_OF_FILTER[name]
    with store_uow_factory() as uow:
        expected = [v.id for v in uow.requests.find(query)]
        count, validator = uow.requests.list_validator(query)
    listed = validator.split(":", 1)[1]
    assert [int(item.split(".")[0]) for item in listed.split(",") if item] == expected
    assert count == len(expected)
