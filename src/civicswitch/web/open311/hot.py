"""The hottest Open311 reads answered before FastAPI: GET one request (``/open311/v2/requests/{id}.json`` or
``.xml``) and the JSON request list (``/open311/v2/requests.json``).

FastAPI's route costs a request several times the query itself: routing through every route, solving the
dependencies and validating the query parameters, the hop to the thread pool, a unit of work with its SQLAlchemy
connection and transaction, a row object and its rendering in Python (bench/README.md, issue 9 §3). This middleware
sits inside the rate limiter, the body guard, the Host check and the security headers (web/app.py), so those apply
unchanged, and answers the plain case itself: no ``extensions``, an id that names a stored request. It answers
as the route does, with the same bytes: the same query (``SqlOpen311Reads``, on the driver's connection), the same
rendering (``request_payload``, then orjson or the XML writer), the same headers in the same order
(``Content-Type``, ``ETag``, ``Cache-Control``, ``Content-Length``) and ``304`` to a matching ``If-None-Match``.

The list is answered in JSON without ``extensions`` as ``routes.request_list`` answers it: the same parameters
(``params.request_query``), the same bytes and headers. Each page it renders is kept (``cache.ListPages``, per
process, bounded in bytes) under the URL's query string and the base of its links, with its ETag. A URL seen
before costs the list's validator (one query over the page's ids and revisions, nothing rendered), and the kept
page is sent when the validator still gives its ETag; else the page is rendered again. A URL not kept, with no
``If-None-Match``, costs one query for the page and its validator together, as before.

Everything else goes on to the FastAPI route, which answers as before: ``extensions=true``, an unknown format, the
list in XML, an id that is not a number or names no request, a parameter the route refuses, a ``jurisdiction_id``
not served here, a NUL in the URL, and every error (in the URL's format, logged).

``POST requests.json`` / ``.xml`` with a plain url-encoded body (no query string; fields split by ``&`` only, each
with its ``=``; at most ``routes.MAX_FORM_FIELDS``) is read here and handed to ``routes.file_request``, the route's
own code from the form on: the same checks, command, use case and answer. What FastAPI's route would add is the
walk through its routes and its form parser; the body is decoded as Starlette decodes a url-encoded form (Latin-1,
then ``unquote_plus`` per name and value). A refusal is answered by the application's own error handlers (the URL's
format, one log line). Any other body (multipart, a ``;`` separator, a field without ``=``) is handed to the route
unread: the bytes read so far are replayed to it. On SQLite the request is filed on the event loop
(``routes._file_inline``: the writer's turn waited for at most 50 ms, the sync in the thread pool); on PostgreSQL,
in the thread pool.
"""

from __future__ import annotations

import re
from typing import cast
from urllib.parse import parse_qsl, unquote_plus

from starlette._utils import get_route_path
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicswitch.core.errors import DomainError
from civicswitch.requests.handlers import request_id_from
from civicswitch.requests.sql import SqlOpen311Reads
from civicswitch.web import errors, ratelimit
from civicswitch.web.context import AppContext
from civicswitch.web.errors import UNUSABLE_INPUT
from civicswitch.web.open311 import cache, params, routes
from civicswitch.web.open311.render import JSON_TYPE, XML_TYPE, render, request_payload
from civicswitch.web.threads import in_thread

PREFIX = "/open311/v2/requests/"
LIST = "/open311/v2/requests.json"  # routes.request_list in JSON; XML and extensions stay with the route
# The route's path as Starlette matches it (routes.request_one): ``{service_request_id}.{fmt}``, each [^/]+.
ONE = re.compile(r"^/open311/v2/requests/([^/]+)\.([^/]+)$")
CREATE = re.compile(r"^/open311/v2/requests\.(json|xml)$")  # routes.request_create, in the formats it serves
_FORM_TYPE = "application/x-www-form-urlencoded"
_CACHE_CONTROL = cache.CACHE_CONTROL.encode()
_CONTENT_TYPES = {"json": JSON_TYPE.encode(), "xml": XML_TYPE.encode()}


