"""Area layers (boroughs, districts, counties…): GeoJSON in, valid polygons with validity dates out.

A layer loads whole or not at all: every feature is checked and repaired (``make_valid``) before anything is
stored. Features that share a key are one area (their polygons are merged).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from civicswitch.core.errors import Invalid

LAYER_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True, slots=True)
class AreaLayer:
    name: str
    key_property: str
    name_property: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Area:
    layer: str
    key: str
    name: str
    geometry: BaseGeometry
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    repaired: bool = False
    id: int | None = None

    def in_force(self, at: datetime | None) -> bool:
        if at is None:
            return self.valid_to is None
        return (self.valid_from is None or self.valid_from <= at) and (self.valid_to is None or at < self.valid_to)


def check_layer_name(name: str) -> str:
    name = name.strip().lower()
    if not name or len(name) > 64 or not set(name) <= LAYER_NAME_CHARS:
        raise Invalid(f"layer name {name!r} must be 1-64 characters of a-z, 0-9, '_' or '-'", field="layer")
    return name


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """The polygonal part of a geometry (``make_valid`` can add stray lines or points)."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def parse_layer(
    document: bytes | str | Mapping[str, Any],
    layer: AreaLayer,
    *,
    valid_from: datetime | None = None,
) -> list[Area]:
    """Validate and repair a GeoJSON FeatureCollection; raises :class:`Invalid` naming the first bad feature."""
    if isinstance(document, bytes | str):
        try:
            document = json.loads(document)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Invalid(f"layer {layer.name}: the file is not JSON ({exc})") from None
    if not isinstance(document, Mapping) or document.get("type") != "FeatureCollection":
        raise Invalid(f"layer {layer.name}: expected a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise Invalid(f"layer {layer.name}: the FeatureCollection has no features")
    merged: dict[str, tuple[str, list[BaseGeometry], bool]] = {}
    for index, feature in enumerate(features):
        where = f"layer {layer.name}, feature {index}"
        if not isinstance(feature, Mapping) or not isinstance(feature.get("properties"), Mapping | None):
            raise Invalid(f"{where}: not a GeoJSON Feature")
        properties = feature.get("properties") or {}
        raw_key = properties.get(layer.key_property)
        if raw_key is None or str(raw_key).strip() == "":
            raise Invalid(f"{where}: property {layer.key_property!r} (the key) is missing or empty")
        key = str(raw_key).strip()
        if isinstance(raw_key, float) and raw_key.is_integer():
            key = str(int(raw_key))
        if len(key) > 100:
            raise Invalid(f"{where}: key {key[:20]!r}… is longer than 100 characters")
        raw_name = properties.get(layer.name_property) if layer.name_property else None
        name = str(raw_name).strip() if raw_name not in (None, "") else key
        try:
            geometry = shape(feature.get("geometry") or {})
        except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
            raise Invalid(f"{where} ({key}): the geometry cannot be read ({exc})") from None
        if geometry.geom_type not in ("Polygon", "MultiPolygon"):
            raise Invalid(f"{where} ({key}): a {geometry.geom_type} is not an area; use Polygon or MultiPolygon")
        repaired = not geometry.is_valid
        if repaired:
            geometry = _polygonal(shapely.make_valid(geometry))
        if geometry.is_empty or geometry.area == 0:
            raise Invalid(f"{where} ({key}): the area is empty")
        minx, miny, maxx, maxy = geometry.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise Invalid(f"{where} ({key}): coordinates are not WGS84 longitude/latitude")
        previous = merged.get(key)
        if previous is None:
            merged[key] = (name, [geometry], repaired)
        else:
            previous[1].append(geometry)
            merged[key] = (previous[0], previous[1], previous[2] or repaired)
    out = []
    for key, (name, parts, repaired) in merged.items():
        geometry = parts[0] if len(parts) == 1 else _polygonal(shapely.make_valid(shapely.union_all(parts)))
        out.append(
            Area(
                layer=layer.name, key=key, name=name[:200], geometry=geometry, valid_from=valid_from, repaired=repaired
            )
        )
    return out
