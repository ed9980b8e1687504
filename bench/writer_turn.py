"""How long a POST holds SQLite's one writer's turn, and how many commits share a sync: group commit on and off.

    .venv/bin/python bench/writer_turn.py [--requests 400] [--threads 1,8] [--rounds 3] [--out FILE.json]

In-process, on a fresh file database with the demo catalog (``synchronous=FULL``): ``--threads`` threads file
requests through the ``submit_request`` use case (what ``POST requests.json`` runs), each in its own unit of work,
``--requests`` in all per pass. Passes alternate between two engines on two copies of the database: group commit
on (``core/walsync.py``: SQLite at NORMAL, a shared fdatasync of the WAL after the turn, checkpoints in a thread)
and off (SQLite syncs inside every commit and checkpoints inside the commit that passes 1,000 pages).

Reported per setting and thread count (medians over ``--rounds``): the writer's turn (time from taking the writer
lock to letting it go) p50/p90/p99/max in ms, turns over 8 ms, requests per second, CPU ms per request of this
process, and for group commit the commits per sync. The turn is what every other writer of every process waits
for; the disk's sync is in it only with group commit off. The machine's 2 cores are shared with whatever else runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `bench` importable

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.core.migrate import upgrade
from civicswitch.core.walsync import group_sync_for
from civicswitch.demo.city import catalog_document
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.storage import writelock
from civicswitch.storage.sql import SqlUnitOfWork

_held: threading.local = threading.local()
TURNS: dict[str, list[float]] = {}  # the engine's database file -> turns, ms


def _instrument() -> None:
    """Time each outermost hold of every writer lock, keyed by its lock file."""
    acquire, release = writelock.WriterLock.acquire, writelock.WriterLock.release

    def timed_acquire(self: writelock.WriterLock) -> None:
        acquire(self)
        if self._depth == 1:
            _held.t0 = time.perf_counter()

    def timed_release(self: writelock.WriterLock) -> None:
        outermost = self._depth == 1
        release(self)
        if outermost:
            TURNS.setdefault(self.path or "", []).append((time.perf_counter() - _held.t0) * 1000)

    writelock.WriterLock.acquire = timed_acquire  # type: ignore[method-assign]
    writelock.WriterLock.release = timed_release  # type: ignore[method-assign]


def _database(folder: Path, name: str) -> tuple[str, str]:
    url = f"sqlite:///{folder / name}"
    engine = make_engine(url)
    upgrade(engine)
    load_catalog(SqlUnitOfWork(engine), catalog_document())
    _, key = create_client(SqlUnitOfWork(engine), SystemClock(), "bench", frozenset({Scope.SUBMIT}), rate_limit=0)
    engine.dispose()
    return url, key


def _commands(key: str, count: int, offset: int) -> list[SubmitRequest]:
    out = []
    for n in range(offset, offset + count):
        lat, long = 40.70 + (n % 100) * 0.001, -73.95 - (n % 97) * 0.001
        out.append(
            SubmitRequest(service_code="abandoned-bike", api_key=key, lat=f"{lat:.5f}", long=f"{long:.5f}",
                          address_string=f"{n} Main St", description=f"Chained to the rail, {n}.")
        )  # fmt: skip
    return out


def _pass(engine: Any, key: str, requests: int, threads: int, offset: int) -> dict[str, float]:
    clock = SystemClock()
    commands = _commands(key, requests, offset)
    chunks = [commands[i::threads] for i in range(threads)]
    lock_file = str(Path(engine.url.database).resolve()) + "-writer.lock"
    TURNS[lock_file] = []
    group = group_sync_for(str(engine.url.database))
    syncs_before, waits_before = group.syncs, group.waits
    errors: list[BaseException] = []

    def work(chunk: list[SubmitRequest]) -> None:
        try:
            for cmd in chunk:
                submit_request(SqlUnitOfWork(engine), clock, cmd)
        except BaseException as exc:  # reported after the pass
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(c,)) for c in chunks]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if errors:
        raise errors[0]
    turns = sorted(TURNS[lock_file])
    syncs, waits = group.syncs - syncs_before, group.waits - waits_before

    def pct(p: float) -> float:
        return turns[min(len(turns) - 1, int(p * len(turns)))]

    return {
        "turn_p50": pct(0.5), "turn_p90": pct(0.9), "turn_p99": pct(0.99), "turn_max": turns[-1],
        "turns_over_8ms": float(sum(1 for t in turns if t > 8)), "req_per_s": requests / wall,
        "cpu_ms_per_req": cpu / requests * 1000, "commits_per_sync": (waits / syncs) if syncs else 0.0,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="requests filed per pass")
    parser.add_argument("--threads", default="1,8", help="comma-separated thread counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    _instrument()
    threads = [int(t) for t in args.threads.split(",")]
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        engines = {}
        for name, group in (("group commit", True), ("SQLite FULL", False)):
            url, key = _database(Path(folder), name.replace(" ", "-") + ".db")
            engines[name] = (make_engine(url, sqlite_group_commit=group), key)
        offset = 0
        for rnd in range(args.rounds):
            order = list(engines) if rnd % 2 == 0 else list(reversed(engines))
            for n in threads:
                for name in order:
                    engine, key = engines[name]
                    found = _pass(engine, key, args.requests, n, offset)
                    offset += args.requests
                    results.setdefault(name, {}).setdefault(str(n), []).append(found)
    print(f"writer's turn per POST (submit_request), {args.requests} requests a pass, medians of {args.rounds} rounds; "
          "2 cores shared with everything else on the machine")  # fmt: skip
    head = ("setting", "threads", "turn p50", "p90", "p99", "max", ">8 ms", "req/s", "CPU ms/req", "commits/sync")
    print("{:<14}{:>8}{:>10}{:>8}{:>8}{:>8}{:>7}{:>8}{:>11}{:>13}".format(*head))
    summary: dict[str, Any] = {}
    for name, by_threads in results.items():
        for n, passes in by_threads.items():
            med = {k: statistics.median(p[k] for p in passes) for k in passes[0]}
            summary.setdefault(name, {})[n] = {"median": med, "passes": passes}
            print(f"{name:<14}{n:>8}{med['turn_p50']:>10.2f}{med['turn_p90']:>8.2f}{med['turn_p99']:>8.2f}"
                  f"{med['turn_max']:>8.1f}{med['turns_over_8ms']:>7.0f}{med['req_per_s']:>8.0f}"
                  f"{med['cpu_ms_per_req']:>11.2f}{med['commits_per_sync']:>13.2f}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)}, "results": summary}, indent=2))


if __name__ == "__main__":
    main()
