"""The staff workspace: the queue and the request page. Server-rendered, every control a plain form (no JavaScript).

Each page builds a query or a command and calls a use case (``requests/queue.py``, ``requests/staff.py``); the
use case asks the policy. A refusal or bad input is an HTML page with the status and the reason, never data."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from civicswitch.core.errors import DomainError, Forbidden, Invalid
from civicswitch.hub.handlers import claim_manual, complete_manual, deliveries, manual_effort, manual_task
from civicswitch.people.policy import Action, Principal, Reach, Role, allowed, reach_of
from civicswitch.requests.access import target_of
from civicswitch.requests.bulk import BulkResult, bulk_result, may_bulk, run_bulk
from civicswitch.requests.commands import (
    AddNote,
    AssignColleague,
    BulkWork,
    PartnerWork,
    TransferRequest,
    Upload,
    VerifyFix,
    WorkCommand,
    WorkRequest,
    WorkStep,
)
from civicswitch.requests.handlers import Limits
from civicswitch.requests.model import OPEN_STATUSES, TRANSITIONS, Status
from civicswitch.requests.queue import (
    MAX_TEXT,
    PAGE_SIZE,
    QueueRow,
    QueueSla,
    SlaFilter,
    Sort,
    StaffRequestView,
    queue_filter,
    row_sla,
    staff_queue,
    staff_request,
)
from civicswitch.requests.sla import due_soon
from civicswitch.requests.staff import read_contact
from civicswitch.requests.work import (
    STEP_TO,
    WORK_COMPLETED,
    add_note,
    assign_colleague,
    partner_work,
    transfer_request,
    verify_fix,
    work_request,
)
from civicswitch.responses.handlers import fill_note, note_templates
from civicswitch.storage.ports import UnitOfWork
from civicswitch.web.context import context
from civicswitch.web.maps import MapView, map_view
from civicswitch.web.principals import Session, check_csrf
from civicswitch.web.staffpages import STATUS_TEXT, refusal_page, render_page, signed_in_staff, staff_post

log = logging.getLogger(__name__)
router = APIRouter(prefix="/staff", include_in_schema=False)

SORT_TEXT = {
    Sort.OLDEST: "Oldest first",
    Sort.NEWEST: "Newest first",
    Sort.UPDATED: "Recently updated",
    Sort.DUE: "Due soonest",
}

SLA_TEXT = {
    QueueSla.ON_TIME: "On time",
    QueueSla.DUE_SOON: "Due soon",
    QueueSla.OVERDUE: "Overdue",
    QueueSla.ON_HOLD: "On hold (clock stopped)",
    QueueSla.NO_TARGET: "No target",
    QueueSla.MET: "Met",
    QueueSla.MISSED: "Missed",
}
SLA_FILTER_TEXT = {SlaFilter.DUE_SOON: "Due soon", SlaFilter.OVERDUE: "Overdue"}
# who may be assigned a request (request.work on it): department users of its owner, and admins
ASSIGNABLE_ROLES = (Role.DEPARTMENT, Role.ADMIN)

_areas_lock = threading.Lock()
_area_options: dict[tuple[int, int], list[tuple[str, list[tuple[str, str]]]]] = {}


def _area_choices(uow: UnitOfWork) -> list[tuple[str, list[tuple[str, str]]]]:
    """(layer, [(layer:key, name)]) for the area filter, made once per version of the boundaries."""
    with uow:
        version = uow.catalog.areas_version()
        known = _area_options.get(version)
        if known is not None:
            return known
        by_layer: dict[str, list[tuple[str, str]]] = {}
        for area in uow.catalog.areas():
            by_layer.setdefault(area.layer, []).append((f"{area.layer}:{area.key}", area.name))
    made = [(layer, sorted(items, key=lambda item: item[1])) for layer, items in sorted(by_layer.items())]
    with _areas_lock:
        _area_options.clear()
        _area_options[version] = made
    return made


def _choices(request: Request, principal: Principal) -> dict[str, Any]:
    ctx = context(request)
    with ctx.reader() as uow:
        services = uow.catalog.service_names()  # not services(): each one's attributes are not needed here
        bodies = [(b.code, b.name) for b in uow.catalog.bodies() if str(b.kind) != "external"]
    mine = principal.bodies
    if mine:
        bodies = [b for b in bodies if b[0] in mine]
    return {
        "assignees": _assignees(request, principal),
        "services": sorted(services, key=lambda s: s[1]),
        "bodies": bodies if principal.role in (Role.ADMIN, Role.AGENT, Role.EXECUTIVE) or len(mine) > 1 else [],
        "areas": _area_choices(ctx.reader()),
    }


def _assignees(request: Request, principal: Principal) -> list[tuple[int, str]]:
    """The staff accounts requests of ``principal``'s queue can be assigned to (the assignee filter's and bulk
    assign's choices): active department users sharing one of its bodies (all of them for a role without bodies),
    and admins. None for partners and liaisons, who assign nobody."""
    if principal.role in (Role.PARTNER, Role.LIAISON):
        return []
    with context(request).reader() as uow:
        users = uow.users.all()
    found = [
        (u.id, u.name or u.email)
        for u in users
        if u.id is not None and u.active and u.role in ASSIGNABLE_ROLES
        and (u.role is Role.ADMIN or not principal.bodies or u.bodies & principal.bodies)
    ]  # fmt: skip
    return sorted(found, key=lambda c: c[1])


def _names(request: Request, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    with context(request).reader() as uow:
        return {i: u.name or u.email for i in ids if (u := uow.users.get(i)) is not None}


@dataclass
class QueueParams:
    """The queue's filter as its query string gives it (blank values mean "any"): the queue page, a bulk action
    (which comes back to the same filter) and a bulk action's result read the same parameters (a dependency)."""

    status: Annotated[list[str] | None, Query()] = None
    service: Annotated[str | None, Query(max_length=100)] = None
    area: Annotated[str | None, Query(max_length=200)] = None
    body: Annotated[str | None, Query(max_length=64)] = None
    q: Annotated[str | None, Query(max_length=MAX_TEXT)] = None
    sort: Annotated[str, Query(max_length=20)] = Sort.OLDEST.value
    page: Annotated[int, Query(ge=1, le=100_000)] = 1
    sla: Annotated[str | None, Query(max_length=20)] = None
    assignee: Annotated[str | None, Query(max_length=20)] = None
    bounced: Annotated[str | None, Query(max_length=10)] = None
    filed: Annotated[str | None, Query(max_length=10)] = None  # "me": filed on residents' behalf by me


