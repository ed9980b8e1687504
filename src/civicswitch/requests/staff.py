"""Use cases around duplicates and ownership: check, follow, merge, and change a request's service or location
(re-routing with a transfer record). Each takes a unit of work and commits."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from civicswitch.catalog.model import BodyKind
from civicswitch.core.clock import Clock
from civicswitch.core.errors import IllegalTransition, Invalid, NotFound
from civicswitch.core.geo import parse_coordinate
from civicswitch.people import audit
from civicswitch.people.clients import Scope
from civicswitch.people.links import FOLLOW_LINK_DAYS, FollowLinks, LinkProblem, StopLinks
from civicswitch.people.policy import Action, Principal, authorize
from civicswitch.requests.access import acting, authorize_on
from civicswitch.requests.commands import (
    ChangeRequest,
    ChangeResult,
    ConfirmFollow,
    ConfirmResult,
    FollowRequest,
    FollowResult,
    MergeRequests,
    MergeResult,
    StopResult,
    StopUpdates,
)
from civicswitch.requests.handlers import parse_request_id
from civicswitch.requests.model import (
    CloseReason,
    Contact,
    Event,
    Follower,
    FollowVia,
    Notice,
    ServiceRequest,
    Status,
)
from civicswitch.requests.sla import hold_pauses, service_due
from civicswitch.routing.duplicates import Match, find_duplicates
from civicswitch.routing.intake import Geography, referral_note, route

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)
RESEND_AFTER = timedelta(hours=1)  # a follow asked again while unconfirmed gets a new link at most this often


def _staff(uow: UnitOfWork, principal: Principal | None, api_key: str | None) -> Principal:
    """Who does a staff action: a signed-in account or the CLI's operator, else an admin key (a back end's update
    key is not staff: merging and re-routing are people's decisions)."""
    return acting(uow, principal, api_key, Scope.ADMIN)


def load_request(uow: UnitOfWork, public_id: str, field: str = "service_request_id") -> ServiceRequest:
    """The stored request of a public id, or :class:`NotFound` naming the field that gave it."""
    request = uow.requests.get(parse_request_id(public_id))
    if request is None:
        raise NotFound(f"{field} {public_id.strip()!r} does not exist", field=field)
    return request


def check_duplicates(
    uow: UnitOfWork,
    clock: Clock,
    service_code: str,
    lat: str | None,
    long: str | None,
    description: str = "",
    *,
    limit: int = 5,
) -> list[Match]:
    """Before filing: the requests a report of ``service_code`` at (lat, long) would likely duplicate."""
    with uow:
        service = uow.catalog.service((service_code or "").strip())
        if service is None or not service.active:
            raise NotFound(f"service_code {service_code!r} is not in the service list", field="service_code")
        point_lat, point_long = parse_coordinate(lat, "lat", 90.0), parse_coordinate(long, "long", 180.0)
        if point_lat is None or point_long is None:
            raise Invalid("lat and long are required", field="lat")
        if not 1 <= limit <= 50:
            raise Invalid("limit must be between 1 and 50", field="limit")
        return find_duplicates(
            uow.requests, service, point_lat, point_long, description.strip(), clock.now(), limit=limit
        )


def duplicates_of(uow: UnitOfWork, clock: Clock, public_id: str, *, limit: int = 5) -> list[Match]:
    """On demand, for a stored request: the other requests it likely duplicates."""
    with uow:
        request = load_request(uow, public_id)
        service = uow.catalog.service(request.service_code)
        if service is None or request.lat is None or request.long is None:
            return []
        return find_duplicates(
            uow.requests,
            service,
            request.lat,
            request.long,
            request.description,
            clock.now(),
            exclude_id=request.id,
            limit=limit,
        )


def _resolve_parent(uow: UnitOfWork, request: ServiceRequest) -> ServiceRequest:
    """A merged request's surviving parent (merges never chain, but a parent could not be loaded twice)."""
    seen = set()
    while request.parent_id is not None and request.parent_id not in seen:
        seen.add(request.parent_id)
        parent = uow.requests.get(request.parent_id)
        if parent is None:
            break
        request = parent
    return request


