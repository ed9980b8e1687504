"""Errors leave in the Open311 error format of the format the client asked for (ERR-01, ERR-03)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicswitch.core.errors import DomainError, TooLarge
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


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        sub = getattr(exc, "errors", None)
        errors = [(exc.code, e.description) for e in sub] if sub else [(exc.code, exc.description)]
        log.info("%s %s -> %s: %s", request.method, request.url.path, exc.code, exc.description)
        return error_response(request, exc.code, errors)

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
        errors = [
            (400, f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'query')}: {e.get('msg', 'invalid')}")
            for e in exc.errors()
        ] or [(400, "invalid request")]
        log.info("%s %s -> 400: %s", request.method, request.url.path, errors)
        return error_response(request, 400, errors)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(request, 500, [(500, "internal error; the request was not applied")])


class BodyLimit:
    """Refuses bodies over ``max_bytes`` with 413, whether or not Content-Length was sent."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        declared = dict(scope["headers"]).get(b"content-length")
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
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(self._message())
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except TooLarge:
            if not started:
                await self._reject(send, path, 413, self._message())

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"

    async def _reject(self, send: Send, path: str, status: int, description: str) -> None:
        log.info("body refused on %s -> %s: %s", path, status, description)
        body, media = error_body(path, [(status, description)])
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", media.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
