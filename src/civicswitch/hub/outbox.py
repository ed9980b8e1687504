"""The outbox writer: what changed in a unit of work becomes delivery rows in the same transaction.

Who gets what (the owning body at the time of the event):
- ``submitted`` → ``created`` (a referral is a ``created`` with ``"referred": true`` for the external body);
- ``status_changed`` → ``status_changed`` (not the ``closed/referred`` of a referral: the referred body got it new);
- a public ``note`` (or a liaison's ``fix_confirmed`` / ``fix_disputed``) → ``note``;
- ``transferred`` → ``transferred`` to the old owner and ``created`` to the new one.
A body with connectors gets one row per connector (enabled or not: a paused connector's rows wait). A body with
no connector (or only a ``manual`` one) gets a manual bridge task for ``created`` messages. An event a connector
itself caused (its API client) is not echoed back to it.

The manual bridge queue stays true: when a request is transferred away from a body, the body's open task is
withdrawn; when it is closed (fixed elsewhere, merged into another request, cancelled…), every open task is; a
referral withdraws the tasks of bodies other than the one it was referred to. Each withdrawn task says why.

Media: a photo uploaded to us is stored with a path (``/media/<id>``); the envelope carries it as an absolute URL
under the public URL (the ``public_url`` instance setting, or ``CIVICSWITCH_PUBLIC_URL``), so a department can
fetch it. With no public URL set, such a photo is left out of the envelope (``media_url`` null) and a warning is
logged: a relative path means nothing to another system.

Rows are stamped with the unit of work's clock (``precise``: sub-second) when it has one, else with the event's
time; delivery latency is measured from that stamp.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from civicswitch.hub.area_follows import area_updates
from civicswitch.hub.model import Connector, ConnectorKind, MessageType, canonical_text
from civicswitch.hub.residents import for_residents, notice_rows, residents_connector
from civicswitch.hub.updates import resident_updates
from civicswitch.hub.views import NewDelivery
from civicswitch.requests.model import NOTE_KINDS, CloseReason, Event, ServiceRequest, Status

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)

SOURCE = "urn:civicswitch:requests"
TYPE_PREFIX = "gov.civicswitch.request."


def _messages(request: ServiceRequest, event: Event) -> Iterator[tuple[MessageType, str]]:
    body = request.body_code
    if event.kind == "submitted" and body:
        yield MessageType.CREATED, body
    elif event.kind == "status_changed" and body and event.close_reason != CloseReason.REFERRED:
        yield MessageType.STATUS_CHANGED, body
    elif event.kind in NOTE_KINDS and event.public and body:
        yield MessageType.NOTE, body
    elif event.kind == "transferred":
        old, new = (event.data.get("body") or [None, None])[:2]
        if old:
            yield MessageType.TRANSFERRED, old
        if new:
            yield MessageType.CREATED, new


def public_base(uow: UnitOfWork) -> str | None:
    """The public URL clients and departments see: ``CIVICSWITCH_PUBLIC_URL`` overrides the stored setting."""
    found = os.environ.get("CIVICSWITCH_PUBLIC_URL", "").strip()
    if not found:
        stored = uow.settings.all().get("public_url")
        found = stored.strip() if isinstance(stored, str) else ""
    return found.rstrip("/") or None


def absolute_media_url(url: str | None, base: str | None) -> str | None:
    """An http(s) URL as it is; our own path (``/media/<id>``) under ``base``; None when it cannot be made absolute."""
    if not url:
        return None
    if url.lower().startswith(("http://", "https://")):
        return url
    if base is None or not url.startswith("/"):
        return None
    return base + url


def envelope(
    request: ServiceRequest, event: Event, type_: MessageType, connector: Connector | None, key: str,
    contact: dict[str, Any] | None, service_name: str | None = None, media_url: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The CloudEvents 1.0 envelope (structured JSON mode) of one message. ``media_url``: the request's photo as
    an absolute URL (see :func:`absolute_media_url`; not given: the request's own, when it is absolute)."""
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
        "media_url": media_url if media_url is not None else absolute_media_url(request.media_url, None),
        "attributes": request.attributes,
        "areas": request.areas,
        "agency": request.body_code,
        "requested_datetime": request.requested_at.isoformat(),
        "expected_datetime": request.expected_at.isoformat() if request.expected_at else None,
        "status_notes": request.status_notes,
        "note": event.description if type_ in (MessageType.NOTE, MessageType.STATUS_CHANGED) else None,
        "language": request.language,  # the resident's (their own words are in it); null: the instance's
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


