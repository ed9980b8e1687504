"""The escalation queue (admin, executive) and the admin pages (admin): staff accounts, API keys, connectors,
SLA calendars' holidays, response templates, the audit log. Server-rendered, every control a plain form (no
JavaScript).

Each page and form calls the same use case as the CLI (people/handlers.py, people/auth.py, hub/handlers.py,
catalog/handlers.py, requests/escalation.py, responses/handlers.py); the use case asks the policy and writes the
audit entry. A one-time password or a new key is shown once, in the answer to the form that made it (never stored,
never in a URL); every other change answers with a redirect (POST, redirect, GET)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from civicswitch.catalog.calendars import WEEKDAYS
from civicswitch.catalog.handlers import add_holiday, list_calendars, remove_holiday
from civicswitch.core.errors import DomainError, Invalid
from civicswitch.hub.handlers import manage_connectors, set_enabled
from civicswitch.people.auth import create_client, list_clients, revoke_client
from civicswitch.people.clients import Scope
from civicswitch.people.handlers import (
    AddUser,
    add_user,
    audit_entries,
    disable_user,
    enable_user,
    list_users,
    reset_password,
)
from civicswitch.people.policy import STAFF_ROLES, Action, Principal
from civicswitch.requests.escalation import EscalationRule, escalation_queue
from civicswitch.responses.handlers import (
    SaveTemplate,
    delete_template,
    get_template,
    list_templates,
    save_template,
)
from civicswitch.responses.model import PLACEHOLDERS, ResponseTemplate
from civicswitch.web.context import context
from civicswitch.web.principals import Session, check_csrf
from civicswitch.web.staffpages import refusal_page, render_page, signed_in_staff, staff_post

router = APIRouter(prefix="/staff", include_in_schema=False)
AUDIT_PAGE = 50
# What the audit log's action filter offers: the policy's actions and the sign-in ones (people/auth.py, handlers.py).
AUDIT_ACTIONS = [str(a) for a in Action] + ["session.sign_in", "session.change_password"]
SCOPE_TEXT = {Scope.SUBMIT: "submit (an app files requests)", Scope.UPDATE: "update (a body's system)",
              Scope.ADMIN: "admin (an administrator's script)"}  # fmt: skip


def duration(span: timedelta) -> str:
    """A span as people say it: ``3 days 4 h``, ``5 h 20 min``, ``12 min``."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    return f"{hours} h {mins} min" if hours else f"{mins} min"


Handler = Callable[[Request, Principal, Session], Response]


def _signed_in_page(request: Request, render: Handler) -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    return render(request, principal, session)


async def _show_once(
    request: Request, csrf: str, run: Callable[[Principal], Any], render: Callable[..., Response]
) -> Response:
    """A form whose answer shows a secret once (a one-time password, a new key): signed in, the session's CSRF
    token, the use case, then the page rendered with what it returned (``made``), or with the refusal."""
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    check_csrf(session, csrf)
    try:
        made = await run_in_threadpool(lambda: run(principal))
    except DomainError as exc:
        message, code = exc.description, exc.code
        return await run_in_threadpool(lambda: render(request, principal, session, error=message, status=code))
    return await run_in_threadpool(lambda: render(request, principal, session, made=made))


def _refused(render: Callable[..., Response], request: Request) -> Callable[[Principal, Session, str, int], Response]:
    return lambda who, session, message, code: render(request, who, session, error=message, status=code)


# -- escalations -----------------------------------------------------------------------------------------------
@router.get("/escalations", response_class=HTMLResponse)
def escalations_page(request: Request, page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    def render(request: Request, principal: Principal, session: Session) -> Response:
        ctx = context(request)
        rule = EscalationRule.from_settings(ctx.settings)
        try:
            result = escalation_queue(ctx.reader(), ctx.clock, principal, rule, page=page)
        except DomainError as exc:
            return refusal_page(request, session, principal, exc)
        return render_page(request, "staff_escalations.html", title="Escalations", csrf=session.csrf,
                     principal=principal,
                     result=result, rule=rule, hours=ctx.settings.escalation_overdue_hours, duration=duration,
                     nav="escalations")  # fmt: skip

    return _signed_in_page(request, render)


# -- staff accounts ----------------------------------------------------------------------------------------------
@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request) -> Response:
    return RedirectResponse("/staff/admin/users", status_code=303)


