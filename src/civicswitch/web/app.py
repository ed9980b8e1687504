"""The application factory."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine, text

from civicswitch import __version__
from civicswitch.core.clock import Clock, SystemClock
from civicswitch.core.db import make_engine
from civicswitch.core.errors import NotFound
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web import errors, pages, ratelimit
from civicswitch.web.api.hub import router as hub_router
from civicswitch.web.api.routes import router as api_router
from civicswitch.web.context import AppContext, context
from civicswitch.web.open311.routes import router as open311_router

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    settings = settings or Settings()
    engine = engine or make_engine(settings.database_url)
    bound_engine = engine
    app = FastAPI(
        title="Civic Switchboard",
        version=__version__,
        description="One front door for residents: Open311 GeoReport v2 (JSON and XML) and the city's own API.",
    )
    app.state.ctx = AppContext(
        settings=settings,
        clock=clock or SystemClock(),
        make_reader=lambda: SqlUnitOfWork(bound_engine, writing=False),
        make_writer=lambda: SqlUnitOfWork(bound_engine, writing=True),
        changeset=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    app.state.engine = engine
    errors.install(app)
    app.include_router(open311_router)
    app.include_router(api_router)
    app.include_router(hub_router)
    app.include_router(pages.router)

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

    if settings.rate_limit_enabled:
        ctx: AppContext = app.state.ctx

        def key_limit(key_hash: str) -> ratelimit.KeyLimit | None:
            with ctx.reader() as uow:
                found = uow.clients.by_hash(key_hash)
            if found is None or not found.active or found.id is None:
                return None
            return ratelimit.KeyLimit(found.id, found.rate_limit)

        app.state.limiter = ratelimit.RateLimiter(settings, key_limit)
        app.add_middleware(ratelimit.RateLimit, limiter=app.state.limiter)
    # Outermost: the body limit also bounds what the rate limiter reads ahead to find an api_key.
    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_body_bytes)
    return app
