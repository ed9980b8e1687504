"""Delivery benchmark (issue 4): the outbox worker delivering webhooks to a local receiver, on SQLite and PostgreSQL.

For each database, worker count (``civicswitch worker`` processes) and receiver failure rate it measures:

* **backlog throughput**: ``--requests`` requests are filed through the real ``submit_request`` use case while the
  webhook connector is paused (their outbox rows wait, as a paused connector's do), the workers are started, the
  connector is enabled, and the time until every delivery is received *and* settled gives deliveries/s;
* **latency at a steady offered rate**: with the workers running, ``--rate`` requests a second are filed for
  ``--rate-seconds`` through ``submit_request``; intake → received latency is the receiver's clock at the first
  2xx minus the moment ``submit_request`` returned (committed). The same latency from the outbox row's
  ``created_at`` (what the hub itself sees; whole seconds) is reported beside it;
* with failures, the receiver answers 500 to a random 20 % of attempts; attempts per delivery and whether every
  message took effect exactly once (one 2xx per webhook-id at the receiver) are checked.

Baselines from the same run: the receiver's raw capacity with a plain ``httpx.AsyncClient`` loop, the civicswitch
``WebhookSender`` alone (signing + HTTP, no database), and the database half alone (``Worker`` with the in-memory
``FakeSender``: claim + settle without HTTP) for the same database and worker count.

    .venv/bin/python bench/delivery.py --quick                      # smoke run: 2,000 requests (~3.5 min)
    .venv/bin/python bench/delivery.py --code HEAD                  # 10,000 requests, both databases (~10 min)
    .venv/bin/python bench/delivery.py --db postgres --workers 4 --py-spy   # + a py-spy profile of one worker

bench/README.md says what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import math
import os
import platform
import random
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `bench` importable
from bench.machine import (
    HOST,
    civicswitch_command,
    free_port,
    machine_cpu_seconds,
    proc_stat,
    wait_quiet,
)

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("CIVICSWITCH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "civicswitch_bench_delivery"
BODY, SERVICE, CONNECTOR = "dot", "pothole", "bench-hook"
# Seconds between attempts: quick retries so a 20 % failure rate costs seconds, not minutes. 16 attempts in all:
# a message fails for good with probability 0.2**16 (about 7e-12).
RETRY_SCHEDULE = (1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2)
CATALOG = {
    "bodies": [{"code": BODY, "name": "Department of Transportation"}],
    "services": [
        {"code": SERVICE, "name": "Pothole", "group": "Streets", "body": BODY, "sla_hours": 72, "type": "realtime"}
    ],
}
DESCRIPTIONS = (
    "Pothole in the right lane, about a foot across and deep enough to damage a tyre.",
    "Large pothole at the crosswalk; cyclists swerve into traffic to avoid it.",
    "Several potholes along the block after the water main repair, getting worse.",
    "Sunken patch over a utility cut in front of the school entrance.",
)
BATCH_DEFAULT = 50  # civicswitch worker --batch default
PLAIN_CONCURRENCY = 8  # the plain httpx baseline: httpcore's pool costs more CPU per request as concurrency grows


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the receiver (its own process) ------------------------------------------------------------------------------
class _ReceiverState:
    def __init__(self) -> None:
        self.reset(0.0, 0, False)

    def reset(self, fail: float, seed: int, ids: bool) -> None:
        self.fail = fail
        self.rng = random.Random(seed)
        self.ids = ids
        self.records: list[tuple[str, float, int]] = []  # (webhook-id, receive time, status answered)
        self.ok: set[str] = set()
        self.extra_ok = 0  # 2xx answers to a webhook-id that already had one: a second effect
        self.samples: list[dict[str, Any]] = []


_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
_FAIL = b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\nbench failure"


class _ReceiverProtocol(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive server: POST = a webhook (recorded), GET /_… = control."""

    def __init__(self, state: _ReceiverState) -> None:
        self.state = state
        self.buffer = bytearray()
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport instances

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            method, target = lines[0].split(" ", 2)[:2]
            self.transport.write(self._answer(method, target, headers, body))

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        st = self.state
        if method == "POST":
            now = time.time()
            key = headers.get("webhook-id", "")
            failed = st.fail > 0 and st.rng.random() < st.fail
            st.records.append((key, now, 500 if failed else 200))
            if failed:
                return _FAIL
            if key in st.ok:
                st.extra_ok += 1
            else:
                st.ok.add(key)
            if len(st.samples) < 20:
                st.samples.append({"headers": headers, "body": body.decode("utf-8")})
            if st.ids:
                reply = json.dumps({"id": "ext-" + key}).encode()
                return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
                    len(reply),
                    reply,
                )
            return _OK
        path = urlsplit(target)
        if path.path == "/_reset":
            q = parse_qs(path.query)
            st.reset(float(q.get("fail", ["0"])[0]), int(q.get("seed", ["0"])[0]), q.get("ids", ["0"])[0] == "1")
            reply = b"{}"
        elif path.path == "/_count":
            reply = json.dumps({"ok": len(st.ok), "posts": len(st.records), "extra_ok": st.extra_ok}).encode()
        elif path.path == "/_dump":
            reply = json.dumps({"records": st.records, "extra_ok": st.extra_ok, "samples": st.samples}).encode()
        else:
            return b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
            len(reply),
            reply,
        )


def receiver_main(port: int) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    state = _ReceiverState()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _ReceiverProtocol(state), HOST, port, backlog=1024)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()

    asyncio.run(serve())


