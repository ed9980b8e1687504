"""`civicswitch calendars`: list, show, add-holiday and remove-holiday over calendars loaded from a catalog file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicswitch.cli import app
from civicswitch.settings import Settings

runner = CliRunner()
CATALOG = {
    "calendars": [
        {"code": "city-hall", "name": "City Hall", "timezone": "America/New_York",
         "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}]},
        {"code": "crews", "workdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": "24h"},
    ],
    "bodies": [{"code": "DOT", "name": "Transportation"}],
    "services": [{"code": "pothole", "name": "Pothole", "body": "DOT",
                  "sla": {"amount": 3, "unit": "business_days", "calendar": "city-hall"}}],
}  # fmt: skip


@pytest.fixture
def loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in Settings.model_fields:
        monkeypatch.delenv(f"CIVICSWITCH_{key.upper()}", raising=False)
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", f"sqlite:///{tmp_path / 'city.db'}")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG))
    imported = runner.invoke(app, ["catalog", "import", str(catalog)])
    assert imported.exit_code == 0, imported.output
    return tmp_path


def test_calendars_list__loaded_calendars__one_line_each(loaded: Path) -> None:
    listed = runner.invoke(app, ["calendars", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split("\t")[:5] == ["code", "timezone", "workdays", "hours", "holidays"]
    assert lines[1].split("\t")[:5] == ["city-hall", "America/New_York", "mon,tue,wed,thu,fri", "08:00-17:00", "1"]
    assert lines[2].split("\t")[:5] == ["crews", "(instance)", "mon,tue,wed,thu,fri,sat,sun", "24h", "0"]


def test_calendars_add_and_remove_holiday__shown_and_exported(loaded: Path) -> None:
    added = runner.invoke(app, ["calendars", "add-holiday", "city-hall", "2026-11-26", "Thanksgiving Day"])
    assert added.exit_code == 0, added.output
    shown = runner.invoke(app, ["calendars", "show", "city-hall"]).stdout
    assert "2026-11-26\tThanksgiving Day" in shown and "2026-12-25\tChristmas Day" in shown
    removed = runner.invoke(app, ["calendars", "remove-holiday", "city-hall", "2026-12-25"])
    assert removed.exit_code == 0, removed.output
    exported = json.loads(runner.invoke(app, ["catalog", "export"]).stdout)
    assert exported["calendars"][0]["holidays"] == [{"date": "2026-11-26", "name": "Thanksgiving Day"}]
    assert exported["services"][0]["sla"] == {"amount": 3, "unit": "business_days", "calendar": "city-hall"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["calendars", "show", "town-hall"], "no calendar 'town-hall'"),
        (["calendars", "remove-holiday", "city-hall", "2026-07-04"], "no holiday on 2026-07-04"),
        (["calendars", "add-holiday", "city-hall", "2026-02-30", "Nope"], "is not a date"),
    ],
)
def test_calendars__bad_argument__one_line_and_non_zero_exit(loaded: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output
