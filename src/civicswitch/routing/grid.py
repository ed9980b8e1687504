"""A fixed grid over the globe that indexes request locations in plain SQL (DESIGN §5: no PostGIS).

A cell is ``CELL_DEGREES`` of latitude by ``CELL_DEGREES`` of longitude (about 222 m north–south; east–west
222 m at the equator, 168 m in New York, 160 m in Boston). Its number fits a 64-bit integer column, so one
B-tree index on ``(service_id, grid_cell, requested_at)`` finds every request of a service near a point with a
short ``IN`` list of cells, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import math
from typing import NamedTuple

CELL_DEGREES = 0.002
_COLUMNS = 180_000  # 360 / CELL_DEGREES
_ROWS = 90_000  # 180 / CELL_DEGREES
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
_M_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_M / 180.0


class Box(NamedTuple):
    south: float
    west: float
    north: float
    east: float

    def holds(self, lat: float, long: float) -> bool:
        return self.south <= lat <= self.north and self.west <= long <= self.east


def _row(lat: float) -> int:
    return min(max(math.floor((lat + 90.0) / CELL_DEGREES), 0), _ROWS - 1)


def _column(long: float) -> int:
    return min(max(math.floor((long + 180.0) / CELL_DEGREES), 0), _COLUMNS - 1)


def cell_of(lat: float | None, long: float | None) -> int | None:
    """The grid cell holding a point (None without coordinates)."""
    if lat is None or long is None:
        return None
    return _row(lat) * _COLUMNS + _column(long)


def box_around(lat: float, long: float, radius_m: float) -> Box:
    """A box that holds every point within ``radius_m`` of (lat, long). Near the poles and across the
    antimeridian it is clamped (no city files requests there)."""
    dlat = radius_m / _M_PER_DEGREE_LAT
    cos = max(math.cos(math.radians(min(abs(lat) + dlat, 89.9))), 1e-6)
    dlong = dlat / cos
    return Box(max(lat - dlat, -90.0), max(long - dlong, -180.0), min(lat + dlat, 90.0), min(long + dlong, 180.0))


def cells_in(box: Box) -> list[int]:
    """Every cell the box touches (a few: a 75 m radius touches 1–4 cells, the 1 km maximum about 100)."""
    rows = range(_row(box.south), _row(box.north) + 1)
    columns = range(_column(box.west), _column(box.east) + 1)
    return [r * _COLUMNS + c for r in rows for c in columns]


def cell_count(box: Box) -> int:
    """How many cells :func:`cells_in` would list, without listing them."""
    return (_row(box.north) - _row(box.south) + 1) * (_column(box.east) - _column(box.west) + 1)


def distance_m(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Great-circle distance in metres (haversine on the mean Earth radius; < 0.5 % off at city scale)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(long2 - long1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
