"""Staff work on a request: the use cases the staff workspace (and any other entry point) calls.

- department staff (``request.work``, ``request.assign``, ``request.transfer``): acknowledge, start, put on hold
  (a reason is required), close (a close reason is required), reopen; add a public or an internal note; assign
  to a colleague or take it back; transfer to another body with a reason (a "bounce", counted per request);
- partners (``request.partner_work``): start, add progress notes with a photo, report the work complete (the
  request goes back to its owner to confirm, or closes where the service lets partners close);
- liaisons (``request.verify_fix``): confirm or dispute a fix on site;
- any of these on a list of requests, each in its own transaction, with a result per request (``bulk_work``).

Each use case asks the policy about the request first (a refusal writes nothing), changes the request only
through the aggregate (``ServiceRequest.transition``: an illegal move is an error), records an audit entry in
the same transaction, and leaves every side effect to the outbox the unit of work writes at commit (a status
change or a public note goes to the owning body's systems; a transfer to both bodies).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from civicswitch.catalog.model import BodyKind
from civicswitch.core.clock import Clock
from civicswitch.core.errors import DomainError, IllegalTransition, Invalid, NotFound
from civicswitch.people import audit
from civicswitch.people.policy import Action, Principal, allowed
from civicswitch.requests.access import authorize_on, target_of
from civicswitch.requests.commands import (
    AddNote,
    AssignColleague,
    BulkItem,
    BulkWork,
    PartnerStep,
    PartnerWork,
    TransferRequest,
    Upload,
    Verdict,
    VerifyFix,
    WorkCommand,
    WorkRequest,
    WorkResult,
    WorkStep,
)
from civicswitch.requests.handlers import MAX_DESCRIPTION, Limits, check_media_url
from civicswitch.requests.media import accept_upload
from civicswitch.requests.model import CloseReason, Event, ServiceRequest, Status
from civicswitch.requests.ports import Media
from civicswitch.requests.sla import left_hold, refresh_due
from civicswitch.requests.staff import load_request

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)
_E = TypeVar("_E", bound=StrEnum)

STEP_TO: dict[WorkStep, Status] = {
    WorkStep.ACKNOWLEDGE: Status.ACKNOWLEDGED,
    WorkStep.START: Status.IN_PROGRESS,
    WorkStep.HOLD: Status.ON_HOLD,
    WorkStep.CLOSE: Status.CLOSED,
    WorkStep.REOPEN: Status.REOPENED,
}
# What staff may close with by hand. A duplicate is a merge (its filer and followers move to the other request);
# a referral is a transfer (the other body gets the request).
STAFF_CLOSE_REASONS = (CloseReason.FIXED, CloseReason.NOT_OURS, CloseReason.NO_ACTION, CloseReason.CANCELLED)
MAX_BULK = 200
DEFAULT_LIMITS = Limits()
# Timeline kinds of staff work besides ``status_changed`` and ``note`` (public and internal notes are both
# ``note``, told apart by ``Event.public``).
WORK_COMPLETED = "work_completed"  # staff-only: a partner reported the work done; the owner confirms the fix
# public, sent on like a note (model.NOTE_KINDS): a liaison's verdict on site
FIX_KINDS = {Verdict.CONFIRMED: "fix_confirmed", Verdict.DISPUTED: "fix_disputed"}


# -- helpers -------------------------------------------------------------------------------------------------------
def _now(clock: Clock, request: ServiceRequest) -> datetime:
    """Now, and never before the request's last change (a timeline stays in order)."""
    now = clock.now()
    return max(now, request.updated_at or now)


def _text(value: str | None, name: str, *, required: str | None = None) -> str:
    """A note or reason, stripped; ``required`` is the message when it must not be empty."""
    text = (value or "").strip()
    if required and not text:
        raise Invalid(required, field=name)
    if len(text) > MAX_DESCRIPTION:
        raise Invalid(f"{name} is longer than {MAX_DESCRIPTION} characters", field=name)
    return text


def _choice(kind: type[_E], value: str, name: str) -> _E:
    """``value`` as one of ``kind`` (a form sends text): an unknown one is refused, naming the choices."""
    try:
        return kind(value.strip().lower() if isinstance(value, str) else value)
    except ValueError:
        raise Invalid(f"{name} {value!r} is not one of {', '.join(kind)}", field=name) from None


