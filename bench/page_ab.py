"""A/B of a few staff pages' server time between two checkouts' code on the same database, in alternating rounds
(the machine's drift falls on both sides alike). Signs in as ``staff_pages.py``'s bench accounts (run that first).

    flock /tmp/bench.lock .venv/bin/python bench/page_ab.py --url postgresql://…/civicswitch_bench_1000000_<tag> \\
        --a OLD_CHECKOUT/src --b src [--rounds 3 --fetches 20]

Each side runs in its own process (``--side``), so the two never share imported code. Prints p50 / p95 per page
and side over all rounds; 2 cores shared with whatever else runs."""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time

PASSWORD = "bench staff password 311"
PAGES = [
    ("bench-agent@bench.invalid", "/staff/agent"),
    ("bench-admin@bench.invalid", "/staff/admin/keys"),
    ("bench-dept@bench.invalid", "/staff/queue"),
    ("bench-dept@bench.invalid", "/staff/queue?sort=newest"),
]


def side(url: str, fetches: int) -> None:
    from fastapi.testclient import TestClient

    from civicswitch.core.db import make_engine
    from civicswitch.settings import Settings
    from civicswitch.web.app import create_app

    app = create_app(Settings(database_url=url, rate_limit_enabled=False, access_log=False), engine=make_engine(url))
    out: dict[str, list[float]] = {}
    clients: dict[str, TestClient] = {}
    for email, path in PAGES:
        client = clients.get(email)
        if client is None:
            client = clients[email] = TestClient(app).__enter__()
            form = client.get("/staff/login")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token
            client.post("/staff/login", data={"email": email, "password": PASSWORD, "csrf": token.group(1)})
        assert client.get(path).status_code == 200, path
        times = []
        for _ in range(fetches):
            start = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - start) * 1000)
        out[path] = times
    print(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--a", required=True, help="side A's src/ directory")
    p.add_argument("--b", required=True, help="side B's src/ directory")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--fetches", type=int, default=20)
    p.add_argument("--side", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side:
        side(args.url, args.fetches)
        return
    samples: dict[str, dict[str, list[float]]] = {"A": {}, "B": {}}
    for _ in range(args.rounds):
        for name, src in (("A", args.a), ("B", args.b)):
            env_path = f"{src}"
            found = subprocess.run(
                [sys.executable, __file__, "--side", "--url", args.url, "--a", "", "--b", "",
                 "--fetches", str(args.fetches)],
                env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True,
            )  # fmt: skip
            for path, times in json.loads(found.stdout.strip().splitlines()[-1]).items():
                samples[name].setdefault(path, []).extend(times)
    print(f"A = {args.a}\nB = {args.b}\n2 cores shared; ms, p50 / p95 over {args.rounds} rounds × {args.fetches}")
    for _, path in PAGES:
        row = []
        for name in ("A", "B"):
            ms = sorted(samples[name][path])
            row.append(f"{statistics.median(ms):6.1f} / {ms[round(0.95 * (len(ms) - 1))]:6.1f}")
        print(f"{path:28s} A {row[0]}   B {row[1]}")


if __name__ == "__main__":
    main()
