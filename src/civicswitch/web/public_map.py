"""The residents' public map (issue 11): ``GET /map`` and ``GET /map/requests.geojson``.

``/map`` is a page in the resident's language: a filter form (the service, grouped as on the report form, and the
status), a map (progressive enhancement: a hidden box that ``static/public_map.js`` shows, with clustered markers
from Leaflet.markercluster, from the ``xstatic-leaflet-markercluster`` package) and a plain list of the same requests,
paged, which is the whole page without JavaScript. The filters are in the URL (``?service=&status=&page=``), so a
filtered view can be shared. ``/map/requests.geojson`` is the map's data with the same filters and a ``bbox``
(``west,south,east,north``, as Leaflet's ``toBBoxString`` writes it): the newest
:data:`~civicswitch.requests.public_map.MAP_CAP` points, their texts in the page's language.

What is shown, and how a service's ``residents.public_location`` generalises a point, is requests/public_map.py's.
Both are public reads, like the track page (web/residents.py): nobody signs in and the permission policy is not
asked. A filter that is not one of ours is a 400: the page says so in its language, the GeoJSON in JSON.
"""

from __future__ import annotations

import html
import logging
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
import xstatic.pkg.leaflet_markercluster
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from civicswitch.catalog.model import Service
from civicswitch.core.errors import Invalid
from civicswitch.core.geo import parse_coordinate
from civicswitch.requests.public_map import (
    MAP_CAP,
    MAX_PAGE,
    PAGE_SIZE,
    STATUS_FILTERS,
    WINDOW_DAYS,
    MapFilters,
    PublicEntry,
    places_of,
    public_list,
    public_points,
)
from civicswitch.web import i18n
from civicswitch.web.context import AppContext, context
from civicswitch.web.maps import map_view
from civicswitch.web.residents import language, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

#: Leaflet.markercluster's files (leaflet.markercluster.js, MarkerCluster.css, MarkerCluster.Default.css), served at
#: ``/static/leaflet-markercluster`` (web/docs.py mounts it beside Leaflet).
MARKERCLUSTER_DIR = Path(xstatic.pkg.leaflet_markercluster.BASE_DIR)
POINTS_URL = "/map/requests.geojson"
MAX_SERVICES = 20  # service= given more times than this is not a filter a person chose
WORDS = "_public_map.html"  # the status words, shared by the page and the GeoJSON's texts


