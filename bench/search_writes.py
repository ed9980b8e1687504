"""What the queue search's index costs a write: one request per transaction, inserted, then its status changed.

Run against a benchmark database (``bench/staff_pages.py`` or ``bench/open311_api.py`` made it; say which schema:
0014's words-only GIN index or 0015's words with body and status), e.g.

    PYTHONPATH=src .venv/bin/python bench/search_writes.py --url postgresql://postgres@127.0.0.1:5432/civicswitch_bench_1000000_xxxx

Each of ``--n`` requests is a copy of a stored one (its text, body and service: the index gets real words), inserted
in its own transaction and committed; then each one's status is changed (new → acknowledged), again one transaction
each. Printed: p50, p95 and the mean per transaction, in ms. The copies are deleted at the end (and, on PostgreSQL,
the table vacuumed, so the GIN index's pending list does not linger into a later benchmark).

One client: what one write waits for. The GIN index's pending list (``fastupdate``, 4 MB) is not flushed by a few
hundred writes: a write that flushes it pays for everyone's, which this does not show. The machine has 2 cores
shared with whatever else runs; say so next to any figure.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from sqlalchemy import func, insert, select, text, update

from civicswitch.core.db import make_engine
from civicswitch.requests.tables import service_requests as sr


def _summary(name: str, samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    row = {"p50_ms": round(statistics.median(ms), 2), "p95_ms": round(ms[round(0.95 * (len(ms) - 1))], 2),
           "mean_ms": round(statistics.fmean(ms), 2)}  # fmt: skip
    print(f"  {name:28} p50 {row['p50_ms']:6.2f}  p95 {row['p95_ms']:6.2f}  mean {row['mean_ms']:6.2f} ms", flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--seed", type=int, default=311)
    args = p.parse_args()
    print(f"command: {' '.join(sys.argv)}")
    engine = make_engine(args.url)
    copied = [c for c in sr.c if c.name != "id" and c.computed is None]
    try:
        with engine.connect() as conn:
            top = int(conn.execute(select(func.max(sr.c.id))).scalar_one())
            indexes = [r[0] for r in conn.execute(text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'service_requests' AND indexdef ILIKE '%gin%'"
            ))] if conn.dialect.name == "postgresql" else []  # fmt: skip
        print(f"{engine.dialect.name}: {top:,} requests; GIN indexes: {', '.join(indexes) or 'none'}")
        rng = random.Random(args.seed)
        sources = [rng.randint(1, top) for _ in range(args.n)]
        added: list[int] = []
        inserts: list[float] = []
        for source in sources:
            with engine.connect().execution_options(writing=True) as conn:
                row = conn.execute(select(*copied).where(sr.c.id == source)).mappings().one()
                values = {**row, "status": "new", "closed_at": None, "close_reason": None}
                started = time.perf_counter()
                added.append(int(conn.execute(insert(sr).values(values).returning(sr.c.id)).scalar_one()))
                conn.commit()
                inserts.append(time.perf_counter() - started)
        changes: list[float] = []
        for rid in added:
            with engine.connect().execution_options(writing=True) as conn:
                started = time.perf_counter()
                conn.execute(update(sr).where(sr.c.id == rid).values(status="acknowledged"))
                conn.commit()
                changes.append(time.perf_counter() - started)
        _summary("insert (one per commit)", inserts)
        _summary("status change (one per commit)", changes)
    finally:
        with engine.connect().execution_options(writing=True) as conn:
            conn.execute(sr.delete().where(sr.c.id > top))
            conn.commit()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE service_requests"))
        engine.dispose()


if __name__ == "__main__":
    main()
