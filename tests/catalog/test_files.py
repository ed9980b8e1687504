"""Catalog files in JSON or YAML: what is exported reads back and loads into another store unchanged; a bad file is
refused with its name and line, and nothing is loaded."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from civicswitch.catalog.files import (
    CatalogFormat,
    dump_catalog_document,
    parse_catalog_text,
    read_catalog_document,
)
from civicswitch.catalog.handlers import load_layer
from civicswitch.catalog.loader import export_catalog, load_catalog
from civicswitch.cli import app
from civicswitch.core.errors import Invalid
from civicswitch.storage.memory import MemoryUnitOfWork
from civicswitch.storage.ports import UnitOfWork

runner = CliRunner()

ZONES: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"z": z},
            "geometry": {"type": "Polygon", "coordinates": [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]]},
        }
        for z, x in (("west", 0), ("east", 1))
    ],
}
SUFFIX = {CatalogFormat.JSON: ".json", CatalogFormat.YAML: ".yaml"}


def _with_rules(catalog: dict[str, Any]) -> dict[str, Any]:
    """The test catalog plus a routing rule and names that YAML would read as other types if left unquoted."""
    catalog["bodies"].append({"code": "311", "name": "yes", "kind": "partner"})
    catalog["services"][1]["keywords"] = ["null", "1.5", "on", "- dash", "#hash", "key: value", "straße – 東京"]
    catalog["routing_rules"] = [{"service": "graffiti", "layer": "zones", "area": "east", "body": "311"}]
    return catalog


@pytest.mark.parametrize("fmt", list(CatalogFormat))
def test_export_then_import__json_or_yaml_file__loads_the_same_catalog_into_a_fresh_store(
    fmt: CatalogFormat,
    store_uow_factory: Callable[[], UnitOfWork],
    catalog_data: dict[str, Any],
    tmp_path: Path,
) -> None:
    source = store_uow_factory()
    load_layer(source, "zones", ZONES, key_property="z")
    load_catalog(source, _with_rules(catalog_data))
    exported = export_catalog(store_uow_factory())
    path = tmp_path / f"catalog{SUFFIX[fmt]}"
    path.write_text(dump_catalog_document(exported, fmt), encoding="utf-8")

    document = read_catalog_document(path)
    target = MemoryUnitOfWork()
    load_layer(target, "zones", ZONES, key_property="z")
    load_catalog(target, document)

    assert document == exported
    assert export_catalog(target) == exported
    assert len(exported["routing_rules"]) == 1 and "311" in {b["code"] for b in exported["bodies"]}


def test_dump_catalog_document__yaml__is_block_style_and_keeps_non_ascii_text(catalog_data: dict[str, Any]) -> None:
    catalog_data["services"][0]["name"] = "Schlagloch – Straße"
    text = dump_catalog_document(catalog_data, "yaml")
    assert text.startswith("jurisdiction:\n") and "\nbodies:\n- code: DOT\n" in text
    assert "Schlagloch – Straße" in text and text.endswith("\n")
    assert parse_catalog_text(text, CatalogFormat.YAML, source="x.yaml") == catalog_data


def test_read_catalog_document__yml_suffix__read_as_yaml(tmp_path: Path) -> None:
    path = tmp_path / "catalog.YML"
    path.write_text("bodies: []\nservices:\n  - {code: pothole, name: Pothole}\n", encoding="utf-8")
    assert read_catalog_document(path) == {"bodies": [], "services": [{"code": "pothole", "name": "Pothole"}]}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "bad.yaml",
            "bodies:\n  - code: DOT\n    name: [unclosed\nservices: []\n",
            r"bad\.yaml is not valid YAML \(line 4",
        ),
        ("tabs.yml", "bodies:\n\t- code: DOT\n", r"tabs\.yml is not valid YAML \(line 2, column 1\)"),
        ("bad.json", '{"bodies": [,]}', r"bad\.json is not valid JSON \(line 1, column 13\)"),
        ("list.yaml", "- code: DOT\n", r"list\.yaml: expected a mapping .* found a list"),
        ("empty.yaml", "# nothing here\n", r"empty\.yaml: expected a mapping .* found nothing"),
        ("text.json", '"catalog"', r"text\.json: expected a mapping .* found a str"),
        ("catalog.txt", "bodies: []", r"catalog\.txt: a catalog file is \.json, \.yaml or \.yml"),
    ],
)
def test_read_catalog_document__bad_file__invalid_names_the_file(
    name: str, text: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Invalid, match=message):
        read_catalog_document(path)


def test_read_catalog_document__not_utf8__invalid_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("bodies: []\nservices: [{code: x, name: Straße}]\n".encode("latin-1"))
    with pytest.raises(Invalid, match=r"latin1\.yaml is not UTF-8 text"):
        read_catalog_document(path)


# -- the command line ----------------------------------------------------------------------------------------
@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'city.db'}"
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", url)
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    return url


def test_cli_catalog_export_yaml_then_import__another_database__same_export(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog_data: dict[str, Any]
) -> None:
    source = tmp_path / "source.json"
    source.write_text(json.dumps(catalog_data), encoding="utf-8")
    assert runner.invoke(app, ["catalog", "import", str(source)]).exit_code == 0
    yaml_export = runner.invoke(app, ["catalog", "export", "--format", "yaml"])
    assert yaml_export.exit_code == 0, yaml_export.output
    json_export = runner.invoke(app, ["catalog", "export"]).stdout
    exported = tmp_path / "catalog.yaml"
    exported.write_text(yaml_export.stdout, encoding="utf-8")

    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    imported = runner.invoke(app, ["catalog", "import", str(exported)])
    assert imported.exit_code == 0, imported.output
    assert "2 bodies, 4 services, routing rules: 0" in imported.output
    assert runner.invoke(app, ["catalog", "export", "--format", "json"]).stdout == json_export


def test_cli_catalog_import__bad_yaml__clear_error_and_nothing_loaded(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text("bodies:\n  - code: DOT\n    name: Transport\nservices:\n  - code: pothole\n   name: x\n")
    result = runner.invoke(app, ["catalog", "import", str(bad)])
    assert result.exit_code == 2
    assert "catalog.yaml is not valid YAML (line 6" in result.output
    assert json.loads(runner.invoke(app, ["catalog", "export"]).stdout) == {
        "settings": {},
        "calendars": [],
        "bodies": [],
        "services": [],
        "routing_rules": [],
        "connectors": [],
    }


def test_cli_catalog_import__file_and_profile_or_neither__refused(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text('{"bodies": [], "services": []}')
    both = runner.invoke(app, ["catalog", "import", str(path), "--profile", "boston"])
    assert both.exit_code == 2 and "not both" in both.output
    neither = runner.invoke(app, ["catalog", "import"])
    assert neither.exit_code == 2 and "--profile boston|chicago|nyc" in neither.output
