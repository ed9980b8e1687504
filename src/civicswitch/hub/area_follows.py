"""The use cases of following an area (the follows are people/area_follows): follow (a confirmation link is
mailed), confirm, stop, what a change in an area says (:func:`area_updates`, at the outbox's commit), and the
digests due (:func:`send_digests`, run by the worker).

Every message leaves as a :class:`Notice` through the outbox after commit, like a request follower's
(``hub/residents.py``): none without a residents' mail connector. Nothing about who else follows is revealed: the
answer to "follow" is the same whether the address followed the area already or not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from civicswitch.catalog.model import PublicLocation
from civicswitch.core.clock import Clock
from civicswitch.core.errors import Invalid
from civicswitch.hub.updates import change_of, localised
from civicswitch.people.area_follows.model import DIGEST_REQUESTS, AreaFollow, Cadence
from civicswitch.people.links import FOLLOW_LINK_DAYS, AreaClaim, AreaLinks, LinkProblem, instance_secret
from civicswitch.people.policy import Action, Principal, authorize
from civicswitch.requests.model import Event, Notice, ServiceRequest
from civicswitch.requests.reporting import check_email  # the report form's check: one rule for addresses

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)

RESEND_AFTER = timedelta(hours=1)  # an unconfirmed follow asked again gets a new link at most this often
# At most this many confirmation links a day to one address, whatever areas and services are asked: a script
# cannot fill someone's mailbox through us by asking for every area in turn (the answer is the same; a log says it)
LINKS_PER_DAY = 5
DIGEST_EVENTS = 2000  # the timeline entries one digest reads at most (the newest): a period's changes in an area
CONFIRMATION = "area_confirmation"  # the notice kinds (hub/residents.py maps them to message types)
UPDATE = "area_update"
DIGEST = "area_digest"

AreaName = Callable[[str, str], "str | None"]  # (layer, key) → the area's name, None: no such area


@dataclass(frozen=True, slots=True)
class FollowArea:
    email: str
    layer: str
    area_key: str
    service_code: str | None  # None: every service
    cadence: str
    principal: Principal
    language: str | None = None


@dataclass(frozen=True, slots=True)
class FollowAreaResult:
    area_name: str
    mailed: bool  # a confirmation link was queued (False: one was sent within the hour, or it is confirmed already)


@dataclass(frozen=True, slots=True)
class ConfirmAreaFollow:
    token: str
    principal: Principal


@dataclass(frozen=True, slots=True)
class StopAreaFollow:
    token: str
    principal: Principal


@dataclass(frozen=True, slots=True)
class AreaFollowView:
    """What the confirmation and stop pages say of a follow (never its address)."""

    layer: str
    area_key: str
    area_name: str
    service_code: str | None
    cadence: Cadence
    changed: bool  # this press confirmed (or stopped) it; False: it was before


def _check(uow: UnitOfWork, cmd: FollowArea, area_name: AreaName) -> tuple[str, Cadence]:
    email = cmd.email.strip()
    if not email or check_email(email) is not None or len(email) > 254:
        raise Invalid("give a valid email address", field="email")
    try:
        cadence = Cadence(cmd.cadence)
    except ValueError:
        raise Invalid("choose every change, a daily or a weekly digest", field="cadence") from None
    if area_name(cmd.layer, cmd.area_key) is None:
        raise Invalid("choose an area", field="area")
    if cmd.service_code is not None:
        service = uow.catalog.service(cmd.service_code)
        if service is None or not service.active:
            raise Invalid("choose a service, or every service", field="service")
    return email, cadence


def follow_area(
    uow: UnitOfWork, clock: Clock, cmd: FollowArea, links: AreaLinks, area_name: AreaName
) -> FollowAreaResult:
    """Store the follow unconfirmed and mail its confirmation link. Asked again, the same follow is not stored
    twice: a new link goes out at most once per :data:`RESEND_AFTER` while it is unconfirmed, none once it is
    confirmed with the same cadence; another cadence is a new follow that replaces the old one when confirmed."""
    authorize(cmd.principal, Action.AREA_FOLLOW)
    with uow:
        email, cadence = _check(uow, cmd, area_name)
        now = clock.now()
        wanted = AreaFollow(email, cmd.layer, cmd.area_key, cmd.service_code, cadence, now, language=cmd.language)
        same = [f for f in uow.area_follows.of_address(wanted.address_digest) if f.same_follow(wanted)]
        name = area_name(cmd.layer, cmd.area_key) or cmd.area_key
        if any(f.active and f.cadence is cadence for f in same):
            log.info("area %s/%s: follow asked again, confirmed already", cmd.layer, cmd.area_key)
            return FollowAreaResult(name, mailed=False)
        waiting = [f for f in same if f.confirmed_at is None and f.cadence is cadence]
        if waiting and now - max(f.created_at for f in waiting) < RESEND_AFTER:
            log.info("area %s/%s: follow asked again within the hour: no new link", cmd.layer, cmd.area_key)
            return FollowAreaResult(name, mailed=False)
        mine = uow.area_follows.of_address(wanted.address_digest)
        if sum(1 for f in mine if now - f.created_at < timedelta(days=1)) >= LINKS_PER_DAY:
            log.warning("area follow not stored: %d links sent to one address within a day already", LINKS_PER_DAY)
            return FollowAreaResult(name, mailed=False)
        follow = uow.area_follows.add(wanted)
        assert follow.id is not None
        service_name = None
        if cmd.service_code is not None:
            service = uow.catalog.service(cmd.service_code)
            service_name = service.text("name", cmd.language or "") if service else cmd.service_code
        data = {
            "confirm_url": links.confirm_url(follow.id, email, now), "link_days": FOLLOW_LINK_DAYS,
            "area_name": name, "layer": cmd.layer, "service_name": service_name, "cadence": str(cadence),
            "language": cmd.language,
        }  # fmt: skip
        uow.requests.add_notice(Notice(None, CONFIRMATION, email, now, data))
        uow.commit()
    log.info("area %s/%s: follow %s stored, confirmation queued", cmd.layer, cmd.area_key, follow.id)
    return FollowAreaResult(name, mailed=True)


def _claimed(uow: UnitOfWork, follow_id: int, matches: Callable[[str], bool]) -> AreaFollow:
    follow = uow.area_follows.get(follow_id)
    if follow is None or not matches(follow.email):
        raise LinkProblem("This link no longer matches a follow. Follow the area again to get a new link.")
    return follow


def _view(follow: AreaFollow, area_name: AreaName, changed: bool) -> AreaFollowView:
    name = area_name(follow.layer, follow.area_key) or follow.area_key
    return AreaFollowView(follow.layer, follow.area_key, name, follow.service_code, follow.cadence, changed)


def linked_follow(uow: UnitOfWork, claim: AreaClaim, area_name: AreaName) -> AreaFollowView:
    """The follow a confirmation link names, as its page shows it before the button is pressed (reads only), or
    :class:`LinkProblem` when the link no longer matches one."""
    with uow:
        follow = _claimed(uow, claim.follow_id, claim.matches)
    return _view(follow, area_name, changed=False)


def confirm_area_follow(
    uow: UnitOfWork, clock: Clock, cmd: ConfirmAreaFollow, links: AreaLinks, area_name: AreaName
) -> AreaFollowView:
    """The owner of the address pressed the button behind the link: mail starts (changes from now on). The same
    address's other follows of that area and service (another cadence) stop: this one replaces them."""
    authorize(cmd.principal, Action.FOLLOW_CONFIRM)
    now = clock.now()
    claim = links.read_confirm(cmd.token, now)
    with uow:
        follow = _claimed(uow, claim.follow_id, claim.matches)
        changed = not follow.active
        if changed:
            for other in uow.area_follows.of_address(follow.address_digest):
                if other.id != follow.id and other.same_follow(follow) and other.stopped_at is None:
                    other.stopped_at = now
                    uow.area_follows.save(other)
            uow.area_follows.save(follow.confirmed(now))
            uow.commit()
    log.info("area follow %s %s", follow.id, "confirmed" if changed else "confirmed already")
    return _view(follow, area_name, changed)


