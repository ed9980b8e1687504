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
