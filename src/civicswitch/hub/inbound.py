"""Inbound updates from a body's system, whatever the path (signed push, Open311 poll, batch file): mapped by
the connector's status map, deduplicated by update id, applied in order, and never through an illegal transition
(such an update is recorded, flagged for staff, and changes nothing)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from civicswitch.core.errors import Invalid, NotFound
from civicswitch.hub.model import Connector, ConnectorKind, InboundUpdate
from civicswitch.people.policy import Action, Principal, Role
from civicswitch.requests.access import authorize_on
from civicswitch.requests.handlers import DEFAULT_CLOCK_SKEW, check_media_url, request_id_from, update_time
from civicswitch.requests.model import TRANSITIONS, CloseReason, Event, ServiceRequest, Status
from civicswitch.requests.sla import left_hold, refresh_due

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InboundResult:
    request_id: int
    applied: bool
    duplicate: bool = False
    flagged: str | None = None  # why it was recorded but not applied


def _find(uow: UnitOfWork, connector: Connector, update: InboundUpdate) -> ServiceRequest:
    request = None
    if update.service_request_id:
        rid = request_id_from(update.service_request_id)
        request = uow.requests.get(rid) if rid is not None else None
    elif update.external_id:
        rid = uow.hub.request_for_external(connector.body_code, update.external_id)
        request = uow.requests.get(rid) if rid is not None else None
    else:
        raise Invalid("an update needs service_request_id or external_id", field="service_request_id")
    if request is None:
        which = update.service_request_id or f"external id {update.external_id}"
        raise NotFound(f"no request {which} for connector {connector.code}", field="service_request_id")
    return request


# An Open311 server reports FixMyStreet's lower-case statuses (servicerequestupdates) or open/closed (requests):
# understood without a status map (a connector's own map comes first). None: a note, no status change.
OPEN311_STATUSES: dict[str, tuple[Status, CloseReason | None] | None] = {
    "open": None,
    "investigating": (Status.ACKNOWLEDGED, None),
    "in_progress": (Status.IN_PROGRESS, None),
    "action_scheduled": (Status.IN_PROGRESS, None),
    "planned": (Status.IN_PROGRESS, None),
    "fixed": (Status.CLOSED, CloseReason.FIXED),
    "closed": (Status.CLOSED, CloseReason.FIXED),
    "duplicate": (Status.CLOSED, CloseReason.DUPLICATE),
    "not_councils_responsibility": (Status.CLOSED, CloseReason.NOT_OURS),
    "no_further_action": (Status.CLOSED, CloseReason.NO_ACTION),
    "internal_referral": None,
    "unable_to_fix": (Status.CLOSED, CloseReason.NO_ACTION),
}


def _target(connector: Connector, raw: str) -> tuple[Status, CloseReason | None] | None:
    if connector.kind == ConnectorKind.OPEN311:
        key = raw.strip().lower().replace(" ", "_")
        known = {k.casefold() for k in connector.status_map.inbound}
        if raw.casefold() not in known and key in OPEN311_STATUSES:
            return OPEN311_STATUSES[key]
    return connector.status_map.to_canonical(raw)


def connector_principal(connector: Connector) -> Principal:
    """A connector acts as the back end of its body."""
    return Principal(
        kind="client",
        name=f"connector:{connector.code}",
        role=Role.BACKEND,
        bodies=frozenset({connector.body_code}),
        client_id=connector.client_id,
    )


MAX_ID = 200  # update_id, service_request_id, external_id and status: longer is not an id (400)


def _check_sizes(update: InboundUpdate) -> None:
    for name, value in (
        ("service_request_id", update.service_request_id),
        ("external_id", update.external_id),
        ("status", update.status),
    ):
        if value is not None and len(value) > MAX_ID:
            raise Invalid(f"{name} is longer than {MAX_ID} characters", field=name)
        if value is not None and "\x00" in value:
            raise Invalid(f"{name} contains a NUL character (\\x00), which is not allowed", field=name)


def _media_url(connector: Connector, update: InboundUpdate) -> str | None:
    """The update's photo link, when it is an http(s) URL; anything else is dropped (and logged), not stored as a
    link staff or residents would follow (a signed push is refused earlier, in :func:`parse_update`)."""
    if not update.media_url or not update.media_url.strip():
        return None
    try:
        return check_media_url(update.media_url)
    except Invalid:
        log.warning(
            "update %s from %s: media_url dropped (not an http(s) URL): %.100r",
            update.update_id,
            connector.code,
            update.media_url,
        )
        return None


def apply_update(
    uow: UnitOfWork,
    connector: Connector,
    update: InboundUpdate,
    *,
    now: datetime,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> InboundResult:
    """Apply one update inside the caller's unit of work (the caller commits).

    ``now`` is the receiver's clock: an update more than ``clock_skew`` in the future, or from before its
    request was filed, is refused (:func:`civicswitch.requests.handlers.update_time`)."""
    update_id = update.update_id.strip()
    if not update_id or len(update_id) > MAX_ID:
        raise Invalid(f"update_id is required (at most {MAX_ID} characters)", field="update_id")
    if len(update.description) > 4000:
        raise Invalid("description is longer than 4000 characters", field="description")
    _check_sizes(update)
    request = _find(uow, connector, update)
    assert request.id is not None
    # A body's system changes only the requests its body owns, or owned before a transfer (its outstanding work).
    authorize_on(uow, connector_principal(connector), Action.REQUEST_UPDATE, request)
    update = replace(
        update,
        at=update_time(update.at, request.requested_at, now, clock_skew),
        media_url=_media_url(connector, update),
    )
    if update.update_id.startswith("token:") and update.external_id and update.service_request_id:
        # An Open311 server assigned its id to a request it had accepted with a token only.
        uow.hub.add_external_ref(request.id, connector.body_code, update.external_id, update.at)
        return InboundResult(request.id, applied=True)
    if connector.client_id is not None and uow.requests.has_external_event(connector.client_id, update_id):
        return InboundResult(request.id, applied=False, duplicate=True)
    raw = update.status.strip()
    common = {
        "client_id": connector.client_id,
        "external_id": update_id,
        "external_status": raw[:60] or None,
        "media_url": update.media_url,
    }
    flagged = None
    mapped = _target(connector, raw) if raw else None
    if mapped is not None:
        target, reason = mapped
        mine = [
            e for e in uow.requests.events([request.id], public_only=False).get(request.id, [])
            if connector.client_id is not None and e.client_id == connector.client_id
        ]  # fmt: skip
        latest = max((e.at for e in mine), default=None)
        if latest is not None and update.at < latest:
            flagged = f"out of order: sent for {update.at.isoformat()}, after an update for {latest.isoformat()}"
        elif (target, reason) == (request.status, request.close_reason):
            request.add_note(update.at, update.description, **common)  # type: ignore[arg-type]
        elif target not in TRANSITIONS[request.status]:
            flagged = f"cannot go from {request.status} to {target}"
        else:
            before = request.status
            request.transition(target, update.at, reason=reason, note=update.description, **common)  # type: ignore[arg-type]
            if left_hold(before, request):
                refresh_due(uow, request, update.at)  # the time on hold does not count
    else:
        request.add_note(update.at, update.description, **common)  # type: ignore[arg-type]
    if flagged is not None:
        request.pending_events.append(
            Event(
                at=update.at,
                kind="update_flagged",
                description=f"Update {raw!r} from {connector.code} not applied: "
                f"{flagged}" + (f" ({update.description[:200]})" if update.description else ""),
                status_from=request.status,
                public=False,
                data={"connector": connector.code},
                **common,  # type: ignore[arg-type]
            )
        )
        log.warning("update %s from %s for request %s flagged: %s", update_id, connector.code, request.id, flagged)
    uow.requests.save(request)
    return InboundResult(request.id, applied=flagged is None, flagged=flagged)
