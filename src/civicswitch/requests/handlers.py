"""Use cases for service requests. Each takes a unit of work, does its work and commits."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from civicswitch.catalog.model import ServiceType, sla_notice
from civicswitch.core.clock import Clock
from civicswitch.core.errors import Conflict, Invalid, NotFound
from civicswitch.core.geo import parse_coordinate
from civicswitch.core.timefmt import format_datetime, parse_datetime
from civicswitch.people import audit
from civicswitch.people.clients import Scope
from civicswitch.people.policy import Action, Role, authorize, needs_target
from civicswitch.requests.access import acting, authorize_on, target_of
from civicswitch.requests.commands import DuplicateHint, PostUpdate, SubmitRequest, SubmitResult, UpdateResult
from civicswitch.requests.media import accept_upload
from civicswitch.requests.model import Channel, CloseReason, Event, ServiceRequest, Status
from civicswitch.requests.ports import Media
from civicswitch.requests.sla import left_hold, refresh_due, service_due
from civicswitch.routing.duplicates import Match, find_duplicates
from civicswitch.routing.intake import Geography, referral_note, route

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 4000


# How far a reported time may be ahead of our clock (``CIVICSWITCH_CLOCK_SKEW_SECONDS``).
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Limits:
    max_media_bytes: int = 5 * 1024 * 1024
    media_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic")
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW


def update_time(
    at: datetime, filed: datetime, now: datetime, skew: timedelta = DEFAULT_CLOCK_SKEW, name: str = "updated_datetime"
) -> datetime:
    """When a reported update happened, checked against the request and our clock.

    Refused (400): more than ``skew`` in the future, or more than ``skew`` before the request was filed. A time
    within ``skew`` before the filing (a back end whose clock is a little behind ours) is recorded at the filing
    time, so a request's timeline never starts with its updates."""
    if at > now + skew:
        raise Invalid(
            f"{name} {format_datetime(at)} is in the future (now is {format_datetime(now)}; "
            f"at most {skew.total_seconds():g} s of clock difference is allowed)",
            field=name,
        )
    if at < filed - skew:
        raise Invalid(
            f"{name} {format_datetime(at)} is before the request was filed ({format_datetime(filed)})", field=name
        )
    return max(at, filed)


def _text(value: str | None, name: str, limit: int = 500) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise Invalid(f"{name} is longer than {limit} characters", field=name)
    return value or None


def check_media_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise Invalid(f"media_url must be an http(s) URL, got {url[:100]!r}", field="media_url")
    return url


