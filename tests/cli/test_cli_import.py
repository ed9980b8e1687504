"""`civicswitch import`: a profile or a mapping file, a summary of what happened, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicswitch.cli import app
from civicswitch.settings import Settings

runner = CliRunner()
CATALOG = {
    "bodies": [{"code": "DOT", "name": "Transportation"}],
    "services": [{"code": "pothole", "name": "Pothole", "body": "DOT"}],
}
EXPORT = [
    {"service_request_id": "1", "service_code": "pothole", "status": "open", "lat": 40.7, "long": -74.0,
     "requested_datetime": "2025-01-02T03:04:05Z", "description": "Deep"},
    {"service_request_id": "2", "service_code": "pothole", "status": "closed", "address": "1 Main St",
     "requested_datetime": "2025-01-02T03:04:05Z", "updated_datetime": "2025-01-03T03:04:05Z"},
    {"service_request_id": "3", "service_code": "graffiti", "address": "2 Main St",
     "requested_datetime": "2025-01-02T03:04:05Z"},
    {"service_request_id": "4", "service_code": "pothole", "address": "3 Main St", "requested_datetime": "soon"},
]  # fmt: skip


@pytest.fixture
def city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in Settings.model_fields:
        monkeypatch.delenv(f"CIVICSWITCH_{key.upper()}", raising=False)
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", f"sqlite:///{tmp_path / 'city.db'}")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    (tmp_path / "catalog.json").write_text(json.dumps(CATALOG))
    assert runner.invoke(app, ["catalog", "import", str(tmp_path / "catalog.json")]).exit_code == 0
    (tmp_path / "requests.json").write_text(json.dumps(EXPORT))
    return tmp_path


def rows_of(output: str) -> dict[str, str]:
    """The summary table: label → its first figure."""
    found = {}
    for line in output.splitlines():
        label, _, rest = line.strip().partition("  ")
        if rest.strip():
            found[label] = rest.split()[0]
    return found


def test_import__open311_profile__summary_counts_and_quarantine_file(city: Path) -> None:
    done = runner.invoke(app, ["import", "--profile", "open311", "requests.json"])
    assert done.exit_code == 0, done.output
    summary = rows_of(done.stdout)
    assert (summary["read"], summary["inserted"], summary["quarantined"]) == ("4", "2", "2")
    quarantine = (city / "requests.json.quarantine.csv").read_text(encoding="utf-8")
    assert "unknown service 'graffiti'" in quarantine
    assert "requested_at: 'soon' is not a date" in quarantine
    again = runner.invoke(app, ["import", "--profile", "open311", "requests.json"])
    assert rows_of(again.stdout)["already present (skipped)"] == "2"


def test_import__dry_run_with_create__says_what_would_happen_and_writes_nothing(city: Path) -> None:
    done = runner.invoke(app, ["import", "--profile", "open311", "--dry-run", "--unknown-services", "create",
                               "requests.json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert rows_of(done.stdout)["would be inserted"] == "3"
    assert "dry run: nothing was written" in done.stdout
    assert "services would be created: graffiti" in done.stdout
    real = runner.invoke(app, ["import", "--profile", "open311", "requests.json"])
    assert rows_of(real.stdout)["inserted"] == "2"  # the dry run wrote nothing


def test_import__own_mapping_file__read_through_it(city: Path) -> None:
    (city / "export.csv").write_text("Ref;Kind;When;Where\nA7;Pothole;07.01.2025 14:30;9 Elm St\n", encoding="utf-8")
    (city / "mapping.yaml").write_text(
        "source: town\ndelimiter: ';'\ntimezone: Europe/Paris\ndate_formats: ['%d.%m.%Y %H:%M']\n"
        "columns: {id: Ref, service: Kind, requested_at: When, address: Where}\n",
        encoding="utf-8",
    )
    done = runner.invoke(app, ["import", "--mapping", "mapping.yaml", "export.csv"])
    assert done.exit_code == 0, done.output
    assert rows_of(done.stdout)["inserted"] == "1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["requests.json"], "give --profile"),
        (["--profile", "open311", "--mapping", "m.yaml", "requests.json"], "one of them"),
        (["--mapping", "missing.yaml", "requests.json"], "cannot read the mapping file"),
        (["--profile", "open311", "--unknown-services", "maybe", "requests.json"], "create or refuse"),
        (["--profile", "open311", "nowhere.json"], "no such file"),
        (["--profile", "nyc", "requests.json"], "requests.json: the file has no column 'Unique Key'"),
    ],
)
def test_import__wrong_use__one_line_error_and_exit_2(city: Path, args: list[str], message: str) -> None:
    done = runner.invoke(app, ["import", *args])
    assert done.exit_code == 2, done.output
    assert message in done.stderr


def test_import__mapping_with_an_unknown_field__names_it(city: Path) -> None:
    (city / "m.yaml").write_text("source: x\ncolumns: {id: a, service: b, requested_at: c}\nstatus_map: {}\n")
    done = runner.invoke(app, ["import", "--mapping", "m.yaml", "requests.json"])
    assert done.exit_code == 2
    assert "status_map: Extra inputs are not permitted" in done.stderr
