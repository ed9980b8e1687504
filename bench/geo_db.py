"""The per-database part of ``bench/geography.py``: the duplicate check with a million requests stored, and
routing per request through the whole intake use case. Run through ``bench/geography.py --db …``.

The stored requests are drawn from the demo city's real NYC records (service, point, description), each point
moved by a normal jitter of ``JITTER_M`` metres, filed uniformly over the last ``SPAN_DAYS`` days; 30 % are
open, the rest closed ``fixed`` 0–10 days after filing. The 15,206 real points are far fewer than a real
city's addresses, so requests crowd more per spot than in life: a pessimistic load for the check.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, and_, func, or_, select, text

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.db import make_engine
from civicswitch.core.migrate import upgrade
from civicswitch.demo.city import COVERAGE_LAYER, catalog_document, install_geography
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import CloseReason
from civicswitch.requests.tables import service_requests as sr
from civicswitch.routing.duplicates import CANDIDATE_LIMIT, find_duplicates, rank
from civicswitch.routing.geography import IndexCache
from civicswitch.routing.grid import box_around
from civicswitch.routing.intake import Geography
from civicswitch.routing.nearby import NearbyRequest
from civicswitch.storage.sql import SqlUnitOfWork

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SPAN_DAYS = 90
JITTER_M = 20.0
CHUNK = 50_000
PG_ADMIN = os.environ.get("CIVICSWITCH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "civicswitch_bench_geo"


def _templates() -> list[dict[str, str]]:
    raw = (resources.files("civicswitch.demo") / "data" / "requests.csv.gz").read_bytes()
    rows = csv.DictReader(io.StringIO(gzip.decompress(raw).decode("utf-8")))
    return [r for r in rows if r["lat"] and r["long"]]


def _url(kind: str, rows: int) -> str:
    if kind == "sqlite":
        path = REPO / "var" / "bench" / f"geo-{rows}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if kind == "postgres":
        return PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}_{rows}"
    raise SystemExit(f"--db takes sqlite and postgres, not {kind!r}")


def _fresh(kind: str, url: str, reuse: bool) -> bool:
    """Create an empty database (True) or keep the one there when --reuse (False)."""
    if kind == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        if reuse and path.exists():
            return False
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return True
    admin = make_engine(PG_ADMIN)
    name = url.rsplit("/", 1)[1]
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists and reuse:
            return False
        if exists:
            conn.execute(text(f'DROP DATABASE "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return True


def _generate(engine: Engine, rows: int, templates: list[dict[str, str]]) -> float:
    """Insert ``rows`` requests in bulk (cells computed vectorised, as routing/grid.py does); seconds taken."""
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT code, id FROM services")).all())
    usable = [t for t in templates if t["service_code"] in ids]
    rng = np.random.default_rng(311)
    started = time.perf_counter()
    pick = rng.integers(0, len(usable), rows)
    lat0 = np.array([float(usable[i]["lat"]) for i in range(len(usable))])[pick]
    long0 = np.array([float(usable[i]["long"]) for i in range(len(usable))])[pick]
    lats = np.round(lat0 + rng.normal(0, JITTER_M, rows) / 111_195.0, 7)
    longs = np.round(long0 + rng.normal(0, JITTER_M, rows) / (111_195.0 * np.cos(np.radians(lat0))), 7)
    cells = np.floor((lats + 90.0) / 0.002).astype(np.int64) * 180_000 + np.floor((longs + 180.0) / 0.002).astype(
        np.int64
    )
    age_s = rng.uniform(0, SPAN_DAYS * 86_400, rows)
    open_ = rng.random(rows) < 0.3
    close_after = rng.uniform(0, 10 * 86_400, rows)
    sqlite = engine.dialect.name == "sqlite"
    columns = ("service_id", "status", "close_reason", "description", "lat", "long", "requested_at", "updated_at",
               "closed_at", "channel", "attributes", "grid_cell")  # fmt: skip

    def when(seconds: float) -> Any:
        moment = NOW - timedelta(seconds=float(seconds))
        return f"{moment:%Y-%m-%d %H:%M:%S}.000000" if sqlite else moment

    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for start in range(0, rows, CHUNK):
            batch = []
            for i in range(start, min(start + CHUNK, rows)):
                t = usable[pick[i]]
                requested = when(age_s[i])
                closed = None if open_[i] else when(max(age_s[i] - close_after[i], 0.0))
                batch.append((
                    ids[t["service_code"]], "new" if open_[i] else "closed", None if open_[i] else "fixed",
                    t["description"], float(lats[i]), float(longs[i]), requested, closed or requested, closed,
                    "web", "{}", int(cells[i]),
                ))  # fmt: skip
            if sqlite:
                marks = ", ".join("?" * len(columns))
                cur.executemany(f"INSERT INTO service_requests ({', '.join(columns)}) VALUES ({marks})", batch)
            else:
                with cur.copy(f"COPY service_requests ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in batch:
                        copy.write_row(row)
            raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def _naive(engine: Engine, service_id: int, lat: float, long: float, radius: float, open_days: float,
           closed_days: float, now: datetime) -> list[NearbyRequest]:  # fmt: skip
    """The same candidates without the grid: service, time window and bounding box on the service/time index."""
    box = box_around(lat, long, radius)
    closed_recently = and_(
        sr.c.closed_at >= now - timedelta(days=closed_days),
        sr.c.close_reason.notin_([str(CloseReason.DUPLICATE), str(CloseReason.CANCELLED)]),
    )
    stmt = (
        select(
            sr.c.id,
            sr.c.status,
            sr.c.close_reason,
            sr.c.description,
            sr.c.lat,
            sr.c.long,
            sr.c.address,
            sr.c.requested_at,
            sr.c.closed_at,
        )
        .where(
            sr.c.service_id == service_id,
            sr.c.requested_at >= now - timedelta(days=open_days),
            sr.c.lat.between(box.south, box.north),
            sr.c.long.between(box.west, box.east),
            or_(sr.c.public_status == "open", closed_recently),
            sr.c.parent_id.is_(None),
        )
        .order_by(sr.c.requested_at.desc(), sr.c.id.desc())
        .limit(CANDIDATE_LIMIT)
    )
    with engine.connect() as conn:
        return [NearbyRequest(*row) for row in conn.execute(stmt)]


def _ms(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=20)
    return {"p50_ms": round(statistics.median(samples), 3), "p95_ms": round(q[18], 3)}


def run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    url = _url(kind, args.rows)
    engine = make_engine(url)
    templates = _templates()
    generated = None
    if _fresh(kind, url, args.reuse):
        engine.dispose()
        engine = make_engine(url)
        upgrade(engine)
        load_catalog(SqlUnitOfWork(engine), catalog_document())
        install_geography(SqlUnitOfWork(engine))
        generated = round(_generate(engine, args.rows, templates), 1)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(sr)).scalar_one()
        version = conn.execute(text("SELECT sqlite_version()" if kind == "sqlite" else "SHOW server_version")).scalar()

    # -- duplicate check ---------------------------------------------------------------------------
    rng = np.random.default_rng(7)
    with SqlUnitOfWork(engine, writing=False) as uow:
        services = {s.code: s for s in uow.catalog.services()}
    with engine.connect() as conn:
        service_ids = dict(conn.execute(text("SELECT code, id FROM services")).all())
    points = [templates[int(i)] for i in rng.integers(0, len(templates), args.checks)]
    points = [p for p in points if p["service_code"] in services]
    indexed, naive, candidates, agree = [], [], [], 0
    for p in points:
        service = services[p["service_code"]]
        lat = float(p["lat"]) + float(rng.normal(0, JITTER_M)) / 111_195.0
        long = float(p["long"]) + float(rng.normal(0, JITTER_M)) / 85_000.0
        policy = service.duplicates
        t0 = time.perf_counter()
        with SqlUnitOfWork(engine, writing=False) as uow:
            found = find_duplicates(uow.requests, service, lat, long, p["description"], NOW)
        t1 = time.perf_counter()
        plain = _naive(engine, service_ids[service.code], lat, long, policy.radius_m, policy.open_days,
                       policy.closed_days, NOW)  # fmt: skip
        baseline = rank(plain, lat, long, p["description"], NOW, service)[:5]
        t2 = time.perf_counter()
        indexed.append((t1 - t0) * 1000)
        naive.append((t2 - t1) * 1000)
        candidates.append(len(plain))
        agree += [m.request.id for m in found] == [m.request.id for m in baseline]

    # -- routing per request through the intake use case ------------------------------------------
    clock = FixedClock(NOW)
    _, key = create_client(SqlUnitOfWork(engine), clock, "geo bench", frozenset({Scope.SUBMIT}))
    geography = Geography(IndexCache().get(SqlUnitOfWork(engine, writing=False)), COVERAGE_LAYER)
    inside = [p for p in points if p["borough"]][: args.submits]
    timings: dict[str, list[float]] = {"routed": [], "unrouted": []}
    for i, p in enumerate(inside * 2):
        mode = "routed" if i % 2 == 0 else "unrouted"  # interleaved, so drift hits both alike
        cmd = SubmitRequest(service_code=p["service_code"], api_key=key, lat=p["lat"], long=p["long"],
                            description=p["description"])  # fmt: skip
        t0 = time.perf_counter()
        submit_request(SqlUnitOfWork(engine), clock, cmd, geography=geography if mode == "routed" else None)
        timings[mode].append((time.perf_counter() - t0) * 1000)
    engine.dispose()
    return {
        "database": f"{kind} {version}",
        "requests_stored": stored,
        "generated_in_s": generated,
        "duplicate_checks": len(points),
        "candidates_in_box_mean": round(statistics.fmean(candidates), 1),
        "dup_check_indexed": _ms(indexed),
        "dup_check_naive": _ms(naive),
        "dup_check_p95_speedup": round(_ms(naive)["p95_ms"] / _ms(indexed)["p95_ms"], 1),
        "same_matches": f"{agree}/{len(points)}",
        "submit_routed_and_dup_checked": _ms(timings["routed"]),
        "submit_routing_off": _ms(timings["unrouted"]),
        "submits_each": len(inside),
    }