class HotReads:
    """ASGI middleware: answers ``GET /open311/v2/requests/{id}.{json,xml}`` when the route would answer 200 or 304, and
    passes every other request on. On SQLite the query runs on the event loop (a primary-key read costs less than
    the hop to a thread); on PostgreSQL, in the thread pool, so that the loop keeps serving while it waits."""

    def __init__(
        self, app: ASGIApp, ctx: AppContext, reads: SqlOpen311Reads, inline: bool, pages: cache.ListPages | None = None
    ) -> None:
        self.app = app
        self.ctx = ctx
        self.reads = reads
        self.inline = inline
        self.pages = cache.ListPages(ctx.settings.list_cache_bytes) if pages is None else pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            if method == "GET":
                path: str = get_route_path(scope) if scope.get("root_path") else scope["path"]
                if path.startswith(PREFIX):
                    match = ONE.match(path)
                    if match is not None and await self._one(scope, send, match[1], match[2]):
                        return
                elif path == LIST and await self._list(scope, send):
                    return
            elif method == "POST":
                path = get_route_path(scope) if scope.get("root_path") else scope["path"]
                match = CREATE.match(path)
                if match is not None:
                    await self._create(scope, receive, send, match[1])
                    return
        await self.app(scope, receive, send)

    async def _create(self, scope: Scope, receive: Receive, send: Send, fmt: str) -> None:
        """``POST requests.{fmt}``: a plain url-encoded form is filed here (``routes.file_request``); anything else
        goes to the route with the body replayed."""
        content_type = next((value for name, value in scope["headers"] if name == b"content-type"), b"")
        if scope.get("query_string") or "\x00" in scope["path"]:
            await self.app(scope, receive, send)
            return
        if content_type.split(b";", 1)[0].strip().lower().decode("latin-1") != _FORM_TYPE:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()  # a body over the limit raises here: the body guard outside answers it
            messages.append(message)
            if message["type"] != "http.request":
                await self.app(scope, ratelimit.replay(messages, receive), send)
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        items = plain_form(body)
        if items is None:
            await self.app(scope, ratelimit.replay(messages, receive), send)
            return
        form = FormData(cast("list[tuple[str, str | UploadFile]]", items))
        try:
            response = await routes.file_request(self.ctx, fmt, form, params.field(form, "api_key"), inline=self.inline)
        except DomainError as exc:
            response = await errors.domain_error(Request(scope), exc)
        except UNUSABLE_INPUT as exc:
            response = await errors.unusable_input(Request(scope), exc)
        await response(scope, receive, send)

    def _plain(self, query: bytes) -> dict[str, str] | None:
        """The query parameters when they leave the answer the plain one (no ``extensions``, a ``jurisdiction_id``
        served here or none, no NUL in a value), else None. Parsed as Starlette parses them for the route: the last
        of a repeated parameter counts."""
        if not query:
            return {}
        items = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        if any("\x00" in value for _, value in items):
            return None
        given = dict(items)
        if params.truthy(given.get("extensions")):
            return None
        settings = self.ctx.settings
        jurisdiction = params.present(given.get("jurisdiction_id"))
        served = jurisdiction is None or jurisdiction == settings.jurisdiction_id
        return given if served or not settings.jurisdiction_strict else None

    async def _one(self, scope: Scope, send: Send, raw_id: str, fmt: str) -> bool:
        """Answer the request and say True, or say False (and send nothing) for the route to answer it."""
        content_type = _CONTENT_TYPES.get(fmt)
        if content_type is None or "\x00" in scope["path"]:
            return False
        if self._plain(scope.get("query_string", b"")) is None:
            return False
        request_id = request_id_from(raw_id)
        if request_id is None:
            return False
        if self.inline:
            found = self.reads.view_with_validator(request_id)
        else:
            found = await in_thread(lambda: self.reads.view_with_validator(request_id))
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

    async def _list(self, scope: Scope, send: Send) -> bool:
        """``GET requests.json`` as ``routes.request_list`` answers it in JSON without extensions; False (nothing
        sent) for the route to answer anything else, every error included."""
        given = None if "\x00" in scope["path"] else self._plain(scope.get("query_string", b""))
        if given is None:
            return False
        ctx = self.ctx
        settings = ctx.settings
        try:
            query = params.request_query(
                now=ctx.clock.now(),
                service_request_id=given.get("service_request_id"),
                service_code=given.get("service_code"),
                status=given.get("status"),
                start_date=given.get("start_date"),
                end_date=given.get("end_date"),
                updated_after=given.get("updated_after"),
                updated_before=given.get("updated_before"),
                page=given.get("page"),
                page_size=given.get("page_size"),
                window_days=settings.default_window_days,
                default_page_size=settings.default_page_size,
                max_page_size=settings.max_page_size,
            )
        except DomainError:
            return False  # the route answers it (400, in the URL's format, logged)
        except UNUSABLE_INPUT:
            return False
        base = ctx.base_url_of(scope)
        wanted = next((value for name, value in scope["headers"] if name == b"if-none-match"), None)
        condition = None if wanted is None else {"if-none-match": wanted.decode("latin-1")}

        pages = self.pages
        key = (scope.get("query_string", b""), base)

        def read() -> tuple[bytes | None, str]:
            kept = pages.get(key)
            with ctx.reader() as uow:
                if condition is not None or kept is not None:
                    # The validator first (nothing rendered): a 304, or the kept page while it is still the list.
                    _, validator = uow.requests.list_validator(query)
                    etag = cache.request_etag(validator, "json", "False", base)
                    if condition is not None and cache.not_modified(condition, etag):
                        return None, etag
                    if kept is not None and kept.etag == etag:
                        return kept.body, etag
                # The page and its validator from one statement: the ETag kept with a page is always its own.
                body, (_, validator) = uow.requests.open311_json_with_validator(query, base)
            etag = cache.request_etag(validator, "json", "False", base)
            pages.put(key, etag, body)
            return body, etag

        body, etag = await in_thread(read)
        if body is None:
            headers = [(b"etag", etag.encode()), (b"cache-control", _CACHE_CONTROL)]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return True
        headers = [
            (b"content-type", _CONTENT_TYPES["json"]),
            (b"etag", etag.encode()),
            (b"cache-control", _CACHE_CONTROL),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True


def plain_form(body: bytes) -> list[tuple[str, str]] | None:
    """The fields of a url-encoded body as Starlette's form parser gives them (Latin-1, then ``unquote_plus`` of
    each name and value), when the body is plainly ``name=value`` pairs joined by ``&`` and no more than the route
    takes; else None (the route parses it)."""
    if not body:
        return []
    if b";" in body:
        return None
    pairs = body.decode("latin-1").split("&")
    if len(pairs) > routes.MAX_FORM_FIELDS:
        return None
    items = []
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            return None
        items.append((unquote_plus(name), unquote_plus(value)))
    return items
