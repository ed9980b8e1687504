"""The application factory."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine, text

from civicswitch import __version__
from civicswitch.catalog.settings import instance_settings
from civicswitch.core import migrate
from civicswitch.core.clock import Clock, SystemClock
from civicswitch.core.db import make_engine
from civicswitch.core.errors import NotFound
from civicswitch.requests.sql import SqlOpen311Reads
from civicswitch.settings import SettingError, Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web import (
    admin,
    agent,
    answers,
    area_follows,
    compress,
    docs,
    errors,
    favicon,
    mail,
    maps,
    pages,
    public,
    public_map,
    ratelimit,
    report,
    residents,
    security,
    staff,
    workspace,
)
from civicswitch.web.api.hub import router as hub_router
from civicswitch.web.api.people import router as people_router
from civicswitch.web.api.routes import router as api_router
from civicswitch.web.context import AppContext, context
from civicswitch.web.headers import security_headers
from civicswitch.web.open311.hot import HotReads
from civicswitch.web.open311.routes import router as open311_router

log = logging.getLogger(__name__)


class NotReady(RuntimeError):
    """The database cannot serve yet (missing, not migrated, unreachable, or a stored setting is invalid)."""


def load_instance(database_url: str | None = None) -> tuple[Settings, Engine]:
    """The settings in force for the configured database (defaults < stored < environment) and its engine, read
    once at start-up: a stored setting changed later reaches this process when it restarts."""
    url = database_url or Settings().database_url
    problem = migrate.database_problem(url)
    if problem is not None:
        raise NotReady(problem)
    reading = make_engine(url)
    try:
        settings = instance_settings(SqlUnitOfWork(reading, writing=False))
    except SettingError as exc:
        raise NotReady(str(exc)) from None
    finally:
        reading.dispose()
    # The engine that serves is opened with the settings just read (SQLite's synchronous among them).
    return settings, make_engine(
        url, sqlite_synchronous=settings.sqlite_synchronous, sqlite_group_commit=settings.sqlite_group_commit
    )


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    """The web application. Without ``settings`` it reads the instance's settings from the configured database
    (stored ones, overridden by the environment); tests pass their own."""
    if settings is None:
        settings, engine = (
            load_instance() if engine is None else (instance_settings(SqlUnitOfWork(engine, writing=False)), engine)
        )
        log.info(
            "instance %s (jurisdiction_id %r), time zone %s, coverage layer %s, public URL %s",
            settings.jurisdiction_name,
            settings.jurisdiction_id,
            settings.timezone,
            settings.coverage_layer or "none (requests are not routed by location)",
            settings.public_url or "from each request",
        )
    engine = engine or make_engine(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_group_commit=settings.sqlite_group_commit,
    )
    bound_engine = engine
    app = FastAPI(
        title="Civic Switchboard",
        version=__version__,
        description="One front door for residents: Open311 GeoReport v2 (JSON and XML) and the city's own API.",
        docs_url=None,  # served by civicswitch.web.docs, from this server rather than a CDN
        redoc_url=None,
    )
    the_clock = clock or SystemClock()
    app.state.ctx = AppContext(
        settings=settings,
        clock=the_clock,
        make_reader=lambda: SqlUnitOfWork(bound_engine, writing=False),
        make_writer=lambda: SqlUnitOfWork(bound_engine, writing=True, clock=the_clock),
        changeset=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    app.state.engine = engine
    # One set of security headers for every answer, the 500s the error handler sends past the middleware included.
    secured = security_headers(settings.map_tile_source())
    errors.install(app, secured)
    app.include_router(open311_router)
    app.include_router(api_router)
    app.include_router(hub_router)
    app.include_router(people_router)
    app.include_router(pages.router)
    app.include_router(staff.router)
    app.include_router(workspace.router)
    app.include_router(admin.router)
    app.include_router(agent.router)
    app.include_router(mail.router)  # the agent console's mail triage (email in)
    app.include_router(public.router)
    app.include_router(area_follows.router)  # following an area by email
    app.include_router(residents.router)
    app.include_router(report.router)
    app.include_router(answers.router)
    app.include_router(public_map.router)
    app.include_router(maps.router)
    app.include_router(favicon.router)
    docs.install(app)

    @app.get("/media/{media_id}", summary="An uploaded photo", tags=["media"])
    def media_file(request: Request, media_id: str) -> Response:
        with context(request).reader() as uow:
            item = uow.requests.media(media_id)
        if item is None or item.request_id is None:
            raise NotFound(f"media {media_id!r} does not exist")
        return Response(
            item.data,
            headers={
                "content-type": item.content_type,
                "cache-control": "public, max-age=31536000, immutable",
                "x-content-type-options": "nosniff",
                "etag": f'"{item.sha256}"',
            },
        )

    @app.get("/healthz", summary="Liveness and database check", tags=["ops"])
    def health(request: Request) -> dict[str, str]:
        with bound_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    ctx: AppContext = app.state.ctx
    # Innermost of ours: the rate limit, body guard, Host check and security headers apply to what it answers.
    app.add_middleware(HotReads, ctx=ctx, reads=SqlOpen311Reads(engine), inline=engine.dialect.name == "sqlite")
    if settings.rate_limit_enabled:

        def key_limit(key_hash: str) -> ratelimit.KeyLimit | None:
            with ctx.reader() as uow:
                found = uow.clients.by_hash(key_hash)
            if found is None or not found.active or found.id is None:
                return None
            return ratelimit.KeyLimit(found.id, found.rate_limit)

        app.state.limiter = ratelimit.RateLimiter(settings, key_limit)
        app.add_middleware(ratelimit.RateLimit, limiter=app.state.limiter)
    # Pages and their assets compressed for browsers (web/compress.py); the APIs' answers as they are.
    app.add_middleware(compress.PeopleGZip)
    # Outermost last: security headers on every answer and HEAD as GET, then the Host check and the body guard.
    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_seconds)
    hosts = settings.host_list()
    if hosts and "*" not in hosts:
        app.add_middleware(security.TrustedHosts, allowed_hosts=hosts)
    app.add_middleware(security.Hardening, headers=secured)
    return app