Filtered = Annotated[QueueParams, Depends()]


def _id_or_none(text: str) -> int | None:
    """An id typed or chosen in a form (ASCII digits only: "²" is a digit to Python, not to int()), else None."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, params: Filtered) -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    return _queue_page(request, principal, session, params)


def _queue_page(
    request: Request, principal: Principal, session: Session, params: QueueParams, http_status: int = 200, **extra: Any
) -> Response:
    ctx = context(request)
    now, soon = ctx.clock.now(), due_soon(ctx.settings)
    p = params
    try:
        query = queue_filter(p.status, p.service, p.area, p.body, p.q, p.sort, p.page, PAGE_SIZE, sla=p.sla,
                             assignee=p.assignee, bounced=p.bounced == "yes", filed_by_me=p.filed == "me",
                             me=principal.user_id, now=now,
                             due_soon=soon)  # fmt: skip
        result = staff_queue(ctx.reader(), principal, query)
    except DomainError as exc:
        return refusal_page(request, session, principal, exc)
    form = {"status": [str(s) for s in query.statuses], "service": query.service_code or "",
            "area": f"{query.area[0]}:{query.area[1]}" if query.area else "", "body": query.body_code or "",
            "q": query.text or "", "sort": str(query.sort), "sla": str(query.sla or ""),
            "assignee": (p.assignee or "").strip(), "bounced": "yes" if query.bounced else "",
            "filed": "me" if query.filed_by is not None else ""}  # fmt: skip

    def sla_of(row: QueueRow) -> QueueSla:
        return row_sla(row, now, soon)

    def link(**change: object) -> str:
        params = {**form, **change}
        pairs = [(k, v) for k, v in params.items() if k != "status" and v not in ("", None)]
        statuses = params["status"] if isinstance(params["status"], list) else [params["status"]]
        if list(statuses) != [str(s) for s in OPEN_STATUSES]:
            pairs += [("status", s) for s in statuses]
        return "/staff/queue?" + urlencode(pairs)

    names = _names(request, {r.assignee_user_id for r in result.rows if r.assignee_user_id is not None})
    return render_page(
        request, "staff_queue.html", http_status, title="Queue", csrf=session.csrf, principal=principal,
        result=result, form=form, link=link, sorts=SORT_TEXT, statuses=list(STATUS_TEXT), sla_of=sla_of,
        sla_text=SLA_TEXT, sla_filters=SLA_FILTER_TEXT, due_soon_hours=f"{ctx.settings.sla_due_soon_hours:g} hours",
        names=names, may_bulk=may_bulk(principal), bulk_url=link(page=query.page).replace("?", "/bulk?", 1),
        close_reasons=CLOSE_TEXT, count_text=result.count_text, **_choices(request, principal), **extra,
    )  # fmt: skip


BULK_TEXT = {"acknowledge": "Acknowledge", "assign": "Assign", "close": "Close"}


@router.post("/queue/bulk", response_class=HTMLResponse)
async def queue_bulk(
    request: Request,
    params: Filtered,
    csrf: Annotated[str, Form(max_length=100)] = "",
    ids: Annotated[list[str] | None, Form()] = None,  # how many: bulk_work's limit (the body's size bounds them)
    action: Annotated[str, Form(max_length=20)] = "",
    user: Annotated[str, Form(max_length=20)] = "",
    close_reason: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """The queue's bulk actions: acknowledge, assign to a colleague, or close (one reason and note) each selected
    request through its use case, in its own transaction. Then POST, redirect, GET: the outcome is kept for this
    staff member (requests/bulk.py) and the browser is sent to its page, the queue (same filter) with the result per
    request, so a reload shows it again and acts on nothing. A refusal of the whole action (nothing chosen, an
    unknown action, a role that may not) is the queue with the reason; nothing was done."""
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    check_csrf(session, csrf)
    ctx = context(request)

    def again(http_status: int, **extra: Any) -> Response:
        return _queue_page(request, principal, session, params, http_status, **extra)

    def run() -> BulkResult:
        if not may_bulk(principal):
            raise Forbidden(f"{principal.role} may not {Action.REQUEST_WORK} ({principal.name})")
        chosen: WorkCommand
        match action:
            case "acknowledge":
                chosen = WorkRequest(principal, "", WorkStep.ACKNOWLEDGE)
            case "assign":
                chosen = AssignColleague(principal, "", _id_or_none(user))
            case "close":
                chosen = WorkRequest(principal, "", WorkStep.CLOSE, note=note, close_reason=close_reason or None)
            case _:
                raise Invalid(f"unknown bulk action {action!r}: one of {', '.join(BULK_TEXT)}", field="action")
        return run_bulk(ctx.writer(), ctx.clock, BulkWork(tuple(ids or ()), chosen), action)

    try:
        result = await run_in_threadpool(run)
    except DomainError as exc:
        message, code = exc.description, exc.code
        log.info("bulk %s refused for %s: %s", action, principal.label, message)
        return await run_in_threadpool(lambda: again(code, bulk_error=message))
    query = request.url.query
    return RedirectResponse(f"/staff/queue/bulk/{result.token}" + (f"?{query}" if query else ""), status_code=303)


@router.get("/queue/bulk/{token}", response_class=HTMLResponse)
def queue_bulk_result(
    request: Request,
    token: Annotated[str, Path(max_length=64)],
    params: Filtered,
) -> Response:
    """A bulk action's result (where its POST redirects): the queue with the same filter, and above it the outcome
    per request as the action left it. Only for the staff member who ran it (anyone else: 404, as for a wrong link);
    once expired (410) the queue says so and shows each request as it is now."""
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    ctx = context(request)

    def queue(http_status: int = 200, **extra: Any) -> Response:
        return _queue_page(request, principal, session, params, http_status, **extra)

    try:
        result = bulk_result(ctx.reader(), ctx.clock, principal, token)
    except DomainError as exc:
        if exc.code == 403:
            return refusal_page(request, session, principal, exc)
        log.info("bulk result refused for %s: %s", principal.label, exc.description)
        return queue(exc.code, bulk_error=exc.description)
    return queue(bulk=list(result.items), bulk_action=BULK_TEXT.get(result.action, result.action),
                 bulk_at=result.created_at)  # fmt: skip


def _request_page(
    request: Request, principal: Principal, session: Session, public_id: str, status: int = 200, **extra: Any
) -> Response:
    ctx = context(request)
    try:
        view = staff_request(ctx.reader(), principal, public_id)
    except DomainError as exc:
        return refusal_page(request, session, principal, exc)
    # The use case checks again; the button shows only where it can succeed (e.g. a liaison: requests it filed).
    reach = reach_of(principal, Action.REQUEST_READ_CONTACT)
    may_read_contact = reach is Reach.OWN_BODY_OR_FORMER or (
        reach is not None and allowed(principal, Action.REQUEST_READ_CONTACT, target_of(view.request))
    )
    return render_page(request, "staff_request.html", status, title=f"Request {view.request.id}", csrf=session.csrf,
                 principal=principal, view=view, may_read_contact=may_read_contact,
                 filed_by=_staff_name(request, view.request.filed_by_user_id),
                 map=_point_map(request, view.request.lat, view.request.long),
                 **_work_choices(request, principal, view), **extra)  # fmt: skip


def _staff_name(request: Request, user_id: int | None) -> str:
    """The name (or email) of the staff member who filed a request on a resident's behalf; empty for none."""
    if user_id is None:
        return ""
    with context(request).reader() as uow:
        user = uow.users.get(user_id)
    return (user.name or user.email) if user is not None else ""