def stop_area_follow(
    uow: UnitOfWork, clock: Clock, cmd: StopAreaFollow, links: AreaLinks, area_name: AreaName
) -> AreaFollowView:
    """No more mail for this follow (the link in each of its messages, or one click in the mail program)."""
    authorize(cmd.principal, Action.FOLLOW_STOP)
    claim = links.read_stop(cmd.token)
    with uow:
        follow = _claimed(uow, claim.follow_id, claim.matches)
        changed = follow.stopped_at is None
        if changed:
            follow.stopped_at = clock.now()
            uow.area_follows.save(follow)
            uow.commit()
    log.info("area follow %s %s", follow.id, "stopped" if changed else "stopped already")
    return _view(follow, area_name, changed)


# -- what is said ----------------------------------------------------------------------------------------------------
def request_line(uow: UnitOfWork, request: ServiceRequest, language: str | None, base: str) -> dict[str, Any]:
    """One request as an area's mail lists it: number, service, place (none for a service whose location is
    generalised: the public map's rule), status now, and its page."""
    service = uow.catalog.service(request.service_code)
    hidden = service is not None and service.residents.public_location is PublicLocation.GENERALISED
    return {
        "number": request.id,
        "service_name": service.text("name", language or "") if service else request.service_code,
        "address": None if hidden else request.address,
        "status": str(request.status),
        "close_reason": str(request.close_reason) if request.close_reason else None,
        "track_url": localised(f"{base}/requests/{request.id}", language),
    }


