"""Fetch one staff page many times in process, signed in as one of ``staff_pages.py``'s bench accounts: a target
for a profiler.

    .venv/bin/py-spy record -r 200 -o /tmp/page.txt --format raw -- .venv/bin/python bench/profile_page.py \\
        --url postgresql://postgres@127.0.0.1:5432/civicswitch_bench_1000000_<tag> --path /staff/queue

Prints the mean time per fetch (client side, through the test client)."""

from __future__ import annotations

import argparse
import re
import time

PASSWORD = "bench staff password 311"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--email", default="bench-dept@bench.invalid")
    p.add_argument("--path", default="/staff/queue")
    p.add_argument("--fetches", type=int, default=60)
    args = p.parse_args()
    from fastapi.testclient import TestClient

    from civicswitch.core.db import make_engine
    from civicswitch.settings import Settings
    from civicswitch.web.app import create_app

    settings = Settings(database_url=args.url, rate_limit_enabled=False, access_log=False)
    client = TestClient(create_app(settings, engine=make_engine(args.url))).__enter__()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/staff/login").text)
    assert token, "no sign-in form"
    client.post("/staff/login", data={"email": args.email, "password": PASSWORD, "csrf": token.group(1)})
    for _ in range(3):
        assert client.get(args.path).status_code == 200, args.path
    start = time.perf_counter()
    for _ in range(args.fetches):
        client.get(args.path)
    print(f"{args.path}: {(time.perf_counter() - start) / args.fetches * 1000:.1f} ms a fetch")


if __name__ == "__main__":
    main()