@router.get("/requests/{service_request_id}", response_class=HTMLResponse)
def request_page(request: Request, service_request_id: str, done: str = "") -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    return _request_page(request, principal, session, service_request_id, notice=NOTICES.get(done, ""))


@router.post("/requests/{service_request_id}/contact", response_class=HTMLResponse)
async def show_contact(
    request: Request,
    service_request_id: str,
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """ "Show contact": the filer's contact data, read through the audited use case (with the reason given)."""
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    check_csrf(session, csrf)
    ctx = context(request)
    try:
        contact = await run_in_threadpool(
            lambda: read_contact(ctx.writer(), ctx.clock, service_request_id, who=principal, reason=reason)
        )
    except DomainError as exc:
        return refusal_page(request, session, principal, exc)
    return await run_in_threadpool(
        lambda: _request_page(request, principal, session, service_request_id, contact=contact, shown=True)
    )


# -- the manual bridge ------------------------------------------------------------------------------------------
BRIDGE_PAGE = 50  # tasks a page of the manual bridge shows, oldest first; "Next" shows the 50 after them


def _bridge_page(request: Request, principal: Principal, session: Session, notice: str = "",
                 error: str = "", status: int = 200, after: int = 0) -> Response:  # fmt: skip
    ctx = context(request)
    try:
        tasks = deliveries(ctx.reader(), manual=True, state="pending", who=principal, limit=BRIDGE_PAGE + 1,
                           after_id=after)  # fmt: skip
        effort = manual_effort(ctx.reader(), ctx.clock, who=principal)
    except DomainError as exc:
        return refusal_page(request, session, principal, exc)
    now = ctx.clock.now()
    more, tasks = len(tasks) > BRIDGE_PAGE, tasks[:BRIDGE_PAGE]
    return render_page(request, "staff_bridge.html", status, title="Manual bridge", csrf=session.csrf,
                 principal=principal, tasks=tasks, effort=effort, now=now, notice=notice, error=error,
                 after=after, next_after=tasks[-1].id if more else None, page_size=BRIDGE_PAGE,
                 may_work=reach_of(principal, Action.MANUAL_COMPLETE) is not None, me=principal.label,
                 ago=_ago)  # fmt: skip


def _ago(then: datetime, now: datetime) -> str:
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} days"


