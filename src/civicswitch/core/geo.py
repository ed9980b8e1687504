"""Coordinates as people and programs type them."""

from __future__ import annotations

import math

from civicswitch.core.errors import Invalid


def parse_coordinate(value: str | None, name: str, bound: float) -> float | None:
    """A WGS84 latitude (bound 90) or longitude (bound 180) from text; None when empty."""
    if value is None or value.strip() == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise Invalid(f"{name} must be a decimal number (WGS84), got {value!r}", field=name) from None
    if not math.isfinite(number) or abs(number) > bound:
        raise Invalid(f"{name} must be between -{bound:g} and {bound:g}, got {value!r}", field=name)
    return number