def said_of(kind: str, change: dict[str, Any] | None) -> dict[str, Any] | None:
    """One timeline entry as an area's mail words it: a new report, or what a request's follower hears."""
    if kind == "submitted":
        return {"change": "new"}
    if change is None:
        return None
    return {k: change.get(k) for k in ("change", "note", "close_reason", "owner", "duplicate_of")}


def send_digests(
    uow: UnitOfWork, clock: Clock, base: str | None = None, area_name: AreaName | None = None, *, limit: int = 100
) -> int:
    """Queue the digests due now (at most ``limit`` follows); returns how many follows were handled. A follow with
    nothing to tell gets no mail: its period moves on. ``base``: the instance's public URL (None: the stored
    setting); without one nothing is sent (the links must be absolute) and the digests wait. The worker runs this
    every minute (hub/worker.py)."""
    from civicswitch.hub.outbox import public_base  # the outbox calls area_updates: imported when used

    with uow:
        now = clock.now()
        due = uow.area_follows.due(now, limit)
        if not due:
            return 0
        base = base or public_base(uow)
        if area_name is None:
            names = {(a.layer, a.key): a.name for layer in {f.layer for f in due} for a in uow.catalog.areas(layer)
                     if a.in_force(now)}  # fmt: skip
            area_name = lambda layer, key: names.get((layer, key))  # noqa: E731
        if not base:
            log.warning(
                "%d area digest(s) wait: their mail needs the instance's public URL for its links "
                "(civicswitch settings set public_url https://…, or CIVICSWITCH_PUBLIC_URL)", len(due),
            )  # fmt: skip
            return 0
        links = AreaLinks(instance_secret(uow, now), base)
        bodies = {b.code: b.name for b in uow.catalog.bodies()}
        sent = 0
        for follow in due:
            assert follow.id is not None
            since = follow.told_until or follow.confirmed_at or now
            found = uow.requests.area_events(
                follow.layer, follow.area_key, follow.service_code, since, now, DIGEST_EVENTS
            )
            by_request: dict[int, list[dict[str, Any]]] = {}
            loaded: dict[int, ServiceRequest | None] = {}
            for request_id, event in found:  # newest first
                change = None
                if event.kind != "submitted":
                    if request_id not in loaded:
                        loaded[request_id] = uow.requests.get(request_id)
                    request = loaded[request_id]
                    change = change_of(request, event, bodies) if request is not None else None
                said = said_of(event.kind, change)
                if said is not None:
                    by_request.setdefault(request_id, []).append({**said, "at": event.at.isoformat()})
            lines = []
            for request_id in list(by_request)[:DIGEST_REQUESTS]:
                if request_id not in loaded:
                    loaded[request_id] = uow.requests.get(request_id)
                found_request = loaded[request_id]
                if found_request is not None:
                    line = request_line(uow, found_request, follow.language, base)
                    lines.append({**line, "changes": by_request[request_id]})
            if lines:
                data = {
                    "area_name": area_name(follow.layer, follow.area_key) or follow.area_key,
                    "layer": follow.layer, "cadence": str(follow.cadence),
                    "service_name": _service_name(uow, follow.service_code, follow.language),
                    "since": since.isoformat(), "until": now.isoformat(), "requests": lines,
                    "more": max(0, len(by_request) - len(lines)), "language": follow.language,
                    "map_url": localised(f"{base}/map", follow.language),
                    "stop_url": links.stop_url(follow.id, follow.email),
                }  # fmt: skip
                uow.requests.add_notice(Notice(None, DIGEST, follow.email, now, data))
                sent += 1
            uow.area_follows.save(follow.told(now))
        uow.commit()
    log.info("area digests: %d follow(s) due, %d digest(s) queued", len(due), sent)
    return len(due)


