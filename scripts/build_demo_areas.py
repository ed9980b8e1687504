"""Build the demo city's boundary layers from ../shared/data/nyc (deterministic).

- ``boroughs.geojson``: the five boroughs, dissolved from NYC DOHMH's simplified community districts
  (``nyc_community_districts_simplified.geojson``), keyed by borough name.
- ``community_districts.geojson``: those 71 districts, keyed by their code (101 … 595; the 1x64-style codes are
  joint-interest areas such as parks), named by their names.
- ``counties.geojson``: the two counties bordering the city on land, Nassau and Westchester, from the NY State
  counties layer, simplified to about 50 m, keyed by the Census geoid.

Usage: ``python scripts/build_demo_areas.py [--data ../shared/data] [--out src/civicswitch/demo/data/areas]``
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape

REPO = Path(__file__).resolve().parents[1]
NEIGHBOURS = ("Nassau County", "Westchester County")


def _write(path: Path, features: list[dict[str, Any]]) -> None:
    document = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")


def _rounded(geometry: Any) -> dict[str, Any]:
    return mapping(shapely.set_precision(geometry, 1e-6))  # type: ignore[no-any-return]


def build(data: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    districts = json.loads((data / "nyc" / "boundaries" / "nyc_community_districts_simplified.geojson").read_text())
    by_borough: dict[str, list[Any]] = defaultdict(list)
    cd_features = []
    for f in sorted(districts["features"], key=lambda f: f["properties"]["GEOCODE"]):
        geometry = shapely.make_valid(shape(f["geometry"]))
        by_borough[f["properties"]["BOROUGH"]].append(geometry)
        props = {"code": str(f["properties"]["GEOCODE"]), "name": f["properties"]["GEONAME"]}
        cd_features.append({"type": "Feature", "properties": props, "geometry": _rounded(geometry)})
    boroughs = [
        {"type": "Feature", "properties": {"name": name}, "geometry": _rounded(shapely.union_all(parts))}
        for name, parts in sorted(by_borough.items())
    ]
    counties = json.loads((data / "nyc" / "boundaries" / "new_york_state_counties.geojson").read_text())
    neighbours = [
        {
            "type": "Feature",
            "properties": {"geoid": f["properties"]["geoid"], "name": f["properties"]["name"]},
            "geometry": _rounded(shapely.make_valid(shape(f["geometry"])).simplify(0.0005)),
        }
        for f in sorted(counties["features"], key=lambda f: f["properties"]["name"])
        if f["properties"]["name"] in NEIGHBOURS
    ]
    _write(out / "boroughs.geojson", boroughs)
    _write(out / "community_districts.geojson", cd_features)
    _write(out / "counties.geojson", neighbours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "src" / "civicswitch" / "demo" / "data" / "areas")
    args = parser.parse_args()
    build(args.data, args.out)


if __name__ == "__main__":
    main()