def _by(who: Principal, **more: Any) -> dict[str, Any]:
    """What a timeline entry says about who made it (the audit log has the full label)."""
    return {**({"user_id": who.user_id} if who.user_id is not None else {}), **more}


def _photo(
    urls: tuple[str, ...], uploads: tuple[Upload, ...], limits: Limits, at: datetime
) -> tuple[str | None, Media | None]:
    """One photo per timeline entry: an uploaded image (stored with the entry) or an http(s) URL."""
    urls = tuple(u for u in urls if u and u.strip())
    if len(urls) + len(uploads) > 1:
        raise Invalid("one photo per timeline entry", field="media")
    if uploads:
        stored = accept_upload(uploads[0], max_bytes=limits.max_media_bytes, allowed=limits.media_types, at=at)
        return f"/media/{stored.id}", stored
    return (check_media_url(urls[0]) if urls else None), None


def _save(uow: UnitOfWork, request: ServiceRequest, photo: Media | None = None) -> None:
    if photo is not None:
        uow.requests.add_media(photo)
    uow.requests.save(request)
    if photo is not None:
        assert request.id is not None
        uow.requests.attach_media([photo.id], request.id)


def _result(request: ServiceRequest) -> WorkResult:
    return WorkResult(str(request.id), request.status, request.body_code, request.assignee_user_id)


def _close_reason(value: str | None) -> CloseReason:
    text = (value or "").strip().lower()
    choices = ", ".join(STAFF_CLOSE_REASONS)
    if not text:
        raise Invalid(f"closing a request needs a close reason: one of {choices}", field="close_reason")
    try:
        reason = CloseReason(text)
    except ValueError:
        reason = None
    if reason is CloseReason.DUPLICATE:
        raise Invalid("a duplicate is closed by merging it into the other request", field="close_reason")
    if reason is CloseReason.REFERRED:
        raise Invalid("a request for another body is transferred to it, not closed as referred", field="close_reason")
    if reason is None:
        raise Invalid(f"close reason {value!r} is not one of {choices}", field="close_reason")
    return reason


# -- department staff ------------------------------------------------------------------------------------------------
def work_request(uow: UnitOfWork, clock: Clock, cmd: WorkRequest) -> WorkResult:
    """Acknowledge, start, put on hold (with a reason), close (with a close reason) or reopen a request. The note
    is public: residents see it on the timeline and as the Open311 ``status_notes``."""
    who = cmd.principal
    with uow:
        request = load_request(uow, cmd.service_request_id)
        authorize_on(uow, who, Action.REQUEST_WORK, request)
        assert request.id is not None
        step = _choice(WorkStep, cmd.step, "step")
        note = _text(
            cmd.note, "note", required="putting a request on hold needs a reason" if step is WorkStep.HOLD else None
        )
        reason = _close_reason(cmd.close_reason) if step is WorkStep.CLOSE else None
        if step is not WorkStep.CLOSE and (cmd.close_reason or "").strip():
            raise Invalid("a close reason goes only with closing", field="close_reason")
        before = request.status
        now = _now(clock, request)
        request.transition(STEP_TO[step], now, reason=reason, note=note, client_id=who.client_id, data=_by(who))
        if left_hold(before, request):
            refresh_due(uow, request, now)  # the time on hold does not count
        _save(uow, request)
        audit.record(
            uow,
            now,
            who,
            Action.REQUEST_WORK,
            "request",
            request.id,
            reason=note or None,
            detail={"step": str(step), "status": [str(before), str(request.status)], "close_reason": reason},
        )
        uow.commit()
    log.info("request %s: %s by %s (%s → %s)", request.id, step, who.label, before, request.status)
    return _result(request)


