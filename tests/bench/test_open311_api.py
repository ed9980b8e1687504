"""bench/open311_api.py against a GeoReport v2 server it did not start (``--base``): our own ``civicswitch serve``
on a small SQLite database, started here apart from the bench, is found out from its services.json and
requests.json and loaded with the GET, POST and mixed scenarios by each load driver. Loads are tiny (2 clients,
about a second a pass) and nothing is timed: only that every answer was the expected one and what was reported."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.db import make_engine
from civicswitch.demo.city import catalog_document
from civicswitch.storage.sql import SqlUnitOfWork

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench" / "open311_api.py"
BIN = Path(sys.executable).parent
API = "/open311/v2"
STARTING_S = 60.0


@dataclass
class Served:
    base: str
    api_key: str
    pid: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Served]:
    """``civicswitch serve --workers 2`` on the demo catalog with three requests, a key without a limit, and
    the per-address read limit raised (the bench's GETs all come from one address without a key)."""
    tmp = tmp_path_factory.mktemp("bench-base")
    db = tmp / "served.db"
    shutil.copy(sqlite_template, db)
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    load_catalog(SqlUnitOfWork(engine), catalog_document())
    engine.dispose()
    env = {**os.environ, "CIVICSWITCH_DATABASE_URL": url, "CIVICSWITCH_RATE_LIMIT_ADDRESS_READS": "100000000"}
    made = subprocess.run(
        [str(BIN / "civicswitch"), "apikey", "create", "bench test", "--no-limit"],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    api_key = made.stdout.strip().splitlines()[-1].strip()
    port = _free_port()
    log = tmp / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "civicswitch"), "serve", "--port", str(port), "--workers", "2"],
            env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTING_S
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        code = _postable_service(base)
        for i in range(3):
            form = {"api_key": api_key, "service_code": code, "lat": f"{40.70 + 0.01 * i:.4f}", "long": "-73.95",
                    "description": f"bench test request {i}"}  # fmt: skip
            response = httpx.post(f"{base}{API}/requests.json", data=form, timeout=30)
            assert response.status_code in (200, 201), response.text
        yield Served(base, api_key, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _postable_service(base: str) -> str:
    """A realtime service whose definition requires no attribute: a bare POST to it is accepted."""
    for service in httpx.get(f"{base}{API}/services.json", timeout=30).json():
        if service["type"] != "realtime":
            continue
        if not service["metadata"]:
            return str(service["service_code"])
        definition = httpx.get(f"{base}{API}/services/{service['service_code']}.json", timeout=30).json()
        if not any(a.get("required") and a.get("variable", True) for a in definition.get("attributes", [])):
            return str(service["service_code"])
    raise AssertionError("the demo catalog has no realtime service without required attributes")


def _bench(tmp_path: Path, *args: str, path: str | None = None) -> tuple[subprocess.CompletedProcess[str], Any]:
    """The bench as a user runs it, with tiny passes; (the finished process, the run's JSON report or None)."""
    workdir = tmp_path / "work"
    env = dict(os.environ) if path is None else {**os.environ, "PATH": path}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--concurrency", "2", "--seconds", "1", "--warmup", "0.5", "--serial-seconds",
         "0", "--connect", "burst", "--idle-wait", "0", "--workdir", str(workdir), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    reports = sorted(workdir.glob("open311_api-*.json")) if workdir.exists() else []
    return done, json.loads(reports[-1].read_text()) if reports else None


@pytest.mark.parametrize("driver", ["httpx", "wrk"])
def test_base__our_server_started_apart__get_post_and_mixed_answer_as_expected_per_kind(
    served: Served, tmp_path: Path, driver: str
) -> None:
    if driver == "wrk" and shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install -y wrk)")
    done, report = _bench(
        tmp_path, "--base", served.base, "--api-key", served.api_key, "--server-pid", str(served.pid),
        "--scenarios", "by_id,services,post,mixed", "--pairs", "", "--driver", driver,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    remote = report["databases"]["remote"]
    assert remote["url"] == f"{served.base}{API}"
    assert remote["discovered"]["ids"] >= 3 and remote["discovered"]["postable"]
    passes = {sc["name"]: sc["http"] for sc in remote["scenarios"]}
    assert set(passes) == {"by_id", "services", "post", "mixed"}
    for name, run in passes.items():
        assert run["driver"] == driver
        assert run["requests"] > 0 and run["errors"] == 0, (name, run["statuses"], run["error_samples"])
        assert "db" not in next(sc for sc in remote["scenarios"] if sc["name"] == name)
    assert set(passes["post"]["statuses"]) <= {"200", "201"}
    kinds = passes["mixed"]["kinds"]
    assert set(kinds) == {"list", "one", "services", "post"}
    assert all(k["requests"] > 0 and k["errors"] == 0 and k["latency"]["p99_ms"] is not None for k in kinds.values())
    rss = passes["mixed"]["server_rss"]
    assert rss["start"]["total_mb"] > 0 and len(rss["end"]["processes"]) >= 2  # the parent and its workers
    assert passes["mixed"]["worker_cores"] and len(passes["mixed"]["worker_cores"]) == 2
    assert "a GeoReport v2 server the bench did not start" in done.stdout
    assert "per kind of request" in done.stdout and "server RSS" in done.stdout


def test_base__no_server_pid__server_cpu_and_rss_reported_as_not_measured(served: Served, tmp_path: Path) -> None:
    done, report = _bench(tmp_path, "--base", served.base, "--scenarios", "services", "--pairs", "")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = report["databases"]["remote"]["scenarios"][0]["http"]
    assert run["errors"] == 0 and run["requests"] > 0
    assert run["cpu_cores"]["server"] is None and run["server_rss"] is None and run["worker_cores"] == []
    assert "its CPU and RSS not measured" in done.stdout


def test_base__not_a_loopback_address__refused_before_any_request(tmp_path: Path) -> None:
    done, report = _bench(tmp_path, "--base", "http://192.0.2.1:8311", "--scenarios", "services")
    assert done.returncode != 0 and report is None
    assert "loopback" in done.stderr + done.stdout


def test_driver_wrk__not_installed__says_what_to_install(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done, _ = _bench(tmp_path, "--driver", "wrk", "--scenarios", "by_id", path=str(empty))
    assert done.returncode == 2
    assert "apt-get install -y wrk" in done.stderr
