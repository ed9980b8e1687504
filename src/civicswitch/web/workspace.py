"""The staff workspace: the queue and the request page. Server-rendered, every control a plain form (no JavaScript).

Each page builds a query or a command and calls a use case (``requests/queue.py``, ``requests/staff.py``); the
use case asks the policy. A refusal or bad input is an HTML page with the status and the reason, never data."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from civicswitch.core.errors import DomainError
from civicswitch.people.policy import Action, Principal, Role, reach_of
from civicswitch.requests.model import OPEN_STATUSES, Status
from civicswitch.requests.queue import MAX_TEXT, PAGE_SIZE, Sort, queue_filter, staff_queue, staff_request
from civicswitch.requests.staff import read_contact
from civicswitch.storage.ports import UnitOfWork
from civicswitch.web.context import context
from civicswitch.web.pages import templates
from civicswitch.web.principals import Session, check_csrf, session_principal

log = logging.getLogger(__name__)
router = APIRouter(prefix="/staff", include_in_schema=False)

STATUS_TEXT = {
    Status.NEW: "New",
    Status.ACKNOWLEDGED: "Acknowledged",
    Status.IN_PROGRESS: "In progress",
    Status.ON_HOLD: "On hold",
    Status.REOPENED: "Reopened",
    Status.CLOSED: "Closed",
}
SORT_TEXT = {
    Sort.OLDEST: "Oldest first",
    Sort.NEWEST: "Newest first",
    Sort.UPDATED: "Recently updated",
    Sort.DUE: "Due soonest",
}

_areas_lock = threading.Lock()
_area_options: dict[tuple[int, int], list[tuple[str, list[tuple[str, str]]]]] = {}


def _page(request: Request, template: str, status: int = 200, **values: object) -> HTMLResponse:
    ctx = context(request)
    zone = ZoneInfo(ctx.settings.timezone)

    def when(at: datetime) -> str:
        """A time as people here read it: the instance's time zone, to the minute."""
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    html = templates.get_template(template).render(name=ctx.settings.jurisdiction_name, signed_in=True,
                                                   status_text=STATUS_TEXT, when=when, wide=True,
                                                   **values)  # fmt: skip
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def _error(request: Request, session: Session, principal: Principal, exc: DomainError) -> HTMLResponse:
    log.info("staff page %s refused for %s: %s", request.url.path, principal.label, exc.description)
    return _page(request, "staff_error.html", exc.code, title="Not possible", message=exc.description,
                 csrf=session.csrf, principal=principal)  # fmt: skip


def _signed_in(request: Request) -> tuple[Principal, Session] | Response:
    """The signed-in staff member, or the response that sends them to sign in (or to change a one-time password)."""
    found = session_principal(request)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if found is None:
        return RedirectResponse(f"/staff/login?next={quote(target)}", status_code=303)
    principal, session = found
    with context(request).reader() as uow:
        user = uow.users.get(session.user_id)
    if user is not None and user.must_change_password:
        return RedirectResponse("/staff/password", status_code=303)
    return principal, session


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
        services = [(s.code, s.name) for s in uow.catalog.services()]
        bodies = [(b.code, b.name) for b in uow.catalog.bodies() if str(b.kind) != "external"]
    mine = principal.bodies
    if mine:
        bodies = [b for b in bodies if b[0] in mine]
    return {
        "services": sorted(services, key=lambda s: s[1]),
        "bodies": bodies if principal.role in (Role.ADMIN, Role.AGENT, Role.EXECUTIVE) or len(mine) > 1 else [],
        "areas": _area_choices(ctx.reader()),
    }


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    status: Annotated[list[str] | None, Query()] = None,
    service: Annotated[str | None, Query(max_length=100)] = None,
    area: Annotated[str | None, Query(max_length=200)] = None,
    body: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=MAX_TEXT)] = None,
    sort: Annotated[str, Query(max_length=20)] = Sort.OLDEST.value,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    found = _signed_in(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    ctx = context(request)
    try:
        query = queue_filter(status, service, area, body, q, sort, page, PAGE_SIZE)
        result = staff_queue(ctx.reader(), principal, query)
    except DomainError as exc:
        return _error(request, session, principal, exc)
    form = {"status": [str(s) for s in query.statuses], "service": query.service_code or "",
            "area": f"{query.area[0]}:{query.area[1]}" if query.area else "", "body": query.body_code or "",
            "q": query.text or "", "sort": str(query.sort)}  # fmt: skip

    def link(**change: object) -> str:
        params = {**form, **change}
        pairs = [(k, v) for k, v in params.items() if k != "status" and v not in ("", None)]
        statuses = params["status"] if isinstance(params["status"], list) else [params["status"]]
        if list(statuses) != [str(s) for s in OPEN_STATUSES]:
            pairs += [("status", s) for s in statuses]
        return "/staff/queue?" + urlencode(pairs)

    return _page(
        request, "staff_queue.html", title="Queue", csrf=session.csrf, principal=principal, result=result,
        form=form, link=link, sorts=SORT_TEXT, statuses=list(STATUS_TEXT),
        **_choices(request, principal),
    )  # fmt: skip


def _request_page(request: Request, principal: Principal, session: Session, public_id: str, **extra: Any) -> Response:
    ctx = context(request)
    try:
        view = staff_request(ctx.reader(), principal, public_id)
    except DomainError as exc:
        return _error(request, session, principal, exc)
    may_read_contact = reach_of(principal, Action.REQUEST_READ_CONTACT) is not None  # the use case checks the scope
    return _page(request, "staff_request.html", title=f"Request {view.request.id}", csrf=session.csrf,
                 principal=principal, view=view, may_read_contact=may_read_contact, **extra)  # fmt: skip


@router.get("/requests/{service_request_id}", response_class=HTMLResponse)
def request_page(request: Request, service_request_id: str) -> Response:
    found = _signed_in(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    return _request_page(request, principal, session, service_request_id)


@router.post("/requests/{service_request_id}/contact", response_class=HTMLResponse)
async def show_contact(
    request: Request,
    service_request_id: str,
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """ "Show contact": the filer's contact data, read through the audited use case (with the reason given)."""
    found = await run_in_threadpool(_signed_in, request)
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
        return _error(request, session, principal, exc)
    return await run_in_threadpool(
        lambda: _request_page(request, principal, session, service_request_id, contact=contact, shown=True)
    )
