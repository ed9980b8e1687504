"""core/geo.py: coordinates as typed, and the public map's generalised point (the centre of a ~200 m cell)."""

from __future__ import annotations

import pytest

from civicswitch.core.errors import Invalid
from civicswitch.core.geo import GENERALISED_DEGREES, generalised, parse_coordinate
from civicswitch.routing.grid import CELL_DEGREES, cell_of


def test_generalised__points_of_one_cell__its_centre_whatever_the_point() -> None:
    # the cell (40.734, -73.992)–(40.736, -73.990): every point in it is shown at its centre
    points = [(40.73401, -73.99199), (40.7359, -73.9911), (40.73599, -73.99001)]
    assert {generalised(lat, long) for lat, long in points} == {(40.735, -73.991)}


def test_generalised__at_most_half_a_cell_from_the_point_and_never_the_point() -> None:
    lat, long = 40.7359123, -73.9911456
    shown = generalised(lat, long)
    assert shown != (lat, long)
    assert abs(shown[0] - lat) <= GENERALISED_DEGREES / 2 and abs(shown[1] - long) <= GENERALISED_DEGREES / 2


def test_generalised__neighbouring_cells__centres_one_cell_apart() -> None:
    west, east = generalised(40.7359, -73.9901), generalised(40.7359, -73.9899)
    assert (west[0], round(east[1] - west[1], 6)) == (east[0], GENERALISED_DEGREES)


def test_generalised__same_cells_as_the_routing_grid() -> None:
    assert GENERALISED_DEGREES == CELL_DEGREES
    a, b = (40.7359, -73.9911), (40.73401, -73.99199)
    assert cell_of(*a) == cell_of(*b) and generalised(*a) == generalised(*b)


@pytest.mark.parametrize(("lat", "long"), [(90.0, 180.0), (-90.0, -180.0), (0.0, 0.0), (-33.8688, 151.2093)])
def test_generalised__poles_antimeridian_and_southern_hemisphere__inside_the_world(lat: float, long: float) -> None:
    shown = generalised(lat, long)
    assert -90 < shown[0] < 90 and -180 < shown[1] < 180
    assert (
        abs(shown[0] - lat) <= GENERALISED_DEGREES / 2 + 1e-9 and abs(shown[1] - long) <= GENERALISED_DEGREES / 2 + 1e-9
    )


def test_parse_coordinate__plain_decimals_only() -> None:
    assert parse_coordinate(" 40.7 ", "lat", 90) == 40.7 and parse_coordinate("", "lat", 90) is None
    for bad in ("4_0.7", "nan", "91"):
        with pytest.raises(Invalid):
            parse_coordinate(bad, "lat", 90)
