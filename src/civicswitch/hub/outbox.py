"""The outbox writer: what changed in a unit of work becomes delivery rows in the same transaction.

Who gets what (the owning body at the time of the event):
- ``submitted`` → ``created`` (a referral is a ``created`` with ``"referred": true`` for the external body);
- ``status_changed`` → ``status_changed`` (not the ``closed/referred`` of a referral: the referred body got it new);
- a public ``note`` → ``note``;
- ``transferred`` → ``transferred`` to the old owner and ``created`` to the new one.
A body with connectors gets one row per connector (enabled or not: a paused connector's rows wait). A body with
no connector (or only a ``manual`` one) gets a manual bridge task for ``created`` messages. An event a connector
itself caused (its API client) is not echoed back to it.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from civicswitch.hub.model import Connector, ConnectorKind, MessageType, canonical_text
from civicswitch.hub.views import NewDelivery
from civicswitch.requests.model import CloseReason, Event, ServiceRequest

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

SOURCE = "urn:civicswitch:requests"
TYPE_PREFIX = "gov.civicswitch.request."


def _messages(request: ServiceRequest, event: Event) -> Iterator[tuple[MessageType, str]]:
    body = request.body_code
    if event.kind == "submitted" and body:
        yield MessageType.CREATED, body
    elif event.kind == "status_changed" and body and event.close_reason != CloseReason.REFERRED:
        yield MessageType.STATUS_CHANGED, body
    elif event.kind == "note" and event.public and body:
        yield MessageType.NOTE, body
    elif event.kind == "transferred":
        old, new = (event.data.get("body") or [None, None])[:2]
        if old:
            yield MessageType.TRANSFERRED, old
        if new:
            yield MessageType.CREATED, new


def envelope(
    request: ServiceRequest, event: Event, type_: MessageType, connector: Connector | None, key: str,
    contact: dict[str, Any] | None, service_name: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The CloudEvents 1.0 envelope (structured JSON mode) of one message."""
    assert request.id is not None
    status_map = connector.status_map if connector is not None else None
    data: dict[str, Any] = {
        "service_request_id": str(request.id),
        "service_code": request.service_code,
        "service_name": service_name,
        "status": canonical_text(request.status, request.close_reason),
        "external_status": status_map.to_external(request.status, request.close_reason) if status_map else None,
        "description": request.description,
        "lat": request.lat,
        "long": request.long,
        "address": request.address,
        "zipcode": request.zipcode,
        "media_url": request.media_url,
        "attributes": request.attributes,
        "areas": request.areas,
        "agency": request.body_code,
        "requested_datetime": request.requested_at.isoformat(),
        "expected_datetime": request.expected_at.isoformat() if request.expected_at else None,
        "status_notes": request.status_notes,
        "note": event.description if type_ in (MessageType.NOTE, MessageType.STATUS_CHANGED) else None,
    }
    if type_ == MessageType.CREATED and request.close_reason == CloseReason.REFERRED:
        data["referred"] = True
    if type_ == MessageType.TRANSFERRED:
        data["transferred_to"] = request.body_code
    if contact is not None:
        data["contact"] = contact
    return {
        "specversion": "1.0",
        "id": key,
        "source": SOURCE,
        "type": TYPE_PREFIX + str(type_),
        "subject": str(request.id),
        "time": event.at.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def write_outbox(uow: UnitOfWork) -> int:
    """Turn the unit of work's request changes into delivery rows; returns how many were written."""
    changes = uow.requests.take_changes()
    if not changes:
        return 0
    by_body: dict[str, list[Connector]] = defaultdict(list)
    for c in uow.hub.connectors():
        if c.kind != ConnectorKind.MANUAL:
            by_body[c.body_code].append(c)
    rows: list[NewDelivery] = []
    contacts: dict[int, dict[str, Any] | None] = {}
    names: dict[str, str | None] = {}
    for request, events in changes:
        assert request.id is not None
        if request.service_code not in names:
            found_service = uow.catalog.service(request.service_code)
            names[request.service_code] = found_service.name if found_service else None
        name = names[request.service_code]
        for event in events:
            for type_, body in _messages(request, event):
                targets = [
                    c for c in by_body.get(body, []) if event.client_id is None or c.client_id != event.client_id
                ]
                if not targets and not by_body.get(body):
                    if type_ == MessageType.CREATED:
                        key = "cs_" + secrets.token_hex(16)
                        rows.append(
                            NewDelivery(
                                None,
                                body,
                                request.id,
                                type_,
                                key,
                                envelope(request, event, type_, None, key, None, name),
                                event.at,
                            )
                        )
                    continue
                for c in targets:
                    contact = None
                    if c.config.get("include_contact"):
                        if request.id not in contacts:
                            found = uow.requests.contact(request.id)
                            contacts[request.id] = None if found is None else {
                                k: v for k, v in dataclasses.asdict(found).items() if v
                            }  # fmt: skip
                        contact = contacts[request.id]
                    key = "cs_" + secrets.token_hex(16)
                    rows.append(
                        NewDelivery(
                            c.code,
                            body,
                            request.id,
                            type_,
                            key,
                            envelope(request, event, type_, c, key, contact, name),
                            event.at,
                        )
                    )
    uow.hub.enqueue(rows)
    return len(rows)
