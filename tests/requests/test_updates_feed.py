"""The update feed (FixMyStreet servicerequestupdates) shows each entry with the status of its own time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from civicswitch.catalog.loader import load_catalog
from civicswitch.requests.model import Channel, CloseReason, ServiceRequest, Status
from civicswitch.storage.ports import UnitOfWork

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def test_updates__note_then_close__note_keeps_its_open_status(
    store_uow_factory: Callable[[], UnitOfWork], catalog_data: dict[str, object]
) -> None:
    load_catalog(store_uow_factory(), catalog_data)
    request = ServiceRequest(service_code="graffiti", requested_at=T0, channel=Channel.OPEN311, address="1 Main St")
    request.record_submission(T0, client_id=None)
    uow = store_uow_factory()
    with uow:
        rid = uow.requests.add(request, None)
        uow.commit()
    with uow:
        stored = uow.requests.get(rid)
        assert stored is not None
        stored.transition(Status.IN_PROGRESS, T0 + timedelta(hours=1))
        stored.add_note(T0 + timedelta(hours=2), "Crew booked")
        stored.transition(Status.CLOSED, T0 + timedelta(hours=3), reason=CloseReason.DUPLICATE, note="Same as #1")
        stored.add_note(T0 + timedelta(hours=4), "Thanks for reporting")
        uow.requests.save(stored)
        uow.commit()
    with uow:
        feed = uow.requests.updates(T0, T0 + timedelta(days=1), 100)
    assert [(u.kind, u.status, u.close_reason) for u in feed] == [
        ("status_changed", "in_progress", None),
        ("note", "in_progress", None),
        ("status_changed", "closed", "duplicate"),
        ("note", "closed", "duplicate"),
    ]
