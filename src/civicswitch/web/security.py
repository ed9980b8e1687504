"""HTTP hardening that holds for every route: security headers, ``HEAD`` wherever ``GET`` is, and the Host check.

Links are built from ``CIVICSWITCH_PUBLIC_URL`` (see :meth:`civicswitch.web.context.AppContext.base_url`);
``CIVICSWITCH_ALLOWED_HOSTS`` makes Starlette's :class:`TrustedHostMiddleware` refuse any other ``Host`` with
400 (in the URL's format, and logged). Forwarded headers are uvicorn's business: ``civicswitch serve`` honours
them only from ``CIVICSWITCH_FORWARDED_ALLOW_IPS`` (:mod:`civicswitch.web.server`).
"""

from __future__ import annotations

import logging

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicswitch.core.logs import escape_controls
from civicswitch.web.errors import send_error
from civicswitch.web.headers import SECURITY_HEADERS

log = logging.getLogger("civicswitch.web")


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class HeadAsGet:
    """``HEAD`` is answered wherever ``GET`` is (RFC 9110 §9.3.2): the ``GET`` route runs, the headers go out
    (``Content-Length`` included) and the body does not. FastAPI routes answer only the methods they name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class TrustedHosts:
    """Starlette's :class:`TrustedHostMiddleware` with our error format: a ``Host`` outside ``allowed_hosts``
    gets 400 as an Open311 error list (XML for ``.xml`` URLs) and one log line."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self.app = app
        self.check = TrustedHostMiddleware(self._admitted, allowed_hosts=allowed_hosts, www_redirect=False)

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["civicswitch.host_ok"] = True
        await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.check(scope, receive, send)
            return
        refused = False

        async def ours(message: Message) -> None:
            nonlocal refused
            if scope.get("civicswitch.host_ok"):
                await send(message)
                return
            if refused:
                return  # Starlette's plain-text body: ours went out already
            refused = True
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            log.info("%s %s -> 400: Host %.200r is not served here", scope["method"], scope["path"], host)
            await send_error(send, scope["path"], 400, f"Host {escape_controls(host[:200])!r} is not served here")

        await self.check(scope, receive, ours)