class BadFilter(ValueError):
    """A filter that is not one of ours; ``problem`` names it for the page (and the log)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Chosen:
    filters: MapFilters
    page: int


class ServicesCache:
    """One process's copy of the catalog's services (all of them: an inactive service's requests are listed too),
    read again only when the catalog's version moves (every catalog write moves it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._services: dict[str, Service] = {}

    def get(self, ctx: AppContext) -> dict[str, Service]:
        with ctx.reader() as uow:
            version = uow.catalog.version()
            with self._lock:
                if version != self._version:
                    self._services = {s.code: s for s in uow.catalog.services(include_inactive=True)}
                    self._version = version
                return self._services


def _services(request: Request) -> dict[str, Service]:
    state = request.app.state
    cache: ServicesCache | None = getattr(state, "public_map_services", None)
    if cache is None:
        cache = state.public_map_services = ServicesCache()
    return cache.get(context(request))


def _chosen(request: Request, services: dict[str, Service]) -> Chosen:
    """The filters in the URL, checked: known services, a status of ours, a page number within bounds."""
    params = request.query_params
    codes = tuple(dict.fromkeys(c for c in params.getlist("service") if c))
    if len(codes) > MAX_SERVICES or any(c not in services for c in codes):
        raise BadFilter("service")
    status = params.get("status", "")
    if status not in STATUS_FILTERS:
        raise BadFilter("status")
    page_text = params.get("page", "1") or "1"
    if not (page_text.isascii() and page_text.isdigit() and len(page_text) <= 4 and 1 <= int(page_text) <= MAX_PAGE):
        raise BadFilter("page")
    return Chosen(MapFilters(codes, status), int(page_text))


def _box(text: str) -> tuple[float, float, float, float]:
    """``west,south,east,north`` as (south, west, north, east); a longitude past ±180 (a map panned round the
    world) is kept within it."""
    parts = text.split(",")
    if len(parts) != 4:
        raise BadFilter("bbox")
    try:
        west, south, east, north = (parse_coordinate(p, "bbox", 360) for p in parts)
    except Invalid:
        raise BadFilter("bbox") from None
    if west is None or south is None or east is None or north is None or south > north or west > east:
        raise BadFilter("bbox")
    south, north = max(south, -90.0), min(north, 90.0)
    if east - west >= 360:
        west, east = -180.0, 180.0
    return south, max(west, -180.0), north, min(east, 180.0)


def _grouped(services: dict[str, Service], lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The active services by group in the page's language, as the report form lists them (alphabetical there)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for s in services.values():
        if s.active:
            groups.setdefault(s.text("group", lang) or "", []).append((s.code, s.text("name", lang)))
    fold = i18n.sort_key
    return [(g, sorted(items, key=lambda item: fold(item[1])))
            for g, items in sorted(groups.items(), key=lambda item: (not item[0], fold(item[0])))]  # fmt: skip


def _query(filters: MapFilters, lang: str | None = None, **more: str | int) -> str:
    pairs: list[tuple[str, str | int]] = [("service", c) for c in filters.services]
    if filters.status:
        pairs.append(("status", filters.status))
    pairs += [(k, v) for k, v in more.items()]
    if lang:
        pairs.append(("lang", lang))
    return urlencode(pairs)


def _near(request: Request, entries: tuple[PublicEntry, ...]) -> dict[int, str]:
    """The smallest area holding each generalised request's point (its cell's centre), by name: the list's "near"."""
    index = context(request).area_index()
    found: dict[int, str] = {}
    for e in entries:
        if e.approximate and e.lat is not None and e.long is not None:
            around = index.around(e.lat, e.long)
            if around:
                found[e.id] = around[0].name
    return found


@router.get("/map", response_class=HTMLResponse)
async def public_map(request: Request) -> Response:
    """The map and its list; a bad filter is answered on the page (400), the form kept."""
    ctx = context(request)
    lang = language(request)
    services = await run_in_threadpool(_services, request)
    try:
        chosen = _chosen(request, services)
    except BadFilter as exc:
        log.info("public map: bad %s filter in %r", exc.problem, str(request.url.query)[:200])
        return render(request, "public_map.html", 400, nav="map", problem=exc.problem, words=Words(lang),
                      groups=_grouped(services, lang), filters=MapFilters(), statuses=list(STATUS_FILTERS),
                      entries=(), names={}, near={}, map=None, days=WINDOW_DAYS)  # fmt: skip
    found = await run_in_threadpool(public_list, ctx.reader(), chosen.filters, ctx.clock.now(), chosen.page,
                                    places=places_of(services.values()))  # fmt: skip
    view = await run_in_threadpool(map_view, request)
    near = await run_in_threadpool(_near, request, found.entries)
    first = (chosen.page - 1) * PAGE_SIZE + 1
    return render(
        request, "public_map.html", nav="map", problem=None, groups=_grouped(services, lang), words=Words(lang),
        filters=chosen.filters, statuses=list(STATUS_FILTERS), entries=found.entries,
        names={code: s.text("name", lang) for code, s in services.items()}, near=near,
        page=chosen.page, first=first, last=first + len(found.entries) - 1, days=WINDOW_DAYS,
        previous=f"/map?{_query(chosen.filters, page=chosen.page - 1)}" if chosen.page > 1 else None,
        next=f"/map?{_query(chosen.filters, page=chosen.page + 1)}" if found.more and chosen.page < MAX_PAGE else None,
        map=view if view.useful else None, points_url=f"{POINTS_URL}?{_query(chosen.filters, lang)}", cap=MAP_CAP,
    )  # fmt: skip


def _plain(words: object) -> str:
    """A macro's words (HTML-escaped, as a template gives them) as plain text for JSON."""
    return html.unescape(str(words)).strip()


class Words:
    """The map's words in one language (templates/_public_map.html's macros), each worded once: a list of 50 and a
    map of a thousand share a few statuses."""

    def __init__(self, lang: str) -> None:
        macros: Any = i18n.environment(lang).get_template(WORDS).module  # its macros, called like functions
        self._macros = macros
        self._statuses: dict[tuple[str, str | None], str] = {}
        self._title = _plain(macros.request_title("{number}"))
        self.approximate = _plain(macros.approximate_text())

    def status(self, status: str, reason: str | None = None) -> str:
        found = self._statuses.get((status, reason))
        if found is None:
            found = self._statuses[status, reason] = _plain(self._macros.status_text(status, reason))
        return found

    def title(self, number: int) -> str:
        return self._title.replace("{number}", str(number))


class Features:
    """The map's GeoJSON features in one language, each text worded once per answer (see :class:`Words`)."""

    def __init__(self, lang: str, zone: ZoneInfo, names: dict[str, str]) -> None:
        self.words = Words(lang)
        self.dates = i18n.Dates(lang, zone)
        self.zone = zone
        self.names = names
        self.suffix = f"?lang={lang}" if lang != i18n.SOURCE else ""
        self.days: dict[date, str] = {}

    def feature(self, entry: PublicEntry) -> dict[str, Any]:
        day = entry.requested_at.astimezone(self.zone).date()
        reported = self.days.get(day)
        if reported is None:
            reported = self.days[day] = self.dates.day(entry.requested_at)
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [entry.long, entry.lat]},
            "properties": {
                "id": entry.id,
                "url": f"/requests/{entry.id}{self.suffix}",
                "title": self.words.title(entry.id),
                "service": self.names.get(entry.service_code, entry.service_code),
                "status": entry.status,
                "status_text": self.words.status(entry.status, entry.close_reason),
                "reported": reported,
                "place": self.words.approximate if entry.approximate else (entry.address or ""),
                "approximate": entry.approximate,
            },
        }


@router.get(POINTS_URL)
async def points(request: Request) -> Response:
    """The map's points as GeoJSON (a FeatureCollection with ``truncated``: more than the cap matched)."""
    ctx = context(request)
    lang = language(request)
    services = await run_in_threadpool(_services, request)
    try:
        chosen = _chosen(request, services)
        bbox = request.query_params.get("bbox", "")
        box = _box(bbox) if bbox else None
    except BadFilter as exc:
        log.info("public map points: bad %s filter in %r", exc.problem, str(request.url.query)[:200])
        return Response(orjson.dumps({"error": f"bad {exc.problem}"}), status_code=400,
                        media_type="application/json")  # fmt: skip
    found = await run_in_threadpool(public_points, ctx.reader(), chosen.filters, ctx.clock.now(), box,
                                    places=places_of(services.values()))  # fmt: skip
    names = {code: s.text("name", lang) for code, s in services.items()}
    features = Features(lang, ZoneInfo(ctx.settings.timezone), names)
    body = {"type": "FeatureCollection", "truncated": found.more,
            "features": [features.feature(e) for e in found.entries]}  # fmt: skip
    return Response(orjson.dumps(body), media_type="application/geo+json",
                    headers={"cache-control": "no-cache", "content-language": lang,
                             "vary": "Accept-Language, Cookie"})  # fmt: skip
