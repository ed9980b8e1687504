"""Coordinates as people and programs type them."""

from __future__ import annotations

import math

from civicswitch.core.errors import Invalid
from civicswitch.core.numbers import is_decimal, shown


def parse_coordinate(value: str | None, name: str, bound: float) -> float | None:
    """A WGS84 latitude (bound 90) or longitude (bound 180) from text; None when empty.

    Plain ASCII decimals only: ``4_0.7``, ``nan`` or ``٤٠.٧`` are refused, not read as 40.7 or 40.7."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if not is_decimal(text):
        raise Invalid(f"{name} must be a decimal number (WGS84) in ASCII digits, got {shown(text)}", field=name)
    number = float(text)
    if not math.isfinite(number) or abs(number) > bound:
        raise Invalid(f"{name} must be between -{bound:g} and {bound:g}, got {shown(text)}", field=name)
    return number


# The public map's grid for services whose requests are shown only roughly (catalog: ``residents.public_location:
# generalised``): 0.002° of latitude by 0.002° of longitude, about 222 m north–south and 168 m east–west in New
# York (222 m at the equator). The same cells as routing/grid.py's index.
GENERALISED_DEGREES = 0.002
_DECIMALS = 6


def generalised(lat: float, long: float, degrees: float = GENERALISED_DEGREES) -> tuple[float, float]:
    """The centre of the grid cell holding (lat, long): every point of a cell gives the same answer, so the point
    shown says nothing of where in the cell the request is. Cells are counted from (-90, -180), each
    ``degrees`` square; the poles and the antimeridian fall in the last cell, not past it."""
    rows, columns = round(180 / degrees), round(360 / degrees)
    row = min(max(math.floor((lat + 90.0) / degrees), 0), rows - 1)
    column = min(max(math.floor((long + 180.0) / degrees), 0), columns - 1)
    return round((row + 0.5) * degrees - 90.0, _DECIMALS), round((column + 0.5) * degrees - 180.0, _DECIMALS)
