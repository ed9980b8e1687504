"""Open311 GeoReport v2 routes. Each parses, calls a use case or a query, and renders (JSON or XML)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from civicswitch.core.errors import DomainError, Invalid, NotFound, UnsupportedMediaType
from civicswitch.people.auth import authenticate
from civicswitch.people.clients import Scope
from civicswitch.requests.commands import PostUpdate, SubmitRequest, SubmitResult
from civicswitch.requests.handlers import Limits, post_update, request_id_from, submit_request
from civicswitch.requests.model import Contact
from civicswitch.routing.intake import available_services
from civicswitch.storage.ports import UnitOfWork
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.storage.writelock import WriterBusy
from civicswitch.web.context import AppContext, context
from civicswitch.web.open311 import cache, params
from civicswitch.web.open311.cache import Rendered
from civicswitch.web.open311.render import (
    JSON_TYPE,
    XML_TYPE,
    definition_payload,
    render,
    request_payload,
    service_payload,
    update_payload,
)
from civicswitch.web.threads import in_thread

log = logging.getLogger(__name__)
router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])

Fmt = Annotated[str, "json or xml"]
Opt = Annotated[str | None, Query()]

FORMATS = ("json", "xml")
MAX_FORM_FIELDS = 1000
MAX_FILES = 10


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"Bad extension {fmt!r}. We support .xml and .json")
    return fmt


def check_url(request: Request, fmt: str) -> str:
    """The format suffix (404 if unknown), then no NUL in the path or a query value: 400, where PostgreSQL
    would otherwise fail the query with a 500."""
    fmt = check_format(fmt)
    refuse_nul_in_url(request)
    return fmt


def refuse_nul_in_url(request: Request) -> None:
    params.refuse_nul("the URL path", request.scope["path"])
    for name, value in request.query_params.multi_items():
        params.refuse_nul(name, value)


def media_type(fmt: str, *, plain_type: bool = False) -> str:
    if plain_type:
        return "application/json" if fmt == "json" else "text/xml"
    return JSON_TYPE if fmt == "json" else XML_TYPE


def respond(fmt: str, root: str, payload: Any, *, status_code: int = 200, plain_type: bool = False) -> Response:
    return Response(
        render(fmt, root, payload),
        status_code=status_code,
        media_type=None,
        headers={"content-type": media_type(fmt, plain_type=plain_type)},
    )


def catalog_document(
    request: Request, ctx: AppContext, key: Hashable, make: Callable[[UnitOfWork], Rendered]
) -> Response:
    """A document made from the catalog alone (``key`` names it: the output depends on nothing else), from this
    process's cache when the catalog version is the one it was made for, else made by ``make`` and kept; answered
    304 when the client has it (web/open311/cache.py). ``jurisdiction_id`` and ``api_key`` are not in the key: they
    are checked before and change nothing in the output."""
    documents = ctx.catalog_documents
    before = ctx.clock.now()
    with ctx.reader() as uow:
        version = uow.catalog.version()
        seen = ctx.clock.now()
        found = documents.get(version, key)
        if found is None:
            found = documents.put(version, key, make(uow))
    modified: datetime | None = documents.last_modified(version, seen)
    if modified is not None and modified > before:
        modified = None  # not yet: see CatalogDocuments.last_modified
    headers = cache.validators(found.etag, modified)
    if cache.not_modified(request.headers, found.etag, modified, before):
        return cache.not_modified_response(headers)
    return Response(found.body, media_type=None, headers={"content-type": found.content_type, **headers})


def rendered(fmt: str, root: str, payload: Any, *, plain_type: bool = False) -> Rendered:
    return Rendered.of(render(fmt, root, payload), media_type(fmt, plain_type=plain_type))


def check_jurisdiction(ctx: AppContext, jurisdiction_id: str | None) -> None:
    given = params.present(jurisdiction_id)
    if ctx.settings.jurisdiction_strict and given is not None and given != ctx.settings.jurisdiction_id:
        raise NotFound(f"jurisdiction_id {given!r} is not served here; use {ctx.settings.jurisdiction_id!r}")


def base_url(ctx: AppContext, request: Request) -> str:
    return ctx.base_url(request)


# -- discovery ----------------------------------------------------------------------------------------
@router.get("/discovery.{fmt}", summary="Service discovery (S4)")
def discovery(request: Request, fmt: Fmt) -> Response:
    fmt = check_url(request, fmt)
    ctx = context(request)
    url = base_url(ctx, request) + "/open311/v2"

    def make(uow: UnitOfWork) -> Rendered:
        payload = {
            "changeset": ctx.changeset,
            "contact": ctx.settings.contact,
            "key_service": ctx.settings.key_service,
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": url,
                    "changeset": ctx.changeset,
                    "type": ctx.settings.endpoint_type,
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }
        return rendered(fmt, "discovery", payload, plain_type=True)

    return catalog_document(request, ctx, ("discovery", fmt, url), make)


# -- services -----------------------------------------------------------------------------------------
@router.get("/services.{fmt}", summary="GET Service List")
def service_list(
    request: Request, fmt: Fmt, jurisdiction_id: Opt = None, api_key: Opt = None, lat: Opt = None, long: Opt = None
) -> Response:
    """With ``lat`` and ``long`` (FixMyStreet's extension), only the services available at that point."""
    fmt = check_url(request, fmt)
    ctx = context(request)
    check_jurisdiction(ctx, jurisdiction_id)
    point = params.point(lat, long)

    def make(uow: UnitOfWork) -> Rendered:
        services = uow.catalog.services()
        geography = ctx.geography() if point is not None else None  # its areas are catalog data too
        if point is not None and geography is not None:
            services = available_services(services, point[0], point[1], geography, uow.catalog.rules(),
                                          {b.code: b for b in uow.catalog.bodies()})  # fmt: skip
        return rendered(fmt, "services", [service_payload(s) for s in services])

    return catalog_document(request, ctx, ("services", fmt, point), make)


def _definition(request: Request, fmt: str, service_code: str, jurisdiction_id: str | None) -> Response:
    fmt = check_url(request, fmt)
    ctx = context(request)
    check_jurisdiction(ctx, jurisdiction_id)

    def make(uow: UnitOfWork) -> Rendered:
        service = uow.catalog.service(service_code)
        if service is None or not service.active:
            raise NotFound(f"service_code {service_code!r} is not in the service list")
        return rendered(fmt, "service_definition", definition_payload(service))

    return catalog_document(request, ctx, ("definition", fmt, service_code), make)


@router.get("/services/{service_code}.{fmt}", summary="GET Service Definition")
def service_definition(
    request: Request, service_code: str, fmt: Fmt, jurisdiction_id: Opt = None, api_key: Opt = None
) -> Response:
    return _definition(request, fmt, service_code, jurisdiction_id)


@router.get(
    "/service/{service_code}.{fmt}",
    summary="GET Service Definition (alias for old clients)",
    include_in_schema=False,
)
def service_definition_alias(request: Request, service_code: str, fmt: Fmt, jurisdiction_id: Opt = None) -> Response:
    return _definition(request, fmt, service_code, jurisdiction_id)


# -- requests -----------------------------------------------------------------------------------------
@router.get("/requests.{fmt}", summary="GET Service Requests")
def request_list(
    request: Request,
    fmt: Fmt,
    jurisdiction_id: Opt = None,
    service_request_id: Opt = None,
    service_code: Opt = None,
    start_date: Opt = None,
    end_date: Opt = None,
    status: Opt = None,
    updated_after: Opt = None,
    updated_before: Opt = None,
    page: Opt = None,
    page_size: Opt = None,
    extensions: Opt = None,
    api_key: Opt = None,
) -> Response:
    fmt = check_url(request, fmt)
    ctx = context(request)
    check_jurisdiction(ctx, jurisdiction_id)
    s = ctx.settings
    query = params.request_query(
        now=ctx.clock.now(),
        service_request_id=service_request_id,
        service_code=service_code,
        status=status,
        start_date=start_date,
        end_date=end_date,
        updated_after=updated_after,
        updated_before=updated_before,
        page=page,
        page_size=page_size,
        window_days=s.default_window_days,
        default_page_size=s.default_page_size,
        max_page_size=s.max_page_size,
    )
    with_ext = params.truthy(extensions)
    base = base_url(ctx, request)
    with ctx.reader() as uow:
        if fmt == "json" and not with_ext and "if-none-match" not in request.headers:
            # Nothing to answer 304 to (a list has no Last-Modified): the JSON and its validator from one query.
            body, (_, validator) = uow.requests.open311_json_with_validator(query, base)
            headers = cache.validators(cache.request_etag(validator, fmt, str(with_ext), base))
            return Response(body, headers={"content-type": JSON_TYPE, **headers})
        # The validator first (one query over the same rows, nothing rendered): a client that has the list gets 304.
        _, validator = uow.requests.list_validator(query)
        headers = cache.validators(cache.request_etag(validator, fmt, str(with_ext), base))
        if cache.not_modified(request.headers, headers["etag"]):
            return cache.not_modified_response(headers)
        if fmt == "json" and not with_ext:
            # The hot path: the database renders each request's JSON; no row objects in Python.
            body = uow.requests.find_open311_json(query, base)
            return Response(body, headers={"content-type": JSON_TYPE, **headers})
        views = uow.requests.find(query)
        events = uow.requests.events([v.id for v in views]) if with_ext else {}
    payload = [request_payload(v, base, extensions=with_ext, events=events.get(v.id, ())) for v in views]
    return Response(render(fmt, "service_requests", payload), headers={"content-type": media_type(fmt), **headers})


@router.get("/requests/{service_request_id}.{fmt}", summary="GET Service Request")
def request_one(
    request: Request,
    service_request_id: str,
    fmt: Fmt,
    jurisdiction_id: Opt = None,
    extensions: Opt = None,
    api_key: Opt = None,
) -> Response:
    fmt = check_url(request, fmt)
    ctx = context(request)
    check_jurisdiction(ctx, jurisdiction_id)
    rid = request_id_from(service_request_id)
    with_ext = params.truthy(extensions)
    missing = f"service_request_id {service_request_id!r} does not exist"
    if rid is None:
        raise NotFound(missing)
    base = base_url(ctx, request)
    with ctx.reader() as uow:
        found = uow.requests.view_with_validator(rid)  # one query: the row and its validator
        if found is None:
            raise NotFound(missing)
        view, validator = found
        headers = cache.validators(cache.request_etag(validator, fmt, str(with_ext), base))
        if cache.not_modified(request.headers, headers["etag"]):
            return cache.not_modified_response(headers)
        events = uow.requests.events([view.id]) if with_ext else {}
    payload = [request_payload(view, base, extensions=with_ext, events=events.get(view.id, ()))]
    return Response(render(fmt, "service_requests", payload), headers={"content-type": media_type(fmt), **headers})


@router.get("/tokens/{token}.{fmt}", summary="GET service_request_id from a token")
def token_lookup(request: Request, token: str, fmt: Fmt, jurisdiction_id: Opt = None, api_key: Opt = None) -> Response:
    fmt = check_url(request, fmt)
    ctx = context(request)
    check_jurisdiction(ctx, jurisdiction_id)
    with ctx.reader() as uow:
        request_id, exists = uow.requests.id_for_token(token.strip())
    if not exists:
        raise NotFound(f"token {token!r} does not exist")
    item = {"service_request_id": None if request_id is None else str(request_id), "token": token.strip()}
    return respond(fmt, "service_requests", [item])


def check_key(ctx: AppContext, api_key: str | None, scope: Scope) -> None:
    with ctx.reader() as uow:
        authenticate(uow, api_key, scope)


async def read_form(request: Request) -> FormData:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise UnsupportedMediaType(
            f"send the request as application/x-www-form-urlencoded or multipart/form-data, not {ctype or 'nothing'!r}"
        )
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FORM_FIELDS)
    except DomainError:
        raise
    except Exception as exc:  # python-multipart and Starlette raise several kinds on malformed bodies
        status = getattr(exc, "status_code", 400)
        raise Invalid(f"the form body could not be read: {getattr(exc, 'detail', exc)}") from (
            None if status == 400 else exc
        )
    return form


