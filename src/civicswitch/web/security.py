"""HTTP hardening that holds for every route: security headers and ``HEAD`` wherever ``GET`` is (one middleware),
and the Host check.

Links are built from ``CIVICSWITCH_PUBLIC_URL`` (see :meth:`civicswitch.web.context.AppContext.base_url`);
``CIVICSWITCH_ALLOWED_HOSTS`` makes Starlette's :class:`TrustedHostMiddleware` refuse any other ``Host`` with
400 (in the URL's format, and logged). Forwarded headers are uvicorn's business: ``civicswitch serve`` honours
them only from ``CIVICSWITCH_FORWARDED_ALLOW_IPS`` (:mod:`civicswitch.web.server`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicswitch.core.logs import escape_controls
from civicswitch.web.errors import send_error
from civicswitch.web.headers import SECURITY_HEADERS

log = logging.getLogger("civicswitch.web")


SECURITY_HEADER_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


def with_security_headers(
    headers: Iterable[tuple[bytes, bytes]], security: tuple[tuple[bytes, bytes], ...] = SECURITY_HEADERS
) -> list[tuple[bytes, bytes]]:
    """``headers`` and those of ``security`` (:data:`SECURITY_HEADERS`) that they do not set themselves."""
    out = list(headers)
    if any(name.lower() in SECURITY_HEADER_NAMES for name, _ in out):
        present = {name.lower() for name, _ in out}
        out.extend(h for h in security if h[0] not in present)
    else:
        out.extend(security)
    return out


class Hardening:
    """Every response gets :data:`SECURITY_HEADERS` (those it does not set itself), and ``HEAD`` is answered
    wherever ``GET`` is (RFC 9110 §9.3.2): the ``GET`` route runs, the headers go out (``Content-Length``
    included) and the body does not. FastAPI routes answer only the methods they name.

    One middleware and one ``send`` wrapper for both, outside every other: each layer costs every request a few
    microseconds (bench/README.md, issue 8)."""

    def __init__(self, app: ASGIApp, headers: tuple[tuple[bytes, bytes], ...] = SECURITY_HEADERS) -> None:
        self.app = app
        self.headers = headers  # headers.security_headers(): the map tiles' origin in the policy when configured

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        security = self.headers

        async def secured(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                message["headers"] = with_security_headers(message.get("headers", ()), security)
            elif head and kind == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"} if head else scope, receive, secured)


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
