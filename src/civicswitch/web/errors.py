"""Errors leave in the Open311 error format of the format the client asked for (ERR-01, ERR-03)."""

from __future__ import annotations

import asyncio
import logging
from typing import NoReturn

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicswitch.core.errors import DomainError, TooLarge
from civicswitch.people.clients import hash_key
from civicswitch.web.context import context
from civicswitch.web.headers import SECURITY_HEADERS
from civicswitch.web.open311.render import JSON_TYPE, XML_TYPE, errors_payload, render

log = logging.getLogger("civicswitch.web")


def wanted_format(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


def error_body(path: str, errors: list[tuple[int, str]]) -> tuple[bytes, str]:
    fmt = wanted_format(path)
    return render(fmt, "errors", errors_payload(errors)), (XML_TYPE if fmt == "xml" else JSON_TYPE)


def error_response(request: Request, status: int, errors: list[tuple[int, str]]) -> Response:
    body, media = error_body(request.url.path, errors)
    return Response(body, status_code=status, headers={"content-type": media})


async def domain_error(request: Request, exc: DomainError) -> Response:
    """A refusal of the domain's, in the URL's format, logged (also answered this way by the hot paths)."""
    sub = getattr(exc, "errors", None)
    errors = [(exc.code, e.description) for e in sub] if sub else [(exc.code, exc.description)]
    if not getattr(exc, "logged", False):
        log.info("%s %s -> %s: %s", request.method, request.url.path, exc.code, exc.description)
    return error_response(request, exc.code, errors)


async def unusable_input(request: Request, exc: Exception) -> Response:
    """A value no layer could take (nested too deep, a number too large for any column, text that is not
    Unicode): the client's mistake, so a 400 and one line in the log, never a 500 with a traceback."""
    log.warning("%s %s -> 400: unusable input (%s: %.200s)", request.method, request.url.path, type(exc).__name__, exc)
    return error_response(request, 400, [(400, UNUSABLE)])


def install(app: FastAPI, security: tuple[tuple[bytes, bytes], ...] = SECURITY_HEADERS) -> None:
    """The error handlers. ``security``: the app's security headers (``headers.security_headers``, the map tiles'
    origin in the policy when configured), set on the 500s, which leave past the middleware that sets them."""
    app.add_exception_handler(DomainError, domain_error)  # type: ignore[arg-type]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        description = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and description == "Not Found":
            description = f"no such resource: {request.url.path}"
        if exc.status_code == 405:
            description = f"{request.method} is not allowed on {request.url.path}"
        log.info("%s %s -> %s: %s", request.method, request.url.path, exc.status_code, description)
        response = error_response(request, exc.status_code, [(exc.status_code, description)])
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if request.method in WRITES:
            refusal = await run_in_threadpool(_key_refusal, request, exc)
            if refusal is not None:  # KEY-01: no key, or one we do not know, is a 403 before the body is judged
                log.info("%s %s -> 403: %s", request.method, request.url.path, refusal)
                return error_response(request, 403, [(403, refusal)])
        errors = [
            (400, f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'query')}: {e.get('msg', 'invalid')}")
            for e in exc.errors()
        ] or [(400, "invalid request")]
        log.info("%s %s -> 400: %s", request.method, request.url.path, errors)
        return error_response(request, 400, errors)

    for kind in UNUSABLE_INPUT:
        app.add_exception_handler(kind, unusable_input)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        response = error_response(request, 500, [(500, "internal error; the request was not applied")])
        # Sent by Starlette's outermost middleware, past ours: the security headers are set here, the same as on
        # every other answer (a JSON or XML body shows no map, but one policy per app leaves nothing to wonder at).
        for name, value in security:
            response.headers[name.decode()] = value.decode()
        return response


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Raised by the standard library and database drivers on input no check anticipated: RecursionError (deep
# nesting), UnicodeError (lone surrogates), OverflowError (an integer wider than a column).
UNUSABLE_INPUT: tuple[type[Exception], ...] = (RecursionError, UnicodeError, OverflowError)
UNUSABLE = "the request holds a value that cannot be processed (nested too deep, a number too large, or not valid text)"


def _key_refusal(request: Request, exc: RequestValidationError) -> str | None:
    """Why the key of a write whose body failed validation is refused, or None when it is a key we know.

    The key is in the ``X-Api-Key`` header or the body's ``api_key``. Only whether the key exists and is
    active is asked here; what it may do is for the use case, once the body is valid."""
    key = request.headers.get("x-api-key")
    body = getattr(exc, "body", None)
    if not key and isinstance(body, dict) and isinstance(body.get("api_key"), str):
        key = body["api_key"]
    if not key or not key.strip():
        from civicswitch.web.principals import session_principal  # a signed-in person needs no key

        if session_principal(request) is not None:
            return None
        return "api_key is required for this method; ask the city for a key"
    try:
        digest = hash_key(key.strip())
    except UnicodeError:
        return "api_key is not valid"
    with context(request).reader() as uow:
        client = uow.clients.by_hash(digest)
    if client is None:
        return "api_key is not valid"
    if not client.active:
        return "api_key has been revoked"
    if client.suspended:
        return f"api_key is suspended: {client.suspended}"
    return None


class BodyTimeout(DomainError):
    """The client did not send the whole body in time (408)."""

    code = 408


class BodyLimit:
    """Refuses bodies over ``max_bytes`` with 413, whether or not Content-Length was sent, and bodies not received
    within ``timeout_s`` of the request's headers with 408 (a client trickling a body holds a connection and a
    worker's memory for as long as it likes otherwise). Either answer is sent at once, with ``Connection: close``,
    whatever the application does with the error it then sees."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await self._reject(send, path, 400, "Content-Length is not a number")
                return
            if too_big:
                await self._reject(send, path, 413, self._message())
                return
        seen = 0
        started = answered = body_done = False
        # asyncio's own timeout, not anyio.fail_after: a third of the cost, on every receive (uvicorn runs asyncio).
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout_s is None else loop.time() + self.timeout_s

        async def answer(error: DomainError) -> NoReturn:
            nonlocal answered
            if not started and not answered:
                answered = True
                await self._reject(send, path, error.code, error.description)
                error.logged = True  # type: ignore[attr-defined]
            raise error

        async def guarded_receive() -> Message:
            nonlocal seen, body_done
            if body_done or deadline is None:
                message = await receive()
            else:
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
                except TimeoutError:
                    await answer(BodyTimeout(f"the request body was not received within {self.timeout_s:g} s"))
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if seen > self.max_bytes:
                    await answer(TooLarge(self._message()))
            else:
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # we answered already; what the application makes of the error goes nowhere
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except (TooLarge, BodyTimeout) as exc:
            if not started and not answered:
                await self._reject(send, path, exc.code, exc.description)

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"

    async def _reject(self, send: Send, path: str, status: int, description: str) -> None:
        log.info("body refused on %s -> %s: %s", path, status, description)
        await send_error(send, path, status, description, close=True)


async def send_error(send: Send, path: str, status: int, description: str, *, close: bool = False) -> None:
    """An Open311 error list as a raw ASGI response (for middleware, outside any route)."""
    body, media = error_body(path, [(status, description)])
    headers = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
