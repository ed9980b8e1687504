"""The grid that indexes request points: every point within a radius lies in a cell the box touches."""

from __future__ import annotations

import math
import random

import pytest

from civicswitch.routing.grid import CELL_DEGREES, box_around, cell_of, cells_in, distance_m


def test_distance__one_degree_of_latitude__about_111_km() -> None:
    assert distance_m(40.0, -74.0, 41.0, -74.0) == pytest.approx(111_195, rel=1e-4)
    assert distance_m(40.7, -74.0, 40.7, -74.0) == 0.0


def test_cell_of__no_coordinates__none_and_neighbours_differ_by_one() -> None:
    assert cell_of(None, None) is None and cell_of(40.0, None) is None
    here = cell_of(40.7359, -73.9911)
    assert here is not None
    assert cell_of(40.7359, -73.9911 + CELL_DEGREES) == here + 1
    assert cell_of(-90.0, -180.0) == 0 and cell_of(90.0, 180.0) == 90_000 * 180_000 - 1


@pytest.mark.parametrize("lat", [40.7359, 42.3601, 41.8781, -33.8688, 0.0005, 64.1466])
@pytest.mark.parametrize("radius", [10.0, 75.0, 1000.0])
def test_box_around__random_points_within_radius__inside_box_and_its_cells(lat: float, radius: float) -> None:
    rng = random.Random(f"{lat}-{radius}")
    long = -73.9911
    box = box_around(lat, long, radius)
    cells = set(cells_in(box))
    for _ in range(500):
        bearing, reach = rng.uniform(0, 2 * math.pi), radius * math.sqrt(rng.random())
        dlat = reach * math.cos(bearing) / 111_195.0
        dlong = reach * math.sin(bearing) / (111_195.0 * math.cos(math.radians(lat + dlat)))
        p = (lat + dlat, long + dlong)
        if distance_m(lat, long, *p) <= radius:
            assert box.holds(*p) and cell_of(*p) in cells


def test_cells_in__75_m_radius__a_handful_of_cells() -> None:
    assert 1 <= len(cells_in(box_around(40.7359, -73.9911, 75.0))) <= 4
    assert len(cells_in(box_around(40.7359, -73.9911, 1000.0))) <= 130
