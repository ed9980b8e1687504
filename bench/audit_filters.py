"""The audit log's filters (``/staff/admin/audit``, ``civicswitch audit list``, ``GET /api/v1/audit``) with a big log:
the plan each filtered read gets (EXPLAIN on SQLite and PostgreSQL), its time, and the chain's verification.

A database of its own is made in ``--workdir`` (SQLite) or on ``--pg-url`` (PostgreSQL, named per workdir), migrated
to head, and ``--rows`` audit entries are appended as one valid hash chain (people/audit.py's ``entry_hash``): 300 staff
accounts (a few busy, most not), 20 API clients and the operator; sign-ins, contact reads and staff work on requests
most of the time, account management rarely. Each filtered read is the application's own (``audit_entries``, the
use case the page and the CLI call); the SQL it sends is captured and explained, then the read is timed ``--repeat``
times (median and slowest, ms). ``civicswitch audit verify``'s use case then walks the whole chain.

    .venv/bin/python bench/audit_filters.py --db both --rows 300000 --workdir /work/bench-out/audit

Timing is one reader on a machine shared with whatever else runs: compare plans, and times within one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `bench` importable

STAFF, CLIENTS = 300, 20
T0 = datetime(2025, 12, 1, tzinfo=UTC)
# (action, object type, weight): what a city's log is mostly made of
ACTIONS = [
    ("session.sign_in", "user", 25),
    ("request.read_contact", "request", 20),
    ("request.work", "request", 30),
    ("request.assign", "request", 8),
    ("request.transfer", "request", 3),
    ("request.file_on_behalf", "request", 6),
    ("manual.complete", "delivery", 5),
    ("session.change_password", "user", 1),
    ("user.manage", "user", 0.05),
    ("client.manage", "client", 0.02),
]


def staff_label(i: int) -> str:
    return f"staff:{i} clerk{i}@city.gov"


def fill(url: str, rows: int, seed: int, revision: str = "head") -> None:
    """Migrate (to ``revision``) and append ``rows`` entries as one valid chain (ids 1…rows)."""
    from sqlalchemy import insert

    from civicswitch.core.db import make_engine
    from civicswitch.core.migrate import upgrade
    from civicswitch.people.audit import GENESIS, AuditEntry, entry_hash
    from civicswitch.people.tables import audit_log

    rnd = random.Random(seed)
    engine = make_engine(url)
    try:
        upgrade(engine, revision)
        principals = [staff_label(i) for i in range(1, STAFF + 1)]
        principals += [f"client:{i} app {i}" for i in range(1, CLIENTS + 1)] + ["operator operator (CLI)"]
        weights = [1 / (rank + 1) for rank in range(len(principals))]  # a few busy accounts, a long tail
        kinds = [a for a, _, _ in ACTIONS]
        types = {a: t for a, t, _ in ACTIONS}
        chance = [w for _, _, w in ACTIONS]
        prev, step = GENESIS, timedelta(days=365) / rows
        batch: list[dict[str, Any]] = []
        with engine.begin() as db:
            for n in range(1, rows + 1):
                action = rnd.choices(kinds, chance)[0]
                kind = types[action]
                object_id = str(rnd.randint(1, 50_000)) if kind == "request" else str(rnd.randint(1, 400))
                entry = AuditEntry(at=T0 + n * step, principal=rnd.choices(principals, weights)[0], action=action,
                                   object_type=kind, object_id=object_id, reason=None, detail={"n": n},
                                   prev_hash=prev, id=n)  # fmt: skip
                digest = entry_hash(entry)
                batch.append({"id": n, "at": entry.at, "principal": entry.principal, "action": action,
                              "object_type": kind, "object_id": object_id, "reason": None, "detail": {"n": n},
                              "prev_hash": prev, "hash": digest})  # fmt: skip
                prev = digest
                if len(batch) == 10_000:
                    db.execute(insert(audit_log), batch)
                    batch = []
            if batch:
                db.execute(insert(audit_log), batch)
            db.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


def cases() -> list[tuple[str, dict[str, Any]]]:
    """(name, audit_entries arguments): the page's reads (newest first, 51 rows) and the CLI's (oldest first, 100)."""
    page = {"newest_first": True, "limit": 51}
    return [
        ("page: no filter", page),
        ("page: action, rare (user.manage)", {**page, "action": "user.manage"}),
        ("page: action, common (request.work)", {**page, "action": "request.work"}),
        ("page: who, busy (staff:2)", {**page, "principal": "staff:2"}),
        ("page: who, rare (staff:250)", {**page, "principal": "staff:250"}),
        ("page: who, full label (staff:250 …)", {**page, "principal": staff_label(250)}),
        ("page: who by email (first account: staff:1, busiest)", {**page, "principal": "clerk250@city.gov"}),
        ("page: request 4242", {**page, "request_id": "4242"}),
        ("page: rare who + common action", {**page, "principal": "staff:250", "action": "request.work"}),
        ("page: who, rare, older page", {**page, "principal": "staff:250", "before_id": 100_000}),
        ("cli: who, rare, oldest first", {"principal": "staff:250", "limit": 100}),
        ("cli: action, rare, oldest first", {"action": "client.manage", "limit": 100}),
        ("cli: request, oldest first", {"request_id": "4242", "limit": 100}),
    ]


def explain(url: str, repeat: int) -> dict[str, Any]:
    from sqlalchemy import event

    from civicswitch.core.db import make_engine
    from civicswitch.people.handlers import AddUser, add_user, audit_entries, verify_audit
    from civicswitch.storage.sql import SqlUnitOfWork

    engine = make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    out: dict[str, Any] = {"cases": {}}
    try:
        with SqlUnitOfWork(engine, writing=False) as uow:
            if uow.users.by_email("clerk250@city.gov") is None:
                from civicswitch.core.clock import SystemClock

                add_user(SqlUnitOfWork(engine), SystemClock(), AddUser("clerk250@city.gov", "admin",
                         password="bench audit password"))  # fmt: skip
        seen: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            if "audit_log" in statement and not statement.lstrip().upper().startswith("EXPLAIN"):
                seen.append((statement, params))

        event.listen(engine, "before_cursor_execute", capture)
        for name, kwargs in cases():
            seen.clear()
            found = audit_entries(SqlUnitOfWork(engine, writing=False), **kwargs)
            statement, params = seen[-1]
            with engine.connect() as db:
                if postgres:
                    rows = db.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params).all()
                else:
                    rows = db.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            plan = [str(r[0]) if postgres else str(r[-1]) for r in rows]
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                audit_entries(SqlUnitOfWork(engine, writing=False), **kwargs)
                times.append((time.perf_counter() - started) * 1000)
            out["cases"][name] = {"rows": len(found), "median_ms": round(statistics.median(times), 2),
                                  "max_ms": round(max(times), 2), "plan": plan}  # fmt: skip
            print(f"  {name}: {len(found)} rows, median {statistics.median(times):.2f} ms, max {max(times):.2f} ms")
            for line in plan:
                print(f"      {line}")
        event.remove(engine, "before_cursor_execute", capture)
        started = time.perf_counter()
        check = verify_audit(SqlUnitOfWork(engine, writing=False))
        seconds = time.perf_counter() - started
        out["verify"] = {"entries": check.entries, "problems": len(check.problems), "seconds": round(seconds, 2)}
        print(f"  audit verify: {check.entries:,} entries, {len(check.problems)} problems, {seconds:.1f} s")
    finally:
        engine.dispose()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    p.add_argument("--rows", type=int, default=300_000)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--seed", type=int, default=10)
    p.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--reuse", action="store_true", help="reuse this workdir's filled database (same rows)")
    p.add_argument("--out", type=Path, default=None, help="write the plans and times as JSON here")
    p.add_argument(
        "--upgrade-from",
        default=None,
        metavar="REVISION",
        help="fill the log at this schema revision, then time the upgrade to head (the new indexes' build)",
    )
    args = p.parse_args()
    print(f"command: {' '.join(sys.argv)}")
    print(f"machine: {len(os.sched_getaffinity(0))} usable cores (shared with whatever else runs)")
    args.workdir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"command": sys.argv, "rows": args.rows, "databases": {}}
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        url, ready = _database(kind, args)
        if not ready:
            started = time.perf_counter()
            fill(url, args.rows, args.seed, args.upgrade_from or "head")
            print(f"{kind}: {args.rows:,} entries appended in {time.perf_counter() - started:.1f} s")
            if args.upgrade_from:
                report["databases"][f"{kind} upgrade"] = {"from": args.upgrade_from, "seconds": _upgrade(url)}
            (args.workdir / f"audit-{kind}-{args.rows}.filled").write_text(url)
        print(f"{kind}, {args.rows:,} audit entries:", flush=True)
        report["databases"][kind] = explain(url, args.repeat)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


def _upgrade(url: str) -> float:
    from civicswitch.core.db import make_engine
    from civicswitch.core.migrate import upgrade

    engine = make_engine(url)
    try:
        started = time.perf_counter()
        upgrade(engine)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    print(f"  upgrade to head with the log filled: {seconds:.2f} s")
    return round(seconds, 2)


def _database(kind: str, args: argparse.Namespace) -> tuple[str, bool]:
    """This workdir's database URL and whether it is already filled (``--reuse``); else made empty."""
    marker = args.workdir / f"audit-{kind}-{args.rows}.filled"
    if kind == "sqlite":
        path = (args.workdir / f"audit-{args.rows}.db").resolve()
        if args.reuse and path.exists() and marker.exists():
            return f"sqlite:///{path}", True
        marker.unlink(missing_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}", False
    import psycopg
    from psycopg import sql

    from bench.open311_api import loopback_only, pg_url

    loopback_only(args.pg_url)
    tag = hashlib.sha256(str(args.workdir.resolve()).encode()).hexdigest()[:8]
    name = f"civicswitch_bench_audit_{args.rows}_{tag}"
    with psycopg.connect(args.pg_url, autocommit=True, connect_timeout=10) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
        if args.reuse and exists and marker.exists():
            return pg_url(args.pg_url, name), True
        marker.unlink(missing_ok=True)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return pg_url(args.pg_url, name), False


if __name__ == "__main__":
    main()