def follow_request(uow: UnitOfWork, clock: Clock, cmd: FollowRequest, links: FollowLinks | None = None) -> FollowResult:
    """'Follow this one instead': the person is told about the request (or, if it was merged, its parent).

    An email or phone number is stored unconfirmed and hears nothing until it is confirmed, so nobody can
    subscribe someone else. With ``links`` (the web passes them), a new email follower — or one still unconfirmed
    who asks again — is sent a confirmation link through the outbox (the residents' mail connector). The answer
    is the same whether or not the person already followed, and nothing about other followers is revealed."""
    with uow:
        who = acting(uow, cmd.principal, cmd.api_key, Scope.SUBMIT)
        request = _resolve_parent(uow, load_request(uow, cmd.service_request_id))
        authorize_on(uow, who, Action.REQUEST_FOLLOW, request)
        assert request.id is not None
        account = (cmd.account_id or "").strip() or None
        now = clock.now()
        reachable = not cmd.contact.is_empty()
        follower = Follower(
            contact=cmd.contact,
            via=FollowVia.FOLLOW,
            created_at=now,
            account_id=account,
            confirmed_at=None if reachable else now,  # an app's own account needs no confirmation
            language=cmd.language,
        )
        existing = uow.requests.followers(request.id)
        filer = _filer(uow, request, now)
        same = [f for f in [*existing, *([filer] if filer else [])] if f.same_person(follower)]
        # Asked again while still unconfirmed (the mail was lost, the link expired): a new link, at most one per
        # RESEND_AFTER, so a script cannot flood someone's mailbox through us.
        again = (
            bool(same)
            and all(f.confirmed_at is None and f.via == FollowVia.FOLLOW for f in same)
            and now - max(f.created_at for f in same) >= RESEND_AFTER
        )
        if not same or again:
            uow.requests.add_follower(request.id, follower)
        if not same:
            request.pending_events.append(
                Event(at=now, kind="followed", description="A resident started following", public=False)
            )
            uow.requests.save(request)
        email = cmd.contact.email
        if email and links is not None and (not same or again):
            service = uow.catalog.service(request.service_code)
            uow.requests.add_notice(
                Notice(
                    request.id,
                    "follow_confirmation",
                    email,
                    now,
                    {
                        "confirm_url": links.url(request.id, email, now),
                        "link_days": FOLLOW_LINK_DAYS,
                        "service_name": service.text("name", cmd.language or "") if service else request.service_code,
                        "address": request.address,
                        "language": cmd.language,  # the mail is written in it (None: the instance's)
                    },
                )
            )
        uow.commit()
    log.info("request %s followed (%s)", request.id, "new follower" if not same else "already following")
    return FollowResult(
        str(request.id),
        "email" if cmd.contact.email else ("none" if not reachable else "pending"),
    )


def confirm_follow(uow: UnitOfWork, clock: Clock, cmd: ConfirmFollow, links: FollowLinks) -> ConfirmResult:
    """The owner of an address opened the link we sent and confirmed: from now on it may be told about the
    request. Works after a merge too (the link names the request it was sent for; the follow moved with it)."""
    authorize(cmd.principal, Action.FOLLOW_CONFIRM)
    now = clock.now()
    claim = links.read(cmd.token, now)
    with uow:
        first = uow.requests.get(claim.request_id)
        if first is None:
            raise LinkProblem("The request this link was sent for no longer exists.")
        request = _resolve_parent(uow, first)
        assert request.id is not None
        matching = [f for f in uow.requests.followers(request.id) if claim.matches(f.contact.email)]
        if not matching:
            raise LinkProblem(
                f"This link no longer matches a follow of request {request.id}. Follow the request again to get a "
                "new link."
            )
        fresh = [f for f in matching if f.confirmed_at is None]
        for f in fresh:
            assert f.id is not None
            uow.requests.confirm_follower(f.id, now)
        if fresh:
            request.pending_events.append(
                Event(at=now, kind="follow_confirmed", description="A follower confirmed their address", public=False)
            )
            uow.requests.save(request)
            uow.commit()
    log.info("request %s: follow %s", request.id, "confirmed" if fresh else "already confirmed")
    return ConfirmResult(str(request.id), newly_confirmed=bool(fresh))


