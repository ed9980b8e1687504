"""``civicswitch apikey create … --limit/--no-limit`` and ``apikey limit ID …`` (issue 8 §3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicswitch.cli import app
from civicswitch.core.db import make_engine
from civicswitch.storage.sql import SqlUnitOfWork

runner = CliRunner()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'city.db'}"
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    return url


def stored_limit(url: str, client_id: int) -> int | None:
    with SqlUnitOfWork(make_engine(url), writing=False) as uow:
        client = uow.clients.get(client_id)
    assert client is not None
    return client.rate_limit


@pytest.mark.parametrize(
    ("options", "stored", "shown"),
    [
        ([], None, "default"),
        (["--limit", "600/minute"], 600, "600/minute"),
        (["--limit", "2/second"], 120, "120/minute"),
        (["--limit", "45"], 45, "45/minute"),
        (["--no-limit"], 0, "no limit"),
    ],
)
def test_apikey_create__limit_options__stored_and_listed(
    db_url: str, options: list[str], stored: int | None, shown: str
) -> None:
    result = runner.invoke(app, ["apikey", "create", "Bulk partner", *options])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1].startswith("cs_")  # the key is still the last line
    assert stored_limit(db_url, 1) == stored
    listed = runner.invoke(app, ["apikey", "list"]).stdout.splitlines()
    assert listed[0].split("\t") == ["id", "key", "state", "scopes", "body", "rate limit", "name"]
    assert listed[1].split("\t")[5:] == [shown, "Bulk partner"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--limit", "0/minute"], "--no-limit"),
        (["--limit", "lots"], "120/minute"),
        (["--limit", "5/hour"], "120/minute"),
        (["--limit", "٣/minute"], "120/minute"),
        (["--limit", "10/minute", "--no-limit"], "not both"),
    ],
)
def test_apikey_create__bad_limit__clear_error_and_no_key(db_url: str, options: list[str], message: str) -> None:
    result = runner.invoke(app, ["apikey", "create", "App", *options])
    assert result.exit_code == 2
    assert message in result.output and "cs_" not in result.stdout
    with SqlUnitOfWork(make_engine(db_url), writing=False) as uow:
        assert uow.clients.all() == []


def test_apikey_limit__existing_key__set_none_default(db_url: str) -> None:
    assert runner.invoke(app, ["apikey", "create", "Benchmark"]).exit_code == 0
    steps = [(["--limit", "1000/minute"], 1000), (["--no-limit"], 0), (["--default"], None)]
    for options, stored in steps:
        result = runner.invoke(app, ["apikey", "limit", "1", *options])
        assert result.exit_code == 0, result.output
        assert stored_limit(db_url, 1) == stored


@pytest.mark.parametrize("options", [[], ["--no-limit", "--default"], ["--limit", "5", "--no-limit"]])
def test_apikey_limit__not_exactly_one_choice__refused(db_url: str, options: list[str]) -> None:
    assert runner.invoke(app, ["apikey", "create", "App", "--limit", "7"]).exit_code == 0
    result = runner.invoke(app, ["apikey", "limit", "1", *options])
    assert result.exit_code == 2 and "exactly one" in result.output
    assert stored_limit(db_url, 1) == 7


def test_apikey_limit__unknown_id__error(db_url: str) -> None:
    result = runner.invoke(app, ["apikey", "limit", "42", "--no-limit"])
    assert result.exit_code == 2 and "no client with id 42" in result.output
