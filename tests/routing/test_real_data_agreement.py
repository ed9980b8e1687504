"""Routing real records lands them in the areas the records themselves name (issue 3's real-data check).

Each test prints its agreement figure and the disagreeing rows (run with ``-s`` to see them)."""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from pathlib import Path
from typing import Any

from civicswitch.catalog.areas import AreaLayer, parse_layer
from civicswitch.routing.geography import AreaIndex

BOROUGH_CODES = {"MANHATTAN": 1, "BRONX": 2, "BROOKLYN": 3, "QUEENS": 4, "STATEN ISLAND": 5}


def _rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _index(shared: Path, *layers: tuple[str, str, str]) -> AreaIndex:
    areas = []
    for name, file, key in layers:
        areas.extend(parse_layer((shared / file).read_bytes(), AreaLayer(name, key)))
    return AreaIndex(areas)


def _report(label: str, agree: int, total: int, misses: Counter[Any]) -> float:
    share = agree / total
    print(f"\n{label}: {agree}/{total} agree ({share:.2%}); disagreements (record → polygon): {misses.most_common(8)}")
    return share


def test_nyc__borough_and_community_district__match_the_records_own_fields(shared_data_dir: Path) -> None:
    index = _index(
        shared_data_dir,
        ("boroughs", "nyc/boundaries/nyc_boroughs.geojson", "BoroName"),
        ("districts", "nyc/boundaries/nyc_community_districts.geojson", "BoroCD"),
    )
    rows = []
    for file in ("nyc311_2023-02-28_5k.csv.gz", "nyc311_2022-05-01_sample.csv", "nyc311_2014-2019_sample1k.csv"):
        rows.extend(_rows(shared_data_dir / "nyc" / "requests" / file))
    rows = [r for r in rows if r["Latitude"] and r["Longitude"]]
    found = index.locate_keys([float(r["Latitude"]) for r in rows], [float(r["Longitude"]) for r in rows])
    boro_rows = [(r, f) for r, f in zip(rows, found["boroughs"], strict=True) if r["Borough"].upper() in BOROUGH_CODES]
    boro_misses = Counter((r["Borough"], f) for r, f in boro_rows if f.upper() != r["Borough"].upper())
    boro_share = _report("NYC borough", len(boro_rows) - sum(boro_misses.values()), len(boro_rows), boro_misses)
    cd_rows = []
    for r, f in zip(rows, found["districts"], strict=True):
        number, _, borough = r["Community Board"].partition(" ")
        if number.isdigit() and borough in BOROUGH_CODES:  # "0 Unspecified" rows name no district
            cd_rows.append((BOROUGH_CODES[borough] * 100 + int(number), f))
    cd_misses = Counter((str(code), f) for code, f in cd_rows if str(code) != f)
    cd_share = _report("NYC community district", len(cd_rows) - sum(cd_misses.values()), len(cd_rows), cd_misses)
    assert boro_share >= 0.99 and cd_share >= 0.99


def test_chicago__community_area__matches_the_records_own_field(shared_data_dir: Path) -> None:
    index = _index(
        shared_data_dir, ("community_areas", "chicago/boundaries/chicago_community_areas.geojson", "AREA_NUMBE")
    )
    rows = _rows(shared_data_dir / "chicago" / "requests" / "chicago311_2021-01-01_5k.csv.gz")
    rows = [r for r in rows if r["latitude"] and r["longitude"] and r["community_area"]]
    found = index.locate_keys([float(r["latitude"]) for r in rows], [float(r["longitude"]) for r in rows])
    pairs = [(str(int(float(r["community_area"]))), f) for r, f in zip(rows, found["community_areas"], strict=True)]
    misses = Counter(p for p in pairs if p[0] != p[1])
    share = _report("Chicago community area", len(pairs) - sum(misses.values()), len(pairs), misses)
    assert share >= 0.99