def check_form(form: FormData) -> None:
    """No NUL in a field name, value or file name (GEN-03)."""
    for name, value in form.multi_items():
        params.refuse_nul("a form field name", name)
        params.refuse_nul(name, value if isinstance(value, str) else value.filename)


def form_key(request: Request, form: FormData) -> str | None:
    return params.field(form, "api_key") or params.present(request.query_params.get("api_key"))


@asynccontextmanager
async def key_first(ctx: AppContext, api_key: str | None, scope: Scope) -> AsyncIterator[None]:
    """KEY-01: a missing or wrong key is a 403 before anything in the body is judged. The key is checked here only
    when the body is refused (the use case checks it on the way in anyway), so a good request pays nothing."""
    try:
        yield
    except DomainError as exc:
        if exc.code != 403:
            await run_in_threadpool(check_key, ctx, api_key, scope)
        raise


@router.post(
    "/requests.{fmt}",
    summary="POST Service Request",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["service_code"],
                        "properties": {
                            "api_key": {"type": "string"},
                            "jurisdiction_id": {"type": "string"},
                            "service_code": {"type": "string"},
                            "lat": {"type": "string"},
                            "long": {"type": "string"},
                            "address_string": {"type": "string"},
                            "address_id": {"type": "string"},
                            "email": {"type": "string"},
                            "device_id": {"type": "string"},
                            "account_id": {"type": "string"},
                            "first_name": {"type": "string"},
                            "last_name": {"type": "string"},
                            "phone": {"type": "string"},
                            "description": {"type": "string"},
                            "media_url": {"type": "string"},
                        },
                    }
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "api_key": {"type": "string"},
                            "service_code": {"type": "string"},
                            "lat": {"type": "string"},
                            "long": {"type": "string"},
                            "address_string": {"type": "string"},
                            "description": {"type": "string"},
                            "media": {"type": "string", "format": "binary"},
                        },
                    }
                },
            },
        }
    },
)
async def request_create(request: Request, fmt: Fmt) -> Response:
    fmt = check_format(fmt)
    ctx = context(request)
    form = await read_form(request)
    api_key = form_key(request, form)
    async with key_first(ctx, api_key, Scope.SUBMIT):
        refuse_nul_in_url(request)
    return await file_request(ctx, fmt, form, api_key)


