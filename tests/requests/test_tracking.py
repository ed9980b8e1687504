"""``track_request``, the residents' track page's read (requests/tracking.py), on memory, SQLite and PostgreSQL:
the public timeline as worded entries, never a staff-only entry or contact data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.errors import NotFound
from civicswitch.requests import tracking
from civicswitch.requests.model import Channel, CloseReason, Contact, ServiceRequest, Status
from civicswitch.requests.tracking import TrackEntry, track_request
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
NAMES = {None: "no owner", "DOT": "Department of Transportation", "DSNY": "Department of Sanitation"}


def _filed(make: MakeUow, **extra: Any) -> int:
    r = ServiceRequest(service_code="pothole", requested_at=T0, channel=Channel.WEB, lat=40.7, long=-74.0,
                       body_code="DOT", description="Deep hole", address="1 Main Street",
                       expected_at=T0 + 72 * H, **extra)  # fmt: skip
    r.record_submission(T0, client_id=None)
    r.record_routing(T0, "Routed to DOT by the service's owner", rule="owner")
    with make() as uow:
        rid = uow.requests.add(r, Contact(email="ana@example.org", phone="555-0100"))
        uow.commit()
    return rid


def _work(make: MakeUow, rid: int, step: Callable[[ServiceRequest], Any]) -> None:
    with make() as uow:
        found = uow.requests.get(rid)
        assert found is not None
        step(found)
        uow.requests.save(found)
        uow.commit()


def test_track_request__public_timeline__worded_by_kind_without_staff_entries(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    load_catalog(store_uow_factory(), catalog_data)
    rid = _filed(store_uow_factory)
    _work(store_uow_factory, rid, lambda r: r.transition(Status.ACKNOWLEDGED, T0 + H, note="We have it"))
    _work(store_uow_factory, rid, lambda r: r.add_note(T0 + 2 * H, "Crew visit planned: staff only", public=False))
    _work(store_uow_factory, rid, lambda r: r.reassign(
        T0 + 3 * H, service_code="pothole", lat=r.lat, long=r.long, body_code="DSNY", areas=None,
        expected_at=None, body_names=NAMES, rule=None, note="Sidewalk, not road", data={"reason": "Sidewalk, not road",
                                                                                        "user_id": 7}))  # fmt: skip
    _work(store_uow_factory, rid, lambda r: r.add_note(T0 + 4 * H, "Filled today", media_url="https://x.test/p.jpg"))
    _work(store_uow_factory, rid, lambda r: r.transition(Status.CLOSED, T0 + 5 * H, reason=CloseReason.FIXED))
    found = track_request(store_uow_factory(), rid)
    assert found.entries == (
        TrackEntry(T0, tracking.SUBMITTED),
        TrackEntry(T0 + H, tracking.STATUS, status=Status.ACKNOWLEDGED, text="We have it"),
        TrackEntry(T0 + 3 * H, tracking.TRANSFERRED, text="Sidewalk, not road", to_body="Department of Sanitation"),
        TrackEntry(T0 + 4 * H, tracking.NOTE, text="Filled today", media_url="https://x.test/p.jpg"),
        TrackEntry(T0 + 5 * H, tracking.STATUS, status=Status.CLOSED, close_reason=CloseReason.FIXED),
    )
    assert (found.service_name, found.owner, found.status, found.close_reason) == (
        "Pothole", "Department of Sanitation", Status.CLOSED, CloseReason.FIXED)  # fmt: skip
    assert (found.expected_at, found.duplicate_of, found.reference) == (None, None, None)  # closed: no due date
    assert "ana@example.org" not in repr(found) and "staff only" not in repr(found) and "Routed" not in repr(found)


def test_track_request__merged__names_the_request_to_follow(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    load_catalog(store_uow_factory(), catalog_data)
    first, second = _filed(store_uow_factory), _filed(store_uow_factory)
    with store_uow_factory() as uow:
        parent, child = uow.requests.get(first), uow.requests.get(second)
        assert parent is not None and child is not None
        child.close_as_duplicate_of(parent, T0 + H)
        uow.requests.save(child)
        uow.commit()
    found = track_request(store_uow_factory(), second)
    assert (found.status, found.close_reason, found.duplicate_of) == (Status.CLOSED, CloseReason.DUPLICATE, first)
    assert track_request(store_uow_factory(), first).expected_at == T0 + 72 * H  # open: its due date


@pytest.mark.parametrize("number", [0, 999_999])
def test_track_request__no_such_number__not_found(store_uow_factory: MakeUow, number: int) -> None:
    with pytest.raises(NotFound):
        track_request(store_uow_factory(), number)
