"""Point → areas for every layer at once."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from shapely.geometry import box

from civicswitch.catalog.areas import Area, AreaLayer, parse_layer
from civicswitch.core.errors import NotFound
from civicswitch.routing.geography import AreaIndex


def area(layer: str, key: str, x: float, y: float, size: float = 1, **kw: Any) -> Area:
    return Area(layer=layer, key=key, name=key.upper(), geometry=box(x, y, x + size, y + size), **kw)


GRID = [area("grid", "a", 0, 0), area("grid", "b", 1, 0), area("big", "all", -10, -10, size=20)]


def test_locate__point_inside__key_and_name_for_every_layer() -> None:
    found = AreaIndex(GRID).locate(0.5, 0.5)
    assert {k: (h.key, h.name) if h else None for k, h in found.items()} == {"big": ("all", "ALL"), "grid": ("a", "A")}


def test_around__areas_holding_the_point__smallest_first_with_bounds() -> None:
    found = AreaIndex(GRID).around(0.25, 1.5)  # lat 0.25, long 1.5: in b (1..2 × 0..1) and in all
    assert [(a.layer, a.key, a.name) for a in found] == [("grid", "b", "B"), ("big", "all", "ALL")]
    assert found[0].bounds == (0.0, 1.0, 1.0, 2.0) and found[0].size == 1.0  # south, west, north, east
    assert AreaIndex(GRID).around(50.0, 50.0) == []


def test_locate__point_outside_a_layer__none_for_that_layer() -> None:
    assert AreaIndex(GRID).locate(5.5, 5.5)["grid"] is None


def test_locate__point_on_shared_border__same_answer_every_time() -> None:
    index = AreaIndex(GRID)
    assert {index.locate(0.5, 1.0)["grid"].key for _ in range(5)} == {"a"}  # type: ignore[union-attr]


def test_locate__unknown_layer__not_found_listing_layers() -> None:
    with pytest.raises(NotFound, match="unknown layer 'wards'; layers: big, grid"):
        AreaIndex(GRID).locate(0.5, 0.5, ["wards"])


def test_locate_keys__many_points__vectorised_with_blanks() -> None:
    keys = AreaIndex(GRID).locate_keys([0.5, 0.5, 50.0, float("nan")], [0.5, 1.5, 50.0, float("nan")], ["grid"])
    assert keys == {"grid": ["a", "b", "", ""]}


def test_index__versions__answers_for_the_time_asked() -> None:
    cut = datetime(2023, 5, 15, tzinfo=UTC)
    versions = [
        area("wards", "old-1", 0, 0, valid_to=cut),
        area("wards", "new-1", 0, 0, valid_from=cut),
    ]
    assert AreaIndex(versions).locate(0.5, 0.5)["wards"].key == "new-1"  # type: ignore[union-attr]
    before = AreaIndex(versions, at=datetime(2021, 1, 1, tzinfo=UTC))
    assert before.locate(0.5, 0.5)["wards"].key == "old-1"  # type: ignore[union-attr]


def test_locate__real_nyc_records__borough_matches_record_for_99_percent(shared_data_dir: Any) -> None:
    """The NYC sample's own Borough field agrees with the borough polygon its point falls in."""
    boroughs = (shared_data_dir / "nyc" / "boundaries" / "nyc_boroughs.geojson").read_bytes()
    index = AreaIndex(parse_layer(boroughs, AreaLayer("boroughs", "BoroName")))
    path = shared_data_dir / "nyc" / "requests" / "nyc311_2023-02-28_5k.csv.gz"
    rows = [r for r in csv.DictReader(io.StringIO(gzip.decompress(path.read_bytes()).decode("utf-8")))]
    rows = [r for r in rows if r["Latitude"] and r["Longitude"] and r["Borough"] not in ("", "Unspecified")]
    found = index.locate_keys([float(r["Latitude"]) for r in rows], [float(r["Longitude"]) for r in rows])["boroughs"]
    agree = sum(f.upper() == r["Borough"].upper() for f, r in zip(found, rows, strict=True))
    assert len(rows) > 4000
    assert agree / len(rows) >= 0.99, f"{agree}/{len(rows)} agree"