async def file_request(
    ctx: AppContext, fmt: str, form: FormData, api_key: str | None, *, inline: bool = False
) -> Response:
    """POST requests.{fmt} once its form is read and its URL checked: the route's and the hot path's
    (``hot.py``) answer. A ``DomainError`` leaves for the caller to answer in the URL's format."""
    async with key_first(ctx, api_key, Scope.SUBMIT):
        check_form(form)
        check_jurisdiction(ctx, params.field(form, "jurisdiction_id"))
        cmd = await submit_command(form, api_key)
    limits = Limits(
        max_media_bytes=ctx.settings.max_media_bytes,
        media_types=ctx.settings.media_types,
        clock_skew=timedelta(seconds=ctx.settings.clock_skew_seconds),
    )

    def file(uow: UnitOfWork) -> SubmitResult:
        return submit_request(uow, ctx.clock, cmd, limits, ctx.geography())

    result = await _file_inline(ctx, file) if inline else None
    if result is None:
        result = await in_thread(lambda: file(ctx.writer()))
    item: dict[str, Any] = {}
    if result.service_request_id is not None:
        item["service_request_id"] = result.service_request_id
    if result.token is not None:
        item["token"] = result.token
    item["service_notice"] = result.service_notice
    item["account_id"] = result.account_id
    return respond(fmt, "service_requests", [item])


