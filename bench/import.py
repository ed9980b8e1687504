"""`civicswitch import` beside a raw bulk insert of the same rows into the same table, on SQLite and PostgreSQL
(issue 12 §1).

    PYTHONPATH=src .venv/bin/python bench/import.py --rows 200000 \
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--batch 5000] [--out /tmp/import-bench]

The export: ``--rows`` records in NYC Open Data's CSV format (41+5 columns, gzip), made of the real sample
``../shared/data/nyc/requests/nyc311_2023-02-28_5k.csv.gz`` cycled: each pass gives every record a new Unique Key
and moves its dates on by one day, so services, places, texts and the share of closed requests are the city's.

For each database, two fresh databases with the NYC profile (its catalog and its three shipped layers):

* **import**: ``import_history`` (what ``civicswitch import --profile nyc`` runs) over the file: read, convert,
  route to the three layers, check the ids already stored, write requests and their timelines, one transaction per
  ``--batch`` records. Timed from the file to the last commit.
* **raw**: the same requests, converted and routed beforehand (not timed), written as prepared tuples by the
  driver's bulk path into the same table with its indexes and triggers — ``executemany`` on SQLite, ``COPY`` on
  PostgreSQL — one transaction per ``--batch``. The raw insert writes no timeline (``request_events``): the import
  does, so the ratio is against the import.

Printed per database: rows/s of each, their ratio, this process's CPU seconds (the importer: conversion and the
driver; on SQLite the database's work too), the PostgreSQL backend's CPU seconds (from /proc), and this process's
peak memory. The machine has 2 cores; PostgreSQL shares them with the importer: say so next to any figure.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import resource
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, text

from bench.machine import proc_stat
from civicswitch.catalog.loader import load_catalog
from civicswitch.core.db import make_engine, normalize_url, sqlite_time
from civicswitch.core.migrate import upgrade
from civicswitch.people.policy import OPERATOR
from civicswitch.profiles import import_mapping, load_shipped_layers, profile_document
from civicswitch.requests.imports.convert import Converter, Known, Refused
from civicswitch.requests.imports.run import ImportHistory, _Routes, import_history
from civicswitch.requests.tables import service_requests
from civicswitch.storage.sql import SqlUnitOfWork

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "nyc" / "requests" / "nyc311_2023-02-28_5k.csv.gz"
NYC_TIME = "%m/%d/%Y %I:%M:%S %p"
DATE_COLUMNS = ("Created Date", "Closed Date", "Due Date", "Resolution Action Updated Date")


def make_export(rows: int, out: Path) -> Path:
    with gzip.open(SAMPLE, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        sample = list(reader)
    dates = [header.index(c) for c in DATE_COLUMNS]
    key = header.index("Unique Key")
    path = out / f"nyc_{rows}.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=1) as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(rows):
            record = list(sample[i % len(sample)])
            shift = timedelta(days=i // len(sample))
            record[key] = str(100_000_000 + i)
            if shift:
                for c in dates:
                    if record[c]:
                        record[c] = (datetime.strptime(record[c], NYC_TIME) + shift).strftime(NYC_TIME)
            writer.writerow(record)
    return path


def fresh(kind: str, postgres: str | None, out: Path) -> tuple[Engine, str]:
    if kind == "sqlite":
        url = f"sqlite:///{out / f'import_{uuid.uuid4().hex[:8]}.db'}"
    else:
        assert postgres is not None
        name = f"civicswitch_import_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(normalize_url(postgres), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = postgres.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    load_shipped_layers(SqlUnitOfWork(engine), profile_document("nyc"))
    load_catalog(SqlUnitOfWork(engine), profile_document("nyc"))
    return engine, url


def drop(kind: str, engine: Engine, url: str, postgres: str | None) -> None:
    engine.dispose()
    if kind == "postgres" and postgres is not None:
        admin = create_engine(normalize_url(postgres), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"'))
        admin.dispose()


def backend_cpu(engine: Engine) -> float:
    """CPU seconds of every PostgreSQL backend of this engine's database (0 on SQLite)."""
    if engine.dialect.name != "postgresql":
        return 0.0
    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()
        return sum((stat or (0, 0.0))[1] for stat in map(proc_stat, pids))


