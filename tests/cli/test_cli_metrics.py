"""`civicswitch metrics`: one row per group in csv, json or a table; dates in the instance's time zone; clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicswitch.cli import app
from civicswitch.settings import Settings

runner = CliRunner()
CATALOG = {
    "settings": {"timezone": "America/New_York"},
    "bodies": [{"code": "DOT", "name": "Transportation"}],
    "services": [{"code": "pothole", "name": "Pothole", "body": "DOT"},
                 {"code": "signal", "name": "Signal", "body": "DOT"}],
}  # fmt: skip
EXPORT = [  # closed after 2, 4 and 6 hours (potholes) and 1 hour (signal); one still open; one filed in December
    {"service_request_id": "1", "service_code": "pothole", "status": "closed", "address": "1 Main St",
     "requested_datetime": "2020-01-02T10:00:00-05:00", "updated_datetime": "2020-01-02T12:00:00-05:00"},
    {"service_request_id": "2", "service_code": "pothole", "status": "closed", "address": "1 Main St",
     "requested_datetime": "2020-01-03T10:00:00-05:00", "updated_datetime": "2020-01-03T14:00:00-05:00"},
    {"service_request_id": "3", "service_code": "pothole", "status": "closed", "address": "1 Main St",
     "requested_datetime": "2020-01-31T20:00:00-05:00", "updated_datetime": "2020-02-01T02:00:00-05:00"},
    {"service_request_id": "4", "service_code": "signal", "status": "closed", "address": "1 Main St",
     "requested_datetime": "2020-01-04T10:00:00-05:00", "updated_datetime": "2020-01-04T11:00:00-05:00"},
    {"service_request_id": "5", "service_code": "signal", "status": "open", "address": "1 Main St",
     "requested_datetime": "2020-01-05T10:00:00-05:00"},
    {"service_request_id": "6", "service_code": "pothole", "status": "closed", "address": "1 Main St",
     "requested_datetime": "2019-12-31T23:00:00-05:00", "updated_datetime": "2020-01-01T23:00:00-05:00"},
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
    done = runner.invoke(app, ["import", "--profile", "open311", "requests.json"])
    assert done.exit_code == 0, done.output
    return tmp_path


def test_metrics__time_to_close_by_service_as_csv__one_row_per_service(city: Path) -> None:
    done = runner.invoke(app, ["metrics", "time-to-close", "--by", "service", "--from", "2020-01-01", "--to",
                               "2020-02-01", "--format", "csv"])  # fmt: skip
    assert done.exit_code == 0, done.output
    got = list(csv.DictReader(io.StringIO(done.stdout)))
    assert got == [
        {"service": "pothole", "count": "3", "median_hours": "4.0", "p80_hours": "5.2", "p90_hours": "5.6"},
        {"service": "signal", "count": "1", "median_hours": "1.0", "p80_hours": "1.0", "p90_hours": "1.0"},
    ]


def test_metrics__range_in_the_instance_time_zone__local_midnight_bounds(city: Path) -> None:
    # 2019-12-31 23:00 New York is 2020-01-01 04:00 UTC: outside a range that starts at New York's midnight
    done = runner.invoke(app, ["metrics", "volume", "--from", "2020-01-01", "--to", "2020-02-01", "--format", "json"])
    assert done.exit_code == 0, done.output
    answer = json.loads(done.stdout)
    assert answer["from"] == "2020-01-01T00:00:00-05:00"
    assert answer["rows"] == [{"all": "all", "filed": 5, "closed": 4, "open": 1}]


def test_metrics__table__says_the_range_and_the_columns(city: Path) -> None:
    done = runner.invoke(app, ["metrics", "volume", "--by", "service", "--from", "2020-01-01", "--to", "2020-02-01"])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0].startswith("volume by service, filed 2020-01-01T00:00:00-05:00")
    assert lines[1].split("\t") == ["service", "filed", "closed", "open"]
    assert lines[2].split("\t") == ["pothole", "3", "3", "0"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["volume", "--by", "ward"], "use service, body, channel or area:LAYER"),
        (["volume", "--by", "area:wards"], "no layer 'wards' is loaded"),
        (["volume", "--from", "yesterday"], "is not a date"),
        (["volume", "--from", "2020-02-01", "--to", "2020-01-01"], "ends after it starts"),
    ],
)
def test_metrics__wrong_use__one_line_error_and_exit_2(city: Path, args: list[str], message: str) -> None:
    done = runner.invoke(app, ["metrics", *args])
    assert done.exit_code == 2, done.output
    assert message in done.stderr