def submit_request(
    uow: UnitOfWork,
    clock: Clock,
    cmd: SubmitRequest,
    limits: Limits = Limits(),
    geography: Geography | None = None,
    after: Callable[[UnitOfWork, int], None] | None = None,
) -> SubmitResult:
    """POST Service Request: validate everything first, then write the request, its media and timeline.

    ``after``: the caller's own writes, given the new request's number, in the same transaction (email in marks the
    message it came from as filed: both are written, or neither).

    Nothing read is updated (the request is new), so the reads run before the writer's turn is taken
    (``reading_first``): on SQLite, other processes' writers wait only for this one's writes. A request filed at
    the same moment at the same spot may then miss this one in its duplicate check, as it always could on
    PostgreSQL; the hint is advisory (staff confirm merges)."""
    with uow.reading_first():
        who = acting(uow, cmd.principal, cmd.api_key, Scope.SUBMIT)
        if not needs_target(who, Action.REQUEST_SUBMIT):
            authorize(who, Action.REQUEST_SUBMIT)
        consent = _text(cmd.consent, "consent", 2000)
        if who.role is Role.LIAISON and not consent:
            raise Invalid("a liaison files on a resident's behalf only with their consent: record it", field="consent")
        code = (cmd.service_code or "").strip()
        if not code:
            raise Invalid("service_code is required", field="service_code")
        service = uow.catalog.service(code)
        if service is None or not service.active:
            raise NotFound(f"service_code {code!r} is not in the service list", field="service_code")
        lat = parse_coordinate(cmd.lat, "lat", 90.0)
        long = parse_coordinate(cmd.long, "long", 180.0)
        if (lat is None) != (long is None):
            raise Invalid("lat and long must be sent together", field="lat")
        address = _text(cmd.address_string, "address_string", 500)
        address_id = _text(cmd.address_id, "address_id", 100)
        if lat is None and address is None and address_id is None:
            raise Invalid(
                "a location is required: send lat and long, or address_string, or address_id",
                field="location",
            )
        description = (cmd.description or "").strip()
        if len(description) > MAX_DESCRIPTION:
            raise Invalid(
                f"description is {len(description)} characters; the limit is {MAX_DESCRIPTION}",
                field="description",
            )
        attributes = service.clean_attributes(cmd.attributes, parse_datetime=parse_datetime)
        earlier = _followed_up(uow, cmd.follows_up)
        media_urls = [check_media_url(u) for u in cmd.media_urls if u and u.strip()]
        now = clock.now()
        stored_media = [
            accept_upload(u, max_bytes=limits.max_media_bytes, allowed=limits.media_types, at=now) for u in cmd.uploads
        ]
        stored_media = [*_staged(uow, cmd.staged_media), *stored_media]
        media_url = f"/media/{stored_media[0].id}" if stored_media else (media_urls[0] if media_urls else None)
        routing = None
        if geography is not None and lat is not None and long is not None:
            bodies = {b.code: b for b in uow.catalog.bodies()}
            routing = route(service, lat, long, geography, uow.catalog.rules(), bodies)
        request = ServiceRequest(
            service_code=service.code,
            requested_at=now,
            channel=Channel.LIAISON if who.role is Role.LIAISON else cmd.channel,
            description=description,
            lat=lat,
            long=long,
            address=address,
            address_id=address_id,
            zipcode=_text(cmd.zipcode, "zipcode", 20),
            media_url=media_url,
            attributes=attributes,
            body_code=routing.body if routing else service.body_code,
            areas=routing.areas if routing else None,
            expected_at=service_due(uow, service, now),
            client_id=who.client_id,
            device_id=_text(cmd.device_id, "device_id", 200),
            account_id=_text(cmd.account_id, "account_id", 200),
            token=secrets.token_urlsafe(16) if service.type == ServiceType.BATCH else None,
            filed_by_user_id=who.user_id,
            consent=consent,
            language=cmd.language,
        )
        if needs_target(who, Action.REQUEST_SUBMIT):
            authorize(who, Action.REQUEST_SUBMIT, target_of(request))  # e.g. a liaison: only in its areas
        request.record_submission(now, client_id=who.client_id)
        if earlier is not None:
            request.pending_events.append(Event(
                at=now, kind="follows_up", data={"request": earlier.id},
                description=f"Reported again: request {earlier.id} was closed, and the problem is still there",
            ))  # fmt: skip
        if routing is not None:
            request.record_routing(now, routing.note(), rule=routing.rule.describe() if routing.rule else None)
            if routing.referred_to is not None:
                request.transition(Status.CLOSED, now, reason=CloseReason.REFERRED, note=referral_note(routing))
        duplicates = []
        if lat is not None and long is not None and request.status != Status.CLOSED:
            duplicates = find_duplicates(uow.requests, service, lat, long, description, now, limit=DUPLICATE_HINTS)
            if duplicates:
                request.record_possible_duplicates(now, [m.document() for m in duplicates])
        for extra in media_urls[1:] if not stored_media else media_urls:
            request.add_note(now, "Additional media", media_url=extra, client_id=who.client_id)
        uow.hub.connectors()  # read now, for the outbox rows written at commit: no read in the writer's turn
        uow.begin_writes()
        for item in stored_media:
            if item.id not in cmd.staged_media:
                uow.requests.add_media(item)
        request_id = uow.requests.add(request, cmd.contact)
        if earlier is not None:
            earlier.pending_events.append(Event(
                at=now, kind="reported_again", data={"request": request_id},
                description=f"Still a problem: reported again as request {request_id}",
            ))  # fmt: skip
            earlier.updated_at = max(now, earlier.updated_at or now)
            uow.requests.save(earlier)
        if uow.requests.attach_media([m.id for m in stored_media], request_id) != len(stored_media):
            # a photo kept for this form was given to another report meanwhile (the form sent twice): nothing
            # of this one is written (the unit of work rolls back)
            raise Conflict("the photo sent earlier was just filed with another report: choose it again", field="media")
        if after is not None:
            after(uow, request_id)
        if who.is_staff:
            audit.record(
                uow,
                now,
                who,
                Action.REQUEST_SUBMIT,
                "request",
                request_id,
                detail={"on_behalf": True, "consent": bool(consent)},
            )
        uow.commit()
    log.info("request %s created: service=%s by=%s channel=%s", request_id, service.code, who.label, cmd.channel)
    notice = referral_note(routing) if routing and routing.referred_to else sla_notice(service.sla)
    hints = tuple(DuplicateHint(str(m.request.id), round(m.distance_m, 1), round(m.score, 3)) for m in duplicates)
    if hints:
        notice = " ".join(filter(None, (notice, duplicate_notice(duplicates[0]))))
    if service.type == ServiceType.BATCH:
        return SubmitResult(None, request.token, notice, request.account_id, hints, request_id)
    if service.type == ServiceType.BLACKBOX:
        return SubmitResult(None, None, notice, request.account_id, hints, request_id)
    return SubmitResult(str(request_id), None, notice, request.account_id, hints, request_id)