def add_note(uow: UnitOfWork, clock: Clock, cmd: AddNote, limits: Limits = DEFAULT_LIMITS) -> WorkResult:
    """A public note (the resident-facing timeline, Open311 ``status_notes``, the owning body's systems) or an
    internal one (staff only, never sent anywhere). Either may carry one photo."""
    who = cmd.principal
    with uow:
        request = load_request(uow, cmd.service_request_id)
        authorize_on(uow, who, Action.REQUEST_WORK, request)
        assert request.id is not None
        text = _text(cmd.text, "note", required="a note needs some text")
        now = _now(clock, request)
        media_url, photo = _photo(cmd.media_urls, cmd.uploads, limits, now)
        request.add_note(now, text, public=cmd.public, media_url=media_url, client_id=who.client_id, data=_by(who))
        _save(uow, request, photo)
        audit.record(
            uow,
            now,
            who,
            Action.REQUEST_WORK,
            "request",
            request.id,
            detail={"step": "note", "public": cmd.public, "photo": media_url is not None},
        )
        uow.commit()
    log.info("request %s: %s note by %s", request.id, "public" if cmd.public else "internal", who.label)
    return _result(request)


def assign_colleague(uow: UnitOfWork, clock: Clock, cmd: AssignColleague) -> WorkResult:
    """Give the request to a colleague — an active staff account whose role and bodies let it work the request
    (a department user of the owning body, or an admin) — or take it back (``user_id`` None). A staff-only
    ``assigned`` entry and the audit log record it."""
    who = cmd.principal
    with uow:
        request = load_request(uow, cmd.service_request_id)
        authorize_on(uow, who, Action.REQUEST_ASSIGN, request)
        assert request.id is not None
        note = _text(cmd.note, "note")
        if request.status == Status.CLOSED:
            raise IllegalTransition(f"request {request.id} is closed; reopen it before assigning it", field="status")
        before = request.assignee_user_id
        if cmd.user_id is None:
            if before is None:
                raise Invalid(f"request {request.id} is not assigned to anyone", field="user")
            previous = uow.users.get(before)
            text = f"Taken back from {previous.name or previous.email if previous else f'user {before}'}"
        else:
            user = uow.users.get(cmd.user_id)
            if user is None:
                raise NotFound(f"staff user {cmd.user_id} does not exist", field="user")
            name = user.name or user.email
            if not user.active:
                raise Invalid(f"{name} is disabled", field="user")
            if not allowed(user.principal(), Action.REQUEST_WORK, target_of(request)):
                raise Invalid(
                    f"{name} ({user.role}) may not work request {request.id} of {request.body_code or 'no body'}: "
                    "assign it to a department user of its owner, or an admin",
                    field="user",
                )
            if before == cmd.user_id:
                raise Invalid(f"request {request.id} is already assigned to {name}", field="user")
            text = f"Assigned to {name}"
        now = _now(clock, request)
        request.assignee_user_id = cmd.user_id
        request.updated_at = now
        request.pending_events.append(
            Event(
                at=now,
                kind="assigned",
                description=f"{text}: {note}" if note else text,
                status_from=request.status,
                public=False,
                client_id=who.client_id,
                data=_by(who, user=[before, cmd.user_id]),
            )
        )
        _save(uow, request)
        audit.record(
            uow, now, who, Action.REQUEST_ASSIGN, "request", request.id, reason=note or None,
            detail={"user": [before, cmd.user_id]},
        )  # fmt: skip
        uow.commit()
    log.info("request %s: assignee %s → %s by %s", request.id, before, cmd.user_id, who.label)
    return _result(request)


