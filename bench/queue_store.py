"""The staff queue's store call alone (``SqlQueueStore.queue``: counts and page), in process, on a generated SQLite
database: the searches of ``staff_pages.py`` and a few more, each median and slowest of 5 calls after one warm-up.

    flock /tmp/bench.lock env PYTHONPATH=src .venv/bin/python bench/queue_store.py \\
        --db /work/bench-out/final/sqlite-1000000.db [--src OTHER_CHECKOUT/src]

``--src`` runs another checkout's code on the same database (a before/after in one session). The database is the
one ``open311_api.py``/``staff_pages.py`` generate (NYPD owns the most requests; ``loud`` is its common word)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", required=True, help="a generated SQLite database file")
    p.add_argument("--src", default=None, help="put this src/ first on the path (another checkout's code)")
    p.add_argument("--calls", type=int, default=5)
    args = p.parse_args()
    if args.src:
        sys.path.insert(0, args.src)
    from civicswitch.core.db import make_engine
    from civicswitch.requests.model import Status
    from civicswitch.requests.queue import QueueFilter, QueueScope, Sort
    from civicswitch.requests.queue_sql import SqlQueueStore

    nypd, everyone = QueueScope(bodies=frozenset({"NYPD"})), QueueScope(everything=True)
    closed = (Status.CLOSED,)
    cases = {
        "department, loud": (nypd, QueueFilter(text="loud")),
        "department, closed, loud": (nypd, QueueFilter(text="loud", statuses=closed)),
        "department, closed, loud, newest, page 20": (nypd, QueueFilter(text="loud", statuses=closed,
                                                                          sort=Sort.NEWEST, page=20)),
        "department, loud, recently updated": (nypd, QueueFilter(text="loud", sort=Sort.UPDATED)),
        "department, loud, by due date": (nypd, QueueFilter(text="loud", sort=Sort.DUE)),
        "department, pothole (none)": (nypd, QueueFilter(text="pothole")),
        "everyone, loud": (everyone, QueueFilter(text="loud")),
        "everyone, loud, newest": (everyone, QueueFilter(text="loud", sort=Sort.NEWEST)),
        "everyone, pothole (1,183 open)": (everyone, QueueFilter(text="pothole")),
        "an area, loud": (QueueScope(areas=frozenset({("community_district", "101")})), QueueFilter(text="loud")),
    }  # fmt: skip
    engine = make_engine(f"sqlite:///{args.db}")
    print("2 cores shared with the load of the machine; in-process store calls, ms")
    for name, (scope, query) in cases.items():
        times = []
        for _ in range(args.calls + 1):
            with engine.connect() as conn:
                start = time.perf_counter()
                page = SqlQueueStore(conn).queue(scope, query)
                times.append((time.perf_counter() - start) * 1000)
        measured = times[1:]
        print(f"{name:44s} median {statistics.median(measured):7.1f}  slowest {max(measured):7.1f}  "
              f"rows {len(page.rows):3d}  total {page.total}{'+' if page.more else ''}")  # fmt: skip


if __name__ == "__main__":
    main()