def stop_updates(uow: UnitOfWork, clock: Clock, cmd: StopUpdates, links: StopLinks) -> StopResult:
    """The owner of an address asked for no more mail about a request (the link in every update): as its filer
    and as a follower. The same answer whether or not anything was left to stop."""
    authorize(cmd.principal, Action.FOLLOW_STOP)
    claim = links.read(cmd.token)
    with uow:
        if uow.requests.get(claim.request_id) is None:
            raise LinkProblem("The request this link was sent for no longer exists.")
        stopped = uow.requests.stop_updates(claim.request_id, claim.address_digest, clock.now())
        uow.commit()
    log.info("request %s: mail stopped for one address (%d entr%s)", claim.request_id, stopped,
             "y" if stopped == 1 else "ies")  # fmt: skip
    return StopResult(str(claim.request_id), stopped > 0)


def _filer(uow: UnitOfWork, request: ServiceRequest, at: datetime) -> Follower | None:
    """The person who filed a request, as a follower (None when they left no way to reach them)."""
    assert request.id is not None
    contact = uow.requests.contact(request.id) or Contact()
    if contact.is_empty() and not request.account_id:
        return None
    return Follower(contact, FollowVia.MERGE, at, account_id=request.account_id, language=request.language)


def merge_requests(uow: UnitOfWork, clock: Clock, cmd: MergeRequests) -> MergeResult:
    """Staff merge: the child closes as ``duplicate`` of the parent; its filer and followers follow the parent
    and its notes are carried onto the parent's timeline. Refused, with nothing written, when either is
    missing, they are the same, of different services, the child is closed, or the parent was itself merged."""
    with uow:
        who = _staff(uow, cmd.principal, cmd.api_key)
        client_id = who.client_id
        child = load_request(uow, cmd.child_id, "service_request_id")
        parent = load_request(uow, cmd.parent_id, "parent")
        authorize_on(uow, who, Action.REQUEST_MERGE, child)
        assert child.id is not None and parent.id is not None
        now = max(clock.now(), parent.updated_at or clock.now(), child.updated_at or clock.now())
        child.close_as_duplicate_of(parent, now, client_id=client_id)
        kept = uow.requests.followers(parent.id)
        parent_filer = _filer(uow, parent, now)
        if parent_filer is not None:
            kept.append(parent_filer)
        child_filer = _filer(uow, child, now)
        incoming = [*([child_filer] if child_filer else []), *uow.requests.followers(child.id)]
        moved = 0
        for follower in incoming:
            if any(k.same_person(follower) for k in kept):
                continue
            carried = Follower(
                follower.contact,
                FollowVia.MERGE,
                now,
                account_id=follower.account_id,
                from_request_id=child.id,
                # a filer gave their contact themselves; a follower stays as (un)confirmed as it was
                confirmed_at=follower.confirmed_at if follower.id is not None else now,
                language=follower.language,
                stopped_at=follower.stopped_at,
            )
            uow.requests.add_follower(parent.id, carried)
            kept.append(carried)
            moved += 1
        uow.requests.delete_followers(child.id)
        notes = [e for e in uow.requests.events([child.id], public_only=False).get(child.id, []) if e.kind == "note"]
        parent.absorb(child, notes, now, followers=moved, client_id=client_id)
        uow.requests.save(child)
        uow.requests.save(parent)
        audit.record(
            uow,
            now,
            who,
            Action.REQUEST_MERGE,
            "request",
            child.id,
            detail={"into": parent.id, "followers_moved": moved, "notes": len(notes)},
        )
        uow.commit()
    log.info(
        "request %s merged into %s by %s: %d followers, %d notes", child.id, parent.id, who.label, moved, len(notes)
    )
    return MergeResult(str(parent.id), str(child.id), moved, len(notes))