def transfer_request(uow: UnitOfWork, clock: Clock, cmd: TransferRequest) -> WorkResult:
    """Hand the request to another body with a reason (a "bounce"): a public ``transferred`` entry naming both
    bodies, the request's ``transfers`` count goes up, and its colleague and partner assignments (the old
    owner's) are cleared. The outbox tells the old owner's systems and gives the new owner the request
    (a manual bridge task when it has no connector); the old owner's open bridge task is withdrawn."""
    who = cmd.principal
    with uow:
        request = load_request(uow, cmd.service_request_id)
        authorize_on(uow, who, Action.REQUEST_TRANSFER, request)
        assert request.id is not None
        reason = _text(cmd.reason, "reason", required="a transfer needs a reason (why it is not this body's)")
        code = (cmd.body_code or "").strip()
        if not code:
            raise Invalid("choose the body to transfer the request to", field="body")
        body = uow.catalog.body(code)
        if body is None:
            raise NotFound(f"body {code!r} does not exist", field="body")
        if body.kind is BodyKind.PARTNER:
            raise Invalid(f"{code} is a partner organisation: assign the work to it instead", field="body")
        if code == request.body_code:
            raise Invalid(f"request {request.id} is already owned by {code}", field="body")
        now = _now(clock, request)
        old = request.body_code
        names: dict[str | None, str] = {b.code: b.name for b in uow.catalog.bodies()}
        cleared = {"assignee": [request.assignee_user_id, None], "org": [request.assigned_org, None]}
        request.reassign(
            now,
            service_code=request.service_code,
            lat=request.lat,
            long=request.long,
            body_code=code,
            areas=request.areas,
            expected_at=request.expected_at,
            body_names=names,
            rule=None,
            note=reason,
            client_id=who.client_id,
            data=_by(who, reason=reason, bounce=True, cleared=cleared),
        )
        request.assignee_user_id = None
        request.assigned_org = None
        _save(uow, request)
        audit.record(
            uow, now, who, Action.REQUEST_TRANSFER, "request", request.id, reason=reason,
            detail={"owner": [old, code], "transfers": request.transfers},
        )  # fmt: skip
        uow.commit()
    log.info("request %s transferred %s → %s by %s (%d transfers)", request.id, old, code, who.label, request.transfers)
    return _result(request)


# -- partners ----------------------------------------------------------------------------------------------------------
def partner_work(uow: UnitOfWork, clock: Clock, cmd: PartnerWork, limits: Limits = DEFAULT_LIMITS) -> WorkResult:
    """A partner organisation on a request assigned to it: start (in progress), a progress note (public unless
    said otherwise, with a photo if any), or work complete. Work complete closes the request (fixed) where the
    service lets partners close (``partners_may_close`` in the catalog); elsewhere the request stays open and a
    staff-only ``work_completed`` entry asks the owning department to confirm the fix (and close it)."""
    who = cmd.principal
    with uow:
        request = load_request(uow, cmd.service_request_id)
        authorize_on(uow, who, Action.REQUEST_PARTNER_WORK, request)
        assert request.id is not None
        step = _choice(PartnerStep, cmd.step, "step")
        note = _text(cmd.note, "note", required="a progress note needs some text" if step is PartnerStep.NOTE else None)
        now = _now(clock, request)
        media_url, photo = _photo(cmd.media_urls, cmd.uploads, limits, now)
        org = request.assigned_org
        detail: dict[str, Any] = {"step": str(step), "org": org, "photo": media_url is not None}
        if step is PartnerStep.START:
            before = request.status
            request.transition(
                Status.IN_PROGRESS, now, note=note, media_url=media_url, client_id=who.client_id, data=_by(who, org=org)
            )
            if left_hold(before, request):
                refresh_due(uow, request, now)  # the time on hold does not count
        elif step is PartnerStep.NOTE:
            request.add_note(
                now, note, public=cmd.public, media_url=media_url, client_id=who.client_id, data=_by(who, org=org)
            )
            detail["public"] = cmd.public
        else:
            if request.status == Status.CLOSED:
                raise IllegalTransition(f"request {request.id} is already closed ({request.close_reason})")
            service = uow.catalog.service(request.service_code)
            closes = service is not None and service.partners_may_close
            detail["closed"] = closes
            if closes:
                request.transition(
                    Status.CLOSED,
                    now,
                    reason=CloseReason.FIXED,
                    note=note or "Work complete",
                    media_url=media_url,
                    client_id=who.client_id,
                    data=_by(who, org=org, work_completed=True),
                )
            else:
                request.pending_events.append(
                    Event(
                        at=now,
                        kind=WORK_COMPLETED,
                        description=note or f"Work reported complete by {org or who.name}; the owner confirms the fix",
                        status_from=request.status,
                        public=False,
                        client_id=who.client_id,
                        media_url=media_url,
                        data=_by(who, org=org),
                    )
                )
                request.updated_at = now
        _save(uow, request, photo)
        audit.record(
            uow, now, who, Action.REQUEST_PARTNER_WORK, "request", request.id, reason=note or None, detail=detail
        )
        uow.commit()
    log.info("request %s: partner %s by %s", request.id, step, who.label)
    return _result(request)


