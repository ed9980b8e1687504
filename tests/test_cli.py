"""The civicswitch command: migrate, apikey, demo --load-only (serve is exercised by the benchmark)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from civicswitch.catalog.loader import load_catalog
from civicswitch.cli import app
from civicswitch.core.db import make_engine
from civicswitch.core.errors import Forbidden
from civicswitch.people.auth import authenticate
from civicswitch.people.clients import Scope
from civicswitch.storage.sql import SqlUnitOfWork

runner = CliRunner()
TEST_CATALOG_BODIES = {"bodies": [{"code": "DOT", "name": "Department of Transportation"}], "services": []}


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'nested' / 'city.db'}"
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    for name in (
        "CIVICSWITCH_JURISDICTION_NAME",
        "CIVICSWITCH_JURISDICTION_ID",
        "CIVICSWITCH_TIMEZONE",
        "CIVICSWITCH_COVERAGE_LAYER",
    ):
        monkeypatch.setenv(name, "")  # so that the variables `demo` sets are removed again afterwards
        monkeypatch.delenv(name)
    return url


def test_migrate__fresh_sqlite_file__creates_schema(db_url: str) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    tables = set(inspect(make_engine(db_url)).get_table_names())
    assert {"service_requests", "request_events", "request_contacts", "services", "api_clients"} <= tables


def test_apikey_create__prints_key_alone_on_last_line__and_it_authenticates(db_url: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    load_catalog(SqlUnitOfWork(make_engine(db_url)), TEST_CATALOG_BODIES)
    result = runner.invoke(
        app, ["apikey", "create", "Pothole app", "--scope", "submit", "--scope", "update", "--body", "DOT"]
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("cs_") and " " not in key
    with SqlUnitOfWork(make_engine(db_url), writing=False) as uow:
        client = authenticate(uow, key, Scope.UPDATE)
        assert client.name == "Pothole app"
        assert key not in {c.key_hash for c in uow.clients.all()}  # stored hashed


def test_apikey_create__update_key_without_body__refused_with_the_fix(db_url: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    result = runner.invoke(app, ["apikey", "create", "Loose back end", "--scope", "update"])
    assert result.exit_code == 2
    assert "--body" in result.output


def test_apikey_revoke__key_stops_working(db_url: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    key = runner.invoke(app, ["apikey", "create", "Old app"]).stdout.strip().splitlines()[-1]
    listed = runner.invoke(app, ["apikey", "list"])
    assert "Old app" in listed.stdout and key not in listed.stdout
    assert runner.invoke(app, ["apikey", "revoke", "1"]).exit_code == 0
    with SqlUnitOfWork(make_engine(db_url), writing=False) as uow, pytest.raises(Forbidden, match="revoked"):
        authenticate(uow, key, Scope.SUBMIT)
    assert runner.invoke(app, ["apikey", "revoke", "1"]).exit_code == 2


def test_apikey_create__blank_name__clear_error(db_url: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    result = runner.invoke(app, ["apikey", "create", "  "])
    assert result.exit_code == 2
    assert "needs a name" in result.output


def test_demo_load_only__twice__loads_city_once(db_url: str) -> None:
    first = runner.invoke(app, ["demo", "--load-only"])
    assert first.exit_code == 0, first.output
    assert "New York City" in first.stdout and "demo app key" in first.stdout
    second = runner.invoke(app, ["demo", "--load-only"])
    assert second.exit_code == 0, second.output
    assert "not loaded again" in second.stdout and "demo app key" not in second.stdout
    assert "admin@demo.civicswitch.example" in first.stdout and "admin@demo" not in second.stdout
    with SqlUnitOfWork(make_engine(db_url), writing=False) as uow:
        assert uow.requests.count() > 15_000


def test_areas_load_and_locate__csv_rows_get_one_column_per_layer(db_url: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    geojson = tmp_path / "zones.geojson"
    geojson.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"z":"north","label":"North"},'
        '"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}}]}'
    )
    loaded = runner.invoke(app, ["areas", "load", "zones", str(geojson), "--key", "z", "--name", "label"])
    assert loaded.exit_code == 0, loaded.output
    assert "1 areas loaded" in loaded.output
    located = runner.invoke(app, ["areas", "locate"], input="id,lat,long\n7,0.5,0.5\n8,5,5\n9,,\n")
    assert located.exit_code == 0, located.output
    assert located.stdout.splitlines() == ["id,lat,long,zones", "7,0.5,0.5,north", "8,5,5,", "9,,,"]


def test_areas_load__bad_file__clear_error_and_nothing_loaded(db_url: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":null}]}')
    result = runner.invoke(app, ["areas", "load", "zones", str(bad), "--key", "z"])
    assert result.exit_code == 2
    assert "feature 0: property 'z' (the key) is missing or empty" in result.output
    assert "zones" not in runner.invoke(app, ["areas", "list"]).stdout
    missing = runner.invoke(app, ["areas", "locate"], input="id,latitude\n1,2\n")
    assert missing.exit_code == 2 and "lat and long columns" in missing.output


def test_catalog_import_export_and_routing_explain(db_url: str, tmp_path: Path) -> None:
    import json

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    zones = tmp_path / "zones.geojson"
    zones.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"z": z},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]],
                        },
                    }
                    for z, x in (("west", 0), ("east", 1))
                ],
            }
        )
    )
    assert runner.invoke(app, ["areas", "load", "zones", str(zones), "--key", "z"]).exit_code == 0
    document = {
        "bodies": [{"code": "WEST", "name": "West works"}, {"code": "EAST", "name": "East works"}],
        "services": [{"code": "pothole", "name": "Pothole", "body": "WEST"}],
        "routing_rules": [{"service": "pothole", "layer": "zones", "area": "east", "body": "EAST"}],
    }
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps(document))
    imported = runner.invoke(app, ["catalog", "import", str(catalog_file)])
    assert imported.exit_code == 0, imported.output
    assert "2 bodies, 1 services, routing rules: 1" in imported.output
    exported = json.loads(runner.invoke(app, ["catalog", "export"]).stdout)
    assert exported["routing_rules"] == [
        {"service": "pothole", "layer": "zones", "area": "east", "body": "EAST", "priority": 0}
    ]
    assert runner.invoke(app, ["settings", "set", "coverage_layer", "zones"]).exit_code == 0
    east = runner.invoke(app, ["routing", "explain", "--service", "pothole", "--lat", "0.5", "--long", "1.5"])
    assert "body: EAST" in east.stdout and "zones=east" in east.stdout
    west = runner.invoke(app, ["routing", "explain", "--service", "pothole", "--lat", "0.5", "--long", "0.5"])
    assert "body: WEST (no rule matches" in west.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**document, "routing_rules": [{"layer": "nowhere", "body": "EAST"}]}))
    refused = runner.invoke(app, ["catalog", "import", str(bad)])
    assert refused.exit_code == 2 and "unknown layer 'nowhere'" in refused.output


def test_requests_duplicates_merge_change__operator_at_the_cli(db_url: str, tmp_path: Path) -> None:
    import json

    from civicswitch.core.clock import SystemClock
    from civicswitch.requests.commands import SubmitRequest
    from civicswitch.requests.handlers import submit_request

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    catalog = {
        "bodies": [{"code": "DOT", "name": "Transportation"}, {"code": "DSNY", "name": "Sanitation"}],
        "services": [{"code": "graffiti", "name": "Graffiti", "body": "DOT"},
                     {"code": "litter", "name": "Litter", "body": "DSNY"}],
    }  # fmt: skip
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    assert runner.invoke(app, ["catalog", "import", str(tmp_path / "catalog.json")]).exit_code == 0
    key = runner.invoke(app, ["apikey", "create", "App"]).stdout.strip().splitlines()[-1]
    engine = make_engine(db_url)
    for lat in ("40.7359", "40.7361", "40.7363"):
        cmd = SubmitRequest(service_code="graffiti", api_key=key, lat=lat, long="-73.9911", description="tags")
        submit_request(SqlUnitOfWork(engine), SystemClock(), cmd)

    listed = runner.invoke(app, ["requests", "duplicates", "3"])
    merged = runner.invoke(app, ["requests", "merge", "3", "--into", "1"])
    changed = runner.invoke(app, ["requests", "change", "2", "--service", "litter", "--note", "It is litter"])
    refused = runner.invoke(app, ["requests", "merge", "2", "--into", "1"])

    assert listed.exit_code == 0 and [line.split("\t")[0] for line in listed.stdout.splitlines()][1:] == ["2", "1"]
    assert merged.exit_code == 0 and "request 3 merged into 1" in merged.output
    assert changed.exit_code == 0 and "transferred to DSNY" in changed.output
    assert refused.exit_code != 0 and "change the service first" in refused.output
    with SqlUnitOfWork(engine, writing=False) as uow:
        child, moved = uow.requests.get(3), uow.requests.get(2)
        assert child is not None and child.parent_id == 1 and moved is not None and moved.body_code == "DSNY"
        (transfer,) = [e for e in uow.requests.events([2])[2] if e.kind == "transferred"]
        assert transfer.client_id is None and transfer.description.endswith("It is litter")


def test_connectors_add_list_health__secret_shown_once_and_never_listed(db_url: str, tmp_path: Path) -> None:
    import json

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    catalog = {
        "bodies": [{"code": "DSNY", "name": "Sanitation"}],
        "services": [{"code": "litter", "name": "Litter", "body": "DSNY"}],
    }
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    assert runner.invoke(app, ["catalog", "import", str(tmp_path / "catalog.json")]).exit_code == 0
    added = runner.invoke(
        app,
        [
            "connectors",
            "add",
            "webhook",
            "--body",
            "DSNY",
            "--code",
            "dsny-hook",
            "--set",
            "url=http://127.0.0.1:9/h",
            "--set",
            "timeout_s=2",
            "--allow-private",
        ],
    )
    assert added.exit_code == 0, added.output
    secret = next(line for line in added.stdout.splitlines() if line.startswith("whsec_"))
    listed = runner.invoke(app, ["connectors", "list"])
    health = runner.invoke(app, ["connectors", "health", "--json"])
    exported = runner.invoke(app, ["catalog", "export"])
    assert "dsny-hook\twebhook\tDSNY\tenabled" in listed.stdout and secret not in listed.stdout
    assert json.loads(health.stdout)[0]["status"] == "idle"
    assert secret not in exported.stdout and json.loads(exported.stdout)["connectors"][0]["config"]["timeout_s"] == 2.0
    bad = runner.invoke(app, ["connectors", "add", "webhook", "--body", "DSNY", "--code", "x", "--set", "url=ftp://x"])
    unknown = runner.invoke(app, ["connectors", "add", "carrier-pigeon", "--body", "DSNY", "--code", "y"])
    assert bad.exit_code != 0 and "url must be an http(s) URL" in bad.output
    assert unknown.exit_code != 0 and "not one of" in unknown.output
    assert runner.invoke(app, ["deliveries", "list"]).stdout.splitlines() == [
        "id\tconnector\trequest\ttype\tstate\tattempts\tlast_error"
    ]


# -- issue 8: the hub's commands answer a user's mistakes plainly ----------------------------------------------
def _small_catalog(tmp_path: Path) -> None:
    import json

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    catalog = {
        "bodies": [{"code": "DSNY", "name": "Sanitation"}],
        "services": [{"code": "litter", "name": "Litter", "body": "DSNY"}],
    }
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    assert runner.invoke(app, ["catalog", "import", str(tmp_path / "catalog.json")]).exit_code == 0


def test_connectors_add__loopback_url_without_allow_private__refused_naming_the_flag(
    db_url: str, tmp_path: Path
) -> None:
    _small_catalog(tmp_path)
    args = ["connectors", "add", "webhook", "--body", "DSNY", "--code", "hook", "--set", "url=http://169.254.169.254/x"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "allow-private" in refused.output and "Traceback" not in refused.output
    allowed = runner.invoke(app, [*args, "--allow-private"])
    assert allowed.exit_code == 0, allowed.output
    listed = runner.invoke(app, ["connectors", "list"]).stdout.splitlines()
    assert listed[0] == "code\tkind\tbody\tstate\tconfig" and '"allow_private": true' in listed[1]


def test_deliveries_replay__unknown_ids__says_so_and_exits_non_zero(db_url: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    result = runner.invoke(app, ["deliveries", "replay", "99999", "12"])
    assert (
        result.exit_code == 2 and "no delivery 12, 99999" in result.output and "nothing was replayed" in result.output
    )


def test_areas_locate__missing_file__one_line_no_traceback(db_url: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    result = runner.invoke(app, ["areas", "locate", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "cannot read" in result.output
    assert "Traceback" not in result.output


def test_areas_locate__cells_a_spreadsheet_would_run__neutralised(db_url: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    (tmp_path / "in.csv").write_text('lat,long,=label\n40.7,-73.9,"=HYPERLINK(""http://x"")"\n')
    result = runner.invoke(app, ["areas", "locate", str(tmp_path / "in.csv")])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[:2]
    assert header == "lat,long,'=label" and row == '40.7,-73.9,"\'=HYPERLINK(""http://x"")"'


def test_catalog_import__missing_section__named(db_url: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    (tmp_path / "c.yaml").write_text("bodies:\n  - {code: X, name: X}\n")
    result = runner.invoke(app, ["catalog", "import", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2 and "no 'services' section" in result.output


def test_worker_once__prints_what_it_did(db_url: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    result = runner.invoke(app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "0 message(s) attempted: 0 delivered, 0 to retry, 0 dead; 0 poll(s)" in result.stdout


def test_manual_list__done__header_with_who_minutes_and_reference(db_url: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert runner.invoke(app, ["manual", "list", "--done"]).stdout.splitlines() == [
        "task\tbody\trequest\tdone_at\tby\tminutes\treference"
    ]
    assert runner.invoke(app, ["manual", "list"]).stdout.startswith(
        "task\tbody\trequest\tservice\taddress\tzipcode\tlat\tlong"
    )
