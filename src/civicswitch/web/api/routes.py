"""``/api/v1``: geography for now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from civicswitch.core.errors import Invalid
from civicswitch.core.geo import parse_coordinate
from civicswitch.web.context import context
from civicswitch.web.open311 import params

router = APIRouter(prefix="/api/v1", tags=["Civic Switchboard API"])


def _required(value: str | None, name: str, bound: float) -> float:
    number = parse_coordinate(value, name, bound)
    if number is None:
        raise Invalid(f"{name} is required", field=name)
    return number


@router.get("/areas", summary="The area of every layer that holds a point")
def areas_at(
    request: Request,
    lat: Annotated[str | None, Query(description="WGS84 latitude")] = None,
    long: Annotated[str | None, Query(description="WGS84 longitude")] = None,
    layer: Annotated[str | None, Query(description="comma list of layers (default: all)")] = None,
) -> dict[str, Any]:
    point = (_required(lat, "lat", 90.0), _required(long, "long", 180.0))
    ctx = context(request)
    index = ctx.area_index()
    found = index.locate(point[0], point[1], params.csv_list(layer))
    return {
        "lat": point[0],
        "long": point[1],
        "areas": {name: None if hit is None else {"key": hit.key, "name": hit.name} for name, hit in found.items()},
    }
