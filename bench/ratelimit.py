"""What the rate limiter costs a request, measured in-process: the real application (``create_app``) with rate
limits on and off, side by side in the same run, called as uvicorn calls it (ASGI), with no HTTP client and no
network, so that the load driver and other people's jobs do not drown a difference of a few microseconds.

    .venv/bin/python bench/ratelimit.py [--requests 2000] [--rounds 7] [--redis] [--out FILE.json]

For each scenario, rounds alternate between the two applications (off first in even rounds, on first in odd
ones); each round sends ``--requests`` requests one after another and reads the CPU time of this process
(``time.process_time``: the event loop and the thread pool where the database work runs). The result is the
median CPU µs per request of each application and their ratio (neither carries any timer). On a busy shared
machine that ratio moves by several % from round to round, about what the limiter costs, so the run also measures
the limiter itself: inside a third application with rate limits on (its rounds interleaved with the others), the
CPU time of the event loop's thread (``time.thread_time``) in the rate-limit
middleware minus that in the application behind it (the limiter's own code, which runs on the event loop; a
key's first lookup goes to the thread pool and is not counted, it happens once per key and 5 s), less the same
measure of a middleware that only passes the request on (rounds of their own: what the measuring costs), against
the median CPU time of the whole request with rate limits off. That share is the number to compare with the 5 % budget.

Scenarios:
- ``get_one``: ``GET /open311/v2/requests/{id}.json`` without a key: counted against the address's read limit
  (raised so it never refuses one), as the HTTP benchmark does;
- ``post``: ``POST /open311/v2/requests.json``, url-encoded, with a key made ``--no-limit`` (as the HTTP
  benchmark's key): the limiter finds the key in the body and looks up its limit (cached), and counts nothing;
- ``post_counted``: the same with a key limited to 1,000,000 a minute, so each POST is also counted.
With ``--redis`` the counts go to Redis on 127.0.0.1:6379 instead of memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `bench` importable

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.core.migrate import upgrade
from civicswitch.demo.city import catalog_document
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app

ADDRESS = ("203.0.113.7", 50000)


def form(api_key: str, n: int) -> bytes:
    lat, long = 40.70 + (n % 100) * 0.001, -73.95 - (n % 97) * 0.001
    fields = {
        "api_key": api_key,
        "service_code": "abandoned-bike",
        "lat": f"{lat:.5f}",
        "long": f"{long:.5f}",
        "address_string": f"{n} Main St",
        "description": "Chained to the rail for weeks, wheels gone.",
    }
    return urlencode(fields).encode()


async def call(app: Any, method: str, path: str, body: bytes = b"") -> int:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"bench"), (b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", str(len(body)).encode())],
        "client": ADDRESS, "server": ("127.0.0.1", 8311), "state": {},
    }  # fmt: skip
    sent = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive() -> dict[str, Any]:
        return sent.pop(0) if sent else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


class PassOn:
    """A middleware that does nothing: measured in the limiter's place, it gives what the measuring costs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class SelfTime:
    """Wraps the rate-limit middleware: total time in it, and time in the application behind it."""

    def __init__(self, limiter_mw: Any) -> None:
        self.limiter = limiter_mw
        self.mw = limiter_mw
        self.inner = limiter_mw.app
        self.outer_ns = 0
        self.inner_ns = 0
        self.calls = 0
        wrapper = self

        async def timed_inner(scope: Any, receive: Any, send: Any) -> None:
            t0 = time.thread_time_ns()
            try:
                await wrapper.inner(scope, receive, send)
            finally:
                wrapper.inner_ns += time.thread_time_ns() - t0

        limiter_mw.app = timed_inner
        self.pass_on = PassOn(timed_inner)

    def measure(self, what: str) -> None:
        """Time the limiter ("on") or, in its place, the middleware that does nothing ("pass")."""
        self.mw = self.limiter if what == "on" else self.pass_on

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        t0 = time.thread_time_ns()
        try:
            await self.mw(scope, receive, send)
        finally:
            self.outer_ns += time.thread_time_ns() - t0
            self.calls += 1

    def take(self) -> float:
        """µs of the limiter's own time per request since the last call."""
        own = (self.outer_ns - self.inner_ns) / max(self.calls, 1) / 1000
        self.outer_ns = self.inner_ns = self.calls = 0
        return own


def instrument(app: Any) -> SelfTime:
    """Puts a :class:`SelfTime` around the rate-limit middleware of ``app`` (built on first use)."""
    from civicswitch.web.ratelimit import RateLimit

    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    parent = app.middleware_stack
    while not isinstance(getattr(parent, "app", None), RateLimit):
        parent = parent.app
    timer = SelfTime(parent.app)
    parent.app = timer
    return timer