def arm_import(engine: Engine, path: Path, batch: int) -> dict[str, Any]:
    cmd = ImportHistory([path], import_mapping("nyc"), OPERATOR, batch=batch)
    uow = SqlUnitOfWork(engine)
    with engine.connect() as conn:  # the pool's connection is the one the import uses (pool size: one is enough)
        conn.execute(text("SELECT 1"))
    server0, cpu0, t0 = backend_cpu(engine), time.process_time(), time.perf_counter()
    report = import_history(uow, cmd)
    seconds = time.perf_counter() - t0
    return {"rows": report.inserted, "seconds": round(seconds, 2), "rows_per_s": round(report.inserted / seconds),
            "process_cpu_s": round(time.process_time() - cpu0, 2),
            "server_cpu_s": round(backend_cpu(engine) - server0, 2), "quarantined": report.quarantined}  # fmt: skip


def prepared_rows(engine: Engine, path: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The requests of the export as the import makes them (converted, routed), as tuples of the table's columns."""
    with SqlUnitOfWork(engine) as uow:
        known = Known.of(uow.catalog.services(include_inactive=True), [(b.code, b.name) for b in uow.catalog.bodies()])
        routes = _Routes(uow.catalog.areas())
        with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            converter = Converter(import_mapping("nyc"), next(reader), known)
            requests = []
            for record in reader:
                try:
                    requests.append(converter.convert(record))
                except Refused:  # the quarantined ones: the import writes none either
                    continue
        routes.route(requests)
        rows = [uow.requests._row(r) for r in requests]  # the store's own row of a request (a bench may peek)
    columns = list(rows[0])
    sqlite = engine.dialect.name == "sqlite"

    def value(v: Any) -> Any:
        if isinstance(v, dict | list):
            return orjson.dumps(v).decode()
        if sqlite and isinstance(v, datetime):
            return sqlite_time(v)
        return v

    return columns, [tuple(value(v) for v in row.values()) for row in rows]


def arm_raw(engine: Engine, columns: list[str], rows: list[tuple[Any, ...]], batch: int) -> dict[str, Any]:
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    assert dbapi is not None
    table = service_requests.name
    server0, cpu0, t0 = backend_cpu(engine), time.process_time(), time.perf_counter()
    if engine.dialect.name == "sqlite":
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        for i in range(0, len(rows), batch):
            cursor = dbapi.cursor()
            cursor.execute("BEGIN")
            cursor.executemany(sql, rows[i : i + batch])
            cursor.execute("COMMIT")
    else:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        for i in range(0, len(rows), batch):
            with dbapi.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows[i : i + batch]:
                    copy.write_row(row)
            dbapi.commit()
    seconds = time.perf_counter() - t0
    raw.close()
    return {"rows": len(rows), "seconds": round(seconds, 2), "rows_per_s": round(len(rows) / seconds),
            "process_cpu_s": round(time.process_time() - cpu0, 2),
            "server_cpu_s": round(backend_cpu(engine) - server0, 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--postgres", help="an admin URL: each arm gets its own new database, dropped at the end")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not SAMPLE.exists():
        sys.exit(f"{SAMPLE} is not here: this bench needs ../shared/data")
    out = args.out or Path(tempfile.mkdtemp(prefix="import-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    path = make_export(args.rows, out)
    print(f"export: {args.rows:,} records, {path.stat().st_size / 1e6:.1f} MB gzip ({time.perf_counter() - t0:.0f} s "
          f"to make) — {path}", flush=True)  # fmt: skip
    results: dict[str, Any] = {"rows": args.rows, "batch": args.batch}
    kinds = ([] if args.skip_sqlite else ["sqlite"]) + (["postgres"] if args.postgres else [])
    for kind in kinds:
        engine, url = fresh(kind, args.postgres, out)
        imported = arm_import(engine, path, args.batch)
        imported["peak_memory_mb_so_far"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        drop(kind, engine, url, args.postgres)
        engine, url = fresh(kind, args.postgres, out)
        columns, rows = prepared_rows(engine, path)
        raw = arm_raw(engine, columns, rows, args.batch)
        drop(kind, engine, url, args.postgres)
        ratio = imported["rows_per_s"] / raw["rows_per_s"]
        results[kind] = {"import": imported, "raw": raw, "ratio": round(ratio, 2)}
        print(f"{kind:9} import {imported['rows_per_s']:>8,} rows/s ({imported['seconds']} s; CPU: importer "
              f"{imported['process_cpu_s']} s, server {imported['server_cpu_s']} s; peak memory so far "
              f"{imported['peak_memory_mb_so_far']} MB) · raw {raw['rows_per_s']:>8,} "
              f"rows/s ({raw['seconds']} s; CPU: client {raw['process_cpu_s']} s, server {raw['server_cpu_s']} s) · "
              f"import/raw {ratio:.2f}", flush=True)  # fmt: skip
    results["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"peak memory of this process: {results['peak_memory_mb']} MB (the raw arm holds every prepared row)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
