"""One instance for every command: the database is checked before a command runs (one line, no file created), the
stored settings are read by every command, and `routing explain`, intake and `requests change` decide alike."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from civicswitch.cli import app
from civicswitch.core.db import make_engine
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app

runner = CliRunner()


def _square(key: str, west: float, south: float, size: float = 1.0) -> dict[str, Any]:
    ring = [[west, south], [west + size, south], [west + size, south + size], [west, south + size], [west, south]]
    return {"type": "Feature", "properties": {"k": key}, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file, relative paths in tmp
    for key in Settings.model_fields:
        monkeypatch.delenv(f"CIVICSWITCH_{key.upper()}", raising=False)


@pytest.fixture
def instance(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A migrated database (SQLite or PostgreSQL) that every command uses."""
    _clean_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", database_url)
    return database_url


@pytest.fixture
def city(instance: str, tmp_path: Path) -> str:
    """A city of two areas (west: long 0-1, east: long 1-2; lat 0-1) with a county north of it (lat 1-2) that takes
    what lies there; potholes belong to WEST except in the east; the coverage layer is stored, not in the
    environment."""
    city_file, county_file = tmp_path / "city.geojson", tmp_path / "county.geojson"
    city_file.write_text(
        json.dumps({"type": "FeatureCollection", "features": [_square("west", 0, 0), _square("east", 1, 0)]})
    )
    county_file.write_text(json.dumps({"type": "FeatureCollection", "features": [_square("north", 0, 1, 2)]}))
    catalog = {
        "bodies": [
            {"code": "WEST", "name": "West works"},
            {"code": "EAST", "name": "East works"},
            {"code": "COUNTY", "name": "County roads", "kind": "external"},
        ],
        "services": [{"code": "pothole", "name": "Pothole", "body": "WEST"}],
        "routing_rules": [
            {"service": "pothole", "layer": "city", "area": "east", "body": "EAST"},
            {"service": "*", "layer": "county", "area": "north", "body": "COUNTY"},
        ],
    }
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    for argv in (
        ["areas", "load", "city", str(city_file), "--key", "k"],
        ["areas", "load", "county", str(county_file), "--key", "k"],
        ["catalog", "import", str(tmp_path / "catalog.json")],
        ["settings", "set", "coverage_layer", "city"],
        ["settings", "set", "jurisdiction_name", "Squareville"],
    ):
        done = runner.invoke(app, argv)
        assert done.exit_code == 0, (argv, done.output)
    return instance


@pytest.fixture
def served(city: str) -> Iterator[TestClient]:
    """The web app as `civicswitch serve` builds it: settings read from the database at start-up."""
    web = create_app()
    with TestClient(web, raise_server_exceptions=False) as client:
        yield client
    web.state.engine.dispose()