def _service_name(uow: UnitOfWork, code: str | None, language: str | None) -> str | None:
    if code is None:
        return None
    service = uow.catalog.service(code)
    return service.text("name", language or "") if service else code


def area_updates(
    uow: UnitOfWork, changes: Sequence[tuple[ServiceRequest, list[Event]]], base: str | None, at: datetime
) -> list[Notice]:
    """The messages of one unit of work's changes to the areas' "every change" followers (the outbox writer calls
    this at commit, after the request followers' :func:`civicswitch.hub.updates.resident_updates`): one per follow
    and changed request, naming every change of it. One indexed read when nobody follows the areas concerned."""
    pairs = {(layer, key) for request, _ in changes for layer, key in (request.areas or {}).items() if key}
    if not pairs or not base:
        return []
    follows = uow.area_follows.every_change(sorted(pairs))
    if not follows:
        return []
    bodies = {b.code: b.name for b in uow.catalog.bodies()}
    links = AreaLinks(instance_secret(uow, at), base)
    names: dict[tuple[str, str], str] = {}
    for layer in {f.layer for f in follows}:
        names.update({(layer, a.key): a.name for a in uow.catalog.areas(layer) if a.in_force(at)})
    notices = []
    for request, events in changes:
        assert request.id is not None
        said = [s for e in events if e.public and (s := said_of(e.kind, change_of(request, e, bodies))) is not None]
        if not said:
            continue
        areas = request.areas or {}
        for follow in follows:
            if areas.get(follow.layer) != follow.area_key:
                continue
            if follow.service_code is not None and follow.service_code != request.service_code:
                continue
            line = request_line(uow, request, follow.language, base)
            assert follow.id is not None
            data = {
                "area_name": names.get((follow.layer, follow.area_key), follow.area_key), "layer": follow.layer,
                "cadence": str(follow.cadence), "request": line, "changes": said, "language": follow.language,
                "stop_url": links.stop_url(follow.id, follow.email),
            }  # fmt: skip
            notices.append(Notice(request.id, UPDATE, follow.email, at, data))
    return notices
