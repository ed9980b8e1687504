"""The escalation thresholds are instance settings: `civicswitch settings set` stores them (checked first), and the
escalation page of a server started afterwards uses them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicswitch.catalog.settings import instance_settings
from civicswitch.cli import app
from civicswitch.core.db import make_engine
from civicswitch.requests.escalation import EscalationRule
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork

runner = CliRunner()


@pytest.fixture
def instance(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.chdir(tmp_path)
    for key in Settings.model_fields:
        monkeypatch.delenv(f"CIVICSWITCH_{key.upper()}", raising=False)
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", database_url)
    return database_url


def test_settings_set__escalation_thresholds__stored_and_read_as_the_rule(instance: str) -> None:
    shown = runner.invoke(app, ["settings", "show"]).stdout.splitlines()
    assert "escalation_bounces\t2\tdefault" in shown and "escalation_overdue_hours\t48.0\tdefault" in shown
    for key, value in (("escalation_bounces", "3"), ("escalation_overdue_hours", "12")):
        result = runner.invoke(app, ["settings", "set", key, value])
        assert result.exit_code == 0, result.output
    engine = make_engine(instance)
    try:
        settings = instance_settings(SqlUnitOfWork(engine, writing=False))
    finally:
        engine.dispose()
    assert EscalationRule.from_settings(settings) == EscalationRule(3, timedelta(hours=12))


@pytest.mark.parametrize(("key", "value"), [("escalation_bounces", "-1"), ("escalation_overdue_hours", "soon")])
def test_settings_set__bad_escalation_threshold__refused_and_nothing_stored(
    instance: str, key: str, value: str
) -> None:
    result = runner.invoke(app, ["settings", "set", key, value])
    assert result.exit_code == 2 and key in result.output and "Traceback" not in result.output
    with SqlUnitOfWork(make_engine(instance), writing=False) as uow:
        assert uow.settings.all() == {}