class Receiver:
    """The receiver subprocess and its control endpoints."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}/hook"
        self._log = (workdir / "receiver.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "_receiver", "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        import httpx

        self._http = httpx.Client(base_url=f"http://{HOST}:{self.port}", timeout=60)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.count()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise SystemExit("the receiver did not start; see receiver.log") from None
                time.sleep(0.05)

    def reset(self, fail: float, seed: int = 1, ids: bool = False) -> None:
        self._http.get("/_reset", params={"fail": fail, "seed": seed, "ids": int(ids)}).raise_for_status()

    def count(self) -> dict[str, int]:
        return dict(self._http.get("/_count").json())

    def dump(self) -> dict[str, Any]:
        return dict(self._http.get("/_dump").json())

    def stop(self) -> None:
        self._http.close()
        stop_process(self.proc)
        self._log.close()


# -- processes, CPU ------------------------------------------------------------------------------------------------
def stop_process(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def pg_backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to ``database`` (found by its process title)."""
    found: dict[int, float] = {}
    needle = f" {database} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and needle in title:
            st = proc_stat(int(entry))
            if st is not None:
                found[int(entry)] = st[1]
    return found


@dataclass
class Snapshot:
    at: float
    workers: float
    receiver: float
    postgres: dict[int, float]
    driver: float
    machine: float


def snapshot(workers: Sequence[int], receiver: int, pg_database: str | None) -> Snapshot:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return Snapshot(
        at=time.time(),
        workers=sum((proc_stat(p) or (0, 0.0))[1] for p in workers),
        receiver=(proc_stat(receiver) or (0, 0.0))[1],
        postgres=pg_backend_cpu(pg_database) if pg_database else {},
        driver=usage.ru_utime + usage.ru_stime,
        machine=machine_cpu_seconds(),
    )


def cpu_between(a: Snapshot, b: Snapshot, items: int) -> dict[str, Any]:
    """Cores used by each party between two snapshots, and CPU ms per item (delivery)."""
    wall = max(b.at - a.at, 1e-9)
    used = {
        "workers": b.workers - a.workers,
        "receiver": b.receiver - a.receiver,
        "postgres": sum(v - a.postgres.get(pid, 0.0) for pid, v in b.postgres.items()),
        "driver": b.driver - a.driver,
    }
    used["other"] = max((b.machine - a.machine) - sum(used.values()), 0.0)
    return {
        "cores": {k: round(v / wall, 2) for k, v in used.items()},
        "ms_per_delivery": {k: round(v * 1000 / max(items, 1), 3) for k, v in used.items()},
    }


# -- databases -------------------------------------------------------------------------------------------------------
def db_url(kind: str, workdir: Path, seed: bool) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / ('delivery-seed.db' if seed else 'delivery.db')}"
    if kind == "postgres":
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + (PG_DB + "_seed" if seed else PG_DB)
    raise SystemExit(f"--db takes sqlite and postgres, not {kind!r}")


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _drop_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _pg_admin(statements: Sequence[str]) -> None:
    from sqlalchemy import text

    from civicswitch.core.db import make_engine

    admin = make_engine(PG_ADMIN)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        admin.dispose()


def fresh_database(kind: str, url: str, template: str | None = None) -> None:
    """An empty database at ``url``, or a copy of ``template`` (the seed)."""
    if kind == "sqlite":
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        _drop_sqlite(path)
        if template is not None:
            shutil.copyfile(_sqlite_path(template), path)
        return
    name = url.rsplit("/", 1)[1]
    create = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else "")
    _pg_admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', create])


