"""What one Open311 read costs the server, measured in-process: the real application (``create_app``, every
middleware, rate limits on as ``civicswitch serve`` runs them) called as uvicorn calls it (ASGI), with no HTTP
client and no network, so that the load driver and other people's jobs on a shared machine do not drown the
difference between two versions of the code.

    .venv/bin/python bench/reads.py --db-url sqlite:///bench/results/sqlite-50000.db
    .venv/bin/python bench/reads.py --db-url ... --src bench/results/code-<sha>/src   # another version's code

The database is one that ``bench/open311_api.py`` generated (``--reuse`` keeps it); nothing is written to it.
Each round sends ``--requests`` requests one after another per scenario and reads this process's CPU time
(``time.process_time``: the event loop and the thread pool); the result is the median CPU µs per request.
What is left out: uvicorn's HTTP parsing and the socket (the same for every version of the application).

Scenarios: ``by_id`` (``GET requests/{id}.json``, random ids), ``by_id_xml``, ``by_id_304`` (the same with the
ETag of an earlier answer in ``If-None-Match``), ``filtered`` (``GET requests.json`` of one of the top services,
``status=open``, a random 30-day window in the last year, as bench/open311_api.py's ``filtered``: a page of up
to 1,000 rows, fewer in a small database), ``filtered_304``, and ``page_500`` (``GET requests.json?page_size=500``:
the newest 500 of the default window, a full page whatever the size of the database). ``--profile`` writes a
cProfile of each scenario's last round (the event loop's thread only) next to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ADDRESS = ("203.0.113.7", 50000)
SCENARIOS = ("by_id", "by_id_xml", "by_id_304", "filtered", "filtered_304", "page_500")


Headers = tuple[tuple[bytes, bytes], ...]


async def call(app: Any, path: str, query: str = "", headers: Headers = ()) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8311"), (b"accept", b"*/*"), *headers],
        "client": ADDRESS, "server": ("127.0.0.1", 8311), "state": {},
    }  # fmt: skip
    status = 0
    out_headers: dict[bytes, bytes] = {}
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            out_headers.update(message.get("headers", ()))
        else:
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, out_headers, bytes(body)


Request = tuple[str, str, Headers]


async def run(app: Any, requests: list[Request], expect: int) -> float:
    """CPU µs per request over ``requests`` (each must answer ``expect``)."""
    t0 = time.process_time()
    for path, query, headers in requests:
        status, _, _ = await call(app, path, query, headers)
        if status != expect:
            raise SystemExit(f"GET {path}?{query} answered {status}, not {expect}")
    return (time.process_time() - t0) / len(requests) * 1e6


def top_services(engine: Any, n: int = 5) -> list[str]:
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.code FROM service_requests r JOIN services s ON s.id = r.service_id "
                "GROUP BY s.code ORDER BY count(*) DESC LIMIT :n"
            ),
            {"n": n},
        )
        return [r[0] for r in rows]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import text

    from civicswitch.core.clock import SystemClock
    from civicswitch.core.db import make_engine
    from civicswitch.settings import Settings
    from civicswitch.web.app import create_app

    engine = make_engine(args.db_url, sqlite_synchronous="NORMAL")
    settings = Settings(database_url=args.db_url, rate_limit_address_reads=100_000_000, access_log=False)
    app = create_app(settings, engine=engine, clock=SystemClock())
    with engine.connect() as conn:
        rows = int(conn.execute(text("SELECT max(id) FROM service_requests")).scalar_one())
        newest = conn.execute(text("SELECT max(requested_at) FROM service_requests")).scalar_one()
    newest_at = newest if isinstance(newest, datetime) else datetime.fromisoformat(str(newest))
    newest_at = newest_at.replace(tzinfo=UTC) if newest_at.tzinfo is None else newest_at
    rng = random.Random(args.seed)
    top = top_services(engine)

    def by_id(fmt: str) -> Callable[[int], list[Request]]:
        return lambda n: [(f"/open311/v2/requests/{rng.randint(1, rows)}.{fmt}", "", ()) for _ in range(n)]

    def filtered(n: int) -> list[Request]:
        out: list[Request] = []
        for _ in range(n):
            start = newest_at - timedelta(days=rng.randrange(30, 365))
            given = {
                "service_code": rng.choice(top),
                "status": "open",
                "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end_date": (start + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            out.append(("/open311/v2/requests.json", urlencode(given), ()))
        return out

    async def conditional(make: Callable[[int], list[Request]], n: int) -> list[Request]:
        out: list[Request] = []
        for path, query, _ in make(n):
            status, headers, _ = await call(app, path, query)
            assert status == 200, (path, status)
            out.append((path, query, ((b"if-none-match", headers[b"etag"]),)))
        return out

    report: dict[str, Any] = {"db_url": args.db_url, "rows": rows, "scenarios": {}}
    for name in args.scenarios:
        n = args.requests if not name.startswith("filtered") else max(1, args.requests // 20)
        samples: list[float] = []
        profile = cProfile.Profile() if args.profile else None
        for r in range(args.rounds + 1):  # the first round warms up
            if name == "by_id":
                batch, expect = by_id("json")(n), 200
            elif name == "by_id_xml":
                batch, expect = by_id("xml")(n), 200
            elif name == "by_id_304":
                batch, expect = await conditional(by_id("json"), n), 304
            elif name == "filtered":
                batch, expect = filtered(n), 200
            elif name == "page_500":
                batch, expect = [("/open311/v2/requests.json", "page_size=500", ())] * n, 200
            else:
                batch, expect = await conditional(filtered, n), 304
            if profile is not None and r == args.rounds:
                profile.enable()
            cpu = await run(app, batch, expect)
            if profile is not None and r == args.rounds:
                profile.disable()
            if r:
                samples.append(cpu)
        median = statistics.median(samples)
        report["scenarios"][name] = {"cpu_us": round(median, 1), "samples": [round(s, 1) for s in samples], "n": n}
        print(f"{name:13} CPU µs/request: median {median:8.1f}  rounds {[round(s) for s in samples]}", flush=True)
        if profile is not None and args.out is not None:
            where = args.out.with_suffix(f".{name}.prof.txt")
            with where.open("w") as f:
                pstats.Stats(profile, stream=f).sort_stats("tottime").print_stats(40)
                pstats.Stats(profile, stream=f).sort_stats("cumulative").print_stats(60)
    engine.dispose()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-url", required=True, help="a database bench/open311_api.py generated")
    parser.add_argument("--src", type=Path, default=None, help="import civicswitch from this src/ folder")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round (a twentieth for lists)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=311)
    parser.add_argument("--profile", action="store_true", help="cProfile the last round (written beside --out)")
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    args = parser.parse_args()
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if any(s not in SCENARIOS for s in args.scenarios):
        parser.error(f"--scenarios takes a comma list of {', '.join(SCENARIOS)}")
    if args.src is not None:
        sys.path.insert(0, str(args.src.resolve()))
    os.environ.setdefault("CIVICSWITCH_ACCESS_LOG", "false")
    import civicswitch

    print(f"command: {' '.join(sys.argv)}\ncode: {Path(civicswitch.__file__).resolve().parent}", flush=True)
    report = asyncio.run(main_async(args))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
