"""Point → areas, for every layer at once. Geometry lives in the app (shapely 2, one STRtree per layer), so the
same code serves SQLite and PostgreSQL and bulk lookups are vectorised."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import shapely
from numpy.typing import NDArray

from civicswitch.catalog.areas import Area
from civicswitch.core.errors import Invalid, NotFound

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class Hit:
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Around:
    """An area holding a point: its layer, key and name, bounds (south, west, north, east) and size (square
    degrees: only to compare)."""

    layer: str
    key: str
    name: str
    bounds: tuple[float, float, float, float]
    size: float


class _Layer:
    def __init__(self, areas: Sequence[Area]) -> None:
        self.keys = [a.key for a in areas]
        self.names = [a.name for a in areas]
        # Copies, so that preparing them leaves the caller's geometries as they were.
        self.geometries = np.array([shapely.from_wkb(shapely.to_wkb(a.geometry)) for a in areas], dtype=object)
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)

    def locate(self, points: _Points) -> NDArray[np.int64]:
        """For each point, the index of the area holding it (the first on a shared border), or -1."""
        found = np.full(len(points.xs), -1, dtype=np.int64)
        # Bounding boxes from the tree, then an exact, vectorised point-in-polygon test on prepared geometries.
        candidates = self.tree.query(points.geometries)
        if candidates.shape[1]:
            point_idx, area_idx = candidates[0], candidates[1]
            inside = shapely.contains_xy(self.geometries[area_idx], points.xs[point_idx], points.ys[point_idx])
            # covers the boundary too, as intersects would: a point exactly on an edge still belongs somewhere
            edge = ~inside
            if edge.any():
                inside[edge] = shapely.intersects_xy(
                    self.geometries[area_idx[edge]], points.xs[point_idx[edge]], points.ys[point_idx[edge]]
                )
            point_idx, area_idx = point_idx[inside], area_idx[inside]
            # Several hits for one point (a shared border): keep the lowest area index, deterministically.
            order = np.lexsort((area_idx, point_idx))
            point_idx, area_idx = point_idx[order], area_idx[order]
            first = np.ones(len(point_idx), dtype=bool)
            first[1:] = point_idx[1:] != point_idx[:-1]
            found[point_idx[first]] = area_idx[first]
        return found


@dataclass(frozen=True, slots=True)
class _Points:
    xs: NDArray[np.float64]
    ys: NDArray[np.float64]
    geometries: NDArray[np.object_]


def _points(lats: Sequence[float], longs: Sequence[float]) -> _Points:
    if len(lats) != len(longs):
        raise Invalid("as many latitudes as longitudes are needed")
    xs = np.atleast_1d(np.asarray(longs, dtype=np.float64))
    ys = np.atleast_1d(np.asarray(lats, dtype=np.float64))
    return _Points(xs, ys, np.atleast_1d(np.asarray(shapely.points(xs, ys), dtype=object)))


class AreaIndex:
    """The areas in force at one time (``at``; None = the current versions), by layer."""

    def __init__(self, areas: Sequence[Area], *, at: datetime | None = None) -> None:
        by_layer: dict[str, list[Area]] = {}
        for area in areas:
            if area.in_force(at):
                by_layer.setdefault(area.layer, []).append(area)
        self._layers = {name: _Layer(found) for name, found in sorted(by_layer.items())}

    @property
    def layers(self) -> list[str]:
        return list(self._layers)

    def area_names(self, layer: str) -> list[str]:
        """The names of a layer's areas, sorted (empty for an unknown layer)."""
        found = self._layers.get(layer)
        return [] if found is None else sorted(found.names)

    def areas_of(self, layer: str) -> list[tuple[str, str]]:
        """A layer's areas as (key, name), by name (empty for an unknown layer)."""
        found = self._layers.get(layer)
        return [] if found is None else sorted(zip(found.keys, found.names, strict=True), key=lambda a: (a[1], a[0]))

    def area_name(self, layer: str, key: str) -> str | None:
        """The name of one area (None: no such layer or key)."""
        found = self._layers.get(layer)
        if found is None or key not in found.keys:
            return None
        return found.names[found.keys.index(key)]

    def _chosen(self, layers: Sequence[str] | None) -> list[str]:
        if layers is None:
            return self.layers
        unknown = [name for name in layers if name not in self._layers]
        if unknown:
            known = ", ".join(self.layers) or "none loaded"
            raise NotFound(f"unknown layer {', '.join(map(repr, unknown))}; layers: {known}", field="layer")
        return list(layers)

    def locate(self, lat: float, long: float, layers: Sequence[str] | None = None) -> dict[str, Hit | None]:
        """The area of each layer that holds the point (None where no area of the layer does)."""
        found = self.locate_many([lat], [long], layers)
        return {name: hits[0] for name, hits in found.items()}

    def locate_many(
        self, lats: Sequence[float], longs: Sequence[float], layers: Sequence[str] | None = None
    ) -> dict[str, list[Hit | None]]:
        """Vectorised :meth:`locate` for many points."""
        points = _points(lats, longs)
        out: dict[str, list[Hit | None]] = {}
        for name in self._chosen(layers):
            layer = self._layers[name]
            hits = layer.locate(points)
            out[name] = [None if i < 0 else Hit(layer.keys[i], layer.names[i]) for i in hits.tolist()]
        return out

    def around(self, lat: float, long: float) -> list[Around]:
        """Every area in force that holds the point, of every layer, the smallest first (a neighbourhood before
        its borough): what a map without tiles outlines to show where the point is."""
        points = _points([lat], [long])
        found = []
        for name, layer in self._layers.items():
            i = int(layer.locate(points)[0])
            if i >= 0:
                geometry = layer.geometries[i]
                west, south, east, north = (float(v) for v in shapely.bounds(geometry))
                found.append(Around(name, layer.keys[i], layer.names[i], (south, west, north, east),
                                    float(shapely.area(geometry))))  # fmt: skip
        return sorted(found, key=lambda a: (a.size, a.layer))

    def locate_keys(
        self, lats: Sequence[float], longs: Sequence[float], layers: Sequence[str] | None = None
    ) -> dict[str, list[str]]:
        """Like :meth:`locate_many`, giving only the area keys ("" where none): the bulk CSV path."""
        points = _points(lats, longs)
        out: dict[str, list[str]] = {}
        for name in self._chosen(layers):
            layer = self._layers[name]
            keys = np.array([*layer.keys, ""], dtype=object)
            out[name] = keys[layer.locate(points)].tolist()  # -1 picks the trailing ""
        return out


def load_index(uow: UnitOfWork, *, at: datetime | None = None) -> AreaIndex:
    with uow:
        return AreaIndex(uow.catalog.areas(), at=at)


class IndexCache:
    """One process's current :class:`AreaIndex`, rebuilt only when the stored areas change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._index: AreaIndex | None = None

    def get(self, uow: UnitOfWork) -> AreaIndex:
        with uow:
            version = uow.catalog.areas_version()
            if self._index is not None and version == self._version:
                return self._index
            with self._lock:
                if self._index is None or version != self._version:
                    self._index = AreaIndex(uow.catalog.areas())
                    self._version = version
                return self._index
