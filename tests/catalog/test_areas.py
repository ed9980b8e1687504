"""Area layers from GeoJSON: checked and repaired before anything is stored."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from civicswitch.catalog.areas import AreaLayer, check_layer_name, parse_layer
from civicswitch.core.errors import Invalid

LAYER = AreaLayer("zones", "code", "label")


def square(x: float, y: float, size: float = 1.0) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def feature(code: Any, geometry: dict[str, Any], label: str | None = None) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"code": code, "label": label}, "geometry": geometry}


def test_parse_layer__valid_features__areas_with_keys_and_names() -> None:
    areas = parse_layer(collection(feature("A", square(0, 0), "Alpha"), feature(2.0, square(1, 0))), LAYER)
    assert [(a.key, a.name, a.repaired) for a in areas] == [("A", "Alpha", False), ("2", "2", False)]


def test_parse_layer__bow_tie_polygon__repaired_into_valid_area() -> None:
    bow_tie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    (area,) = parse_layer(collection(feature("X", bow_tie)), LAYER)
    assert area.repaired and area.geometry.is_valid and area.geometry.area == pytest.approx(0.5)


def test_parse_layer__same_key_twice__one_area_merged() -> None:
    (area,) = parse_layer(collection(feature("A", square(0, 0)), feature("A", square(5, 5))), LAYER)
    assert area.geometry.geom_type == "MultiPolygon" and area.geometry.area == pytest.approx(2.0)


def test_parse_layer__valid_from__carried_on_every_area() -> None:
    since = datetime(2023, 5, 15, tzinfo=UTC)
    areas = parse_layer(collection(feature("A", square(0, 0))), LAYER, valid_from=since)
    assert (
        areas[0].valid_from == since
        and areas[0].in_force(since)
        and not areas[0].in_force(datetime(2023, 1, 1, tzinfo=UTC))
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"{not json", "not JSON"),
        ({"type": "Feature"}, "FeatureCollection"),
        (collection(), "no features"),
        (collection(feature(None, square(0, 0))), "feature 0: property 'code' (the key) is missing"),
        (collection(feature("A", square(0, 0)), feature("", square(1, 1))), "feature 1"),
        (
            collection(feature("L", {"type": "LineString", "coordinates": [[0, 0], [1, 1]]})),
            "LineString is not an area",
        ),
        (collection(feature("G", {"type": "Polygon"})), "geometry cannot be read"),
        (collection(feature("E", {"type": "Polygon", "coordinates": [[[0, 0], [0, 0], [0, 0], [0, 0]]]})), "empty"),
        (collection(feature("M", square(500_000, 4_000_000))), "not WGS84"),
        (collection("not a feature"), "not a GeoJSON Feature"),
    ],
)
def test_parse_layer__bad_input__invalid_naming_the_problem(document: Any, message: str) -> None:
    with pytest.raises(Invalid, match=re.escape(message)):
        parse_layer(document, LAYER)


@pytest.mark.parametrize("name", ["", "Has Space", "x" * 65, "semi;colon"])
def test_check_layer_name__bad_names__invalid(name: str) -> None:
    with pytest.raises(Invalid, match="layer name"):
        check_layer_name(name)


def test_parse_layer__real_nyc_council_districts__four_repaired(shared_data_dir: Any) -> None:
    document = json.loads((shared_data_dir / "nyc" / "boundaries" / "nyc_city_council_districts.geojson").read_text())
    areas = parse_layer(document, AreaLayer("council", "CounDist"))
    assert len(areas) == 51
    assert sum(a.repaired for a in areas) == 4
    assert all(a.geometry.is_valid for a in areas)