async def run(app: Any, make: Callable[[int], tuple[str, str, bytes]], n: int, start: int) -> float:
    """CPU µs per request over ``n`` requests (every answer must be 200)."""
    t0 = time.process_time()
    for i in range(start, start + n):
        method, path, body = make(i)
        status = await call(app, method, path, body)
        if status != 200:
            raise SystemExit(f"{method} {path} answered {status}")
    return (time.process_time() - t0) / n * 1e6


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="civicswitch-ratelimit-bench-"))
    url = f"sqlite:///{workdir / 'bench.db'}"  # a throw-away SQLite file: the same for both applications
    engine = make_engine(url)
    upgrade(engine)
    load_catalog(SqlUnitOfWork(engine), catalog_document())
    clock = SystemClock()
    _, free = create_client(SqlUnitOfWork(engine), clock, "bench no limit", frozenset({Scope.SUBMIT}), rate_limit=0)
    _, counted = create_client(SqlUnitOfWork(engine), clock, "bench counted", frozenset({Scope.SUBMIT}),
                               rate_limit=1_000_000)  # fmt: skip
    common: dict[str, Any] = {"database_url": url, "rate_limit_address_reads": 100_000_000}
    if args.redis:
        common.update(rate_limit_storage="redis://127.0.0.1:6379", rate_limit_prefix=f"bench-{uuid.uuid4().hex}")
    apps = {
        "off": create_app(Settings(**common, rate_limit_enabled=False), engine=engine, clock=clock),
        "on": create_app(Settings(**common, rate_limit_enabled=True), engine=engine, clock=clock),
        # A third application measures the limiter's own time: the timers cost more than the limiter, so the
        # "on" application that is compared with "off" carries none.
        "timed": create_app(Settings(**common, rate_limit_enabled=True), engine=engine, clock=clock),
    }
    timer = instrument(apps["timed"])
    seed_app = apps["off"]
    for i in range(200):  # requests to read back
        await call(seed_app, "POST", "/open311/v2/requests.json", form(free, i))
    ids = list(range(1, 201))
    scenarios: dict[str, Callable[[int], tuple[str, str, bytes]]] = {
        "get_one": lambda i: ("GET", f"/open311/v2/requests/{ids[i % len(ids)]}.json", b""),
        "post": lambda i: ("POST", "/open311/v2/requests.json", form(free, i)),
        "post_counted": lambda i: ("POST", "/open311/v2/requests.json", form(counted, i)),
    }
    report: dict[str, Any] = {"db": "sqlite", "storage": "redis" if args.redis else "memory", "scenarios": {}}
    for name, make in scenarios.items():
        for app in apps.values():  # warm-up (the timed one's timers too)
            await run(app, make, args.requests // 4, 0)
        samples: dict[str, list[float]] = {"off": [], "on": [], "limiter": [], "pass": []}
        start = 1000
        for r in range(args.rounds):
            labels = ("off", "on", "limiter", "pass")
            for label in labels if r % 2 == 0 else labels[::-1]:
                timer.measure("pass" if label == "pass" else "on")
                timer.take()
                cpu = await run(apps["timed" if label in ("limiter", "pass") else label], make, args.requests, start)
                start += args.requests
                samples[label].append(timer.take() if label in ("limiter", "pass") else cpu)
        timer.measure("on")
        off, on = statistics.median(samples["off"]), statistics.median(samples["on"])
        own = statistics.median(samples["limiter"]) - statistics.median(samples["pass"])
        report["scenarios"][name] = {
            "off_us": round(off, 1), "on_us": round(on, 1), "extra_us": round(on - off, 1),
            "ratio": round(on / off, 4), "limiter_us": round(own, 2), "limiter_share": round(own / off, 5),
            "samples": samples,
        }  # fmt: skip
        print(f"{name:13} CPU µs/request: rate limits off {off:7.1f}, on {on:7.1f} (ratio {on / off:.3f}); "
              f"the limiter's own time {own:5.1f} µs = {100 * own / off:.2f} % of the request", flush=True)  # fmt: skip
    engine.dispose()
    shutil.rmtree(workdir, ignore_errors=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per application and scenario")
    parser.add_argument("--redis", action="store_true", help="count in Redis (127.0.0.1:6379), not in memory")
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    args = parser.parse_args()
    print(f"command: {' '.join(sys.argv)}")
    report = asyncio.run(main_async(args))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
