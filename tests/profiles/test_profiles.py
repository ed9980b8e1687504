"""The shipped city profiles load, say what their records say, and are what scripts/build_profiles.py makes.

Expectations on the real records are computed here from the files themselves, not by the build script."""

from __future__ import annotations

import csv
import gzip
import io
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from civicswitch.catalog.areas import AreaLayer, check_layer_name, parse_layer
from civicswitch.catalog.handlers import load_layer
from civicswitch.catalog.loader import export_catalog, load_catalog, parse_catalog
from civicswitch.cli import app
from civicswitch.profiles import Profile, layer_command, profile_document, shipped_file
from civicswitch.storage.sql import SqlUnitOfWork

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "src" / "civicswitch" / "profiles"
BUILDER = REPO / "scripts" / "build_profiles.py"
MAX_BYTES = 300_000
runner = CliRunner()


@cache
def _rows(path: Path) -> tuple[dict[str, str], ...]:
    return tuple(csv.DictReader(io.StringIO(gzip.decompress(path.read_bytes()).decode("utf-8"))))


def _by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in document["services"]}


# -- every profile --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", list(Profile))
def test_profile__fresh_store__loads_every_body_service_and_rule(profile: Profile, engine: Engine) -> None:
    document = profile_document(profile)
    bodies, services = parse_catalog(document)
    if profile is Profile.NYC:  # its rules refer requests outside the city to the neighbouring counties
        counties = (resources.files("civicswitch.demo") / "data" / "areas" / "counties.geojson").read_bytes()
        load_layer(SqlUnitOfWork(engine), "counties", counties, key_property="geoid", name_property="name")
    assert load_catalog(SqlUnitOfWork(engine), document) == (len(bodies), len(services))
    exported = export_catalog(SqlUnitOfWork(engine))
    assert {b["code"] for b in exported["bodies"]} == {b.code for b in bodies}
    assert {s["code"] for s in exported["services"]} == {s.code for s in services}
    assert len(exported["routing_rules"]) == len(document.get("routing_rules", []))
    assert all(s.body_code is not None for s in services)


@pytest.mark.parametrize("profile", list(Profile))
def test_profile__layers__described_with_a_valid_name_and_the_matching_load_command(profile: Profile) -> None:
    document = profile_document(profile)
    assert document["profile"]["name"] == profile and document["jurisdiction"]["timezone"].startswith("America/")
    layers = document["layers"]
    assert layers, "a profile says which layers to load"
    for layer in layers:
        assert check_layer_name(layer["layer"]) == layer["layer"]
        assert layer["command"] == layer_command(layer)
    rule_layers = {r["layer"] for r in document.get("routing_rules", [])}
    assert rule_layers <= {layer["layer"] for layer in layers}


@pytest.mark.parametrize("name", ["boston.json", "chicago.json"])
def test_profile_file__shipped__small(name: str) -> None:
    assert (PROFILES / name).stat().st_size < MAX_BYTES


@pytest.mark.parametrize("profile", list(Profile))
def test_profile_layers__real_boundary_files__load_with_the_documented_keys(
    profile: Profile, shared_data_dir: Path
) -> None:
    document = profile_document(profile)
    for layer in document["layers"]:
        path = shipped_file(layer) or shared_data_dir / layer["file"]
        areas = parse_layer(
            path.read_bytes(),
            AreaLayer(layer["layer"], layer["key_property"], layer.get("name_property")),
        )
        keys = {a.key for a in areas}
        for rule in document.get("routing_rules", []):
            if rule["layer"] == layer["layer"] and rule["area"] != "*":
                assert rule["area"] in keys


# -- Boston ---------------------------------------------------------------------------------------------------
def _boston(shared: Path) -> tuple[dict[str, str], ...]:
    return _rows(shared / "boston" / "requests" / "boston311_2011.csv.gz")


def _median_target_hours(rows: tuple[dict[str, str], ...], type_name: str) -> float:
    hours = []
    for r in rows:
        if r["type"] == type_name and r["target_dt"]:
            opened = datetime.strptime(r["open_dt"], "%Y-%m-%d %H:%M:%S")
            target = datetime.strptime(r["target_dt"], "%Y-%m-%d %H:%M:%S")
            if target >= opened:
                hours.append((target - opened).total_seconds() / 3600)
    return round(statistics.median(hours), 1)


@pytest.mark.parametrize(
    ("type_name", "hours"),
    [
        ("Schedule a Bulk Item Pickup", 48.0),
        ("Street Light Outages", 336.0),
        ("Request for Pothole Repair", 48.0),
        ("Missed Trash/Recycling/Yard Waste/Bulk Item", 72.0),
        ("Unsatisfactory Living Conditions", 2880.0),
        ("Rodent Activity", 720.0),
        ("Abandoned Vehicles", 672.0),
        ("Traffic Signal Repair", 36.2),
        ("Unsafe Dangerous Conditions", 24.0),
    ],
)
def test_boston_profile__sla__is_the_median_city_target_of_the_type(
    type_name: str, hours: float, shared_data_dir: Path
) -> None:
    expected = _median_target_hours(_boston(shared_data_dir), type_name)
    assert expected == hours
    assert _by_name(profile_document(Profile.BOSTON))[type_name]["sla_hours"] == expected


