"""Who is calling over HTTP: a signed-in staff member (a signed session cookie) or an API key.

The session cookie is read only by routes that accept people, so the hot Open311 reads never pay for it. It
holds the account id, a fingerprint of the password's last change (a reset ends every session) and a CSRF token;
it is signed with the instance's session secret, HttpOnly, SameSite=Strict, Secure when the public URL is https,
and expires after ``SESSION_HOURS``. A disabled account is refused on its next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from civicswitch.core.errors import Forbidden
from civicswitch.people.auth import key_principal
from civicswitch.people.clients import Scope
from civicswitch.people.links import SECRET_SETTING
from civicswitch.people.policy import Principal
from civicswitch.people.users import StaffUser
from civicswitch.web.context import AppContext, context

SESSION_COOKIE = "cs_session"
SESSION_HOURS = 12


@dataclass(frozen=True, slots=True)
class Session:
    user_id: int
    csrf: str
    stamp: str


def session_secret(ctx: AppContext) -> str:
    """The secret that signs sessions and links: ``CIVICSWITCH_SECRET_KEY`` if set, else one made on first use
    and kept in the database (so every process of the instance shares it)."""
    if ctx.settings.secret_key:
        return ctx.settings.secret_key
    if ctx.session_secret:
        return ctx.session_secret
    with ctx.writer() as uow:
        stored = uow.settings.all().get(SECRET_SETTING)
        if not isinstance(stored, str) or len(stored) < 32:
            stored = secrets.token_urlsafe(48)
            uow.settings.set(SECRET_SETTING, stored, ctx.clock.now())
            uow.commit()
    ctx.session_secret = stored
    return stored


def _serializer(ctx: AppContext) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(session_secret(ctx), salt="civicswitch.staff-session")


def _stamp(user: StaffUser) -> str:
    return hashlib.sha256(user.password_changed_at.isoformat().encode()).hexdigest()[:16]


def read_session(request: Request) -> Session | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data: Any = _serializer(context(request)).loads(raw, max_age=SESSION_HOURS * 3600)
    except (BadSignature, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("uid"), int):
        return None
    return Session(user_id=data["uid"], csrf=str(data.get("csrf", "")), stamp=str(data.get("stamp", "")))


def start_session(request: Request, response: Response, user: StaffUser) -> None:
    assert user.id is not None
    ctx = context(request)
    token = _serializer(ctx).dumps({"uid": user.id, "csrf": secrets.token_urlsafe(24), "stamp": _stamp(user)})
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="strict",
        secure=ctx.settings.public_url.startswith("https://"),
        path="/",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_principal(request: Request) -> tuple[Principal, Session] | None:
    """The signed-in account's principal and session, or None when there is no valid session."""
    session = read_session(request)
    if session is None:
        return None
    with context(request).reader() as uow:
        user = uow.users.get(session.user_id)
        if user is None or not user.active or not hmac.compare_digest(_stamp(user), session.stamp):
            return None  # a disabled account or a reset password ends the session
        return user.principal(), session


def check_csrf(session: Session, token: str | None) -> None:
    if not token or not hmac.compare_digest(session.csrf, token):
        raise Forbidden("the form is out of date (CSRF check failed); reload the page and try again")


def api_principal(request: Request, api_key: str | None, scope: Scope | None) -> Principal:
    """For ``/api/v1``: an API key if one is sent, else a signed-in account. A cookie-authenticated write must
    carry the session's CSRF token in ``X-CSRF-Token`` (a form on another site cannot set that header)."""
    ctx = context(request)
    if api_key:
        with ctx.reader() as uow:
            return key_principal(uow, api_key, scope)
    found = session_principal(request)
    if found is None:
        with ctx.reader() as uow:
            return key_principal(uow, None, scope)  # the usual "api_key is required" answer
    principal, session = found
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check_csrf(session, request.headers.get("x-csrf-token"))
    return principal
