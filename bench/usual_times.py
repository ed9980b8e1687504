"""What the report page's "usually closed within" costs when it is not kept: ``observed_times()`` (requests/
reporting.py) for the busiest department's newest open request, called ``--calls`` times one after another on a
database of ``staff_pages.py`` (run that first), each timed with ``time.perf_counter``.

    PYTHONPATH=src .venv/bin/python bench/usual_times.py sqlite:////work/bench-out/s23/sqlite-1000000.db
    PYTHONPATH=src .venv/bin/python bench/usual_times.py postgresql://postgres@127.0.0.1:5432/civicswitch_bench_…

The first call starts cold (the catalog, the database's cache); 2 cores shared with whatever else runs."""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import text

from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.requests.reporting import observed_times
from civicswitch.storage.sql import SqlUnitOfWork

BUSIEST_OPEN = (
    "SELECT max(id) FROM service_requests WHERE status <> 'closed' AND body_id = "
    "(SELECT body_id FROM service_requests GROUP BY body_id ORDER BY count(*) DESC LIMIT 1)"
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url")
    p.add_argument("--calls", type=int, default=7)
    args = p.parse_args()
    engine = make_engine(args.url)
    with engine.connect() as db:
        rid = db.execute(text(BUSIEST_OPEN)).scalar_one()
    with SqlUnitOfWork(engine) as uow:
        request = uow.requests.get(rid)
    assert request is not None
    print(f"request {rid}: {request.service_code} {request.areas}")
    now = SystemClock().now()
    times = []
    found = None
    for _ in range(args.calls):
        started = time.perf_counter()
        found = observed_times(SqlUnitOfWork(engine), request.service_code, request.areas, now)
        times.append((time.perf_counter() - started) * 1000)
    print(found)
    print(f"ms: {[round(t, 1) for t in times]}  median of the calls after the first {statistics.median(times[1:]):.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()