def _followed_up(uow: UnitOfWork, request_id: int | None) -> ServiceRequest | None:
    """The closed request a new one reports again (None: none), or why it cannot be."""
    if request_id is None:
        return None
    earlier = uow.requests.get(request_id)
    if earlier is None:
        raise NotFound(f"no request number {request_id} to report again", field="follows_up")
    if earlier.status is not Status.CLOSED:
        raise Invalid(f"request {request_id} is not closed: it is still being worked on", field="follows_up")
    return earlier


def _staged(uow: UnitOfWork, ids: tuple[str, ...]) -> list[Media]:
    """The photos a page already stored for this report: each must still be there and no request's yet."""
    found = []
    for media_id in ids:
        item = uow.requests.media(media_id)
        if item is None or item.request_id is not None:
            raise Invalid("the photo sent earlier is no longer kept: choose it again", field="media")
        found.append(item)
    return found


DUPLICATE_HINTS = 5


def duplicate_notice(best: Match) -> str:
    r = best.request
    state = "already reported" if r.status != "closed" else f"closed ({r.close_reason or 'fixed'}) recently"
    return (
        f"A similar request was {state} {best.distance_m:.0f} m away (request {r.id}); "
        "staff may merge yours into it, and you can follow it for updates."
    )


# FixMyStreet's upper-case update statuses → (canonical target, close reason). None: a note only.
FMS_UPDATE_STATUSES: dict[str, tuple[Status | None, CloseReason | None]] = {
    "OPEN": (None, None),
    "UNCHANGED": (None, None),
    "FOR_TRIAGE": (None, None),
    "INTERNAL_REFERRAL": (None, None),
    "INVESTIGATING": (Status.ACKNOWLEDGED, None),
    "IN_PROGRESS": (Status.IN_PROGRESS, None),
    "PLANNED": (Status.IN_PROGRESS, None),
    "ACTION_SCHEDULED": (Status.IN_PROGRESS, None),
    "CLOSED": (Status.CLOSED, CloseReason.FIXED),
    "FIXED": (Status.CLOSED, CloseReason.FIXED),
    "DUPLICATE": (Status.CLOSED, CloseReason.DUPLICATE),
    "NOT_COUNCILS_RESPONSIBILITY": (Status.CLOSED, CloseReason.NOT_OURS),
    "NO_FURTHER_ACTION": (Status.CLOSED, CloseReason.NO_ACTION),
    "CANCELLED": (Status.CLOSED, CloseReason.CANCELLED),
    "REOPEN": (Status.REOPENED, None),
}


# Request ids are INTEGER columns: PostgreSQL refuses a larger number in a comparison (it does not just miss).
MAX_REQUEST_ID = 2**31 - 1
MAX_ID_TEXT = 200  # longer is not an id of any system: 400, not a 404 that echoes it


