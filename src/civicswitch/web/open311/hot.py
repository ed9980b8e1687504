"""GET one request (``/open311/v2/requests/{id}.json`` or ``.xml``), the hottest Open311 read, answered before FastAPI.

FastAPI's route costs a request several times the query itself: routing through every route, solving the
dependencies and validating the query parameters, the hop to the thread pool, a unit of work with its SQLAlchemy
connection and transaction, a row object and its rendering in Python (bench/README.md, issue 9 §3). This middleware
sits inside the rate limiter, the body guard, the Host check and the security headers (web/app.py), so those apply
unchanged, and answers the plain case itself: no ``extensions``, an id that names a stored request. It answers
as the route does, with the same bytes: the same query (``SqlOpen311Reads``, on the driver's connection), the same
rendering (``request_payload``, then orjson or the XML writer), the same headers in the same order
(``Content-Type``, ``ETag``, ``Cache-Control``, ``Content-Length``) and ``304`` to a matching ``If-None-Match``.

Everything else goes on to the FastAPI route, which answers as before: ``extensions=true``, an unknown format, an
id that is not a number or names no request, a ``jurisdiction_id`` not served here, a NUL in the URL, and every
error (in the URL's format, logged).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from civicswitch.requests.handlers import request_id_from
from civicswitch.requests.sql import SqlOpen311Reads
from civicswitch.web.context import AppContext
from civicswitch.web.open311 import cache, params
from civicswitch.web.open311.render import JSON_TYPE, XML_TYPE, render, request_payload

PREFIX = "/open311/v2/requests/"
# The route's path as Starlette matches it (routes.request_one): ``{service_request_id}.{fmt}``, each [^/]+.
ONE = re.compile(r"^/open311/v2/requests/([^/]+)\.([^/]+)$")
_CACHE_CONTROL = cache.CACHE_CONTROL.encode()
_CONTENT_TYPES = {"json": JSON_TYPE.encode(), "xml": XML_TYPE.encode()}


class HotReads:
    """ASGI middleware: answers ``GET /open311/v2/requests/{id}.{json,xml}`` when the route would answer 200 or 304, and
    passes every other request on. On SQLite the query runs on the event loop (a primary-key read costs less than
    the hop to a thread); on PostgreSQL, in the thread pool, so that the loop keeps serving while it waits."""

    def __init__(self, app: ASGIApp, ctx: AppContext, reads: SqlOpen311Reads, inline: bool) -> None:
        self.app = app
        self.ctx = ctx
        self.reads = reads
        self.inline = inline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = get_route_path(scope) if scope.get("root_path") else scope["path"]
            if path.startswith(PREFIX):
                match = ONE.match(path)
                if match is not None and await self._one(scope, send, match[1], match[2]):
                    return
        await self.app(scope, receive, send)

    def _plain(self, query: bytes) -> bool:
        """Whether the query string leaves the answer the plain one: no ``extensions``, a ``jurisdiction_id``
        served here (or none), no NUL in a value. Parsed as Starlette parses it for the route (the last of a
        repeated parameter counts)."""
        items = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        if any("\x00" in value for _, value in items):
            return False
        given = dict(items)
        if params.truthy(given.get("extensions")):
            return False
        settings = self.ctx.settings
        jurisdiction = params.present(given.get("jurisdiction_id"))
        served = jurisdiction is None or jurisdiction == settings.jurisdiction_id
        return served or not settings.jurisdiction_strict

    async def _one(self, scope: Scope, send: Send, raw_id: str, fmt: str) -> bool:
        """Answer the request and say True, or say False (and send nothing) for the route to answer it."""
        content_type = _CONTENT_TYPES.get(fmt)
        if content_type is None or "\x00" in scope["path"]:
            return False
        query: bytes = scope.get("query_string", b"")
        if query and not self._plain(query):
            return False
        request_id = request_id_from(raw_id)
        if request_id is None:
            return False
        if self.inline:
            found = self.reads.view_with_validator(request_id)
        else:
            found = await run_in_threadpool(self.reads.view_with_validator, request_id)
        if found is None:
            return False
        view, validator = found
        base = self.ctx.base_url_of(scope)
        etag = cache.request_etag(validator, fmt, "False", base)
        wanted = next((value for name, value in scope["headers"] if name == b"if-none-match"), None)
        if wanted is not None and cache.not_modified({"if-none-match": wanted.decode("latin-1")}, etag):
            headers = [(b"etag", etag.encode()), (b"cache-control", _CACHE_CONTROL)]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return True
        body = render(fmt, "service_requests", [request_payload(view, base)])
        headers = [
            (b"content-type", content_type),
            (b"etag", etag.encode()),
            (b"cache-control", _CACHE_CONTROL),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True
