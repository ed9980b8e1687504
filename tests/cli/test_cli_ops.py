"""Operations at the command line: the demo shares the database every command uses, a busy port is one line,
`backup` copies a live SQLite database, and `serve --workers N` logs from every worker."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from civicswitch.cli import app
from civicswitch.core import migrate as migrations
from civicswitch.core.db import make_engine
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork

runner = CliRunner()
BIN = Path(sys.executable).parent


def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in Settings.model_fields:
        monkeypatch.delenv(f"CIVICSWITCH_{key.upper()}", raising=False)


@pytest.fixture
def instance(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    _clean_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", database_url)
    return database_url


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


@contextlib.contextmanager
def _held_port_after_a_free_one() -> Iterator[int]:
    """A listening port P whose P - 1 was free a moment ago: an ephemeral port (any other test's outgoing
    connection) may hold the port below one picked at random, which would make the demo refuse the wrong port."""
    for _ in range(50):
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen()
            port = held.getsockname()[1]
            with socket.socket() as below:
                try:
                    below.bind(("127.0.0.1", port - 1))
                except OSError:
                    continue
            yield port
            return
    raise AssertionError("no port with a free one below it in 50 tries")


# -- the demo ------------------------------------------------------------------------------------------------------
def test_demo__default_database__the_one_every_command_uses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clean_environment(monkeypatch, tmp_path)
    first = runner.invoke(app, ["demo", "--load-only"])
    assert first.exit_code == 0, first.output
    assert "demo city in sqlite:///var/civicswitch.db" in first.stdout
    listed = runner.invoke(app, ["apikey", "list"])
    assert listed.exit_code == 0 and "Demo app (created by civicswitch demo)" in listed.stdout
    assert sorted(p.name for p in (tmp_path / "var").glob("*.db")) == ["civicswitch.db"]


def test_demo__restart__settings_stored_once_and_edits_kept(instance: str) -> None:
    assert runner.invoke(app, ["demo", "--load-only"]).exit_code == 0
    shown = runner.invoke(app, ["settings", "show"]).stdout.splitlines()
    assert {"jurisdiction_name\tNew York City\tstored", "coverage_layer\tboroughs\tstored"} <= set(shown)
    assert "timezone\tAmerica/New_York\tstored" in shown
    assert runner.invoke(app, ["settings", "set", "jurisdiction_name", "Gotham"]).exit_code == 0

    again = runner.invoke(app, ["demo", "--load-only"])

    assert again.exit_code == 0 and "not loaded again" in again.stdout and "Gotham demo city" in again.stdout
    assert runner.invoke(app, ["settings", "show", "jurisdiction_name"]).stdout == "Gotham\n"
    london = runner.invoke(
        app, ["routing", "explain", "--service", "dead-animal", "--lat", "51.5074", "--long", "-0.1278"]
    )
    assert (
        london.exit_code == 1 and "refused" in london.stdout
    )  # intake refuses it too (tests/cli/test_cli_instance.py)


def test_demo__port_or_simulator_port_in_use__one_line_suggesting_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, busy_port: int
) -> None:
    _clean_environment(monkeypatch, tmp_path)
    result = runner.invoke(app, ["demo", "--port", str(busy_port)])
    assert result.exit_code == 2 and f"port {busy_port} on 127.0.0.1 is already in use" in result.output
    assert len(result.output.strip().splitlines()) == 1
    with _held_port_after_a_free_one() as simulator_port:
        result = runner.invoke(app, ["demo", "--port", str(simulator_port - 1)])
        what = "(the department simulator's, --port + 1) is already in use"
        assert result.exit_code == 2 and what in result.output and "--port" in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "var").exists()  # refused before anything was created


def test_serve__port_in_use__one_line_suggesting_port(instance: str, busy_port: int) -> None:
    result = runner.invoke(app, ["serve", "--port", str(busy_port)])
    assert result.exit_code == 2 and "is already in use: choose another with --port" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT here")
@pytest.mark.parametrize("listening", [True, False], ids=["listening", "bound"])
def test_serve__workers__port_held_with_so_reuseport_by_another_program__one_line(
    instance: str, listening: bool
) -> None:
    """The workers bind with SO_REUSEPORT, which would let them join another program's SO_REUSEPORT socket of the
    same user (or another `serve`'s) and share its connections: the port is refused before."""
    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        held.bind(("127.0.0.1", 0))
        if listening:
            held.listen()
        result = runner.invoke(app, ["serve", "--port", str(held.getsockname()[1]), "--workers", "2"])
    assert result.exit_code == 2 and "is already in use: choose another with --port" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


# -- backup --------------------------------------------------------------------------------------------------------
def test_backup__sqlite__copy_restores_the_same_instance(
    instance: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not instance.startswith("sqlite"):
        result = runner.invoke(app, ["backup", str(tmp_path / "backup.db")])
        assert result.exit_code == 2 and "pg_dump" in result.output
        assert not (tmp_path / "backup.db").exists()
        return
    key = runner.invoke(app, ["apikey", "create", "App"]).stdout.strip().splitlines()[-1]
    assert runner.invoke(app, ["settings", "set", "jurisdiction_name", "Backupville"]).exit_code == 0
    made = runner.invoke(app, ["backup", str(tmp_path / "backup.db")])
    assert (
        made.exit_code == 0 and f"schema {migrations.head()}" in made.output and "readable by you only" in made.output
    )
    assert runner.invoke(app, ["backup", str(tmp_path / "backup.db")]).exit_code == 2  # never overwritten silently

    restored = f"sqlite:///{tmp_path / 'backup.db'}"
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", restored)  # restored: the copy is the database
    assert runner.invoke(app, ["settings", "show", "jurisdiction_name"]).stdout == "Backupville\n"
    from civicswitch.people.auth import authenticate
    from civicswitch.people.clients import Scope

    with SqlUnitOfWork(make_engine(restored), writing=False) as uow:
        assert authenticate(uow, key, Scope.SUBMIT).name == "App"


# -- serve --workers N logs ------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
def test_serve__two_workers__every_worker_logs_and_one_access_line_per_request(instance: str, tmp_path: Path) -> None:
    port, log = _free_port(), tmp_path / "serve.log"
    env = {**os.environ, "CIVICSWITCH_DATABASE_URL": instance, "CIVICSWITCH_LOG_LEVEL": "INFO"}
    argv = [str(BIN / "civicswitch"), "serve", "--port", str(port), "--workers", "2"]
    with log.open("wb") as out:
        server = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while log.read_text().count("Application startup complete") < 2:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        for _ in range(6):
            assert httpx.get(f"{base}/open311/v2/services.json?probe=1", timeout=10).status_code == 200
        assert httpx.get(f"{base}/open311/v2/requests/999.json", timeout=10).status_code == 404
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
    text = log.read_text()
    access = [line for line in text.splitlines() if "uvicorn.access" in line]
    assert len([a for a in access if '"GET /open311/v2/services.json?probe=1 HTTP/1.1" 200' in a]) == 6, text
    assert len([a for a in access if '"GET /open311/v2/requests/999.json HTTP/1.1" 404' in a]) == 1, text
    workers = {line.split("[", 1)[1].split("]", 1)[0] for line in text.splitlines() if "Started server process" in line}
    assert len(workers) == 2, text
    assert text.count("civicswitch.web.app: instance Civic Switchboard") == 2  # each worker read the settings
