"""Compression (gzip, when the browser asks for it) of what people's browsers fetch: the pages for residents, the
styles and scripts (Leaflet's 147 KB script is 43 KB compressed), and the maps' GeoJSON.

The APIs' answers are left as they are: their hot paths are measured without it (bench/open311_api.py), many
Open311 clients do not ask for it, and a city's proxy in front may compress them already. Starlette's
``GZipMiddleware`` does the work (it skips small answers and answers already encoded, and adds
``Vary: Accept-Encoding``)."""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# The paths of pages and their assets (the front page is "/"); Open311 is under /open311, the API under /api. Not
# the staff pages: they hold a CSRF token and contact data beside what a user typed (a compressed page's size
# would leak them to someone who can inject text and watch the traffic: BREACH).
PREFIXES = ("/static/", "/map", "/report", "/requests", "/follow/", "/docs")
MINIMUM_BYTES = 1000  # smaller answers are sent as they are
LEVEL = 6  # zlib's default: nearly level 9's size at a fraction of its time


class PeopleGZip:
    """``GZipMiddleware`` for :data:`PREFIXES` (and ``/``), the app itself for every other path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_BYTES, compresslevel=LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"] == "/" or scope["path"].startswith(PREFIXES)):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
