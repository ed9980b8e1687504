"""The agent console's mail triage (``/staff/agent/mail``): residents' mail email in could not file on its own
(no service or several named, no place found, a filing refused), oldest first. The agent reads each one with its
photos, picks the service and the place and files it (``file_from_triage``: ``submit_request`` on channel email,
the sender as contact, the photos attached), or says it is not a request, with a reason (``dismiss_mail``).

Plain forms, no JavaScript; every POST carries the session's CSRF token; the use cases ask the policy
(``mail.triage``) and audit every read and decision."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from civicswitch.catalog.model import Datatype, Service
from civicswitch.core.errors import DomainError
from civicswitch.hub.mailin.handlers import (
    DismissMail,
    FileMail,
    dismiss_mail,
    file_from_triage,
    triage_mail,
    triage_photo,
    triage_queue,
)
from civicswitch.people.policy import Principal
from civicswitch.requests.handlers import Limits
from civicswitch.web.context import context
from civicswitch.web.open311.params import attributes_from
from civicswitch.web.principals import Session, check_csrf
from civicswitch.web.staffpages import refusal_page, render_page, signed_in_staff

log = logging.getLogger(__name__)
router = APIRouter(prefix="/staff/agent/mail", include_in_schema=False)

NOTICES = {"filed": "Mail filed as request {request}.", "dismissed": "Mail marked as not a request."}
PLACE_FIELDS = ("address", "lat", "long", "description")


def _limits(request: Request) -> Limits:
    settings = context(request).settings
    return Limits(settings.max_media_bytes, settings.media_types, timedelta(seconds=settings.clock_skew_seconds))


def _services(request: Request) -> list[Service]:
    with context(request).reader() as uow:
        return sorted((s for s in uow.catalog.services() if s.active), key=lambda s: s.name)


def _text(form: FormData, name: str, limit: int = 4000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


@router.get("", response_class=HTMLResponse)
def queue(
    request: Request,
    done: Annotated[str, Query(max_length=20)] = "",
    number: Annotated[str, Query(alias="request", max_length=12)] = "",
) -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    ctx = context(request)
    try:
        waiting = triage_queue(ctx.writer(), ctx.clock, principal)
    except DomainError as exc:
        problem = exc
        return refusal_page(request, session, principal, problem)
    number = number if number.isascii() and number.isdigit() else ""
    notice = NOTICES.get(done, "").format(request=number)
    return render_page(request, "staff_mail.html", title="Mail triage", csrf=session.csrf, principal=principal,
                       waiting=waiting, notice=notice, filed=number if done == "filed" else "")  # fmt: skip


def _mail_page(
    request: Request,
    principal: Principal,
    session: Session,
    mail_id: int,
    *,
    service_code: str = "",
    values: dict[str, str] | None = None,
    attributes: dict[str, list[str]] | None = None,
    error: str = "",
    dismiss_error: str = "",
    reason: str = "",
    status: int = 200,
) -> Response:
    ctx = context(request)
    try:
        view = triage_mail(ctx.writer(), ctx.clock, principal, mail_id, _limits(request))
    except DomainError as exc:
        problem = exc
        return refusal_page(request, session, principal, problem)
    services = _services(request)
    chosen_code = service_code or (view.services[0] if len(view.services) == 1 else "")
    chosen = next((s for s in services if s.code == chosen_code), None) if service_code else None
    if values is None:
        subject = view.record.subject
        body = view.text.strip()
        values = {
            "address": view.place.address or "",
            "lat": view.place.lat or "",
            "long": view.place.long or "",
            "description": (f"{subject}\n\n{body}" if subject else body)[:4000],
        }
    return render_page(
        request,
        "staff_mail_item.html",
        status,
        title=f"Mail {mail_id}: {view.record.subject or '(no subject)'}",
        nav="mail",
        csrf=session.csrf,
        principal=principal,
        view=view,
        services=services,
        chosen_code=chosen_code,
        chosen=chosen,
        questions=sorted(chosen.attributes, key=lambda a: a.order) if chosen else [],
        datatype=Datatype,
        values=values,
        attributes=attributes or {},
        error=error,
        dismiss_error=dismiss_error,
        reason=reason,
    )


@router.get("/{mail_id}", response_class=HTMLResponse)
def mail_item(request: Request, mail_id: int, service: Annotated[str, Query(max_length=100)] = "") -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    return _mail_page(request, principal, session, mail_id, service_code=service.strip())


@router.get("/{mail_id}/attachments/{index}")
def attachment(request: Request, mail_id: int, index: int) -> Response:
    """A photo of a waiting message, for the agent's page (an image type sniffed from its bytes, never as sent)."""
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    try:
        kind, data = triage_photo(context(request).reader(), principal, mail_id, index)
    except DomainError as exc:
        problem = exc
        return refusal_page(request, session, principal, problem)
    headers = {"cache-control": "no-store", "x-content-type-options": "nosniff", "content-disposition": "inline"}
    return Response(data, media_type=kind, headers=headers)


@router.post("/{mail_id}/file", response_class=HTMLResponse)
async def file_mail(request: Request, mail_id: int) -> Response:
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    form = await request.form(max_files=0, max_fields=300)
    check_csrf(session, _text(form, "csrf", 100))
    code = _text(form, "service_code", 100).strip()
    values = {name: _text(form, name).strip() for name in PLACE_FIELDS}
    attributes = {k: [v.strip() for v in given if v.strip()] for k, given in attributes_from(form).items()}
    attributes = {k: v for k, v in attributes.items() if v}
    cmd = FileMail(principal, mail_id, code, values["address"], values["lat"], values["long"], values["description"],
                   attributes)  # fmt: skip
    ctx = context(request)
    try:
        result = await run_in_threadpool(
            lambda: file_from_triage(ctx.writer(), ctx.clock, cmd, _limits(request), ctx.geography())
        )
    except DomainError as exc:
        problem = exc
        if problem.code == 403:
            return await run_in_threadpool(lambda: refusal_page(request, session, principal, problem))
        log.info("mail %s not filed by %s: %s", mail_id, principal.label, problem.description)
        again: dict[str, Any] = {"service_code": code, "values": values, "attributes": attributes,
                                 "error": problem.description, "status": problem.code}  # fmt: skip
        return await run_in_threadpool(lambda: _mail_page(request, principal, session, mail_id, **again))
    return RedirectResponse(f"/staff/agent/mail?done=filed&request={result.request_id}", status_code=303)


@router.post("/{mail_id}/dismiss", response_class=HTMLResponse)
async def dismiss(request: Request, mail_id: int) -> Response:
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    form = await request.form(max_files=0, max_fields=20)
    check_csrf(session, _text(form, "csrf", 100))
    reason = _text(form, "reason", 1000)
    ctx = context(request)
    try:
        await run_in_threadpool(lambda: dismiss_mail(ctx.writer(), ctx.clock, DismissMail(principal, mail_id, reason)))
    except DomainError as exc:
        problem = exc
        if problem.code == 403:
            return await run_in_threadpool(lambda: refusal_page(request, session, principal, problem))
        extra: dict[str, Any] = {"dismiss_error": problem.description, "reason": reason, "status": problem.code}
        return await run_in_threadpool(lambda: _mail_page(request, principal, session, mail_id, **extra))
    return RedirectResponse("/staff/agent/mail?done=dismissed", status_code=303)
