"""What every staff page shares: rendering with the signed-in layout, the refusal page, the sign-in check and a
form's POST (CSRF, use case, refusal or redirect). Used by the workspace, the agent console and the admin pages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from civicswitch.core.errors import DomainError
from civicswitch.people.policy import Principal
from civicswitch.requests.model import Status
from civicswitch.web.context import context
from civicswitch.web.pages import templates
from civicswitch.web.principals import Session, check_csrf, session_principal

log = logging.getLogger(__name__)

STATUS_TEXT = {
    Status.NEW: "New",
    Status.ACKNOWLEDGED: "Acknowledged",
    Status.IN_PROGRESS: "In progress",
    Status.ON_HOLD: "On hold",
    Status.REOPENED: "Reopened",
    Status.CLOSED: "Closed",
}


def render_page(request: Request, template: str, status: int = 200, **values: object) -> HTMLResponse:
    ctx = context(request)
    zone = ZoneInfo(ctx.settings.timezone)

    def when(at: datetime) -> str:
        """A time as people here read it: the instance's time zone, to the minute."""
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    html = templates.get_template(template).render(name=ctx.settings.jurisdiction_name, signed_in=True,
                                                   status_text=STATUS_TEXT, when=when, wide=True,
                                                   **values)  # fmt: skip
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def refusal_page(request: Request, session: Session, principal: Principal, exc: DomainError) -> HTMLResponse:
    log.info("staff page %s refused for %s: %s", request.url.path, principal.label, exc.description)
    return render_page(request, "staff_error.html", exc.code, title="Not possible", message=exc.description,
                 csrf=session.csrf, principal=principal)  # fmt: skip


def signed_in_staff(request: Request) -> tuple[Principal, Session] | Response:
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


async def staff_post(
    request: Request,
    csrf: str,
    run: Callable[[Principal], object],
    refused: Callable[[Principal, Session, str, int], Response],
    done: str,
) -> Response:
    """A staff form's POST: signed in, the session's CSRF token, the use case (``run``); a refusal is the page
    ``refused`` renders with the reason and its status, success a redirect to ``done`` (POST, redirect, GET)."""
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    check_csrf(session, csrf)
    try:
        await run_in_threadpool(lambda: run(principal))
    except DomainError as exc:
        message, code = exc.description, exc.code
        log.info("staff form %s refused for %s: %s", request.url.path, principal.label, message)
        return await run_in_threadpool(lambda: refused(principal, session, message, code))
    return RedirectResponse(done, status_code=303)