def drop_database(kind: str, url: str) -> None:
    if kind == "sqlite":
        _drop_sqlite(_sqlite_path(url))
    else:
        _pg_admin([f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'])


def db_version(engine: Any) -> str:
    from sqlalchemy import text

    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return f"SQLite {conn.execute(text('SELECT sqlite_version()')).scalar()}"
        return f"PostgreSQL {conn.execute(text('SHOW server_version')).scalar()}"


def _commands(rng: random.Random, key: str, n: int) -> Iterator[Any]:
    from civicswitch.requests.commands import SubmitRequest

    for i in range(n):
        yield SubmitRequest(
            service_code=SERVICE,
            api_key=key,
            lat=f"{40.60 + rng.random() * 0.25:.6f}",  # New York City's extent, so the duplicate check runs as usual
            long=f"{-74.05 + rng.random() * 0.25:.6f}",
            address_string=f"{100 + i % 900} Bench Street",
            description=DESCRIPTIONS[i % len(DESCRIPTIONS)],
        )


def _ms_stats(values_s: Sequence[float]) -> dict[str, float | None]:
    if not values_s:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values_s)
    return {
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class Seed:
    kind: str
    url: str
    version: str
    api_key: str
    requests: int
    intake: dict[str, Any]
    secret: str | None = None  # the connector's signing secret, to verify what the receiver got


def build_seed(kind: str, workdir: Path, requests: int, receiver_url: str) -> Seed:
    """A database with the schema, a one-body catalog, a *paused* webhook connector and ``requests`` requests filed
    through ``submit_request`` (so ``requests`` deliveries wait in the outbox). Each configuration runs on a copy."""
    from sqlalchemy import text

    from civicswitch.catalog.loader import load_catalog
    from civicswitch.core.clock import SystemClock
    from civicswitch.core.db import make_engine
    from civicswitch.core.migrate import upgrade
    from civicswitch.hub.handlers import add_connector
    from civicswitch.people.auth import create_client
    from civicswitch.people.clients import Scope
    from civicswitch.requests.handlers import submit_request
    from civicswitch.storage.sql import SqlUnitOfWork

    url = db_url(kind, workdir, seed=True)
    fresh_database(kind, url)
    engine = make_engine(url)
    clock = SystemClock()
    try:
        upgrade(engine)
        load_catalog(SqlUnitOfWork(engine), CATALOG)
        made = add_connector(
            SqlUnitOfWork(engine), clock, code=CONNECTOR, kind="webhook", body=BODY,
            config={"url": receiver_url, "timeout_s": 10}, retry_schedule=list(RETRY_SCHEDULE), enabled=False,
        )  # fmt: skip
        _, key = create_client(SqlUnitOfWork(engine), clock, "delivery bench intake", frozenset({Scope.SUBMIT}))
        rng = random.Random(4)
        took: list[float] = []
        started = time.perf_counter()
        for i, cmd in enumerate(_commands(rng, key, requests)):
            t0 = time.perf_counter()
            submit_request(SqlUnitOfWork(engine), clock, cmd)
            took.append(time.perf_counter() - t0)
            if (i + 1) % 5000 == 0:
                log(f"  {kind} seed: {i + 1:,}/{requests:,} requests filed")
        wall = time.perf_counter() - started
        with engine.connect() as conn:
            pending = conn.execute(text("SELECT count(*) FROM deliveries WHERE state = 'pending'")).scalar_one()
        assert pending == requests, f"expected {requests} pending deliveries, found {pending}"
        if kind == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        version = db_version(engine)
    finally:
        engine.dispose()
    return Seed(
        kind, url, version, key, requests,
        {"requests": requests, "seconds": round(wall, 1), "per_s": round(requests / wall, 1), **_ms_stats(took)},
        made.secret,
    )  # fmt: skip


# -- workers ---------------------------------------------------------------------------------------------------------
class Workers:
    """``count`` worker processes: the real ``civicswitch worker`` CLI, or (``fake``) this file's worker entry with
    the in-memory FakeSender, which does the same claim + settle rounds without HTTP."""

    def __init__(self, url: str, count: int, workdir: Path, tag: str, *, fake: bool, batch: int,
                 log_level: str | None) -> None:  # fmt: skip
        env = dict(os.environ, CIVICSWITCH_DATABASE_URL=url)
        if log_level:
            env["CIVICSWITCH_LOG_LEVEL"] = log_level
        self.logs = [workdir / f"worker-{tag}-{i}.log" for i in range(count)]
        self.timings = [workdir / f"worker-{tag}-{i}.timings.json" for i in range(count)]
        self.procs: list[subprocess.Popen[Any]] = []
        for i in range(count):
            if fake:
                cmd = [sys.executable, str(Path(__file__).resolve()), "_worker", "--fake", "--batch", str(batch),
                       "--timings", str(self.timings[i])]  # fmt: skip
            else:
                cmd = [*civicswitch_command(), "worker", "--batch", str(batch)]
            with self.logs[i].open("w") as out:
                self.procs.append(
                    subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                )
        deadline = time.monotonic() + 90
        waiting = set(range(count))
        while waiting:
            for i in list(waiting):
                text = self.logs[i].read_text(errors="replace")
                if " started" in text or "(Ctrl-C to stop)" in text:
                    waiting.discard(i)
                elif self.procs[i].poll() is not None:
                    self.stop()
                    raise RuntimeError(f"worker {i} exited: {self.logs[i].read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("workers did not start within 90 s")
            time.sleep(0.05)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        for p in self.procs:
            stop_process(p)

    def log_lines(self) -> dict[str, int]:
        """How many lines the workers logged, by level (httpx logs one INFO line per request)."""
        counts: Counter[str] = Counter()
        for path in self.logs:
            for line in path.read_text(errors="replace").splitlines():
                parts = line.split(" ", 3)
                if len(parts) > 2 and parts[2] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
                    counts[parts[2]] += 1
        return dict(counts)

    def round_timings(self) -> dict[str, Any] | None:
        found = [json.loads(p.read_text()) for p in self.timings if p.exists()]
        if not found:
            return None
        rounds = sum(f["rounds"] for f in found)
        items = sum(f["items"] for f in found)
        return {
            "rounds": rounds,
            "items_per_round": round(items / max(rounds, 1), 1),
            "claim_ms_per_round": round(sum(f["claim_s"] for f in found) * 1000 / max(rounds, 1), 2),
            "settle_ms_per_round": round(sum(f["settle_s"] for f in found) * 1000 / max(rounds, 1), 2),
            "claim_ms_per_delivery": round(sum(f["claim_s"] for f in found) * 1000 / max(items, 1), 3),
            "settle_ms_per_delivery": round(sum(f["settle_s"] for f in found) * 1000 / max(items, 1), 3),
        }


def worker_main(fake: bool, batch: int, timings: Path | None) -> None:
    """A worker process like ``civicswitch worker`` (same Worker, same unit of work), optionally with FakeSender,
    timing each round's claim and settle transaction."""
    from civicswitch.core.clock import SystemClock
    from civicswitch.core.db import make_engine
    from civicswitch.hub.connectors.fake import FakeSender
    from civicswitch.hub.connectors.registry import default_pollers, default_senders
    from civicswitch.hub.model import ConnectorKind
    from civicswitch.hub.sql import SqlHubStore
    from civicswitch.hub.worker import Worker
    from civicswitch.settings import Settings
    from civicswitch.storage.sql import SqlUnitOfWork

    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spent = {"claim_s": 0.0, "settle_s": 0.0, "rounds": 0, "items": 0}
    claim, settle = SqlHubStore.claim, SqlHubStore.settle

    def timed_claim(self: Any, *a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        found = claim(self, *a, **k)
        if found:
            spent["claim_s"] += time.perf_counter() - t0
            spent["rounds"] += 1
            spent["items"] += len(found)
        return found

    def timed_settle(self: Any, *a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return settle(self, *a, **k)
        finally:
            spent["settle_s"] += time.perf_counter() - t0

    if timings is not None:
        SqlHubStore.claim = timed_claim  # type: ignore[method-assign]
        SqlHubStore.settle = timed_settle  # type: ignore[method-assign]
    engine = make_engine(settings.database_url)
    print(f"worker on {engine.url.render_as_string(hide_password=True)} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    senders = {ConnectorKind.WEBHOOK: FakeSender()} if fake else default_senders()
    worker = Worker(lambda: SqlUnitOfWork(engine), SystemClock(), senders, pollers=default_pollers(), batch=batch)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    asyncio.run(worker.run(stop))
    if timings is not None:
        timings.write_text(json.dumps(spent))


# -- one configuration -------------------------------------------------------------------------------------------
def _open_deliveries(engine: Any) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM deliveries WHERE state IN ('pending', 'retrying', 'in_flight')")
            ).scalar_one()
        )


def _enable(engine: Any) -> None:
    from civicswitch.hub.handlers import set_enabled
    from civicswitch.storage.sql import SqlUnitOfWork

    set_enabled(SqlUnitOfWork(engine), CONNECTOR, True)


def _wait(what: str, done: Any, timeout: float, poll: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {timeout:.0f} s")
        time.sleep(poll)


def _deliveries(engine: Any) -> list[Any]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT idempotency_key, request_id, state, attempts, created_at FROM deliveries ORDER BY id")
            )
        )


def _created_epoch(value: Any) -> float:
    if isinstance(value, str):  # SQLite through a text() query: naive UTC text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())


def check_effects(rows: Sequence[Any], dump: dict[str, Any]) -> dict[str, Any]:
    """Every delivery of the phase delivered in the database, and taken exactly once (one 2xx) at the receiver."""
    keys = {r.idempotency_key for r in rows}
    oks: Counter[str] = Counter(k for k, _, status in dump["records"] if status < 300)
    return {
        "deliveries": len(rows),
        "delivered_in_db": sum(r.state == "delivered" for r in rows),
        "dead_in_db": sum(r.state == "dead" for r in rows),
        "received_once": sum(1 for k in keys if oks.get(k) == 1),
        "missing": sum(1 for k in keys if k not in oks),
        "second_effects": sum(n - 1 for n in oks.values() if n > 1),
        "unknown_ids": sum(1 for k in oks if k not in keys),
        "exactly_once": all(oks.get(k) == 1 for k in keys) and set(oks) == keys,
        "attempts_per_delivery_db": round(sum(r.attempts for r in rows) / max(len(rows), 1), 3),
        "posts_per_delivery_receiver": round(sum(1 for k, _, _ in dump["records"] if k in keys) / max(len(rows), 1), 3),
    }


def check_signatures(dump: dict[str, Any], secret: str | None) -> str:
    """Verify the receiver's sampled messages with the connector's secret (Standard Webhooks)."""
    from civicswitch.core.errors import Forbidden
    from civicswitch.hub.signing import verify

    if not secret or not dump["samples"]:
        return "not checked"
    bad = 0
    for sample in dump["samples"]:
        try:
            verify(secret, sample["headers"], sample["body"], datetime.now(UTC))
        except Forbidden:
            bad += 1
    return f"{len(dump['samples']) - bad} of {len(dump['samples'])} sampled messages verified"


def first_ok_times(dump: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """(first 2xx, first attempt of any answer) receive time per webhook-id."""
    ok: dict[str, float] = {}
    first: dict[str, float] = {}
    for key, at, status in dump["records"]:
        first.setdefault(key, at)
        if status < 300:
            ok.setdefault(key, at)
    return ok, first


class PySpy:
    def __init__(self, binary: str, pid: int, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--nonblocking", "--idle",
             "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def stop(self) -> dict[str, Any]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return spy_buckets(self.out)


# Where a sample's time goes: the first matching frame from the leaf up names the bucket.
_DB_CALLS = {"do_execute", "do_executemany", "do_commit", "do_rollback", "do_close", "do_ping", "_fetchall_impl",
             "_fetchone_impl", "_fetchmany_impl", "fetchall", "fetchone", "connect"}  # fmt: skip


def _bucket(frames: Sequence[str]) -> str:
    for frame in reversed(frames):  # leaf last in py-spy's collapsed stacks; paths are short ("httpx/_client.py")
        name, _, where = frame.partition(" (")
        if where.startswith("selectors.py") or (name == "_run_once" and "asyncio/base_events" in where):
            return "idle: event loop waiting"
        if "<frozen importlib" in where or where.startswith("_distutils_hack"):
            return "import machinery (a failed import, searched again on every call)"
        if where.startswith(("psycopg/", "psycopg_binary/", "sqlite3/")):
            return "database driver (execute, fetch, wait)"
        if where.startswith(("sqlalchemy/engine/default.py", "sqlalchemy/engine/cursor.py")) and name in _DB_CALLS:
            return "database driver (execute, fetch, wait)"
        if where.startswith("sqlalchemy/pool"):
            return "SQLAlchemy pool (checkout, pre-ping, reset)"
        if where.startswith("sqlalchemy/"):
            return "SQLAlchemy (statement building, compiling, results)"
        if where.startswith("logging/"):
            return "logging"
        if where.startswith(("httpx/", "httpcore/", "h11/", "anyio/")):
            return "HTTP client (httpx, httpcore, h11, anyio)"
        if where.startswith(("standardwebhooks/", "hmac.py", "base64.py")):
            return "signing (standardwebhooks)"
        if where.startswith("asyncio/"):
            return "asyncio (transports, tasks)"
        if where.startswith("civicswitch/"):
            return "civicswitch code"
    return "other"


def spy_buckets(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"error": "py-spy wrote no profile"}
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")[1:]  # the first frame is the thread
        n = int(count)
        total += n
        buckets[_bucket(frames)] += n
        leaves[frames[-1] if frames else "?"] += n
    busy = total - buckets.get("idle: event loop waiting", 0)
    return {
        "samples": total,
        "share_of_wall": {k: round(v / max(total, 1), 3) for k, v in buckets.most_common()},
        "share_of_busy": {
            k: round(v / max(busy, 1), 3) for k, v in buckets.most_common() if k != "idle: event loop waiting"
        },
        "top_leaf_frames": [[k, round(v / max(total, 1), 3)] for k, v in leaves.most_common(12)],
        "raw": str(path),
    }


def run_config(seed: Seed, workers: int, fail: float | None, args: argparse.Namespace, receiver: Receiver | None,
               spy: bool) -> dict[str, Any]:  # fmt: skip
    """One configuration on a fresh copy of the seed. ``fail`` None: the DB-only baseline with FakeSender."""
    from civicswitch.core.clock import SystemClock
    from civicswitch.core.db import make_engine
    from civicswitch.requests.handlers import submit_request
    from civicswitch.storage.sql import SqlUnitOfWork

    kind, fake = seed.kind, fail is None
    tag = f"{kind}-{workers}w-" + ("fake" if fake else f"fail{round(fail * 100)}")
    url = db_url(kind, args.workdir, seed=False)
    fresh_database(kind, url, template=seed.url)
    engine = make_engine(url)
    pg_name = PG_DB if kind == "postgres" else None
    result: dict[str, Any] = {
        "config": tag,
        "database": seed.version,
        "workers": workers,
        "sender": "FakeSender (no HTTP)" if fake else "webhook to the local receiver",
        "receiver_failure_rate": fail,
        "backlog": seed.requests,
    }
    pool: Workers | None = None
    profiler: PySpy | None = None
    try:
        if receiver is not None and not fake:
            receiver.reset(fail or 0.0, seed=workers * 100 + round((fail or 0) * 100), ids=args.external_ids)
        result["background_cores_before"] = wait_quiet(args.idle_wait, say=log)
        pool = Workers(url, workers, args.workdir, tag, fake=fake, batch=args.batch, log_level=args.log_level)
        receiver_pid = receiver.proc.pid if receiver is not None else 0

        # -- backlog: enable the paused connector, wait until every delivery is received and settled ----------------
        s0 = snapshot(pool.pids, receiver_pid, pg_name)
        t0 = time.time()
        _enable(engine)
        if spy:
            profiler = PySpy(args.py_spy, pool.pids[0], args.workdir / f"pyspy-{tag}.txt")
        if not fake:
            assert receiver is not None
            _wait("backlog received", lambda: receiver.count()["ok"] >= seed.requests, args.timeout, 0.05)
            t_received = time.time()
        _wait("backlog settled", lambda: _open_deliveries(engine) == 0, args.timeout, 0.05 if not fake else 0.1)
        t_settled = time.time()
        s1 = snapshot(pool.pids, receiver_pid, pg_name)
        if profiler is not None:
            result["py_spy_worker0_backlog"] = profiler.stop()
            profiler = None
        backlog: dict[str, Any] = {
            "seconds_to_settled": round(t_settled - t0, 2),
            "deliveries_per_s": round(seed.requests / (t_settled - t0), 1),
            "cpu": cpu_between(s0, s1, seed.requests),
        }
        if fake:
            backlog["round_timings"] = None  # filled in after the workers stop (they write them on exit)
        else:
            assert receiver is not None
            dump = receiver.dump()
            ok, _ = first_ok_times(dump)
            times = sorted(ok.values())
            lo, hi = percentile(times, 0.10), percentile(times, 0.90)
            backlog.update(
                seconds_to_last_received=round(t_received - t0, 2),
                seconds_to_99pct_received=round(percentile(times, 0.99) - t0, 2),
                first_received_after_s=round(times[0] - t0, 3),
                steady_per_s_10_90=round(0.8 * len(times) / max(hi - lo, 1e-9), 1),
                effects=check_effects(_deliveries(engine), dump),
                signatures=check_signatures(dump, seed.secret),
            )
        result["throughput"] = backlog

        # -- latency at a steady offered rate, below capacity --------------------------------------------------------
        if not fake and args.rate > 0 and args.rate_seconds > 0:
            assert receiver is not None
            before = {r.idempotency_key for r in _deliveries(engine)}
            receiver.reset(fail or 0.0, seed=7 + workers, ids=args.external_ids)
            clock = SystemClock()
            rng = random.Random(11)
            n = int(args.rate * args.rate_seconds)
            intake: dict[int, tuple[float, float, float]] = {}  # request id → (due, started, committed)
            s2 = snapshot(pool.pids, receiver_pid, pg_name)
            start = time.time() + 0.1
            for i, cmd in enumerate(_commands(rng, seed.api_key, n)):
                due = start + i / args.rate
                pause = due - time.time()
                if pause > 0:
                    time.sleep(pause)
                began = time.time()
                made = submit_request(SqlUnitOfWork(engine), clock, cmd)
                assert made.service_request_id is not None
                intake[int(made.service_request_id)] = (due, began, time.time())
            t_intake_done = time.time()
            _wait("steady received", lambda: receiver.count()["ok"] >= n, args.timeout, 0.05)
            _wait("steady settled", lambda: _open_deliveries(engine) == 0, args.timeout, 0.05)
            s3 = snapshot(pool.pids, receiver_pid, pg_name)
            dump = receiver.dump()
            rows = [r for r in _deliveries(engine) if r.idempotency_key not in before]
            ok, first = first_ok_times(dump)
            precise, hub_clock, first_try = [], [], []
            for r in rows:
                committed = intake[r.request_id][2]
                if r.idempotency_key in ok:
                    precise.append(ok[r.idempotency_key] - committed)
                    hub_clock.append(ok[r.idempotency_key] - _created_epoch(r.created_at))
                if r.idempotency_key in first:
                    first_try.append(first[r.idempotency_key] - committed)
            took = [c - b for _, b, c in intake.values()]
            late = [b - d for d, b, _ in intake.values()]
            result["steady"] = {
                "offered_per_s": args.rate,
                "requests": n,
                "achieved_intake_per_s": round(n / (t_intake_done - start), 1),
                "intake_behind_schedule_max_ms": round(max(late) * 1000, 1),
                "submit_request": _ms_stats(took),
                "latency": _ms_stats(precise),
                "latency_first_attempt": _ms_stats(first_try),
                "latency_from_created_at": _ms_stats(hub_clock),
                "effects": check_effects(rows, dump),
                "cpu": cpu_between(s2, s3, n),
            }
    except (TimeoutError, RuntimeError) as exc:
        result["error"] = str(exc)
        log(f"  {tag}: {exc}")
    finally:
        if profiler is not None:
            profiler.stop()
        if pool is not None:
            pool.stop()
            result["worker_log_lines"] = pool.log_lines()
            if fake and "throughput" in result:
                result["throughput"]["round_timings"] = pool.round_timings()
        engine.dispose()
    return result


# -- baselines without the database --------------------------------------------------------------------------------
def _sample_messages(seed: Seed, count: int) -> tuple[Any, list[Any]]:
    """The seed's connector (with its secret) and ``count`` of its real outbox messages."""
    from sqlalchemy import text

    from civicswitch.core.db import make_engine
    from civicswitch.hub.model import MessageType, OutboundMessage
    from civicswitch.storage.sql import SqlUnitOfWork

    engine = make_engine(seed.url)
    try:
        with SqlUnitOfWork(engine, writing=False) as uow:
            connector = uow.hub.connector(CONNECTOR)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, idempotency_key, request_id, type, payload FROM deliveries ORDER BY id LIMIT :n"),
                {"n": count},
            ).all()
    finally:
        engine.dispose()
    messages = [
        OutboundMessage(r.id, r.idempotency_key, MessageType(r.type), r.request_id,
                        r.payload if isinstance(r.payload, dict) else json.loads(r.payload))
        for r in rows
    ]  # fmt: skip
    return connector, messages


def http_baselines(seed: Seed, receiver: Receiver, seconds: float, batch: int) -> dict[str, Any]:
    """Receiver capacity with a plain httpx loop (``PLAIN_CONCURRENCY`` requests in flight), and civicswitch's
    WebhookSender alone (signing + HTTP) in batches of ``batch`` sent together as a worker round does; no database.
    One client process, this one."""
    import httpx

    from civicswitch.hub.connectors.webhook import WebhookSender

    connector, messages = _sample_messages(seed, batch)
    body = json.dumps(messages[0].envelope).encode()
    out: dict[str, Any] = {"body_bytes": len(body), "plain_concurrency": PLAIN_CONCURRENCY, "sender_batch": batch}

    async def plain() -> int:
        done = 0
        async with httpx.AsyncClient() as client:
            stop_at = time.perf_counter() + seconds

            async def one() -> None:
                nonlocal done
                while time.perf_counter() < stop_at:
                    r = await client.post(receiver.url, content=body, headers={"content-type": "application/json",
                                                                                "webhook-id": "plain"})  # fmt: skip
                    r.raise_for_status()
                    done += 1

            await asyncio.gather(*(one() for _ in range(PLAIN_CONCURRENCY)))
        return done

    async def sender() -> int:
        done = 0
        webhook = WebhookSender()
        stop_at = time.perf_counter() + seconds
        while time.perf_counter() < stop_at:
            outcomes = await asyncio.gather(*(webhook.send(connector, m) for m in messages))
            assert all(o.kind == "delivered" for o in outcomes), outcomes[:3]
            done += len(outcomes)
        await webhook.aclose()
        return done

    for name, fn in (("httpx_plain", plain), ("webhook_sender", sender)):
        receiver.reset(0.0)
        s0 = snapshot([], receiver.proc.pid, None)
        t0 = time.perf_counter()
        n = asyncio.run(fn())
        wall = time.perf_counter() - t0
        s1 = snapshot([], receiver.proc.pid, None)
        cpu = cpu_between(s0, s1, n)
        out[name] = {
            "requests": n,
            "per_s": round(n / wall, 1),
            "client_cpu_ms_per_request": cpu["ms_per_delivery"]["driver"],
            "receiver_cpu_ms_per_request": cpu["ms_per_delivery"]["receiver"],
            "cores": cpu["cores"],
        }
    receiver.reset(0.0)
    return out


# -- output ------------------------------------------------------------------------------------------------------------
def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    return str(value)


def summary(configs: list[dict[str, Any]], baselines: dict[str, Any]) -> str:
    fake = {(c["database"], c["workers"]): c for c in configs if c["receiver_failure_rate"] is None}
    lines = [
        "| database | workers | failures | deliveries/s | 10–90 % /s | DB only /s | attempts/deliv | exactly once "
        "| intake /s | p50 ms | p99 ms | p50 from created_at | CPU ms/deliv workers / receiver / postgres "
        "| other cores |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|",
    ]
    for c in configs:
        if c["receiver_failure_rate"] is None:
            continue
        t, s = c.get("throughput", {}), c.get("steady", {})
        base = fake.get((c["database"], c["workers"]), {}).get("throughput", {})
        eff = t.get("effects", {})
        ms = t.get("cpu", {}).get("ms_per_delivery", {})
        once = eff.get("exactly_once")
        if s:
            once = bool(once) and bool(s["effects"]["exactly_once"])
        lines.append(
            f"| {c['database'].split(' (')[0]} | {c['workers']} | {round(c['receiver_failure_rate'] * 100)} % "
            f"| {_fmt(t.get('deliveries_per_s'))} | {_fmt(t.get('steady_per_s_10_90'))} "
            f"| {_fmt(base.get('deliveries_per_s'))} | {_fmt(eff.get('attempts_per_delivery_db'), 2)} "
            f"| {'yes' if once else ('NO' if once is not None else '–')} | {_fmt(s.get('achieved_intake_per_s'))} "
            f"| {_fmt(s.get('latency', {}).get('p50_ms'))} | {_fmt(s.get('latency', {}).get('p99_ms'))} "
            f"| {_fmt(s.get('latency_from_created_at', {}).get('p50_ms'))} "
            f"| {_fmt(ms.get('workers'), 2)} / {_fmt(ms.get('receiver'), 2)} / {_fmt(ms.get('postgres'), 2)} "
            f"| {_fmt(t.get('cpu', {}).get('cores', {}).get('other'), 2)} |"
            + (f" error: {c['error']}" if c.get("error") else "")
        )
    spied = [c for c in configs if c.get("py_spy_worker0_backlog", {}).get("share_of_busy")]
    if spied:
        lines.append("")
    for c in spied:
        top = ", ".join(f"{k} {v:.0%}" for k, v in list(c["py_spy_worker0_backlog"]["share_of_busy"].items())[:6])
        lines.append(f"py-spy, worker 0 of {c['config']} (share of busy samples): {top}")
    h = baselines
    if h:
        plain, sender = h["httpx_plain"], h["webhook_sender"]
        lines.append("")
        lines.append(
            f"Baselines (one client process, {h['body_bytes']} B body): plain httpx, {h['plain_concurrency']} in "
            f"flight → receiver {plain['per_s']:,.0f}/s (client {plain['client_cpu_ms_per_request']} ms CPU, "
            f"receiver {plain['receiver_cpu_ms_per_request']} ms per request); civicswitch WebhookSender, batches of "
            f"{h['sender_batch']} → {sender['per_s']:,.0f}/s (client {sender['client_cpu_ms_per_request']} ms CPU "
            "per request)."
        )
    return "\n".join(lines)


def targets(configs: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in configs:
        if c["database"].startswith("PostgreSQL") and c["workers"] == 4 and c["receiver_failure_rate"] is not None:
            rate = c.get("throughput", {}).get("deliveries_per_s")
            p50 = c.get("steady", {}).get("latency", {}).get("p50_ms")

            def verdict(value: float | None, ok: bool) -> str:
                return "not measured" if value is None else ("met" if ok else "NOT met")

            out.append(
                f"target (PostgreSQL, 4 workers, {round(c['receiver_failure_rate'] * 100)} % failures): "
                f"≥ 500 deliveries/s: {verdict(rate, rate is not None and rate >= 500)} ({_fmt(rate)}/s); "
                f"p50 ≤ 500 ms: {verdict(p50, p50 is not None and p50 <= 500)} ({_fmt(p50)} ms)"
            )
    return out


def _git(*cmd: str) -> str:
    try:
        return subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def use_code(ref: str | None, workdir: Path) -> dict[str, Any]:
    """Measure ``ref`` (``git archive`` of its src/ into the workdir, first on PYTHONPATH for this process and the
    workers) instead of the work tree, which other people edit while the benchmark runs."""
    if ref is None:
        import civicswitch

        return {"code": "work tree", "head": _git("rev-parse", "--short", "HEAD"),
                "src_modified": _git("status", "--porcelain", "src").splitlines(),
                "imported_from": str(Path(civicswitch.__file__).resolve().parent)}  # fmt: skip
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    if not commit:
        raise SystemExit(f"--code {ref!r} is not a commit")
    dest = workdir / f"code-{commit[:12]}"
    if not (dest / "src" / "civicswitch").exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", commit, "src"], cwd=REPO, capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest, filter="data")
    src = str(dest / "src")
    sys.path.insert(0, src)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    import civicswitch

    found = Path(civicswitch.__file__).resolve()
    if not found.is_relative_to(dest.resolve()):
        raise SystemExit(f"--code: civicswitch still imports from {found}")
    return {"code": ref, "commit": commit, "path": src}


def _interrupted(*_: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", default="sqlite,postgres", help="comma list: sqlite, postgres")
    p.add_argument("--workers", default="1,4", help="comma list of worker process counts")
    p.add_argument("--failures", default="0,0.2", help="comma list of receiver failure rates")
    p.add_argument("--requests", type=int, default=None, help="backlog size (default 10,000; --quick 2,000)")
    p.add_argument("--rate", type=float, default=50.0, help="steady offered rate, requests/s (default 50)")
    p.add_argument("--rate-seconds", type=float, default=None, help="steady phase length (default 10 s; quick 5 s)")
    p.add_argument("--baseline-seconds", type=float, default=None, help="HTTP baselines (default 3 s; quick 1 s)")
    p.add_argument("--batch", type=int, default=BATCH_DEFAULT, help="civicswitch worker --batch")
    p.add_argument("--log-level", default=None, help="CIVICSWITCH_LOG_LEVEL for the workers (default: as shipped)")
    p.add_argument("--external-ids", action="store_true", help='the receiver answers {"id": …} (external refs)')
    p.add_argument("--no-fake", action="store_true", help="skip the FakeSender (DB only) baseline")
    p.add_argument("--py-spy", nargs="?", const="py-spy", default=None, metavar="BIN",
                   help="py-spy worker 0 during each real configuration's backlog (BIN: its path)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    p.add_argument("--idle-wait", type=float, default=10.0, help="wait up to this long for a quiet machine")
    p.add_argument("--timeout", type=float, default=600.0, help="give up on a phase after this long")
    p.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    p.add_argument("--code", default=None, metavar="REF", help="measure this commit, not the (busy) work tree")
    p.add_argument("--workdir", type=Path, default=REPO / "var" / "bench" / "delivery")
    args = p.parse_args(argv)
    args.requests = args.requests or (2_000 if args.quick else 10_000)
    args.rate_seconds = args.rate_seconds if args.rate_seconds is not None else (5.0 if args.quick else 10.0)
    args.baseline_seconds = args.baseline_seconds or (1.0 if args.quick else 3.0)
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    counts = [int(w) for w in args.workers.split(",")]
    failures = [float(f) for f in args.failures.split(",")]
    if args.py_spy and not (shutil.which(args.py_spy) or Path(args.py_spy).exists()):
        raise SystemExit(f"py-spy not found at {args.py_spy!r}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupted)  # stop the workers and the receiver in the finally blocks

    started = time.time()
    run: dict[str, Any] = {
        "benchmark": "delivery",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "bench/delivery.py", *(argv or sys.argv[1:])]),
        "code": use_code(args.code, args.workdir),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "sizes": {
            "backlog_requests": args.requests,
            "steady_rate_per_s": args.rate,
            "steady_seconds": args.rate_seconds,
            "batch": args.batch,
            "retry_schedule_s": list(RETRY_SCHEDULE),
        },
        "seeds": {},
        "baselines": {},
        "configs": [],
    }
    receiver = Receiver(args.workdir)
    seeds: list[Seed] = []
    try:
        log(f"receiver on {receiver.url}")
        for kind in kinds:
            log(f"{kind}: filing {args.requests:,} requests through submit_request (connector paused)")
            seed = build_seed(kind, args.workdir, args.requests, receiver.url)
            seeds.append(seed)
            run["seeds"][kind] = {"database": seed.version, "intake": seed.intake}
            log(f"  {seed.version}: {seed.intake}")
        log("baselines: plain httpx and WebhookSender against the receiver (no database)")
        run["baselines"] = http_baselines(seeds[0], receiver, args.baseline_seconds, args.batch)
        log(f"  {json.dumps(run['baselines'])}")
        for seed in seeds:
            for workers in counts:
                plan: list[float | None] = ([] if args.no_fake else [None]) + failures
                for fail in plan:
                    what = "FakeSender" if fail is None else f"{fail:.0%} failures"
                    log(f"{seed.kind}, {workers} worker(s), {what}")
                    result = run_config(seed, workers, fail, args, receiver, spy=bool(args.py_spy) and fail is not None)
                    run["configs"].append(result)
                    print(json.dumps(result), flush=True)
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        receiver.stop()
        if not args.keep:
            for seed in seeds:
                for url in (seed.url, db_url(seed.kind, args.workdir, seed=False)):
                    with contextlib.suppress(Exception):
                        drop_database(seed.kind, url)
    run["seconds"] = round(time.time() - started, 1)
    table = summary(run["configs"], run["baselines"])
    run["targets"] = targets(run["configs"])
    out = args.workdir / f"delivery-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(run, indent=1, default=str))
    print("\n" + table + "\n\n" + "\n".join(run["targets"]))
    print(f"\nwhole run {run['seconds']:.0f} s; everything in {out}")
    bad = [c["config"] for c in run["configs"] if c.get("error")
           or (c.get("throughput", {}).get("effects") and not c["throughput"]["effects"]["exactly_once"])
           or (c.get("steady") and not c["steady"]["effects"]["exactly_once"])]  # fmt: skip
    if bad:
        print(f"FAILED configurations: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_receiver":
        receiver_main(int(sys.argv[sys.argv.index("--port") + 1]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_worker":
        timings = Path(sys.argv[sys.argv.index("--timings") + 1]) if "--timings" in sys.argv else None
        batch = int(sys.argv[sys.argv.index("--batch") + 1]) if "--batch" in sys.argv else BATCH_DEFAULT
        worker_main("--fake" in sys.argv, batch, timings)
    else:
        sys.exit(main())