# -- liaisons ----------------------------------------------------------------------------------------------------------
def verify_fix(uow: UnitOfWork, clock: Clock, cmd: VerifyFix, limits: Limits = DEFAULT_LIMITS) -> WorkResult:
    """A liaison checked on site that a request reported fixed (closed, or its work reported complete by a
    partner) is fixed — or is not: a public ``fix_confirmed`` / ``fix_disputed`` entry with an optional photo,
    sent to the owning body's systems like a public note. It changes no status: a disputed fix is the owner's
    to reopen."""
    who = cmd.principal
    with uow:
        request = load_request(uow, cmd.service_request_id)
        authorize_on(uow, who, Action.REQUEST_VERIFY_FIX, request)
        assert request.id is not None
        verdict = _choice(Verdict, cmd.verdict, "verdict")
        note = _text(cmd.note, "note")
        if request.status != Status.CLOSED:
            timeline = uow.requests.events([request.id], public_only=False).get(request.id, [])
            if not any(e.kind == WORK_COMPLETED for e in timeline):
                raise Invalid(
                    f"request {request.id} has no fix to check: it is {request.status} and no work on it was reported "
                    "complete",
                    field="verdict",
                )
        now = _now(clock, request)
        media_url, photo = _photo(cmd.media_urls, cmd.uploads, limits, now)
        default = "Fix confirmed on site" if verdict is Verdict.CONFIRMED else "Fix disputed on site: not fixed"
        request.pending_events.append(
            Event(
                at=now,
                kind=FIX_KINDS[verdict],
                description=f"{default}: {note}" if note else default,
                status_from=request.status,
                close_reason=request.close_reason if request.status == Status.CLOSED else None,
                public=True,
                client_id=who.client_id,
                media_url=media_url,
                data=_by(who, verdict=str(verdict)),
            )
        )
        request.updated_at = now
        _save(uow, request, photo)
        audit.record(
            uow, now, who, Action.REQUEST_VERIFY_FIX, "request", request.id, reason=note or None,
            detail={"verdict": str(verdict), "photo": media_url is not None},
        )  # fmt: skip
        uow.commit()
    log.info("request %s: fix %s on site by %s", request.id, verdict, who.label)
    return _result(request)


# -- many at once ------------------------------------------------------------------------------------------------------
def run_work(uow: UnitOfWork, clock: Clock, cmd: WorkCommand, limits: Limits = DEFAULT_LIMITS) -> WorkResult:
    """The use case of a work command."""
    match cmd:
        case WorkRequest():
            return work_request(uow, clock, cmd)
        case AddNote():
            return add_note(uow, clock, cmd, limits)
        case AssignColleague():
            return assign_colleague(uow, clock, cmd)
        case TransferRequest():
            return transfer_request(uow, clock, cmd)
        case PartnerWork():
            return partner_work(uow, clock, cmd, limits)
        case VerifyFix():
            return verify_fix(uow, clock, cmd, limits)
    raise TypeError(f"not a work command: {cmd!r}")  # pragma: no cover - every command is matched above


def bulk_work(uow: UnitOfWork, clock: Clock, cmd: BulkWork, limits: Limits = DEFAULT_LIMITS) -> list[BulkItem]:
    """The same action on each request of ``cmd.ids`` (in order, each once), each in its own transaction: a
    request the action is refused for (not in scope, an illegal step, a missing reason …) keeps its state and
    gets the refusal's message; the others are done."""
    ids = list(dict.fromkeys(i.strip() for i in cmd.ids if i and i.strip()))
    if not ids:
        raise Invalid("choose at least one request", field="ids")
    if len(ids) > MAX_BULK:
        raise Invalid(f"at most {MAX_BULK} requests at once (got {len(ids)})", field="ids")
    items = []
    for public_id in ids:
        action = dataclasses.replace(cmd.action, service_request_id=public_id)
        try:
            done = run_work(uow, clock, action, limits)
        except DomainError as exc:
            items.append(BulkItem(public_id, False, exc.description))
            continue
        items.append(BulkItem(public_id, True, status=done.status))
    failed = sum(not i.ok for i in items)
    log.info("bulk %s on %d requests: %d done, %d refused", type(cmd.action).__name__, len(items), len(items) - failed,
             failed)  # fmt: skip
    return items
