"""Maps on the pages: Leaflet from the ``xstatic-leaflet`` package (served at ``/static/leaflet``, never a CDN), our
``/static/map.js``, and the jurisdiction's outline as GeoJSON (``/map/areas.geojson``).

A map is progressive enhancement and always beside a non-map input: the page carries a hidden box with its data in
``data-`` attributes (no inline script: the Content-Security-Policy stays ``script-src 'self'``) and ``map.js`` shows
it. Without JavaScript the box stays hidden and the page works as before. Tiles come from ``map_tile_url`` when one
is set (their origin is then added to ``img-src``); without tiles a map shows the outline of the coverage layer's
areas and the pin, which is enough to pick a point. A map that shows a point (the request page) without tiles is
fitted to the smallest area holding it (a district rather than its borough, of whatever layers are loaded), which
it outlines and names: at a street's zoom an outline is out of view and the pin sits on white. With neither tiles
nor any area there is nothing to show around a pin, and such a map is left out (the coordinates are beside it).
The template side is ``templates/_map.html``; the staff pages use it now and the residents' pages can take the same
macro."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import numpy as np
import shapely
import xstatic.pkg.leaflet
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from civicswitch.catalog.areas import Area, check_layer_name
from civicswitch.core.errors import DomainError
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
    """A layer's current areas as one GeoJSON document, and their bounds (south, west, north, east); each area's
    feature on its own too (``features``, by key), for a map that outlines one."""

    layer: str
    geojson: bytes
    etag: str
    bounds: tuple[float, float, float, float] | None
    features: dict[str, bytes] = field(default_factory=dict)

    def area(self, key: str) -> tuple[bytes, str] | None:
        """One area's FeatureCollection and its ETag."""
        feature = self.features.get(key)
        if feature is None:
            return None
        body = b'{"type":"FeatureCollection","features":[' + feature + b"]}"
        return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@dataclass(frozen=True, slots=True)
class MapView:
    """What a page's map needs: the tiles (if any), where to look first and the outline to draw; for a map of one
    point without tiles, the area to fit it to and outline (``focus_*``, empty when no area holds the point)."""

    tile_url: str
    attribution: str
    bounds: str  # "south,west,north,east", empty when no areas are loaded
    outline_url: str  # empty when there is no outline
    focus_url: str = ""
    focus_bounds: str = ""
    focus_name: str = ""

    @property
    def useful(self) -> bool:
        """Whether there is anything to see around a pin: tiles, or an area."""
        return bool(self.tile_url or self.outline_url or self.focus_url)


class OutlineCache:
    """One process's outlines (per layer), rebuilt only when the stored areas change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._outlines: dict[str, Outline | None] = {}

    def get(self, ctx: AppContext, layer: str | None = None) -> Outline | None:
        """``layer``'s outline (by default the coverage layer's); None when it has no area in force."""
        layer = layer or ctx.settings.coverage_layer
        if not layer:
            return None
        with ctx.reader() as uow:
            version = uow.catalog.areas_version()
            with self._lock:
                if version != self._version:
                    self._outlines, self._version = {}, version
                if layer not in self._outlines:
                    self._outlines[layer] = build_outline(layer, uow.catalog.areas(layer))
                return self._outlines[layer]


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
    features = {}
    for area, geometry in zip(current, simple, strict=True):
        properties = json.dumps({"key": area.key, "name": area.name})
        feature = f'{{"type":"Feature","properties":{properties},"geometry":{shapely.to_geojson(geometry)}}}'
        features[area.key] = feature.encode()
    body = b'{"type":"FeatureCollection","features":[' + b",".join(features.values()) + b"]}"
    west, south, east, north = (float(v) for v in shapely.total_bounds(geometries))
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Outline(layer, body, etag, (south, west, north, east), features)


def _cache(request: Request) -> OutlineCache:
    state = request.app.state
    cache: OutlineCache | None = getattr(state, "map_outline", None)
    if cache is None:
        cache = state.map_outline = OutlineCache()
    return cache


def _bounds(values: Sequence[float]) -> str:
    return ",".join(f"{v:.6f}" for v in values)


def map_view(request: Request, point: tuple[float, float] | None = None) -> MapView:
    """The map settings and the outline's bounds for a page (the outline itself is fetched by the browser).
    ``point``: the (lat, long) a map shows; without tiles, the smallest area holding it is the map's focus."""
    ctx = context(request)
    outline = _cache(request).get(ctx)
    view = MapView(
        tile_url=ctx.settings.map_tile_url,
        attribution=ctx.settings.map_tile_attribution,
        bounds=_bounds(outline.bounds) if outline and outline.bounds else "",
        outline_url=OUTLINE_URL if outline else "",
    )
    if point is None or view.tile_url:
        return view
    around = ctx.area_index().around(*point)
    if not around:
        return view
    area = around[0]
    query = urlencode({"layer": area.layer, "key": area.key})
    return replace(view, focus_url=f"{OUTLINE_URL}?{query}", focus_bounds=_bounds(area.bounds), focus_name=area.name)


def _geojson(request: Request, body: bytes, etag: str) -> Response:
    headers = {"etag": etag, "cache-control": "public, no-cache"}
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/geo+json", headers=headers)


EMPTY = b'{"type":"FeatureCollection","features":[]}'


@router.get(OUTLINE_URL)
def areas_geojson(
    request: Request,
    layer: Annotated[str, Query(max_length=64)] = "",
    key: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The coverage layer's areas, or ``layer``'s, or one area of it (``key``): public data, as ``/api/v1/areas``
    is, validated by ETag on every use. An unknown layer or key is an empty collection, as a layer with no area."""
    if layer:
        try:
            layer = check_layer_name(layer)
        except DomainError:
            return _geojson(request, EMPTY, '"none"')
    outline = _cache(request).get(context(request), layer or None)
    if key:
        one = outline.area(key) if outline else None
        return _geojson(request, *(one or (EMPTY, '"none"')))
    if outline is None:
        return _geojson(request, EMPTY, '"none"')
    return _geojson(request, outline.geojson, outline.etag)
