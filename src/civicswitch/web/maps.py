"""Maps on the pages: Leaflet from the ``xstatic-leaflet`` package (served at ``/static/leaflet``, never a CDN), our
``/static/map.js``, and the jurisdiction's outline as GeoJSON (``/map/areas.geojson``).

A map is progressive enhancement and always beside a non-map input: the page carries a hidden box with its data in
``data-`` attributes (no inline script: the Content-Security-Policy stays ``script-src 'self'``) and ``map.js`` shows
it. Without JavaScript the box stays hidden and the page works as before. Tiles come from ``map_tile_url`` when one
is set (their origin is then added to ``img-src``); without tiles a map shows the outline of the coverage layer's
areas and the pin, which is enough to pick a point. The template side is ``templates/_map.html``; the staff pages
use it now and the residents' pages can take the same macro."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import xstatic.pkg.leaflet
from fastapi import APIRouter, Request
from fastapi.responses import Response

from civicswitch.catalog.areas import Area
from civicswitch.web.context import AppContext, context

#: Leaflet's files (leaflet.js, leaflet.css, images/) as the installed package ships them.
LEAFLET_DIR = Path(xstatic.pkg.leaflet.BASE_DIR)
LEAFLET_VERSION: str = xstatic.pkg.leaflet.VERSION
OUTLINE_URL = "/map/areas.geojson"
# ~20 m at the equator: plenty for an outline under a pin, and the demo's five boroughs stay a few tens of kB
SIMPLIFY_DEGREES = 0.0002
PRECISION_DEGREES = 0.00001

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Outline:
    """The coverage layer's current areas as one GeoJSON document, and their bounds (south, west, north, east)."""

    layer: str
    geojson: bytes
    etag: str
    bounds: tuple[float, float, float, float] | None


@dataclass(frozen=True, slots=True)
class MapView:
    """What a page's map needs: the tiles (if any), where to look first and the outline to draw."""

    tile_url: str
    attribution: str
    bounds: str  # "south,west,north,east", empty when no areas are loaded
    outline_url: str  # empty when there is no outline


class OutlineCache:
    """One process's outline, rebuilt only when the stored areas or the coverage layer change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, tuple[int, int]] | None = None
        self._outline: Outline | None = None

    def get(self, ctx: AppContext) -> Outline | None:
        layer = ctx.settings.coverage_layer
        if not layer:
            return None
        with ctx.reader() as uow:
            key = (layer, uow.catalog.areas_version())
            if key == self._key:
                return self._outline
            with self._lock:
                if key != self._key:
                    self._outline = build_outline(layer, uow.catalog.areas(layer))
                    self._key = key
                return self._outline


def build_outline(layer: str, areas: Sequence[Area]) -> Outline | None:
    """The areas in force now, simplified, as a FeatureCollection (``key`` and ``name`` in each feature's
    properties); None when the layer has none."""
    current = [a for a in areas if a.in_force(None)]
    if not current:
        return None
    geometries = np.array([a.geometry for a in current], dtype=object)
    simple = shapely.set_precision(
        shapely.simplify(geometries, SIMPLIFY_DEGREES, preserve_topology=True), PRECISION_DEGREES
    )
    features = []
    for area, geometry in zip(current, simple, strict=True):
        properties = json.dumps({"key": area.key, "name": area.name})
        features.append(f'{{"type":"Feature","properties":{properties},"geometry":{shapely.to_geojson(geometry)}}}')
    body = ('{"type":"FeatureCollection","features":[' + ",".join(features) + "]}").encode()
    west, south, east, north = (float(v) for v in shapely.total_bounds(geometries))
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Outline(layer, body, etag, (south, west, north, east))


def _cache(request: Request) -> OutlineCache:
    state = request.app.state
    cache: OutlineCache | None = getattr(state, "map_outline", None)
    if cache is None:
        cache = state.map_outline = OutlineCache()
    return cache


def map_view(request: Request) -> MapView:
    """The map settings and the outline's bounds for a page (the outline itself is fetched by the browser)."""
    ctx = context(request)
    outline = _cache(request).get(ctx)
    bounds = ",".join(f"{v:.6f}" for v in outline.bounds) if outline and outline.bounds else ""
    return MapView(
        tile_url=ctx.settings.map_tile_url,
        attribution=ctx.settings.map_tile_attribution,
        bounds=bounds,
        outline_url=OUTLINE_URL if outline else "",
    )


@router.get(OUTLINE_URL)
def areas_geojson(request: Request) -> Response:
    """The coverage layer's areas (public data, as ``/api/v1/areas`` is), validated by ETag on every use."""
    outline = _cache(request).get(context(request))
    body = outline.geojson if outline else b'{"type":"FeatureCollection","features":[]}'
    etag = outline.etag if outline else '"none"'
    headers = {"etag": etag, "cache-control": "public, no-cache"}
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/geo+json", headers=headers)