def change_request(
    uow: UnitOfWork, clock: Clock, cmd: ChangeRequest, geography: Geography | None = None
) -> ChangeResult:
    """Staff changed the service and/or the location: the routing rules run again. A new owner is recorded as
    a transfer; a point now outside the jurisdiction is referred as at intake; nowhere served is refused."""
    with uow:
        who = _staff(uow, cmd.principal, cmd.api_key)
        client_id = who.client_id
        request = load_request(uow, cmd.service_request_id)
        authorize_on(uow, who, Action.REQUEST_CHANGE, request)
        code = (cmd.service_code or "").strip() or request.service_code
        service = uow.catalog.service(code)
        if service is None or not service.active:
            raise NotFound(f"service_code {code!r} is not in the service list", field="service_code")
        lat, long = parse_coordinate(cmd.lat, "lat", 90.0), parse_coordinate(cmd.long, "long", 180.0)
        if (lat is None) != (long is None):
            raise Invalid("lat and long must be sent together", field="lat")
        if lat is None:
            lat, long = request.lat, request.long
        note = (cmd.note or "").strip()
        if len(note) > 4000:
            raise Invalid("note is longer than 4000 characters", field="note")
        now = max(clock.now(), request.updated_at or clock.now())
        old_body = request.body_code
        bodies = {b.code: b for b in uow.catalog.bodies()}
        routing = None
        if geography is not None and lat is not None and long is not None:
            routing = route(service, lat, long, geography, uow.catalog.rules(), bodies)
        body = routing.body if routing else service.body_code
        names: dict[str | None, str] = {code: b.name for code, b in bodies.items()}
        expected = None
        if service.sla is not None:  # from the filing time, without the time it spent on hold
            assert request.id is not None
            timeline = uow.requests.events([request.id], public_only=False).get(request.id, [])
            expected = service_due(uow, service, request.requested_at, hold_pauses(timeline, now))
        request.reassign(
            now,
            service_code=service.code,
            lat=lat,
            long=long,
            body_code=body,
            areas=routing.areas if routing else (request.areas if (lat, long) == (request.lat, request.long) else None),
            expected_at=expected,
            body_names=names,
            rule=routing.rule.describe() if routing and routing.rule else None,
            note=note,
            client_id=client_id,
        )
        referred = routing is not None and routing.referred_to is not None
        if referred:
            assert routing is not None
            request.transition(Status.CLOSED, now, reason=CloseReason.REFERRED, note=referral_note(routing))
        uow.requests.save(request)
        audit.record(
            uow,
            now,
            who,
            Action.REQUEST_CHANGE,
            "request",
            request.id,
            reason=note or None,
            detail={"service": service.code, "owner": [old_body, body], "referred": referred},
        )
        uow.commit()
    transferred = body != old_body
    log.info("request %s changed by %s: service=%s owner=%s", request.id, who.label, service.code, body)
    return ChangeResult(str(request.id), body, transferred, referred)


def read_contact(
    uow: UnitOfWork, clock: Clock, public_id: str, *, who: Principal, reason: str | None = None
) -> Contact | None:
    """The filer's contact data, for someone whose role and scope allow it. Every read is audited (who, which
    request, why), whether or not there was anything to show."""
    with uow:
        request = load_request(uow, public_id)
        authorize_on(uow, who, Action.REQUEST_READ_CONTACT, request)
        assert request.id is not None
        contact = uow.requests.contact(request.id)
        audit.record(
            uow,
            clock.now(),
            who,
            Action.REQUEST_READ_CONTACT,
            "request",
            request.id,
            reason=(reason or "").strip() or None,
            detail={"found": contact is not None},
        )
        uow.commit()
    return contact


def assign_request(
    uow: UnitOfWork, clock: Clock, public_id: str, org: str | None, *, who: Principal, note: str = ""
) -> ServiceRequest:
    """The owner gives the work to a partner organisation (a body of kind partner), or takes it back (None).
    The partner's staff then see and work it; a staff-only timeline entry and the audit log record it."""
    with uow:
        request = load_request(uow, public_id)
        authorize_on(uow, who, Action.REQUEST_ASSIGN, request)
        assert request.id is not None
        code = (org or "").strip() or None
        if code is not None:
            body = uow.catalog.body(code)
            if body is None or body.kind != BodyKind.PARTNER:
                raise Invalid(f"{code!r} is not a partner organisation (a body of kind partner)", field="org")
        if request.status == Status.CLOSED:
            raise IllegalTransition(f"request {request.id} is closed; reopen it before assigning it", field="status")
        now = max(clock.now(), request.updated_at or clock.now())
        before = request.assigned_org
        request.assigned_org = code
        text = f"Assigned to {code}" if code else f"Taken back from {before or 'no one'}"
        request.pending_events.append(
            Event(
                at=now,
                kind="assigned",
                description=f"{text}: {note}" if note else text,
                public=False,
                client_id=who.client_id,
                data={"org": [before, code]},
            )
        )
        uow.requests.save(request)
        audit.record(
            uow,
            now,
            who,
            Action.REQUEST_ASSIGN,
            "request",
            request.id,
            reason=note or None,
            detail={"org": [before, code]},
        )
        uow.commit()
    return request