@router.get("/bridge", response_class=HTMLResponse)
def bridge_page(request: Request, notice: str = "", after: Annotated[int, Query(ge=0, le=2**31)] = 0) -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    text = {"done": "Recorded: the task is done and its reference is on the request."}.get(notice, "")
    return _bridge_page(request, principal, session, notice=text, after=after)


@router.get("/bridge/{task_id}", response_class=HTMLResponse)
def bridge_task_page(request: Request, task_id: int, error: str = "") -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    ctx = context(request)
    try:
        task = manual_task(ctx.reader(), task_id, who=principal)
    except DomainError as exc:
        return refusal_page(request, session, principal, exc)
    return render_page(request, "staff_bridge_task.html", 400 if error else 200, title=f"Manual task {task.id}",
                 csrf=session.csrf, principal=principal, task=task, data=task.payload.get("data", {}), error=error,
                 now=ctx.clock.now(), me=principal.label, ago=_ago,
                 may_work=reach_of(principal, Action.MANUAL_COMPLETE) is not None)  # fmt: skip


@router.post("/bridge/{task_id}/claim")
async def bridge_claim(
    request: Request,
    task_id: int,
    csrf: Annotated[str, Form(max_length=100)] = "",
    release: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    ctx = context(request)
    letting_go = release == "yes"
    return await staff_post(
        request,
        csrf,
        lambda who: claim_manual(ctx.writer(), ctx.clock, task_id, who=who, release=letting_go),
        lambda who, session, message, code: _bridge_page(request, who, session, error=message, status=code),
        "/staff/bridge" if letting_go else f"/staff/bridge/{task_id}",
    )


@router.post("/bridge/{task_id}/done")
async def bridge_done(
    request: Request,
    task_id: int,
    csrf: Annotated[str, Form(max_length=100)] = "",
    reference: Annotated[str, Form(max_length=300)] = "",
    minutes: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    ctx = context(request)
    try:
        spent = float(minutes.strip()) if minutes.strip() else 0.0
    except ValueError:
        spent = -1.0  # refused by the use case with its message
    return await staff_post(
        request,
        csrf,
        lambda who: complete_manual(
            ctx.writer(),
            ctx.clock,
            task_id,
            external_id=reference,
            minutes=spent,
            by=who.name,
            who=who,
            require_reference=True,
        ),
        lambda who, session, message, code: bridge_task_page(request, task_id, error=message),
        "/staff/bridge?notice=done",
    )


# -- working a request --------------------------------------------------------------------------------------------
CLOSE_TEXT = {"fixed": "Fixed", "not_ours": "Not ours", "no_action": "No action needed", "cancelled": "Cancelled"}
NOTICES = {
    "acknowledge": "Acknowledged.",
    "start": "Started: the request is in progress.",
    "hold": "Put on hold.",
    "close": "Closed.",
    "reopen": "Reopened.",
    "note": "Note added.",
    "assign": "Assignment saved.",
    "transfer": "Transferred.",
    "partner_start": "Started: the request is in progress.",
    "partner_note": "Progress note added.",
    "partner_complete": "Work reported complete.",
    "confirmed": "Fix confirmed: your check is on the timeline.",
    "disputed": "Fix disputed: your check is on the timeline, and the owner will look again.",
}


def _point_map(request: Request, lat: float | None, long: float | None) -> MapView | None:
    """The request page's small map of its point: None without a point, or with nothing to show around it."""
    if lat is None or long is None:
        return None
    view = map_view(request, (lat, long))
    return view if view.useful else None


def _work_choices(request: Request, principal: Principal, view: StaffRequestView) -> dict[str, Any]:
    """What the request page offers this person: the steps the status model allows now, colleagues to assign,
    bodies to transfer to. The use cases decide; this only hides buttons that could not work."""
    r = view.request
    may_work = allowed(principal, Action.REQUEST_WORK, target_of(r))
    steps = []
    if may_work:
        nexts = TRANSITIONS[r.status]
        steps = [s for s in WorkStep if STEP_TO[s] in nexts]
    colleagues: list[tuple[int, str]] = []
    bodies: list[tuple[str, str]] = []
    if may_work:
        with context(request).reader() as uow:
            for user in uow.users.all():
                if user.id is not None and user.active and allowed(user.principal(), Action.REQUEST_WORK, target_of(r)):
                    colleagues.append((user.id, user.name or user.email))
            if allowed(principal, Action.REQUEST_TRANSFER, target_of(r)):
                bodies = [(b.code, b.name) for b in uow.catalog.bodies()
                          if str(b.kind) == "department" and b.code != r.body_code]  # fmt: skip
    # a partner's buttons (request.partner_work on a request assigned to its organisation) and a liaison's check of
    # a fix (request.verify_fix in its areas: a closed request, or one whose work a partner reported complete)
    partner = principal.role is Role.PARTNER and allowed(principal, Action.REQUEST_PARTNER_WORK, target_of(r))
    liaison = principal.role is Role.LIAISON and allowed(principal, Action.REQUEST_VERIFY_FIX, target_of(r))
    reported = r.status == Status.CLOSED or any(e.kind == WORK_COMPLETED for e in view.timeline)
    # the response templates the note form offers (its service's and the all-services ones)
    templates = note_templates(context(request).reader(), principal, str(r.id)) if may_work else []
    return {"may_work": may_work, "steps": steps, "colleagues": sorted(colleagues, key=lambda c: c[1]),
            "note_templates": templates,
            "transfer_to": bodies, "close_reasons": CLOSE_TEXT, "partner": partner,
            "partner_start": partner and Status.IN_PROGRESS in TRANSITIONS[r.status],
            "partner_complete": partner and r.status != Status.CLOSED, "liaison": liaison,
            "fix_to_check": liaison and reported}  # fmt: skip


async def _act(request: Request, service_request_id: str, csrf: str, what: str, run: Any) -> Response:
    return await staff_post(
        request,
        csrf,
        run,
        lambda who, session, message, code: _request_page(
            request, who, session, service_request_id, error=message, status=code
        ),
        f"/staff/requests/{quote(service_request_id)}?done={what}",
    )


@router.post("/requests/{service_request_id}/work")
async def work_step(
    request: Request,
    service_request_id: str,
    step: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    close_reason: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Acknowledge, start, put on hold, close or reopen (``request.work``)."""
    ctx = context(request)

    def run(who: Principal) -> object:
        cmd = WorkRequest(who, service_request_id, step, note=note, close_reason=close_reason or None)  # type: ignore[arg-type]
        return work_request(ctx.writer(), ctx.clock, cmd)

    return await _act(request, service_request_id, csrf, step if step in NOTICES else "step", run)


@router.post("/requests/{service_request_id}/note")
async def work_note(
    request: Request,
    service_request_id: str,
    text: Annotated[str, Form(max_length=4000)] = "",
    visibility: Annotated[str, Form(max_length=10)] = "internal",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """A public note (residents see it) or an internal one (staff only)."""
    ctx = context(request)

    def run(who: Principal) -> object:
        cmd = AddNote(who, service_request_id, text, public=visibility == "public")
        return add_note(ctx.writer(), ctx.clock, cmd)

    return await _act(request, service_request_id, csrf, "note", run)


@router.get("/requests/{service_request_id}/note", response_class=HTMLResponse)
def work_note_filled(
    request: Request, service_request_id: str, template: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    """The "Use template" button: the request page with the note form filled in from a response template (placeholders
    substituted) for the staff member to edit and add. A read (``request.work`` on the request): nothing is
    written until "Add note"."""
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    ctx = context(request)
    try:
        if not (template.strip().isascii() and template.strip().isdigit()):
            raise Invalid("choose a response template", field="template")
        filled = fill_note(ctx.reader(), principal, service_request_id, int(template), ZoneInfo(ctx.settings.timezone))
    except DomainError as exc:
        if exc.code in (403, 404) and exc.field != "template":
            return refusal_page(request, session, principal, exc)
        log.info("template for request %s refused for %s: %s", service_request_id[:40], principal.label,
                 exc.description)  # fmt: skip
        return _request_page(request, principal, session, service_request_id, status=exc.code, error=exc.description)
    return _request_page(request, principal, session, service_request_id, note=filled)


@router.post("/requests/{service_request_id}/assign")
async def work_assign(
    request: Request,
    service_request_id: str,
    user: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Give the request to a colleague (or to nobody)."""
    ctx = context(request)

    def run(who: Principal) -> object:
        user_id = _id_or_none(user)
        return assign_colleague(ctx.writer(), ctx.clock, AssignColleague(who, service_request_id, user_id))

    return await _act(request, service_request_id, csrf, "assign", run)


@router.post("/requests/{service_request_id}/transfer")
async def work_transfer(
    request: Request,
    service_request_id: str,
    body: Annotated[str, Form(max_length=64)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Hand the request to another body, with the reason (a bounce, counted on the request)."""
    ctx = context(request)

    def run(who: Principal) -> object:
        return transfer_request(ctx.writer(), ctx.clock, TransferRequest(who, service_request_id, body, reason))

    return await _act(request, service_request_id, csrf, "transfer", run)


def _limits(request: Request) -> Limits:
    settings = context(request).settings
    return Limits(max_media_bytes=settings.max_media_bytes, media_types=settings.media_types)


async def _photo(photo: UploadFile | None) -> tuple[Upload, ...]:
    """The form's photo, if a file was chosen (an empty file input sends an empty part with no name)."""
    if photo is None:
        return ()
    data = await photo.read()
    if not data and not photo.filename:
        return ()
    return (Upload(filename=photo.filename, content_type=photo.content_type or "", data=data),)


@router.post("/requests/{service_request_id}/partner")
async def partner_step(
    request: Request,
    service_request_id: str,
    step: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    visibility: Annotated[str, Form(max_length=10)] = "public",
    photo: Annotated[UploadFile | None, File()] = None,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """A partner on a request assigned to its organisation: start, a progress note (with a photo), work complete
    (``request.partner_work``)."""
    ctx = context(request)
    uploads = await _photo(photo)
    limits = _limits(request)

    def run(who: Principal) -> object:
        cmd = PartnerWork(who, service_request_id, step, note=note, public=visibility != "internal",  # type: ignore[arg-type]
                          uploads=uploads)  # fmt: skip
        return partner_work(ctx.writer(), ctx.clock, cmd, limits)

    what = f"partner_{step}" if f"partner_{step}" in NOTICES else "step"
    return await _act(request, service_request_id, csrf, what, run)


@router.post("/requests/{service_request_id}/verify")
async def verify_step(
    request: Request,
    service_request_id: str,
    verdict: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    photo: Annotated[UploadFile | None, File()] = None,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """A liaison's check on site of a fix: confirmed or disputed, with a note and a photo if any
    (``request.verify_fix``)."""
    ctx = context(request)
    uploads = await _photo(photo)
    limits = _limits(request)

    def run(who: Principal) -> object:
        cmd = VerifyFix(who, service_request_id, verdict, note=note, uploads=uploads)  # type: ignore[arg-type]
        return verify_fix(ctx.writer(), ctx.clock, cmd, limits)

    return await _act(request, service_request_id, csrf, verdict if verdict in NOTICES else "step", run)