# -- the database is checked first ------------------------------------------------------------------------------
def test_command__no_database_file__one_line_naming_migrate_and_no_file_created(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_environment(monkeypatch, tmp_path)  # the default database: var/civicswitch.db under tmp_path
    for argv in (["apikey", "list"], ["settings", "show"], ["routing", "list"], ["worker", "--once"]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 2, (argv, result.output)
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
        assert "no database at sqlite:///var/civicswitch.db" in result.output and "civicswitch migrate" in result.output
    assert not (tmp_path / "var").exists()


def test_command__database_not_migrated__one_line_naming_migrate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_environment(monkeypatch, tmp_path)
    sqlite3.connect(tmp_path / "empty.db").close()
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = runner.invoke(app, ["apikey", "list"])
    assert result.exit_code == 2 and "has no schema yet: run `civicswitch migrate`" in result.output
    assert "Traceback" not in result.output


def test_command__database_error_during_a_command__one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_environment(monkeypatch, tmp_path)
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    with sqlite3.connect(tmp_path / "var" / "civicswitch.db") as damaged:
        damaged.execute("DROP TABLE api_clients")
    result = runner.invoke(app, ["apikey", "list"])
    assert result.exit_code == 2 and result.exception is not None and "Traceback" not in result.output
    assert "no such table: api_clients (is the database migrated? run `civicswitch migrate`)" in result.output


@pytest.mark.postgres
def test_command__postgres_database_missing__one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgres_database: str
) -> None:
    _clean_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", postgres_database.rsplit("/", 1)[0] + "/civicswitch_no_such_db")
    result = runner.invoke(app, ["apikey", "list"])
    assert result.exit_code == 2 and "cannot open the database" in result.output
    assert 'database "civicswitch_no_such_db" does not exist' in result.output


def test_help__no_database__still_shown(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clean_environment(monkeypatch, tmp_path)
    assert runner.invoke(app, ["apikey", "list", "--help"]).exit_code == 0
    assert "Usage" in runner.invoke(app, ["settings"]).output
    assert not (tmp_path / "var").exists()


def test_migrate_then_any_command__same_default_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clean_environment(monkeypatch, tmp_path)
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert runner.invoke(app, ["apikey", "create", "App"]).exit_code == 0
    assert "App" in runner.invoke(app, ["apikey", "list"]).stdout
    assert sorted(p.name for p in (tmp_path / "var").glob("*.db")) == ["civicswitch.db"]


# -- settings ----------------------------------------------------------------------------------------------------
def test_settings_set__stored_and_shown_with_its_source(instance: str) -> None:
    result = runner.invoke(app, ["settings", "set", "timezone", "America/Chicago"])
    assert result.exit_code == 0, result.output
    assert "restart" in result.output
    shown = runner.invoke(app, ["settings", "show"]).stdout.splitlines()
    assert shown[0] == "setting\tvalue\tsource"
    assert "timezone\tAmerica/Chicago\tstored" in shown and "jurisdiction_name\tCivic Switchboard\tdefault" in shown
    assert runner.invoke(app, ["settings", "show", "timezone"]).stdout == "America/Chicago\n"
    with SqlUnitOfWork(make_engine(instance), writing=False) as uow:
        assert uow.settings.all() == {"timezone": "America/Chicago"}


def test_settings_set__invalid_timezone__refused_and_nothing_stored(instance: str) -> None:
    result = runner.invoke(app, ["settings", "set", "timezone", "Mars/Base"])
    assert result.exit_code == 2
    assert "unknown timezone 'Mars/Base'; use an IANA name" in result.output
    with SqlUnitOfWork(make_engine(instance), writing=False) as uow:
        assert uow.settings.all() == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set", "database_url", "sqlite:///other.db"], "read from CIVICSWITCH_DATABASE_URL only"),
        (["set", "colour", "red"], "unknown setting 'colour'"),
        (["set", "max_page_size", "-3"], "greater than or equal to 1"),
        (["set", "coverage_layer", "wards"], "layer 'wards' is not loaded"),
        (["unset", "colour"], "unknown setting 'colour'"),
    ],
)
def test_settings__bad_key_or_value__refused_in_one_line(instance: str, argv: list[str], message: str) -> None:
    result = runner.invoke(app, ["settings", *argv])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_settings__environment_variable__overrides_the_stored_value(
    instance: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["settings", "set", "timezone", "America/Chicago"]).exit_code == 0
    monkeypatch.setenv("CIVICSWITCH_TIMEZONE", "Europe/Paris")
    shown = runner.invoke(app, ["settings", "show"]).stdout.splitlines()
    assert "timezone\tEurope/Paris\tenvironment (CIVICSWITCH_TIMEZONE)" in shown
    again = runner.invoke(app, ["settings", "set", "timezone", "America/Denver"])
    assert again.exit_code == 0 and "CIVICSWITCH_TIMEZONE is set in this environment and overrides" in again.output


def test_settings_unset__default_applies_again(instance: str) -> None:
    assert runner.invoke(app, ["settings", "set", "jurisdiction_name", "Springfield"]).exit_code == 0
    result = runner.invoke(app, ["settings", "unset", "jurisdiction_name"])
    assert result.exit_code == 0 and "now 'Civic Switchboard'" in result.output
    assert runner.invoke(app, ["settings", "show", "jurisdiction_name"]).stdout == "Civic Switchboard\n"
    assert "was not stored" in runner.invoke(app, ["settings", "unset", "jurisdiction_name"]).output