INLINE_TURN_S = 0.05  # the longest the event loop waits for SQLite's writer's turn before the thread pool takes over


async def _file_inline(ctx: AppContext, file: Callable[[UnitOfWork], SubmitResult]) -> SubmitResult | None:
    """File on the event loop (SQLite): None when the writer's turn was not had within :data:`INLINE_TURN_S`
    (nothing was written; the caller files it in the thread pool, where a writer may wait its full time).

    A thread would meet the event loop at each of the ~15 points where SQLite lets go of the GIL, and under load
    wait up to the interpreter's switch interval (5 ms) at each: POST's p99 under mixed load was that convoy
    (bench/README.md, issue 9). The validation and the writes are a few ms of CPU on the loop; the wait for the
    disk is not: the sync that makes the commit durable runs in the pool, shared with other commits (group commit),
    and the answer goes out only after it."""
    uow = ctx.writer()
    if not isinstance(uow, SqlUnitOfWork):
        return None
    uow.turn_timeout = INLINE_TURN_S
    uow.sync_later = True
    try:
        result = file(uow)
    except WriterBusy:
        log.info("the SQLite writer's turn was busy for %g s: filing in the thread pool", INLINE_TURN_S)
        return None
    if uow.owed_sync is not None:
        await in_thread(uow.owed_sync)
    return result