@dataclass(frozen=True, slots=True)
class _Withdrawal:
    """Open manual bridge tasks of a request to take out of the queue: ``only`` this body's, or all but ``keep``'s
    (neither: all), and why."""

    reason: str
    only: str | None = None
    keep: str | None = None

    def hits(self, row: NewDelivery) -> bool:
        return (
            row.connector_code is None
            and (self.only is None or row.body_code == self.only)
            and (self.keep is None or row.body_code != self.keep)
        )


def _withdrawal(request: ServiceRequest, event: Event) -> _Withdrawal | None:
    if event.kind == "transferred":
        old, new = (event.data.get("body") or [None, None])[:2]
        return _Withdrawal(f"withdrawn: request transferred to {new or 'no owner'}", only=old) if old else None
    if event.kind != "status_changed" or event.status_to != Status.CLOSED:
        return None
    if event.close_reason == CloseReason.REFERRED:
        return _Withdrawal(f"withdrawn: request referred to {request.body_code}", keep=request.body_code)
    if event.close_reason == CloseReason.DUPLICATE:
        parent = f" into request {request.parent_id}" if request.parent_id else ""
        return _Withdrawal(f"withdrawn: request merged{parent} (closed as a duplicate)")
    return _Withdrawal(f"withdrawn: request closed elsewhere ({event.close_reason or 'fixed'})")


def write_outbox(uow: UnitOfWork) -> int:
    """Turn the unit of work's request changes into delivery rows (and withdraw the manual bridge tasks they make
    stale), and the unit of work's notices into mail to residents; returns how many rows were written."""
    changes = uow.requests.take_changes()
    notices = uow.requests.take_notices()
    if not changes and not notices:
        return 0
    connectors = uow.hub.connectors()
    stamp = uow.clock.precise() if uow.clock is not None else None
    to_residents = notice_rows(notices, connectors, stamp or notices[0].at) if notices else []
    if to_residents:
        uow.hub.enqueue(to_residents)
    if not changes:
        return len(to_residents)
    by_body: dict[str, list[Connector]] = defaultdict(list)
    for c in connectors:
        if c.kind != ConnectorKind.MANUAL and not for_residents(c):  # a residents' connector: notices only
            by_body[c.body_code].append(c)
    rows: list[NewDelivery] = []
    contacts: dict[int, dict[str, Any] | None] = {}
    names: dict[str, str | None] = {}
    base: list[str | None] = []  # looked up once, and only when a request has a photo of ours
    for request, events in changes:
        assert request.id is not None
        if request.service_code not in names:
            found_service = uow.catalog.service(request.service_code)
            names[request.service_code] = found_service.name if found_service else None
        name = names[request.service_code]
        media = request.media_url
        if media and not media.lower().startswith(("http://", "https://")):
            if not base:
                base.append(public_base(uow))
            media = absolute_media_url(media, base[0])
            if media is None:
                log.warning(
                    "request %s: its photo %s is not sent to departments: set the public URL "
                    "(civicswitch settings set public_url https://…, or CIVICSWITCH_PUBLIC_URL)",
                    request.id,
                    request.media_url,
                )
        for event in events:
            gone = _withdrawal(request, event)
            if gone is not None:
                rows = [r for r in rows if r.request_id != request.id or not gone.hits(r)]
                uow.hub.withdraw_manual(request.id, gone.reason, stamp or event.at, only=gone.only, keep=gone.keep)
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
                                envelope(request, event, type_, None, key, None, name, media),
                                stamp or event.at,
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
                            envelope(request, event, type_, c, key, contact, name, media),
                            stamp or event.at,
                        )
                    )
    uow.hub.enqueue(rows)
    told: list[NewDelivery] = []
    latest = max((e.at for _, events in changes for e in events), default=None)
    if latest is not None and residents_connector(connectors) is not None:  # without one, nobody can be told
        at = stamp or latest
        public = base[0] if base else public_base(uow)  # one settings read for both
        updates = resident_updates(uow, changes, public, at)
        updates += area_updates(uow, changes, public, at)
        told = notice_rows(updates, connectors, at) if updates else []
        if told:
            uow.hub.enqueue(told)
    return len(rows) + len(to_residents) + len(told)