def test_catalog_export__carries_stored_settings__import_elsewhere_restores_them(
    city: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = runner.invoke(app, ["catalog", "export"])
    assert json.loads(exported.stdout)["settings"] == {"coverage_layer": "city", "jurisdiction_name": "Squareville"}
    (tmp_path / "export.json").write_text(exported.stdout)
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    refused = runner.invoke(app, ["catalog", "import", str(tmp_path / "export.json")])
    assert refused.exit_code == 2 and "unknown layer 'city'" in refused.output  # layers first
    for layer in ("city", "county"):
        assert (
            runner.invoke(app, ["areas", "load", layer, str(tmp_path / f"{layer}.geojson"), "--key", "k"]).exit_code
            == 0
        )
    assert runner.invoke(app, ["catalog", "import", str(tmp_path / "export.json")]).exit_code == 0
    assert runner.invoke(app, ["settings", "show", "jurisdiction_name"]).stdout == "Squareville\n"


# -- the web app reads the stored settings at start-up ----------------------------------------------------------------
def test_web_app__built_like_serve__uses_stored_name_and_coverage_layer(served: TestClient) -> None:
    assert "Squareville" in served.get("/").text
    assert served.app.state.ctx.settings.coverage_layer == "city"  # type: ignore[attr-defined]


# -- routing explain and intake decide alike -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lat", "long", "body", "status"),
    [
        ("0.5", "0.5", "WEST", "open"),  # in the city, no rule: the service's owner
        ("0.5", "1.5", "EAST", "open"),  # in the city, the east rule
        ("1.5", "0.5", "COUNTY", "closed"),  # outside, in the county: referred
        ("5", "5", None, None),  # nobody's: refused
    ],
)
def test_routing_explain__same_answer_as_intake(
    served: TestClient, lat: str, long: str, body: str | None, status: str | None
) -> None:
    key = runner.invoke(app, ["apikey", "create", "App"]).stdout.strip().splitlines()[-1]
    explained = runner.invoke(app, ["routing", "explain", "--service", "pothole", "--lat", lat, "--long", long])
    filed = served.post(
        "/open311/v2/requests.json", data={"api_key": key, "service_code": "pothole", "lat": lat, "long": long}
    )
    if body is None:
        assert filed.status_code == 400 and "outside the area this service covers" in filed.text
        assert explained.exit_code == 1 and "refused (intake answers 400): the location" in explained.stdout
        return
    assert filed.status_code == 200, filed.text
    assert explained.exit_code == 0 and f"body: {body} " in explained.stdout
    request_id = filed.json()[0]["service_request_id"]
    shown = served.get(f"/open311/v2/requests/{request_id}.json").json()[0]
    assert shown["status"] == status
    with SqlUnitOfWork(served.app.state.engine, writing=False) as uow:  # type: ignore[attr-defined]
        stored = uow.requests.get(int(request_id))
        assert stored is not None and stored.body_code == body


def test_routing_explain__no_coverage_layer__default_owner_as_intake(city: str) -> None:
    assert runner.invoke(app, ["settings", "unset", "coverage_layer"]).exit_code == 0
    explained = runner.invoke(app, ["routing", "explain", "--service", "pothole", "--lat", "0.5", "--long", "1.5"])
    assert (
        explained.exit_code == 0
        and "body: WEST (the service's default owner: requests are not routed" in explained.stdout
    )


# -- requests change routes like the API ----------------------------------------------------------------------------
def test_requests_change__new_location__routed_with_the_stored_coverage_layer(served: TestClient, city: str) -> None:
    key = runner.invoke(app, ["apikey", "create", "App"]).stdout.strip().splitlines()[-1]
    filed = served.post(
        "/open311/v2/requests.json", data={"api_key": key, "service_code": "pothole", "lat": "0.5", "long": "0.5"}
    )
    request_id = filed.json()[0]["service_request_id"]
    engine = make_engine(city)

    moved = runner.invoke(app, ["requests", "change", request_id, "--lat", "0.5", "--long", "1.5"])
    assert moved.exit_code == 0 and "transferred to EAST" in moved.output
    with SqlUnitOfWork(engine, writing=False) as uow:
        request = uow.requests.get(int(request_id))
        assert request is not None and (request.body_code, request.areas) == ("EAST", {"city": "east"})

    nowhere = runner.invoke(app, ["requests", "change", request_id, "--lat", "5", "--long", "5"])
    assert nowhere.exit_code == 2 and "outside the area this service covers" in nowhere.output
    with SqlUnitOfWork(engine, writing=False) as uow:
        request = uow.requests.get(int(request_id))
        assert request is not None and (request.lat, request.areas) == (0.5, {"city": "east"})

    county = runner.invoke(app, ["requests", "change", request_id, "--lat", "1.5", "--long", "0.5"])
    assert county.exit_code == 0 and "referred" in county.output
    engine.dispose()