def request_id_from(value: str) -> int | None:
    """The numeric id a public ``service_request_id`` names, or None if it cannot name a stored request.

    ASCII digits only: ``str.isdigit`` also takes "²" (which ``int`` refuses) and "١" (which it reads as 1).
    """
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or int(value) > MAX_REQUEST_ID:
        return None
    return int(value)


def parse_request_id(value: str) -> int:
    if len(value.strip()) > MAX_ID_TEXT:
        raise Invalid(f"service_request_id is longer than {MAX_ID_TEXT} characters", field="service_request_id")
    found = request_id_from(value)
    if found is None:
        raise NotFound(f"service_request_id {value.strip()!r} does not exist", field="service_request_id")
    return found


def post_update(uow: UnitOfWork, clock: Clock, cmd: PostUpdate, limits: Limits = Limits()) -> UpdateResult:
    """A back end reports progress. Idempotent on (client, update_id); illegal moves are refused."""
    with uow:
        who = acting(uow, cmd.principal, cmd.api_key, Scope.UPDATE)
        client_id = who.client_id
        update_id = (cmd.update_id or "").strip()
        if not update_id or len(update_id) > 200:
            raise Invalid("update_id is required (at most 200 characters)", field="update_id")
        status_text = (cmd.status or "").strip().upper().replace(" ", "_")
        if status_text not in FMS_UPDATE_STATUSES:
            raise Invalid(
                f"status {cmd.status!r} is not one of {', '.join(sorted(FMS_UPDATE_STATUSES))}",
                field="status",
            )
        request = uow.requests.get(parse_request_id(cmd.service_request_id))
        if request is None:
            raise NotFound(f"service_request_id {cmd.service_request_id!r} does not exist", field="service_request_id")
        authorize_on(uow, who, Action.REQUEST_UPDATE, request)
        existing = None if client_id is None else uow.requests.has_external_event(client_id, update_id)
        if existing is not None:
            return UpdateResult(update_id=str(existing), duplicate=True)
        now = clock.now()
        at = update_time(cmd.updated_datetime, request.requested_at, now, limits.clock_skew)
        description = (cmd.description or "").strip()
        if len(description) > MAX_DESCRIPTION:
            raise Invalid(f"description is longer than {MAX_DESCRIPTION} characters", field="description")
        media_urls = [check_media_url(u) for u in cmd.media_urls if u and u.strip()]
        stored_media = [
            accept_upload(u, max_bytes=limits.max_media_bytes, allowed=limits.media_types, at=now) for u in cmd.uploads
        ]
        media_url = f"/media/{stored_media[0].id}" if stored_media else (media_urls[0] if media_urls else None)
        target, reason = FMS_UPDATE_STATUSES[status_text]
        if status_text == "OPEN" and request.status == Status.CLOSED:
            target = Status.REOPENED
        if target is None or (target == request.status and reason == request.close_reason):
            request.add_note(
                at,
                description,
                client_id=client_id,
                external_id=update_id,
                external_status=status_text,
                media_url=media_url,
            )
        else:
            before = request.status
            request.transition(
                target,
                at,
                reason=reason,
                note=description,
                client_id=client_id,
                external_id=update_id,
                external_status=status_text,
                media_url=media_url,
            )
            if left_hold(before, request):
                refresh_due(uow, request, at)  # the time on hold does not count
        for item in stored_media:
            uow.requests.add_media(item)
        uow.requests.save(request)
        assert request.id is not None
        uow.requests.attach_media([m.id for m in stored_media], request.id)
        event_id = None if client_id is None else uow.requests.has_external_event(client_id, update_id)
        if who.is_staff:
            audit.record(
                uow,
                clock.now(),
                who,
                Action.REQUEST_UPDATE,
                "request",
                request.id,
                detail={"status": status_text, "update_id": update_id},
            )
        uow.commit()
    log.info("request %s updated by %s: %s (update %s)", request.id, who.label, status_text, update_id)
    return UpdateResult(update_id=update_id if event_id is None else str(event_id), duplicate=False)
