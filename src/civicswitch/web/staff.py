"""Staff pages: sign in, who am I, change password, sign out. Server-rendered, no JavaScript needed.

Forms carry a CSRF token: before sign-in a random token in a short-lived cookie (double submit), after it the
session's own token. Sign-in is rate-limited per email and per client address (failures only)."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from limits import RateLimitItemPerMinute, storage, strategies
from starlette.concurrency import run_in_threadpool

from civicswitch.core.errors import DomainError, Forbidden
from civicswitch.people.auth import sign_in, sign_in_verified
from civicswitch.people.handlers import change_own_password
from civicswitch.people.policy import POLICY, Role
from civicswitch.people.users import MIN_PASSWORD
from civicswitch.web import oidc
from civicswitch.web.context import context
from civicswitch.web.pages import templates
from civicswitch.web.principals import (
    check_csrf,
    end_session,
    read_session,
    session_principal,
    session_secret,
    start_session,
)

log = logging.getLogger("civicswitch.web.staff")
router = APIRouter(prefix="/staff", include_in_schema=False)
LOGIN_CSRF_COOKIE = "cs_login"

# Failed sign-ins: 10 per email and 30 per address in 15 minutes (a moving window, per process and app).
_PER_EMAIL = RateLimitItemPerMinute(10, 15)
_PER_ADDRESS = RateLimitItemPerMinute(30, 15)

ROLE_TEXT = {
    Role.ADMIN: "everything, for every body",
    Role.AGENT: "files for callers, reads their contact data, works the manual bridge",
    Role.DEPARTMENT: "works the requests your bodies own",
    Role.PARTNER: "sees and works the requests assigned to your organisation",
    Role.LIAISON: "files on residents' behalf in your areas, with their consent",
    Role.EXECUTIVE: "reads everything except contact data; changes nothing",
}


def _failures(request: Request) -> strategies.MovingWindowRateLimiter:
    found: strategies.MovingWindowRateLimiter | None = getattr(request.app.state, "sign_in_failures", None)
    if found is None:
        found = request.app.state.sign_in_failures = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
    return found


def _page(request: Request, template: str, status: int = 200, **values: object) -> HTMLResponse:
    ctx = context(request)
    html = templates.get_template(template).render(name=ctx.settings.jurisdiction_name, **values)
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def _next(value: str | None) -> str:
    """Only a path on this site's staff pages (no open redirect)."""
    if value and value.startswith("/staff/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/staff/me"


def _login_page(request: Request, *, status: int = 200, error: str = "", email: str = "", nxt: str = "",
                notice: str = "") -> HTMLResponse:  # fmt: skip
    token = secrets.token_urlsafe(24)
    settings = context(request).settings
    sso = settings.oidc_label if oidc.enabled(settings) else ""
    response = _page(request, "staff_login.html", status, title="Sign in", csrf=token, error=error, email=email,
                     next=_next(nxt), notice=notice, signed_in=False, sso=sso)  # fmt: skip
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict", path="/staff")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "") -> HTMLResponse:
    return _login_page(request, nxt=next)


@router.post("/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf):
        return _login_page(request, status=403, error="The form was out of date. Please sign in again.", email=email,
                           nxt=next)  # fmt: skip
    failures = _failures(request)
    address = request.client.host if request.client else "-"
    keys = (("email", email.strip().lower()), ("address", address))
    if not all(failures.test(item, *key) for item, key in zip((_PER_EMAIL, _PER_ADDRESS), keys, strict=True)):
        response = _login_page(request, status=429, error="Too many failed sign-ins. Wait 15 minutes and try again.",
                               email=email, nxt=next)  # fmt: skip
        response.headers["retry-after"] = "900"
        return response
    ctx = context(request)
    try:
        user = await run_in_threadpool(sign_in, ctx.writer(), ctx.clock, email, password)
    except Forbidden as exc:
        for item, key in zip((_PER_EMAIL, _PER_ADDRESS), keys, strict=True):
            failures.hit(item, *key)
        return _login_page(request, status=403, error=exc.description, email=email, nxt=next)
    target = "/staff/password" if user.must_change_password else _next(next)
    redirect = RedirectResponse(target, status_code=303)
    start_session(request, redirect, user)
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/staff")
    return redirect


# -- single sign-on (web/oidc.py) ---------------------------------------------------------------------------------
def _provider(request: Request) -> oidc.Provider:
    found: oidc.Provider | None = getattr(request.app.state, "oidc_provider", None)
    if found is None:
        ctx = context(request)
        transport = getattr(request.app.state, "oidc_transport", None)  # tests: a fake identity provider
        found = request.app.state.oidc_provider = oidc.Provider(ctx.settings, ctx.clock, transport)
    return found


def _sso_refused(request: Request, error: oidc.SignOnError | str, status: int = 403) -> HTMLResponse:
    message = error.message if isinstance(error, oidc.SignOnError) else error
    if isinstance(error, oidc.SignOnError):
        log.warning("single sign-on refused: %s", error.reason)
    response = _login_page(request, status=status, error=message)
    response.delete_cookie(oidc.FLOW_COOKIE, path="/staff/login/oidc")
    return response


@router.get("/login/oidc")
async def sso_start(request: Request, next: str = "") -> Response:
    ctx = context(request)
    if not oidc.enabled(ctx.settings):
        return _login_page(request, status=404, error="Single sign-on is not set up here. Sign in with your password.")
    redirect_uri = ctx.base_url(request) + oidc.CALLBACK_PATH
    try:
        url, flow = await run_in_threadpool(_provider(request).start, redirect_uri, _next(next))
    except oidc.SignOnError as exc:
        return _sso_refused(request, exc, status=502)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(oidc.FLOW_COOKIE, oidc.pack(session_secret(ctx), flow), max_age=oidc.FLOW_SECONDS,
                        httponly=True, samesite="lax", secure=ctx.settings.public_url.startswith("https://"),
                        path="/staff/login/oidc")  # fmt: skip
    return response


@router.get("/login/oidc/callback")
async def sso_callback(
    request: Request, code: str = "", state: str = "", error: str = "", error_description: str = ""
) -> Response:
    ctx = context(request)
    if not oidc.enabled(ctx.settings):
        return _login_page(request, status=404, error="Single sign-on is not set up here. Sign in with your password.")
    try:
        flow = oidc.unpack(session_secret(ctx), request.cookies.get(oidc.FLOW_COOKIE), state)
        if error:
            raise oidc.SignOnError(
                "The city's sign-in service did not sign you in. Please start again.",
                f"provider answered error={error[:100]!r} {error_description[:300]!r}",
            )
        if not code:
            raise oidc.SignOnError("The city's sign-in service did not sign you in.", "callback without a code")
        redirect_uri = ctx.base_url(request) + oidc.CALLBACK_PATH
        email = await run_in_threadpool(_provider(request).finish, code[:2048], redirect_uri, flow)
    except oidc.SignOnError as exc:
        return _sso_refused(request, exc)
    try:
        user = await run_in_threadpool(sign_in_verified, ctx.writer(), ctx.clock, email, "oidc")
    except Forbidden as exc:
        return _sso_refused(request, exc.description)
    # The session cookie is SameSite=Strict, and this answer ends a navigation that began at the provider (another
    # site): a redirect from here would not carry it. A page of ours that moves on carries it.
    response = _page(request, "staff_signed_in.html", title="Signed in", target=flow.next, signed_in=False)
    start_session(request, response, user)
    response.delete_cookie(oidc.FLOW_COOKIE, path="/staff/login/oidc")
    return response


@router.get("/me", response_class=HTMLResponse)
def me(request: Request, notice: str = "") -> Response:
    found = session_principal(request)
    if found is None:
        return RedirectResponse(f"/staff/login?next={quote('/staff/me')}", status_code=303)
    principal, session = found
    ctx = context(request)
    with ctx.reader() as uow:
        user = uow.users.get(session.user_id)
    assert user is not None
    if user.must_change_password:
        return RedirectResponse("/staff/password", status_code=303)
    actions = [f"{action} ({row[principal.role]})" for action, row in POLICY.items() if principal.role in row]
    saved = {"password": "Your new password is saved."}.get(notice, "")
    return _page(request, "staff_me.html", title="Who am I", user=user, role_text=ROLE_TEXT.get(principal.role, ""),
                 bodies=sorted(user.bodies), areas=sorted(f"{a}:{k}" for a, k in user.areas), actions=actions,
                 csrf=session.csrf, signed_in=True, notice=saved, principal=principal)  # fmt: skip


@router.get("/password", response_class=HTMLResponse)
def password_form(request: Request) -> Response:
    found = session_principal(request)
    if found is None:
        return RedirectResponse("/staff/login?next=/staff/password", status_code=303)
    _, session = found
    ctx = context(request)
    with ctx.reader() as uow:
        user = uow.users.get(session.user_id)
    return _page(request, "staff_password.html", title="New password", csrf=session.csrf, signed_in=True,
                 must=bool(user and user.must_change_password), min_length=MIN_PASSWORD, error="")  # fmt: skip


@router.post("/password")
async def password_change(
    request: Request,
    current: Annotated[str, Form(max_length=1024)] = "",
    new: Annotated[str, Form(max_length=1024)] = "",
    again: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    found = await run_in_threadpool(session_principal, request)
    if found is None:
        return RedirectResponse("/staff/login?next=/staff/password", status_code=303)
    _, session = found
    check_csrf(session, csrf)
    ctx = context(request)
    error = "The two new passwords differ." if new != again else ""
    if not error:
        try:
            user = await run_in_threadpool(change_own_password, ctx.writer(), ctx.clock, session.user_id, current, new)
        except DomainError as exc:
            error = exc.description
    if error:
        return _page(request, "staff_password.html", 400, title="New password", csrf=session.csrf, signed_in=True,
                     must=False, min_length=MIN_PASSWORD, error=error)  # fmt: skip
    response = RedirectResponse("/staff/me?notice=password", status_code=303)
    start_session(request, response, user)  # the old session's stamp no longer matches: a fresh one
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    session = read_session(request)
    if session is not None:
        check_csrf(session, csrf)
    response = RedirectResponse("/staff/login", status_code=303)
    end_session(response)
    return response