def _users_page(request: Request, principal: Principal, session: Session, *, error: str = "", status: int = 200,
                made: Any = None, notice: str = "", form: dict[str, Any] | None = None) -> Response:  # fmt: skip
    ctx = context(request)
    try:
        users = list_users(ctx.reader(), who=principal)
    except DomainError as exc:
        return refusal_page(request, session, principal, exc)
    with ctx.reader() as uow:
        bodies = [(b.code, b.name, str(b.kind)) for b in uow.catalog.bodies()]
        layers = [layer.name for layer in uow.catalog.layers()]
    return render_page(request, "staff_admin_users.html", status, title="Staff accounts", csrf=session.csrf,
                 principal=principal, users=users, roles=[str(r) for r in STAFF_ROLES], error=error, made=made,
                 notice=notice, form=form or {}, nav="admin", section="users",
                 departments=[(c, n) for c, n, k in bodies if k == "department"],
                 partners=[(c, n) for c, n, k in bodies if k == "partner"], layers=layers)  # fmt: skip


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, notice: str = "") -> Response:
    text = {"disabled": "The account is disabled: it can no longer sign in, and its sessions have ended."}
    return _signed_in_page(request, lambda r, p, s: _users_page(r, p, s, notice=text.get(notice, "")))


@router.post("/admin/users")
async def users_add(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    body: Annotated[list[str] | None, Form()] = None,
    org: Annotated[str, Form(max_length=64)] = "",
    areas: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Add a staff account (``user.manage``); the answer shows its one-time password, once."""
    ctx = context(request)
    area_list = [a.strip() for a in areas.replace("\n", ",").split(",") if a.strip()]
    cmd = AddUser(email, role, [b for b in body or [] if b.strip()], area_list, org.strip() or None, name)
    form = {"email": email, "name": name, "role": role, "body": body or [], "org": org, "areas": areas}

    def render(request: Request, who: Principal, session: Session, **values: Any) -> Response:
        kept = form if values.get("error") else {}  # a refused form keeps what was typed
        return _users_page(request, who, session, form=kept, **values)

    return await _show_once(request, csrf, lambda who: add_user(ctx.writer(), ctx.clock, cmd, who=who), render)


@router.post("/admin/users/disable")
async def users_disable(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    ctx = context(request)

    def run(who: Principal) -> object:
        if email.strip().lower() == who.name.lower():
            raise Invalid("you cannot disable your own account here (another admin, or the CLI, can)", field="email")
        return disable_user(ctx.writer(), ctx.clock, email, reason="disabled on the admin page", who=who)

    return await staff_post(
        request,
        csrf,
        run,
        _refused(_users_page, request),
        "/staff/admin/users?notice=disabled",
    )


@router.post("/admin/users/enable")
async def users_enable(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Re-enable a disabled account (``user.manage``): the answer shows its new one-time password, once."""
    ctx = context(request)
    return await _show_once(
        request, csrf, lambda who: enable_user(ctx.writer(), ctx.clock, email, who=who), _users_page
    )


@router.post("/admin/users/reset")
async def users_reset(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """A new one-time password (``user.manage``), shown once; the account's sessions end."""
    ctx = context(request)
    return await _show_once(
        request, csrf, lambda who: reset_password(ctx.writer(), ctx.clock, email, who=who), _users_page
    )


# -- API keys --------------------------------------------------------------------------------------------------
def _keys_page(request: Request, principal: Principal, session: Session, *, error: str = "", status: int = 200,
               made: Any = None, notice: str = "") -> Response:  # fmt: skip
    ctx = context(request)
    try:
        clients = list_clients(ctx.reader(), who=principal)
    except DomainError as exc:
        return refusal_page(request, session, principal, exc)
    with ctx.reader() as uow:
        bodies = [(b.code, b.name) for b in uow.catalog.bodies()]
    return render_page(request, "staff_admin_keys.html", status, title="API keys", csrf=session.csrf,
                 principal=principal,
                 clients=clients, scopes=SCOPE_TEXT, bodies=bodies, error=error, made=made, notice=notice,
                 nav="admin", section="keys")  # fmt: skip


@router.get("/admin/keys", response_class=HTMLResponse)
def keys_page(request: Request, notice: str = "") -> Response:
    text = {"revoked": "The key is revoked: it is refused from now on."}
    return _signed_in_page(request, lambda r, p, s: _keys_page(r, p, s, notice=text.get(notice, "")))


@router.post("/admin/keys")
async def keys_create(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    scope: Annotated[str, Form(max_length=20)] = "submit",
    body: Annotated[str, Form(max_length=64)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Create a key (``apikey.manage``); the answer shows the key, once (only its hash is stored)."""
    ctx = context(request)

    def run(who: Principal) -> object:
        try:
            chosen = Scope(scope.strip().lower())
        except ValueError:
            raise Invalid(f"unknown scope {scope!r}; one of {', '.join(Scope)}", field="scope") from None
        return create_client(ctx.writer(), ctx.clock, name, frozenset({chosen}), body_code=body.strip() or None,
                             who=who)  # fmt: skip

    return await _show_once(request, csrf, run, _keys_page)


@router.post("/admin/keys/{client_id}/revoke")
async def keys_revoke(request: Request, client_id: int, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    ctx = context(request)

    def run(who: Principal) -> object:
        if not revoke_client(ctx.writer(), ctx.clock, client_id, who=who):
            raise Invalid(f"no active key with id {client_id}", field="client")
        return None

    return await staff_post(request, csrf, run, _refused(_keys_page, request), "/staff/admin/keys?notice=revoked")


# -- connectors ----------------------------------------------------------------------------------------------------
def _connectors_page(request: Request, principal: Principal, session: Session, *, error: str = "",
                     status: int = 200, notice: str = "") -> Response:  # fmt: skip
    ctx = context(request)
    try:
        found = manage_connectors(ctx.reader(), ctx.clock, who=principal)
    except DomainError as exc:
        return refusal_page(request, session, principal, exc)
    return render_page(request, "staff_admin_connectors.html", status, title="Connectors", csrf=session.csrf,
                 principal=principal, connectors=found, error=error, notice=notice, nav="admin",
                 section="connectors")  # fmt: skip


@router.get("/admin/connectors", response_class=HTMLResponse)
def connectors_page(request: Request, notice: str = "") -> Response:
    text = {"enabled": "Connector enabled: its waiting messages go out again.",
            "disabled": "Connector disabled: its messages wait (nothing is lost) and its key is refused."}  # fmt: skip
    return _signed_in_page(request, lambda r, p, s: _connectors_page(r, p, s, notice=text.get(notice, "")))


@router.post("/admin/connectors/{code}/{op}")
async def connectors_switch(
    request: Request, code: str, op: str, csrf: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """Enable or disable a connector (``connector.manage``)."""
    ctx = context(request)

    def run(who: Principal) -> object:
        if op not in ("enable", "disable"):
            raise Invalid("a connector is enabled or disabled", field="op")
        set_enabled(ctx.writer(), code, op == "enable", f"disabled by {who.name} on the admin page", clock=ctx.clock,
                    who=who)  # fmt: skip
        return None

    return await staff_post(request, csrf, run, _refused(_connectors_page, request),
                       f"/staff/admin/connectors?notice={op}d")  # fmt: skip


# -- calendars -----------------------------------------------------------------------------------------------------
def _calendars_page(request: Request, principal: Principal, session: Session, *, error: str = "",
                    status: int = 200, notice: str = "") -> Response:  # fmt: skip
    ctx = context(request)
    try:
        calendars = list_calendars(ctx.reader(), who=principal)
    except DomainError as exc:
        return refusal_page(request, session, principal, exc)
    return render_page(request, "staff_admin_calendars.html", status, title="SLA calendars", csrf=session.csrf,
                 principal=principal, calendars=calendars, weekdays=WEEKDAYS, error=error, notice=notice,
                 default_zone=ctx.settings.timezone, nav="admin", section="calendars")  # fmt: skip


@router.get("/admin/calendars", response_class=HTMLResponse)
def calendars_page(request: Request, notice: str = "") -> Response:
    text = {"added": "Holiday saved. Requests filed or changed from now on count it; due dates already set stay.",
            "removed": "Holiday removed."}  # fmt: skip
    return _signed_in_page(request, lambda r, p, s: _calendars_page(r, p, s, notice=text.get(notice, "")))


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"a date is YYYY-MM-DD, not {value.strip()!r}", field="date") from None


@router.post("/admin/calendars/holidays")
async def holidays_add(
    request: Request,
    calendar: Annotated[str, Form(max_length=64)] = "",
    day: Annotated[str, Form(max_length=20)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Add a holiday to a calendar (``catalog.manage``), or rename the one on that date."""
    ctx = context(request)
    return await staff_post(
        request,
        csrf,
        lambda who: add_holiday(ctx.writer(), ctx.clock, calendar, _day(day), name, who=who),
        _refused(_calendars_page, request),
        "/staff/admin/calendars?notice=added",
    )


@router.post("/admin/calendars/holidays/remove")
async def holidays_remove(
    request: Request,
    calendar: Annotated[str, Form(max_length=64)] = "",
    day: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    ctx = context(request)
    return await staff_post(
        request,
        csrf,
        lambda who: remove_holiday(ctx.writer(), ctx.clock, calendar, _day(day), who=who),
        _refused(_calendars_page, request),
        "/staff/admin/calendars?notice=removed",
    )


# -- the audit log -------------------------------------------------------------------------------------------------
@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    who: Annotated[str, Query(max_length=300)] = "",
    action: Annotated[str, Query(max_length=60)] = "",
    request_id: Annotated[str, Query(alias="request", max_length=100)] = "",
    start: Annotated[str, Query(alias="from", max_length=20)] = "",
    end: Annotated[str, Query(alias="to", max_length=20)] = "",
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The audit log, newest first, filtered by who, action, request and a date range (local days, both ends
    included); 50 entries a page, "Older entries" goes on from the last one shown."""
    form = {"who": who.strip(), "action": action.strip(), "request": request_id.strip(), "from": start.strip(),
            "to": end.strip()}  # fmt: skip

    def render(request: Request, principal: Principal, session: Session) -> Response:
        ctx = context(request)
        zone = ZoneInfo(ctx.settings.timezone)
        try:
            since = datetime.combine(_day(form["from"]), time(0), zone) if form["from"] else None
            until = datetime.combine(_day(form["to"]) + timedelta(days=1), time(0), zone) if form["to"] else None
            entries = audit_entries(ctx.reader(), principal=form["who"] or None, request_id=form["request"] or None,
                                    action=form["action"] or None, since=since, until=until, before_id=before,
                                    newest_first=True, limit=AUDIT_PAGE + 1, who=principal)  # fmt: skip
        except DomainError as exc:
            if exc.code == 403:
                return refusal_page(request, session, principal, exc)
            entries, error, status = [], exc.description, exc.code
        else:
            error, status = "", 200
        more = len(entries) > AUDIT_PAGE
        entries = entries[:AUDIT_PAGE]
        kept = [(k, v) for k, v in form.items() if v]
        older = f"/staff/admin/audit?{urlencode([*kept, ('before', entries[-1].id)])}" if more and entries else ""
        newest = f"/staff/admin/audit?{urlencode(kept)}" if before else ""
        return render_page(request, "staff_admin_audit.html", status, title="Audit log", csrf=session.csrf,
                     principal=principal, entries=entries, form=form, actions=AUDIT_ACTIONS, error=error,
                     older=older, newest=newest, detail=_detail, nav="admin", section="audit")  # fmt: skip

    return _signed_in_page(request, render)


def _detail(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str) if value else ""


# -- response templates ----------------------------------------------------------------------------------------------
TEMPLATE_NOTICES = {"added": "Template added.", "saved": "Template saved.", "deleted": "Template deleted."}


def _template_form(template: ResponseTemplate | None = None) -> dict[str, str]:
    if template is None:
        return {"name": "", "service": "", "visibility": "public", "body": ""}
    return {"name": template.name, "service": template.service_code or "",
            "visibility": "public" if template.public else "internal", "body": template.body}  # fmt: skip


def _templates_page(request: Request, principal: Principal, session: Session, *, error: str = "", status: int = 200,
                    notice: str = "", form: dict[str, str] | None = None, editing: ResponseTemplate | None = None,
                    deleting: ResponseTemplate | None = None) -> Response:  # fmt: skip
    """The list and the add form; or the edit form of one template (``editing``); or the question before deleting
    one (``deleting``)."""
    ctx = context(request)
    try:
        found = list_templates(ctx.reader(), principal)
    except DomainError as exc:
        return refusal_page(request, session, principal, exc)
    with ctx.reader() as uow:
        services = sorted(((s.code, s.name) for s in uow.catalog.services()), key=lambda s: s[1])
    title = (f"Edit template: {editing.name}" if editing else f"Delete template: {deleting.name}" if deleting
             else "Response templates")  # fmt: skip
    return render_page(request, "staff_admin_templates.html", status, title=title, csrf=session.csrf,
                 principal=principal,
                 templates=found, services=services, service_names=dict(services), placeholders=PLACEHOLDERS,
                 form=form if form is not None else _template_form(editing), editing=editing, deleting=deleting,
                 error=error, notice=notice, nav="admin", section="templates")  # fmt: skip


def _one_template(request: Request, template_id: int, what: str) -> Response:
    def render(request: Request, principal: Principal, session: Session) -> Response:
        ctx = context(request)
        try:
            found = get_template(ctx.reader(), principal, template_id)
        except DomainError as exc:
            return refusal_page(request, session, principal, exc)
        if what == "edit":
            return _templates_page(request, principal, session, editing=found)
        return _templates_page(request, principal, session, deleting=found)

    return _signed_in_page(request, render)


@router.get("/admin/templates", response_class=HTMLResponse)
def templates_page(request: Request, notice: str = "") -> Response:
    text = TEMPLATE_NOTICES.get(notice, "")
    return _signed_in_page(request, lambda r, p, s: _templates_page(r, p, s, notice=text))


@router.get("/admin/templates/{template_id}/edit", response_class=HTMLResponse)
def templates_edit_page(request: Request, template_id: int) -> Response:
    return _one_template(request, template_id, "edit")


@router.get("/admin/templates/{template_id}/delete", response_class=HTMLResponse)
def templates_delete_page(request: Request, template_id: int) -> Response:
    """The question before deleting (a plain page: works without JavaScript)."""
    return _one_template(request, template_id, "delete")


async def _save_template(request: Request, csrf: str, form: dict[str, str], editing: int | None) -> Response:
    ctx = context(request)
    done = "/staff/admin/templates?notice=" + ("added" if editing is None else "saved")

    def run(who: Principal) -> object:
        cmd = SaveTemplate(who, form["name"], form["body"], form["visibility"], form["service"], editing)
        return save_template(ctx.writer(), ctx.clock, cmd)

    def refused(who: Principal, session: Session, message: str, code: int) -> Response:
        current = None
        if editing is not None:
            try:
                current = get_template(ctx.reader(), who, editing)
            except DomainError:
                current = None
        return _templates_page(request, who, session, error=message, status=code, form=form, editing=current)

    return await staff_post(request, csrf, run, refused, done)


@router.post("/admin/templates")
async def templates_add(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    service: Annotated[str, Form(max_length=100)] = "",
    visibility: Annotated[str, Form(max_length=10)] = "",
    body: Annotated[str, Form(max_length=8000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Add a response template (``template.manage``)."""
    form = {"name": name, "service": service, "visibility": visibility, "body": body}
    return await _save_template(request, csrf, form, None)


@router.post("/admin/templates/{template_id}/edit")
async def templates_update(
    request: Request,
    template_id: int,
    name: Annotated[str, Form(max_length=200)] = "",
    service: Annotated[str, Form(max_length=100)] = "",
    visibility: Annotated[str, Form(max_length=10)] = "",
    body: Annotated[str, Form(max_length=8000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    form = {"name": name, "service": service, "visibility": visibility, "body": body}
    return await _save_template(request, csrf, form, template_id)


@router.post("/admin/templates/{template_id}/delete")
async def templates_delete(
    request: Request, template_id: int, csrf: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    ctx = context(request)
    return await staff_post(
        request,
        csrf,
        lambda who: delete_template(ctx.writer(), ctx.clock, who, template_id),
        _refused(_templates_page, request),
        "/staff/admin/templates?notice=deleted",
    )