def test_boston_profile__types_without_targets__have_no_sla(shared_data_dir: Path) -> None:
    rows = _boston(shared_data_dir)
    with_target = {" ".join(r["type"].split()) for r in rows if r["target_dt"]}
    services = _by_name(profile_document(Profile.BOSTON))
    never = [name for name in services if name not in with_target]
    assert {"Pothole Repair (Internal)", "Notification", "Street Light Outages (Internal)"} <= set(never)
    assert all("sla_hours" not in services[name] for name in never)
    assert all("sla_hours" in services[name] for name in with_target - {"Highway Maintenance"})
    # Highway Maintenance: 6 targets among 1,959 cases, too few to call a target of the type
    highway = [r for r in rows if r["type"] == "Highway Maintenance"]
    assert sum(1 for r in highway if r["target_dt"]) < len(highway) / 2
    assert "sla_hours" not in services["Highway Maintenance"]


def test_boston_profile__every_type__owned_by_its_most_frequent_department(shared_data_dir: Path) -> None:
    departments: dict[str, Counter[str]] = defaultdict(Counter)
    for r in _boston(shared_data_dir):
        departments[" ".join(r["type"].split())][r["department"]] += 1
    document = profile_document(Profile.BOSTON)
    owners = {name: s["body"] for name, s in _by_name(document).items()}
    assert owners == {name: counts.most_common(1)[0][0] for name, counts in departments.items()}
    assert owners["Graffiti Removal"] == "PROP" and owners["Rodent Activity"] == "ISD"
    assert {b["code"]: b["name"] for b in document["bodies"]}["PWDx"] == "Public Works Department"


# -- Chicago --------------------------------------------------------------------------------------------------
def test_chicago_profile__every_record__its_type_code_and_owner_match_a_service(shared_data_dir: Path) -> None:
    document = profile_document(Profile.CHICAGO)
    services = {s["code"]: s for s in document["services"]}
    body_names = {b["code"]: b["name"] for b in document["bodies"]}
    rows = _rows(shared_data_dir / "chicago" / "requests" / "chicago311_2021-01-01_5k.csv.gz")
    for r in rows:
        service = services[r["sr_short_code"]]
        assert (service["name"], body_names[service["body"]]) == (r["sr_type"], r["owner_department"])
    assert len(services) == len({r["sr_type"] for r in rows})
    assert [s["name"] for s in services.values() if s.get("active") is False] == [
        "Tree Trim Request (NO LONGER BEING ACCEPTED)"
    ]


# -- the build script and the command line ----------------------------------------------------------------------
def test_build_profiles__real_data__reproduces_the_shipped_files_byte_for_byte(
    shared_data_dir: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, str(BUILDER), "--data", str(shared_data_dir), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for name in ("boston.json", "chicago.json", "README.md"):
        assert (tmp_path / name).read_bytes() == (PROFILES / name).read_bytes(), f"{name} is stale: rebuild it"


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'city.db'}"
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", url)
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    return url


def test_cli_catalog_import_profile__boston__loads_and_names_the_layers_to_load(cli_db: str) -> None:
    result = runner.invoke(app, ["catalog", "import", "--profile", "boston"])
    assert result.exit_code == 0, result.output
    assert "catalog loaded: 7 bodies, 141 services, routing rules: unchanged" in result.output
    assert "civicswitch areas load neighborhoods DATA/boston/boundaries/boston_neighborhoods.geojson" in result.output
    explained = runner.invoke(
        app, ["routing", "explain", "--service", "rodent-activity", "--lat", "42.3", "--long", "-71"]
    )
    assert "body: ISD (the service's default owner" in explained.stdout  # no coverage layer: as intake


def test_cli_catalog_import_profile__nyc_on_a_fresh_clone__loads_its_shipped_layers_and_routes(cli_db: str) -> None:
    result = runner.invoke(app, ["catalog", "import", "--profile", "nyc"])

    assert result.exit_code == 0, result.output
    assert "boundary layers loaded from the package: counties, boroughs, community_districts" in result.output
    assert "DATA/" not in result.output
    listed = runner.invoke(app, ["areas", "list"]).stdout.splitlines()
    assert listed[0] == "layer\tareas\tretired\tkey_property" and len(listed) == 4
    assert runner.invoke(app, ["settings", "set", "coverage_layer", "boroughs"]).exit_code == 0
    explained = runner.invoke(app, ["routing", "explain", "--service", "noise", "--lat", "40.73", "--long", "-73.6"])
    assert "body: NASSAU" in explained.stdout, explained.output  # Nassau County: the rule refers it
    again = runner.invoke(app, ["catalog", "import", "--profile", "nyc"])
    assert again.exit_code == 0 and "loaded from the package" not in again.output


def test_profile_nyc__layers__every_one_ships_in_the_package() -> None:
    for layer in profile_document(Profile.NYC)["layers"]:
        path = shipped_file(layer)
        assert path is not None and path.is_file(), layer
        assert str(path) in layer["command"]


def test_cli_catalog_import_profile__unknown_name__refused(cli_db: str) -> None:
    result = runner.invoke(app, ["catalog", "import", "--profile", "springfield"])
    assert result.exit_code == 2 and "springfield" in result.output