async def submit_command(form: FormData, api_key: str | None) -> SubmitRequest:
    return SubmitRequest(
        service_code=params.field(form, "service_code") or "",
        api_key=api_key,
        lat=params.field(form, "lat"),
        long=params.field(form, "long"),
        address_string=params.field(form, "address_string"),
        address_id=params.field(form, "address_id"),
        zipcode=params.field(form, "zipcode"),
        description=params.field(form, "description") or "",
        attributes=params.attributes_from(form),
        contact=Contact(
            first_name=params.field(form, "first_name"),
            last_name=params.field(form, "last_name"),
            email=params.field(form, "email"),
            phone=params.field(form, "phone"),
        ),
        device_id=params.field(form, "device_id", "deviceid"),
        account_id=params.field(form, "account_id"),
        media_urls=params.fields(form, "media_url"),
        uploads=await params.uploads_from(form),
    )


# -- FixMyStreet update extension ---------------------------------------------------------------------
@router.get("/servicerequestupdates.{fmt}", summary="GET Service Request Updates (FixMyStreet extension)")
def updates_list(
    request: Request,
    fmt: Fmt,
    jurisdiction_id: Opt = None,
    start_date: Opt = None,
    end_date: Opt = None,
    api_key: Opt = None,
) -> Response:
    fmt = check_url(request, fmt)
    ctx = context(request)
    check_jurisdiction(ctx, jurisdiction_id)
    now = ctx.clock.now()
    start = params.when(start_date, "start_date")
    end = params.when(end_date, "end_date", end_of_day=True)
    window = timedelta(days=ctx.settings.default_window_days)
    if start is None and end is None:
        start, end = now - timedelta(hours=2), now
    elif start is None:
        assert end is not None
        start = params.shifted(end, -window)
    elif end is None:
        end = now
    if end < start:
        raise Invalid("end_date is before start_date", field="end_date")
    with ctx.reader() as uow:
        updates = uow.requests.updates(start, end, ctx.settings.max_page_size)
    base = base_url(ctx, request)
    return respond(fmt, "service_request_updates", [update_payload(u, base) for u in updates])


@router.post(
    "/servicerequestupdates.{fmt}",
    summary="POST Service Request Update (FixMyStreet extension; back ends with an update key)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": [
                            "api_key",
                            "service_request_id",
                            "update_id",
                            "status",
                            "updated_datetime",
                        ],
                        "properties": {
                            "api_key": {"type": "string"},
                            "service_request_id": {"type": "string"},
                            "update_id": {"type": "string"},
                            "status": {"type": "string"},
                            "updated_datetime": {"type": "string"},
                            "description": {"type": "string"},
                            "media_url": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def update_create(request: Request, fmt: Fmt) -> Response:
    fmt = check_format(fmt)
    ctx = context(request)
    form = await read_form(request)
    api_key = form_key(request, form)
    # KEY-01: a missing or wrong key is a 403 before anything in the body is judged.
    await run_in_threadpool(check_key, ctx, api_key, Scope.UPDATE)
    refuse_nul_in_url(request)
    check_form(form)
    check_jurisdiction(ctx, params.field(form, "jurisdiction_id"))
    missing = [
        name
        for name in ("service_request_id", "update_id", "status", "updated_datetime")
        if params.field(form, name) is None
    ]
    if missing:
        raise Invalid(f"missing required field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    updated = params.when(params.field(form, "updated_datetime"), "updated_datetime")
    cmd = PostUpdate(
        api_key=api_key,
        service_request_id=params.field(form, "service_request_id") or "",
        update_id=params.field(form, "update_id") or "",
        status=params.field(form, "status") or "",
        updated_datetime=updated or ctx.clock.now(),
        description=params.field(form, "description") or "",
        media_urls=params.fields(form, "media_url"),
        uploads=await params.uploads_from(form),
    )
    limits = Limits(
        max_media_bytes=ctx.settings.max_media_bytes,
        media_types=ctx.settings.media_types,
        clock_skew=timedelta(seconds=ctx.settings.clock_skew_seconds),
    )
    result = await run_in_threadpool(post_update, ctx.writer(), ctx.clock, cmd, limits)
    return respond(fmt, "service_request_updates", [{"update_id": result.update_id}])
