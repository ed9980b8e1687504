"""Open311 GeoReport v2 API benchmark: the real server over HTTP, on SQLite and on PostgreSQL.

It stores at least a million service requests, generated from the distributions of the real NYC 311
records. It starts ``civicswitch serve`` (uvicorn, N worker processes) in a subprocess and drives it
with concurrent keep-alive clients (asyncio + httpx) from a separate process. For each scenario it
prints requests/s and p50/p99 latency beside the time the same query takes in-process
(``SqlRequestStore.find`` or the ``submit_request`` use case), measured in the same run. The clients connect in
a burst (all at once) and in a ramp (spread over ``--ramp-seconds``), and each server process's CPU is reported,
so that a server whose connections all landed on one process shows it.

    .venv/bin/python bench/open311_api.py --quick              # smoke run: 50,000 rows, 5 s a scenario
    .venv/bin/python bench/open311_api.py                      # 1,000,000 rows, SQLite and PostgreSQL
    .venv/bin/python bench/open311_api.py --db sqlite --reuse  # keep the generated database between runs

bench/README.md says what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import csv
import gzip
import importlib.util
import io
import itertools
import json
import math
import os
import platform
import pstats
import random
import re
import resource
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `bench` importable
from bench.machine import (
    HOST,
    civicswitch_command,
    free_port,
    machine_cpu_seconds,
    proc_stat,
    wait_quiet,
)

REPO = Path(__file__).resolve().parents[1]
CODE = {"root": REPO}  # where the civicswitch code under test lives (--code REF points it at a snapshot)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
API = "/open311/v2"
NYC_TZ = ZoneInfo("America/New_York")
DAY = 86_400
YEAR_DAYS = 365
WINDOW_DAYS = 30
GENERATOR_VERSION = 4  # bump when the generated data changes, so --reuse regenerates (4: areas, a partner's work)
JITTER_M = 5.0  # standard deviation of the jitter applied to real coordinates, metres
M_PER_DEG_LAT = 111_320.0
ITEMS_PER_SCENARIO = 4096
TOP_SERVICES = 5
CHUNK = 50_000
BENCH_CLIENT = "civicswitch bench load driver"
# Rate limits (docs/configuration.md): the bench's key is made with --no-limit, so its POSTs are never refused
# (the server still reads the body for the key and looks the key up); anonymous GETs from the driver's one
# address are counted against a per-address limit raised so high that it never refuses one.
BENCH_SERVER_ENV = {"CIVICSWITCH_RATE_LIMIT_ADDRESS_READS": "100000000"}
AB_SCENARIOS = ("by_id", "post")
PG_DB_PREFIX = "civicswitch_bench_"
ERROR_LIMIT = 0.01
CHANNELS = {"phone": "phone", "online": "web", "mobile": "mobile", "other": "other"}  # as the importer maps them
EPOCH_DAY = date(1970, 1, 1)

SR_COLUMNS = (
    "id",
    "service_id",
    "status",
    "close_reason",
    "status_notes",
    "description",
    "lat",
    "long",
    "address",
    "address_id",
    "zipcode",
    "media_url",
    "body_id",
    "requested_at",
    "updated_at",
    "expected_at",
    "closed_at",
    "channel",
    "client_id",
    "device_id",
    "account_id",
    "token",
    "source_ref",
    "attributes",
    "grid_cell",  # routing/grid.py's cell of (lat, long), as intake writes it: the duplicate check's index
    "areas",  # layer → area key of the real record's point in the demo's boundary layers, as intake writes it
    "assigned_org",  # PARTNER_ORG for one in PARTNER_EVERY of PARTNER_BODY's requests (a partner's queue)
)
# The demo's partner organisation (demo/data/people.json) does some of the transport department's work: the partner
# pages of bench/staff_pages.py read its queue.
PARTNER_ORG = "GREENWAY"
PARTNER_BODY = "DOT"
PARTNER_EVERY = 8
EV_COLUMNS = (
    "id",
    "request_id",
    "at",
    "kind",
    "status_from",
    "status_to",
    "close_reason",
    "description",
    "public",
    "client_id",
    "external_id",
    "external_status",
    "media_url",
    "data",
)
EV_TAIL = (None, None, None, None, "{}")  # client_id, external_id, external_status, media_url, data
DEFAULT_SCENARIOS = ("filtered", "filtered_p50", "default_window", "by_id", "post")
# Issue 9 §2, run as --pairs by default (and as scenarios when named): the catalog's cached service list beside
# /healthz, and a list answered 304 beside the same list answered 200.
PAIR_SCENARIOS = ("services", "healthz", "filtered_304", "filtered_200")
SCENARIOS = DEFAULT_SCENARIOS + PAIR_SCENARIOS + ("mixed",)
PAIRS = ("services/healthz", "filtered_304/filtered_200")
PAIR_LIST_TARGETS = 256  # each is fetched once before a 304 pass, for its ETag
CONNECTS = ("ramp", "burst")  # how the load's clients open their connections (--connect)
DRIVERS = ("httpx", "wrk")  # the load generator (--driver)
TITLES = {
    "filtered": "GET requests.json service+open+30d",
    "filtered_p50": "GET requests.json service+open+30d ps=50",
    "default_window": "GET requests.json (default window)",
    "by_id": "GET requests/{id}.json",
    "post": "POST requests.json",
    "services": "GET services.json",
    "healthz": "GET /healthz",
    "filtered_304": "GET requests.json filtered, If-None-Match: 304",
    "filtered_200": "GET requests.json filtered, same URLs: 200",
    "mixed": "mixed: 80% GET, 20% POST",
}
PROFILED = frozenset({"filtered", "default_window", "filtered_200"})
# Issue 9 §5, the mixed scenario: per 15 requests 4 filtered lists, 4 single requests, 4 service lists and 3 POSTs
# (80 % reads, 20 % writes); each kind is reported on its own.
MIXED_WEIGHTS = {"list": 4, "one": 4, "services": 4, "post": 3}
MIXED_KINDS = {"list": "filtered", "one": "by_id", "services": "services", "post": "post"}
MIXED_PARTS = tuple(MIXED_KINDS.values())

Row = tuple[Any, ...]


# -- small helpers ------------------------------------------------------------------------------------
def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence."""
    if not ordered:
        return None
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def latency_summary(samples: Sequence[float]) -> dict[str, float | int | None]:
    ordered = sorted(samples)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 3)

    return {
        "n": len(ordered),
        "p50_ms": ms(percentile(ordered, 0.50)),
        "p90_ms": ms(percentile(ordered, 0.90)),
        "p99_ms": ms(percentile(ordered, 0.99)),
        "max_ms": ms(ordered[-1] if ordered else None),
        "mean_ms": ms(sum(ordered) / len(ordered) if ordered else None),
    }


def tree_cpu_seconds(root: int) -> dict[int, float]:
    """CPU seconds used so far by ``root`` and each of its live descendants (the uvicorn workers), by pid."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = proc_stat(int(entry))
            if found is not None:
                stats[int(entry)] = found
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _) in stats.items():
        children[ppid].append(pid)
    used: dict[int, float] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in stats:
            used[pid] = stats[pid][1]
        stack.extend(children.get(pid, ()))
    return used


def server_roles(root: int, pids: Sequence[int]) -> dict[int, str]:
    """``worker`` for each process that serves requests (``serve --workers N``: the children multiprocessing
    spawned; with one worker the server process itself), ``parent`` for the supervisor, ``other`` for the rest
    (multiprocessing's resource tracker)."""
    roles: dict[int, str] = {}
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b""
        roles[pid] = "worker" if b"spawn_main" in cmdline else "parent" if pid == root else "other"
    if "worker" not in roles.values() and root in roles:
        roles[root] = "worker"
    return roles


def descendants(root: int) -> list[int]:
    found: list[int] = []
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st is not None:
                parents[int(entry)] = st[0]
    frontier = {root}
    while frontier:
        nxt = {pid for pid, ppid in parents.items() if ppid in frontier}
        found.extend(sorted(nxt))
        frontier = nxt
    return found


def pg_database_name(workdir: Path, rows: int) -> str:
    """The benchmark's PostgreSQL database for this workdir: its metadata file lives in the workdir, so two workdirs
    (two checkouts, or a baseline and the code under test with different schemas) never share one database."""
    import hashlib

    tag = hashlib.sha256(str(workdir.resolve()).encode()).hexdigest()[:8]
    return f"{PG_DB_PREFIX}{rows}_{tag}"


def schema_fingerprint() -> str:
    """Hash of the migration scripts: a reused database must have been created by the same ones."""
    import hashlib

    import civicswitch.migrations

    versions = Path(civicswitch.migrations.__file__).resolve().parent / "versions"
    digest = hashlib.sha256()
    for path in sorted(versions.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def loopback_only(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing {url!r}: the benchmark only talks to loopback addresses")


# -- the real records ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Template:
    """One real NYC 311 record, as the importer would store it; generated requests are drawn from these."""

    service_code: str
    status: str
    close_reason: str | None
    status_notes: str | None
    resolve_s: int  # closed_at - requested_at (closed records)
    update_s: int  # updated_at - requested_at
    lat: float | None
    long: float | None
    coslat: float
    address: str | None
    zipcode: str | None
    description: str
    attributes: dict[str, str]
    attributes_json: str
    channel: str
    local_hour: int | None  # None when the record only has a date (00:00:00 local)


def _epoch(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def real_rows(nyc: Path, workdir: Path) -> tuple[list[dict[str, str]], str]:
    """The real records in the shipped import format.

    With the shared NYC folder present they are rebuilt from it by ``scripts/build_demo_city.py`` (1-2 s);
    its catalog must equal the shipped one, which is what gets loaded. Otherwise the shipped
    ``requests.csv.gz`` (built the same way from the same files) is read.
    """
    import civicswitch.demo

    shipped = Path(civicswitch.demo.__file__).resolve().parent / "data"
    builder = CODE["root"] / "scripts" / "build_demo_city.py"
    packed: bytes | None = None
    source = f"shipped {shipped / 'requests.csv.gz'}"
    if (nyc / "requests").is_dir() and builder.is_file():
        spec = importlib.util.spec_from_file_location("build_demo_city", builder)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            sys.modules["build_demo_city"] = module
            try:
                spec.loader.exec_module(module)
                out = workdir / "nyc-rebuilt"
                module.build(nyc, out)
                if (out / "catalog.json").read_bytes() == (shipped / "catalog.json").read_bytes():
                    packed = (out / "requests.csv.gz").read_bytes()
                    source = f"{nyc} (rebuilt with scripts/build_demo_city.py; catalog identical to the shipped one)"
                else:
                    log(f"warning: the catalog rebuilt from {nyc} differs from the shipped one; using shipped rows")
            except Exception as exc:  # the builder is another team's script: fall back, say why
                log(f"warning: rebuilding from {nyc} failed ({exc!r}); using the shipped rows")
            finally:
                sys.modules.pop("build_demo_city", None)
    if packed is None:
        packed = (shipped / "requests.csv.gz").read_bytes()
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(packed).decode("utf-8"))))
    return rows, source


def templates_from(rows: Sequence[dict[str, str]]) -> list[Template]:
    out: list[Template] = []
    for r in rows:
        requested = _epoch(r["requested_at"])
        if requested is None:
            continue
        closed = _epoch(r.get("closed_at", ""))
        updated = _epoch(r.get("updated_at", "")) or closed or requested
        status = r.get("status") or "new"
        lat = float(r["lat"]) if r.get("lat") else None
        long = float(r["long"]) if r.get("long") else None
        attributes = {k: r[k] for k in ("descriptor", "location_type") if r.get(k)}
        local = datetime.fromtimestamp(requested, NYC_TZ)
        address = (r.get("address") or None) if lat is not None or r.get("address") else "unknown location"
        out.append(
            Template(
                service_code=r["service_code"],
                status=status,
                close_reason=(r.get("close_reason") or None) if status == "closed" else None,
                status_notes=(r.get("status_notes") or "").strip() or None,
                resolve_s=max(0, (closed or requested) - requested),
                update_s=max(0, updated - requested),
                lat=lat,
                long=long,
                coslat=math.cos(math.radians(lat)) if lat is not None else 1.0,
                address=address,
                zipcode=r.get("zipcode") or None,
                description=(r.get("description") or "")[:4000],
                attributes=attributes,
                attributes_json=json.dumps(attributes),
                channel=CHANNELS.get((r.get("channel") or "").lower(), "import"),
                local_hour=None if (local.hour, local.minute, local.second) == (0, 0, 0) else local.hour,
            )
        )
    return out


# -- the catalog as stored ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CatalogInfo:
    service_ids: dict[str, int]
    body_ids: dict[str, int | None]
    sla_seconds: dict[str, int | None]
    postable: frozenset[str]  # active, realtime, no required attribute
    attribute_values: dict[str, dict[str, frozenset[str]]]
    areas: Any = None  # the boundary layers' AreaIndex (routing/geography.py), loaded by create_schema


def catalog_info(engine: Engine) -> CatalogInfo:
    from sqlalchemy import select

    from civicswitch.catalog.loader import parse_catalog
    from civicswitch.catalog.tables import services
    from civicswitch.demo.city import catalog_document

    with engine.connect() as conn:
        rows = conn.execute(
            select(
                services.c.code,
                services.c.id,
                services.c.body_id,
                services.c.sla_hours,
                services.c.active,
                services.c.type,
            )
        ).all()
    _, parsed = parse_catalog(catalog_document())
    required = {s.code for s in parsed if any(a.required for a in s.attributes)}
    values = {s.code: {a.code: frozenset(v.key for v in a.values) for a in s.attributes} for s in parsed}
    return CatalogInfo(
        service_ids={r.code: int(r.id) for r in rows},
        body_ids={r.code: r.body_id for r in rows},
        sla_seconds={r.code: None if r.sla_hours is None else math.ceil(r.sla_hours * 3600) for r in rows},
        postable=frozenset(r.code for r in rows if r.active and r.type == "realtime" and r.code not in required),
        attribute_values=values,
    )


# -- generating requests ------------------------------------------------------------------------------
_HMS: list[str] = []


def _hms() -> list[str]:
    if not _HMS:
        _HMS.extend(f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60))
    return _HMS


class RequestGenerator:
    """Requests drawn from the real records (one real record per request, so service, place, texts and
    outcome stay consistent), with the real local hour-of-day profile over the year before ``now`` and
    the real resolution times: a request whose real resolution time has not elapsed by ``now`` is still
    open, in one of the real open statuses."""

    def __init__(self, templates: Sequence[Template], catalog: CatalogInfo, now: int, seed: int) -> None:
        self.templates = [t for t in templates if t.service_code in catalog.service_ids]
        if not self.templates:
            raise SystemExit("no real record matches the catalog")
        self.catalog = catalog
        self.now = now
        self.rng = random.Random(seed)
        hours = Counter(t.local_hour for t in self.templates if t.local_hour is not None)
        self.hour_cum = list(itertools.accumulate(hours.get(h, 0) for h in range(24)))
        self.open_pool = [t.status for t in self.templates if t.status != "closed"] or ["new"]
        today = datetime.fromtimestamp(now, NYC_TZ).date()
        # Local midnight of each of the last 366 days (offset taken at noon: DST days are off by an hour at most).
        self.midnights = [
            int(datetime.combine(today - timedelta(days=d), clock_time(12), NYC_TZ).timestamp()) - 12 * 3600
            for d in range(YEAR_DAYS + 1)
        ]

    def jitter(self, t: Template) -> tuple[float, float] | None:
        if t.lat is None or t.long is None:
            return None
        sigma = JITTER_M / M_PER_DEG_LAT
        return (
            round(t.lat + self.rng.gauss(0.0, sigma), 6),
            round(t.long + self.rng.gauss(0.0, sigma) / t.coslat, 6),
        )

    def areas_of(self) -> dict[int, str]:
        """Each template's areas (by ``id(template)``) as a JSON object, layer → area key, where its real point lies
        (the generated points are a few metres from it)."""
        import json

        index, found = self.catalog.areas, {}
        if index is None:
            return {}
        for t in self.templates:
            if t.lat is not None and t.long is not None:
                hits = {layer: hit.key for layer, hit in index.locate(t.lat, t.long).items() if hit is not None}
                if hits:
                    found[id(t)] = json.dumps(hits, sort_keys=True)
        return found

    def partner_body(self) -> int | None:
        from civicswitch.demo.city import catalog_document

        owners = {s["code"]: s.get("body") for s in catalog_document()["services"]}
        ids = {self.catalog.body_ids[code] for code, body in owners.items()
               if body == PARTNER_BODY and code in self.catalog.body_ids}  # fmt: skip
        return next(iter(ids), None)

    def chunks(
        self, total: int, size: int, *, ts_suffix: str, true_value: object
    ) -> Iterator[tuple[list[Row], list[Row]]]:
        """(service_requests rows, request_events rows) in ``SR_COLUMNS``/``EV_COLUMNS`` order, ids 1..total."""
        from civicswitch.routing.grid import cell_of

        rng, now, oldest = self.rng, self.now, self.now - YEAR_DAYS * DAY
        hms, midnights, open_pool = _hms(), self.midnights, self.open_pool
        service_ids, body_ids, sla = self.catalog.service_ids, self.catalog.body_ids, self.catalog.sla_seconds
        sigma = JITTER_M / M_PER_DEG_LAT
        areas_of = self.areas_of()
        partner_body = self.partner_body()
        gauss, randrange = rng.gauss, rng.randrange
        days: dict[int, str] = {}

        def ts(epoch: int) -> str:
            d, s = divmod(epoch, DAY)
            text = days.get(d)
            if text is None:
                text = days[d] = (EPOCH_DAY + timedelta(days=d)).isoformat()
            return f"{text} {hms[s]}{ts_suffix}"

        # Every request's time first, sorted: ids grow with requested_at, as they do with real intake, so the
        # rows of a time window sit together in the table (random order would scatter them over every page).
        stamps: list[int] = []
        for hour in rng.choices(range(24), cum_weights=self.hour_cum, k=total):
            while True:
                req = midnights[randrange(YEAR_DAYS + 1)] + hour * 3600 + randrange(3600)
                if oldest < req <= now:
                    break
            stamps.append(req)
        stamps.sort()
        next_id = 1
        while next_id <= total:
            n = min(size, total - next_id + 1)
            picks = rng.choices(self.templates, k=n)
            requests: list[Row] = []
            events: list[Row] = []
            for t, req in zip(picks, stamps[next_id - 1 : next_id - 1 + n], strict=True):
                closed: int | None = None
                reason = notes = None
                if t.status == "closed":
                    if req + t.resolve_s <= now:
                        status, reason, notes, closed = "closed", t.close_reason, t.status_notes, req + t.resolve_s
                        updated = min(req + t.update_s, now)
                    else:  # not resolved yet
                        status, updated = open_pool[randrange(len(open_pool))], req
                else:
                    status, notes, updated = t.status, t.status_notes, min(req + t.update_s, now)
                if t.lat is not None and t.long is not None:
                    lat: float | None = round(t.lat + gauss(0.0, sigma), 6)
                    long: float | None = round(t.long + gauss(0.0, sigma) / t.coslat, 6)
                else:
                    lat = long = None
                code = t.service_code
                due = sla[code]
                rid = next_id
                next_id += 1
                stamp = ts(req)
                requests.append(
                    (
                        rid,
                        service_ids[code],
                        status,
                        reason,
                        notes,
                        t.description,
                        lat,
                        long,
                        t.address,
                        None,
                        t.zipcode,
                        None,
                        body_ids[code],
                        stamp,
                        ts(updated),
                        None if due is None else ts(req + due),
                        None if closed is None else ts(closed),
                        t.channel,
                        None,
                        None,
                        None,
                        None,
                        None,
                        t.attributes_json,
                        cell_of(lat, long),
                        areas_of.get(id(t)),
                        PARTNER_ORG if rid % PARTNER_EVERY == 0 and body_ids[code] == partner_body else None,
                    )
                )
                events.append(
                    (rid, rid, stamp, "submitted", None, "new", None, "Request received", true_value, *EV_TAIL)
                )
            yield requests, events


# -- loading ------------------------------------------------------------------------------------------
@dataclass
class LoadReport:
    mode: str
    rows: int
    schema_s: float = 0.0
    generate_s: float = 0.0
    insert_s: float = 0.0
    indexes_s: float = 0.0
    analyze_s: float = 0.0
    total_s: float = 0.0


def create_schema(url: str) -> CatalogInfo:
    """Migrate, then load the demo catalog, its boundary layers and its partner organisation through the
    application's own code (not the demo's routing rules and external bodies: the catalog stays the Open311
    benchmark's). The generated requests' areas are looked up in those layers."""
    import dataclasses
    import json

    from civicswitch.catalog.loader import load_catalog
    from civicswitch.core.db import make_engine
    from civicswitch.core.migrate import upgrade
    from civicswitch.demo import city
    from civicswitch.profiles import Profile, load_shipped_layers, profile_document
    from civicswitch.routing.geography import load_index
    from civicswitch.storage.sql import SqlUnitOfWork

    engine = make_engine(url)
    try:
        upgrade(engine)
        load_catalog(SqlUnitOfWork(engine), city.catalog_document())
        load_shipped_layers(SqlUnitOfWork(engine), profile_document(Profile.NYC))  # layers only, not its rules
        people = json.loads(city._data("people.json"))
        load_catalog(SqlUnitOfWork(engine), {"bodies": people["bodies"], "services": []})
        index = load_index(SqlUnitOfWork(engine))
        return dataclasses.replace(catalog_info(engine), areas=index)
    finally:
        engine.dispose()


def _timed_chunks(
    gen: RequestGenerator, rows: int, report: LoadReport, **kwargs: Any
) -> Iterator[tuple[list[Row], list[Row]]]:
    it = gen.chunks(rows, CHUNK, **kwargs)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            return
        report.generate_s += time.perf_counter() - t0
        yield item


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    names = ", ".join('"' + c + '"' for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"


def load_sqlite(path: Path, rows: int, templates: Sequence[Template], now: int, seed: int, mode: str) -> LoadReport:
    report = LoadReport(mode=mode, rows=rows)
    start = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog = create_schema(f"sqlite:///{path}")
    report.schema_s = time.perf_counter() - start
    gen = RequestGenerator(templates, catalog, now, seed)
    con = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "cache_size=-1048576",
            "temp_store=MEMORY",
            "foreign_keys=OFF",
        ):
            con.execute(f"PRAGMA {pragma}")
        indexes = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('service_requests', 'request_events')"
        ).fetchall()
        if mode == "after":
            for name, _ in indexes:
                con.execute(f'DROP INDEX "{name}"')
        sr_sql = _insert_sql("service_requests", SR_COLUMNS)
        ev_sql = _insert_sql("request_events", EV_COLUMNS)
        for requests, events in _timed_chunks(gen, rows, report, ts_suffix=".000000", true_value=1):
            t0 = time.perf_counter()
            con.execute("BEGIN")
            con.executemany(sr_sql, requests)
            con.executemany(ev_sql, events)
            con.execute("COMMIT")
            report.insert_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        if mode == "after":
            for _, ddl in indexes:
                con.execute(ddl)
        report.indexes_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        con.execute("ANALYZE")
        report.analyze_s = time.perf_counter() - t0
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()
    report.total_s = time.perf_counter() - start
    return report


def pg_url(admin_url: str, dbname: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, parts.fragment))


def pg_database_exists(admin_url: str, dbname: str) -> bool:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is not None


def load_postgres(
    admin_url: str, dbname: str, rows: int, templates: Sequence[Template], now: int, seed: int, mode: str
) -> LoadReport:
    import psycopg
    from psycopg import sql

    report = LoadReport(mode=mode, rows=rows)
    start = time.perf_counter()
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    url = pg_url(admin_url, dbname)
    catalog = create_schema(url)
    report.schema_s = time.perf_counter() - start
    gen = RequestGenerator(templates, catalog, now, seed)
    with psycopg.connect(url, connect_timeout=10) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET synchronous_commit = off")
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename IN ('service_requests', 'request_events') "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)"
        ).fetchall()
        fks = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid IN ('service_requests'::regclass, 'request_events'::regclass)"
        ).fetchall()
        if mode == "after":
            for table, name, _ in fks:
                conn.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name))
                )
            for name, _ in indexes:
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        sr_copy = sql.SQL("COPY service_requests ({}) FROM STDIN").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in SR_COLUMNS)
        )
        ev_copy = sql.SQL("COPY request_events ({}) FROM STDIN").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in EV_COLUMNS)
        )
        with conn.cursor() as cur:
            for requests, events in _timed_chunks(gen, rows, report, ts_suffix="+00", true_value=True):
                t0 = time.perf_counter()
                with cur.copy(sr_copy) as copy:
                    for row in requests:
                        copy.write_row(row)
                with cur.copy(ev_copy) as copy:
                    for row in events:
                        copy.write_row(row)
                report.insert_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        if mode == "after":
            for _, ddl in indexes:
                conn.execute(ddl)
            for table, name, definition in fks:
                conn.execute(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
                    + sql.SQL(definition)
                )
        for table in ("service_requests", "request_events"):
            conn.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), (SELECT max(id) FROM {}))").format(
                    sql.Literal(table), sql.Identifier(table)
                )
            )
        conn.commit()
        report.indexes_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        # and the requests' areas (migration 0019: filled by a trigger while the requests were copied in)
        areas = conn.execute("SELECT to_regclass('request_areas')").fetchone()
        more = ", request_areas" if areas and areas[0] else ""
        conn.execute(f"VACUUM (ANALYZE) service_requests, request_events{more}")
    report.analyze_s = time.perf_counter() - t0
    report.total_s = time.perf_counter() - start
    return report


@dataclass
class Prepared:
    kind: str
    url: str
    rows: int
    now: int
    reused: bool
    source: str
    load: dict[str, Any]


def cleanup(url: str, rows: int) -> None:
    """Remove what a run added (POSTed requests, the bench's API clients), so a reused database stays as generated."""
    from sqlalchemy import text

    from civicswitch.core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect().execution_options(writing=True) as conn:
            for table, column in (
                ("request_events", "request_id"),
                ("request_contacts", "request_id"),
                ("media", "request_id"),
                ("service_requests", "id"),
            ):
                conn.execute(text(f"DELETE FROM {table} WHERE {column} > :n"), {"n": rows})
            conn.execute(text("DELETE FROM api_clients WHERE name = :name"), {"name": BENCH_CLIENT})
            conn.commit()
    finally:
        engine.dispose()


def count_requests(engine: Engine) -> int:
    from sqlalchemy import func, select

    from civicswitch.requests.tables import service_requests

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(service_requests)).scalar_one())


def prepare(kind: str, args: argparse.Namespace, templates: Sequence[Template], source: str) -> Prepared:
    from civicswitch.core.db import make_engine

    workdir: Path = args.workdir
    meta_path = workdir / f"{kind}-{args.rows}.meta.json"
    if kind == "sqlite":
        path = (workdir / f"sqlite-{args.rows}.db").resolve()
        url = f"sqlite:///{path}"
        exists = path.exists()
    else:
        dbname = pg_database_name(workdir, args.rows)
        url = pg_url(args.pg_url, dbname)
        exists = pg_database_exists(args.pg_url, dbname)
    schema = schema_fingerprint()
    if args.reuse and exists and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        same = (meta.get("generator"), meta.get("seed"), meta.get("schema")) == (GENERATOR_VERSION, args.seed, schema)
        if not same:
            log(f"{kind}: {url} was generated by another generator, seed or schema; generating again")
        else:
            cleanup(url, args.rows)
            engine = make_engine(url)
            try:
                stored = count_requests(engine)
            finally:
                engine.dispose()
            if stored == args.rows:
                log(f"{kind}: reusing {url} ({stored:,} rows, generated {meta['generated_at']})")
                return Prepared(kind, url, args.rows, int(meta["now"]), True, meta["source"], meta["load"])
            log(f"{kind}: {url} holds {stored:,} rows, not {args.rows:,}; generating again")
    meta_path.unlink(missing_ok=True)
    now = int(time.time())
    log(f"{kind}: generating {args.rows:,} requests into {url} (indexes {args.load_indexes} the load)")
    if kind == "sqlite":
        report = load_sqlite(path, args.rows, templates, now, args.seed, args.load_indexes)
    else:
        report = load_postgres(args.pg_url, dbname, args.rows, templates, now, args.seed, args.load_indexes)
    load = asdict(report)
    meta_path.write_text(
        json.dumps(
            {
                "generator": GENERATOR_VERSION,
                "seed": args.seed,
                "schema": schema,
                "now": now,
                "generated_at": datetime.fromtimestamp(now, UTC).isoformat(),
                "source": source,
                "url": url,
                "load": load,
            },
            indent=1,
        )
    )
    log(
        f"{kind}: generated in {report.total_s:.1f} s (schema+catalog {report.schema_s:.1f}, python rows "
        f"{report.generate_s:.1f}, insert {report.insert_s:.1f}, indexes {report.indexes_s:.1f}, "
        f"analyze {report.analyze_s:.1f})"
    )
    return Prepared(kind, url, args.rows, now, False, source, load)


# -- scenarios ----------------------------------------------------------------------------------------
@dataclass
class Scenario:
    name: str
    method: str
    targets: list[str]  # paths with query strings
    bodies: list[str] | None  # urlencoded POST bodies, same order as targets
    calls: list[Any]  # RequestQuery or SubmitRequest, same order as targets
    call: str  # what the route asks the store for: "list" (GET requests.json), "find", "submit", "validator"
    # (list_validator only: a 304), "catalog" (the catalog version only: a cached catalog document) or "healthz"
    note: str = ""
    conditional: bool = False  # each target is fetched once first and then asked with If-None-Match: its ETag
    methods: list[str] | None = None  # per target, where they differ (mixed); else ``method`` for every one
    kinds: list[str] | None = None  # per target, what it is (mixed): latency, errors and statuses per kind


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_scenarios(
    names: Sequence[str],
    templates: Sequence[Template],
    catalog: CatalogInfo,
    prepared: Prepared,
    api_key: str,
    seed: int,
) -> list[Scenario]:
    from civicswitch.requests.commands import SubmitRequest
    from civicswitch.requests.views import RequestQuery
    from civicswitch.settings import Settings
    from civicswitch.web.open311 import params

    settings = Settings(database_url=prepared.url)
    rng = random.Random(seed + 1)
    keys: tuple[str, ...] = ("service_request_id", "service_code", "status", "start_date", "end_date")
    keys += ("updated_after", "updated_before", "page", "page_size")

    def query(now: datetime, given: dict[str, str]) -> Any:
        return params.request_query(
            now=now,
            window_days=settings.default_window_days,
            default_page_size=settings.default_page_size,
            max_page_size=settings.max_page_size,
            **{k: given.get(k) for k in keys},
        )

    top = [code for code, _ in Counter(t.service_code for t in templates).most_common(TOP_SERVICES)]
    now = prepared.now
    out: list[Scenario] = []
    for name in names:
        if name in ("filtered", "filtered_p50"):
            targets, calls = [], []
            for _ in range(ITEMS_PER_SCENARIO):
                start = now - rng.randrange(WINDOW_DAYS * DAY, YEAR_DAYS * DAY)
                given = {
                    "service_code": rng.choice(top),
                    "status": "open",
                    "start_date": _iso(start),
                    "end_date": _iso(start + WINDOW_DAYS * DAY),
                }
                if name == "filtered_p50":
                    given["page_size"] = "50"
                targets.append(f"{API}/requests.json?{urlencode(given)}")
                calls.append(query(datetime.fromtimestamp(now, UTC), given))
            note = f"service_code one of {', '.join(top)}; random {WINDOW_DAYS}-day windows in the year"
            out.append(Scenario(name, "GET", targets, None, calls, "list", note))
        elif name == "default_window":
            q = query(datetime.now(UTC), {})
            note = f"no parameters: last {settings.default_window_days} days, page_size {settings.default_page_size}"
            out.append(Scenario(name, "GET", [f"{API}/requests.json"], None, [q], "list", note))
        elif name == "by_id":
            ids = [rng.randint(1, prepared.rows) for _ in range(ITEMS_PER_SCENARIO)]
            targets = [f"{API}/requests/{i}.json" for i in ids]
            calls = [RequestQuery(ids=(i,), limit=1) for i in ids]  # what the route asks find() for
            note = f"uniform random ids 1..{prepared.rows:,}"
            out.append(Scenario(name, "GET", targets, None, calls, "find", note))
        elif name == "post":
            pool = [t for t in templates if t.service_code in catalog.postable and t.lat is not None]
            gen = RequestGenerator(pool, catalog, now, seed + 2)
            bodies, calls = [], []
            for t in rng.choices(pool, k=ITEMS_PER_SCENARIO):
                point = gen.jitter(t)
                assert point is not None
                form = {
                    "api_key": api_key,
                    "service_code": t.service_code,
                    "lat": f"{point[0]:.6f}",
                    "long": f"{point[1]:.6f}",
                    "address_string": t.address or "",
                    "description": t.description,
                }
                attributes: dict[str, list[str]] = {}
                allowed = catalog.attribute_values.get(t.service_code, {})
                for code, value in t.attributes.items():
                    if value in allowed.get(code, ()):
                        form[f"attribute[{code}]"] = value
                        attributes[code] = [value]
                bodies.append(urlencode(form))
                calls.append(
                    SubmitRequest(
                        service_code=t.service_code,
                        api_key=api_key,
                        lat=form["lat"],
                        long=form["long"],
                        address_string=form["address_string"] or None,
                        description=t.description,
                        attributes=attributes,
                    )
                )
            note = f"{len(catalog.postable)} services (real frequencies), jittered real points, real texts"
            targets = [f"{API}/requests.json"] * len(bodies)
            out.append(Scenario(name, "POST", targets, bodies, calls, "submit", note))
        elif name == "services":
            note = "the whole service list, no If-None-Match: rendered once per catalog version, then from memory"
            out.append(Scenario(name, "GET", [f"{API}/services.json"], None, [None], "catalog", note))
        elif name == "healthz":
            note = "FastAPI route: a pooled connection, SELECT 1, a small JSON object"
            out.append(Scenario(name, "GET", ["/healthz"], None, [None], "healthz", note))
        elif name in ("filtered_304", "filtered_200"):
            # The same URLs for both (their own seed), so the pair differs only in If-None-Match.
            pair_rng = random.Random(seed + 3)
            targets, calls = [], []
            for _ in range(PAIR_LIST_TARGETS):
                start = now - pair_rng.randrange(WINDOW_DAYS * DAY, YEAR_DAYS * DAY)
                given = {
                    "service_code": pair_rng.choice(top),
                    "status": "open",
                    "start_date": _iso(start),
                    "end_date": _iso(start + WINDOW_DAYS * DAY),
                }
                targets.append(f"{API}/requests.json?{urlencode(given)}")
                calls.append(query(datetime.fromtimestamp(now, UTC), given))
            conditional = name == "filtered_304"
            note = f"{PAIR_LIST_TARGETS} URLs as in filtered" + (
                ", each with the ETag of its 200 fetched before the pass: every answer must be 304"
                if conditional
                else ", no If-None-Match"
            )
            call = "validator" if conditional else "list"
            out.append(Scenario(name, "GET", targets, None, calls, call, note, conditional=conditional))
        elif name == "mixed":
            parts = build_scenarios(MIXED_PARTS, templates, catalog, prepared, api_key, seed)
            out.append(compose_mixed({sc.name: sc for sc in parts}, seed))
        else:
            raise SystemExit(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    return out


def compose_mixed(parts: dict[str, Scenario], seed: int) -> Scenario:
    """Issue 9 §5: the reads and POSTs of ``parts`` (filtered, by_id, services, post) interleaved in a seeded
    order, in the proportions of ``MIXED_WEIGHTS`` (80 % reads, 20 % POSTs), each target labelled with its kind."""
    rng = random.Random(seed + 5)
    cycle = [kind for kind, weight in MIXED_WEIGHTS.items() for _ in range(weight)]
    cursor = dict.fromkeys(MIXED_WEIGHTS, 0)
    targets: list[str] = []
    bodies: list[str] = []
    methods: list[str] = []
    kinds: list[str] = []
    for _ in range(ITEMS_PER_SCENARIO // len(cycle)):
        rng.shuffle(cycle)
        for kind in cycle:
            part = parts[MIXED_KINDS[kind]]
            j = cursor[kind] % len(part.targets)
            cursor[kind] += 1
            targets.append(part.targets[j])
            bodies.append(part.bodies[j] if part.bodies is not None else "")
            methods.append(part.method)
            kinds.append(kind)
    share = ", ".join(f"{kind} {100 * w / len(cycle):.0f}%" for kind, w in MIXED_WEIGHTS.items())
    note = (
        f"{share}, interleaved (seeded): list = the filtered scenario's URLs, one = by_id's, services = services.json, "
        "post = post's bodies"
    )
    return Scenario("mixed", "GET", targets, bodies, [None] * len(targets), "mixed", note, methods=methods, kinds=kinds)


def prime_etags(server: Server, scenario: Scenario) -> list[dict[str, str]]:
    """For a conditional scenario: each target's ETag, from one GET each (If-None-Match headers, in order)."""
    import httpx

    headers = []
    with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
        for target in scenario.targets:
            response = client.get(target)
            if response.status_code != 200 or "etag" not in response.headers:
                raise RuntimeError(f"{target}: {response.status_code}, no ETag to ask with")
            headers.append({"if-none-match": response.headers["etag"]})
    return headers


# -- the server ---------------------------------------------------------------------------------------
class Server:
    """``civicswitch serve`` in its own process group, stopped (and killed if need be) by ``stop``."""

    def __init__(
        self, url: str, workers: int, log_path: Path, *, env: dict[str, str] | None = None, code: Path | None = None
    ) -> None:
        self.url = url
        self.workers = workers
        self.log_path = log_path
        self.extra_env = dict(BENCH_SERVER_ENV if env is None else env)
        self.code = code  # another snapshot's src/ first on PYTHONPATH (the A/B baseline), else the code under test
        self.port = 0
        self.db_marker = urlsplit(url).path.lstrip("/") if url.startswith("postgres") else None
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: io.BufferedWriter | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, timeout: float = 120.0) -> None:
        import httpx

        self.port = free_port()
        cmd = [*civicswitch_command(), "serve", "--host", HOST, "--port", str(self.port)]
        cmd += ["--workers", str(self.workers)]
        env = {**os.environ, "CIVICSWITCH_DATABASE_URL": self.url, **self.extra_env}
        if self.code is not None:
            env["PYTHONPATH"] = str(self.code)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log.write(f"\n=== {datetime.now().isoformat()} {shlex.join(cmd)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        good = 0
        while good < 10:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /healthz within {timeout:.0f} s; see {self.log_path}")
            try:
                ok = httpx.get(f"{self.base_url}/healthz", timeout=5.0).status_code == 200
            except httpx.HTTPError:
                ok = False
            good = (
                good + 1 if ok and len(descendants(self.proc.pid)) >= (self.workers if self.workers > 1 else 0) else 0
            )
            time.sleep(0.05 if ok else 0.25)

    def stop(self) -> None:
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # workers left behind, if any
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


# -- the load driver (runs in its own process) --------------------------------------------------------
WRK_GRACE_S = 10.0  # how long after the window a wrk client may take to finish its last request
WRK_MISSING = (
    "--driver wrk needs the wrk load generator on PATH: install it with `apt-get install -y wrk` (Debian and "
    "Ubuntu package wrk, 4.x with LuaJIT), or run with --driver httpx"
)
# The wrk side of the driver: one keep-alive connection per wrk thread, so that a thread's request() and
# response() alternate and each response is known to belong to the request just made. Each client cycles through
# the scenario's requests as the httpx driver's does (client k: items k, k + clients, ...), the latency of every
# request that started in the measured window is recorded per kind with CLOCK_MONOTONIC (the clock of Python's
# time.monotonic(), so the window's bounds come from the bench), and done() writes it all as JSON.
WRK_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } civicswitch_timespec;
int clock_gettime(int clk_id, civicswitch_timespec *tp);
]]
local ts = ffi.new("civicswitch_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local T_MEASURE = tonumber(os.getenv("CIVICSWITCH_WRK_T_MEASURE"))
local T_STOP = tonumber(os.getenv("CIVICSWITCH_WRK_T_STOP"))
local CLIENTS = tonumber(os.getenv("CIVICSWITCH_WRK_CLIENTS"))
local FIRST_CLIENT = tonumber(os.getenv("CIVICSWITCH_WRK_FIRST_CLIENT"))
local DATA = os.getenv("CIVICSWITCH_WRK_DATA")
local OUT = os.getenv("CIVICSWITCH_WRK_OUT")

-- the main state: each thread (one connection) is one client
local started = 0
function setup(thread)
  thread:set("client", FIRST_CLIENT + started)
  started = started + 1
end

-- each thread's state (thread:get copies nested tables wrongly: each thread writes its own file instead)
local lat, nlat, st, inw, bytes, bad, samples = {}, {}, {}, {}, {}, {}, {}
local data, reqs, kinds, expect, n, i, cur_t0, cur_kind, cur_j
local finished = false

local function encode(v, parts)
  local t = type(v)
  if t == "table" then
    if v[1] ~= nil then
      parts[#parts + 1] = "["
      for k = 1, #v do
        if k > 1 then parts[#parts + 1] = "," end
        encode(v[k], parts)
      end
      parts[#parts + 1] = "]"
    else
      parts[#parts + 1] = "{"
      local first = true
      for k, x in pairs(v) do
        if not first then parts[#parts + 1] = "," end
        first = false
        encode(tostring(k), parts)
        parts[#parts + 1] = ":"
        encode(x, parts)
      end
      parts[#parts + 1] = "}"
    end
  elseif t == "string" then
    local quoted = v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end)
    parts[#parts + 1] = '"' .. quoted .. '"'
  elseif t == "number" then
    parts[#parts + 1] = string.format("%.17g", v)
  elseif t == "boolean" then
    parts[#parts + 1] = tostring(v)
  else
    parts[#parts + 1] = "null"
  end
end

local function finish()
  -- the first answer after the window: write this client's tally and stop the thread
  finished = true
  local parts = {}
  encode({client = client, lat = lat, st = st, inw = inw, bytes = bytes, bad = bad, samples = samples}, parts)
  local f = assert(io.open(OUT .. "." .. client, "w"))
  f:write(table.concat(parts))
  f:close()
  wrk.thread:stop()
end

local function load()
  data = dofile(DATA)
  reqs = {}
  for j = 1, #data.targets do
    local headers = {}
    if data.headers then
      for k, v in pairs(data.headers[j]) do headers[k] = v end
    end
    local body = data.bodies and data.bodies[j] or nil
    if body == "" then body = nil end
    if body then headers["Content-Type"] = "application/x-www-form-urlencoded" end
    reqs[j] = wrk.format(data.methods and data.methods[j] or data.method, data.targets[j], headers, body)
  end
  kinds, expect, n, i = data.kinds, data.expect, #reqs, client
end

function request()
  if not reqs then load() end
  local j = i % n + 1
  i = i + CLIENTS
  cur_j, cur_kind = j, kinds and kinds[j] or "all"
  cur_t0 = now()
  if cur_t0 >= T_STOP and not finished then finish() end
  return reqs[j]
end

function response(status, headers, body)
  local t1 = now()
  local t0, kind = cur_t0, cur_kind
  cur_t0 = nil
  if t0 ~= nil and t0 >= T_MEASURE and t0 < T_STOP then
    if not lat[kind] then
      lat[kind], nlat[kind], st[kind], inw[kind], bytes[kind], bad[kind] = {}, 0, {}, 0, 0, 0
    end
    local m = nlat[kind] + 1
    nlat[kind] = m
    lat[kind][m] = t1 - t0
    st[kind][status] = (st[kind][status] or 0) + 1
    bytes[kind] = bytes[kind] + #body
    if t1 <= T_STOP then inw[kind] = inw[kind] + 1 end
    local ok
    if expect then ok = expect[status] == true else ok = status >= 200 and status < 300 end
    if not ok then
      bad[kind] = bad[kind] + 1
      if #samples < 5 then
        samples[#samples + 1] = status .. " " .. data.targets[cur_j]:sub(1, 120) .. ": " .. body:sub(1, 300)
      end
    end
  end
  if t1 >= T_STOP and not finished then finish() end
end
"""


def lua_string(text: str) -> str:
    """A Lua string literal of ``text`` (UTF-8 bytes; anything but printable ASCII as a decimal escape)."""
    out = ['"']
    for byte in text.encode():
        out.append(chr(byte) if 32 <= byte < 127 and byte not in (34, 92) else f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def wrk_data(spec: dict[str, Any]) -> str:
    """The scenario's requests as a Lua chunk for WRK_SCRIPT (``dofile`` in each wrk thread)."""

    def strings(values: Sequence[str]) -> str:
        return "{" + ",".join(lua_string(v) for v in values) + "}"

    fields = [f"method = {lua_string(spec.get('method') or ('POST' if spec['bodies'] else 'GET'))}"]
    fields.append(f"targets = {strings(spec['targets'])}")
    if spec["bodies"] is not None:
        fields.append(f"bodies = {strings(spec['bodies'])}")
    if spec.get("methods"):
        fields.append(f"methods = {strings(spec['methods'])}")
    if spec.get("kinds"):
        fields.append(f"kinds = {strings(spec['kinds'])}")
    if spec.get("headers"):
        rows = (
            "{" + ",".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in h.items()) + "}" for h in spec["headers"]
        )
        fields.append("headers = {" + ",".join(rows) + "}")
    if spec.get("expect"):
        fields.append("expect = {" + ",".join(f"[{int(code)}] = true" for code in spec["expect"]) + "}")
    return "return {\n" + ",\n".join(fields) + "\n}\n"


def rss_kb(pids: Sequence[int]) -> dict[int, int]:
    """Resident set size (kB, VmRSS) of each live process of ``pids``."""
    found: dict[int, int] = {}
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                found[pid] = int(line.split()[1])
                break
    return found


def db_backend_cpu(marker: str | None) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving database ``marker`` (found by its process title)."""
    found: dict[int, float] = {}
    if not marker:
        return found
    needle = f" {marker} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and needle in title:
            st = proc_stat(int(entry))
            if st is not None:
                found[int(entry)] = st[1]
    return found


def _snapshot(server_pid: int | None, db_marker: str | None, driver_pids: Sequence[int] = ()) -> dict[str, Any]:
    """CPU seconds so far of the driver (this process and ``driver_pids``, the wrk processes), of the server's
    processes and of the database's backends; the server processes' RSS; the machine's busy CPU seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    driver = usage.ru_utime + usage.ru_stime
    for pid in driver_pids:
        st = proc_stat(pid)
        driver += st[1] if st is not None else 0.0
    server = tree_cpu_seconds(server_pid) if server_pid else {}
    return {
        "t": time.perf_counter(),
        "driver": driver,
        "server": server,
        "rss_kb": rss_kb(sorted(server)),
        "db": db_backend_cpu(db_marker),
        "machine": machine_cpu_seconds(),
    }


@dataclass
class Tally:
    """What a load pass saw, per kind of request ("all" when the scenario has one kind): the latency of each
    request that started in the measured window, its status, bytes, whether it was expected."""

    latencies: dict[str, list[float]]
    statuses: dict[str, Counter[int]]
    in_window: Counter[str]
    errors: Counter[str]
    bytes: Counter[str]
    samples: list[str]

    @classmethod
    def empty(cls) -> Tally:
        return cls(defaultdict(list), defaultdict(Counter), Counter(), Counter(), Counter(), [])


def _rss_summary(snap: dict[str, Any], roles: dict[int, str]) -> dict[str, Any]:
    rss = {int(pid): kb for pid, kb in snap["rss_kb"].items()}
    return {
        "total_mb": round(sum(rss.values()) / 1024, 1),
        "processes": [
            {"pid": pid, "role": roles.get(pid, "other"), "mb": round(kb / 1024, 1)} for pid, kb in sorted(rss.items())
        ],
    }


def _pass_result(
    spec: dict[str, Any], tally: Tally, marks: dict[str, dict[str, Any]], extra: dict[str, Any]
) -> dict[str, Any]:
    """The pass's result, the same for both drivers: throughput, latency, errors, statuses (all kinds and per
    kind), CPU of the driver, server, database and machine, the server processes' CPU, balance and RSS."""
    seconds: float = spec["seconds"]
    server_pid: int | None = spec["server_pid"]
    latencies = [x for values in tally.latencies.values() for x in values]
    statuses: Counter[int] = Counter()
    for counts in tally.statuses.values():
        statuses.update(counts)
    started = len(latencies) + extra.get("unattributed_errors", 0)
    errors = sum(tally.errors.values()) + extra.get("unattributed_errors", 0)
    if extra.get("unattributed_errors"):
        statuses[0] += extra["unattributed_errors"]
    total_bytes = sum(tally.bytes.values())
    start, stop = marks["start"], marks["stop"]
    wall = stop["t"] - start["t"]
    driver, machine = (stop[k] - start[k] for k in ("driver", "machine"))
    db = sum(cpu - start["db"].get(pid, 0.0) for pid, cpu in stop["db"].items())
    result: dict[str, Any] = {
        "driver": spec.get("driver", "httpx"),
        "concurrency": spec["concurrency"],
        "connect": spec.get("connect", "burst"),
        "ramp_seconds": spec.get("ramp_seconds", 0.0) if spec.get("connect") == "ramp" else 0.0,
        "seconds": seconds,
        "requests": started,
        "rps": round(sum(tally.in_window.values()) / seconds, 1),
        "latency": latency_summary(latencies),
        "errors": errors,
        "error_rate": round(errors / started, 5) if started else None,
        "error_samples": tally.samples,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "bytes_mean": round(total_bytes / len(latencies)) if latencies else None,
        **extra,
    }
    if spec.get("kinds"):
        result["kinds"] = {
            kind: {
                "requests": len(tally.latencies[kind]),
                "rps": round(tally.in_window[kind] / seconds, 1),
                "latency": latency_summary(tally.latencies[kind]),
                "errors": tally.errors[kind],
                "statuses": {str(k): v for k, v in sorted(tally.statuses[kind].items())},
                "bytes_mean": round(tally.bytes[kind] / len(tally.latencies[kind])) if tally.latencies[kind] else None,
            }
            for kind in dict.fromkeys(spec["kinds"])
        }
    if (
        not server_pid
    ):  # a server we did not start (--base without --server-pid): its CPU and memory are not ours to see
        result["cpu_cores"] = {
            "driver": round(driver / wall, 2),
            "server": None,
            "postgres": None,
            "other": round(max(0.0, machine - driver) / wall, 2),
            "machine": round(machine / wall, 2),
        }
        result.update({"server_processes": [], "worker_cores": [], "worker_balance": None, "server_rss": None})
        return result
    per_process = {pid: cpu - start["server"].get(pid, 0.0) for pid, cpu in stop["server"].items()}
    server = sum(per_process.values())
    roles = server_roles(server_pid, sorted(per_process))
    workers = [round(per_process[pid] / wall, 2) for pid in sorted(per_process) if roles[pid] == "worker"]
    result["cpu_cores"] = {
        "driver": round(driver / wall, 2),
        "server": round(server / wall, 2),
        "postgres": round(db / wall, 2),
        "other": round(max(0.0, machine - driver - server - db) / wall, 2),
        "machine": round(machine / wall, 2),
    }
    result["server_processes"] = [
        {"pid": pid, "role": roles[pid], "cores": round(per_process[pid] / wall, 3)} for pid in sorted(per_process)
    ]
    result["worker_cores"] = workers  # by pid
    result["worker_balance"] = round(min(workers) / max(workers), 3) if len(workers) > 1 and max(workers) > 0 else None
    result["server_rss"] = {"start": _rss_summary(start, roles), "end": _rss_summary(stop, roles)}
    return result


def _good_status(spec: dict[str, Any]) -> Callable[[int], bool]:
    expected: set[int] | None = set(spec["expect"]) if spec.get("expect") else None  # else any 2xx
    if expected is not None:
        return expected.__contains__
    return lambda status: 200 <= status < 300


async def _drive(spec: dict[str, Any]) -> dict[str, Any]:
    """The httpx driver: one ``httpx.AsyncClient`` with one keep-alive connection per client, in this process."""
    import httpx

    targets: list[str] = spec["targets"]
    bodies: list[str] | None = spec["bodies"]
    methods: list[str] | None = spec.get("methods")
    kinds: list[str] | None = spec.get("kinds")
    target_headers: list[dict[str, str]] | None = spec.get("headers")
    good = _good_status(spec)
    concurrency: int = spec["concurrency"]
    warmup: float = spec["warmup"]
    seconds: float = spec["seconds"]
    server_pid: int | None = spec["server_pid"]
    db_marker: str | None = spec["db_marker"]
    connect: str = spec.get("connect", "burst")
    ramp: float = spec.get("ramp_seconds", 0.0) if connect == "ramp" else 0.0
    tally = Tally.empty()
    marks: dict[str, dict[str, Any]] = {}
    form = {"content-type": "application/x-www-form-urlencoded"}
    # One keep-alive connection per client, opened by its first request: all at once (burst), or client k at
    # k x ramp / concurrency seconds (ramp).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=spec["base_url"], limits=limits, timeout=httpx.Timeout(spec["timeout"]))
            )
            for _ in range(concurrency)
        ]
        t_begin = time.perf_counter()
        t_measure = t_begin + warmup
        t_stop = t_measure + seconds

        async def mark() -> None:
            await asyncio.sleep(max(0.0, t_measure - time.perf_counter()))
            marks["start"] = _snapshot(server_pid, db_marker)
            await asyncio.sleep(max(0.0, t_stop - time.perf_counter()))
            marks["stop"] = _snapshot(server_pid, db_marker)

        async def worker(k: int) -> None:
            client = clients[k]
            await asyncio.sleep(max(0.0, t_begin + k * ramp / concurrency - time.perf_counter()))
            i = k
            while True:
                t0 = time.perf_counter()
                if t0 >= t_stop:
                    return
                j = i % len(targets)
                i += concurrency
                kind = kinds[j] if kinds is not None else "all"
                method = methods[j] if methods is not None else ("GET" if bodies is None else "POST")
                detail = ""
                try:
                    if method == "GET":
                        response = await client.get(
                            targets[j], headers=target_headers[j] if target_headers is not None else None
                        )
                    else:
                        assert bodies is not None
                        response = await client.request(method, targets[j], content=bodies[j], headers=form)
                    status, size = response.status_code, len(response.content)
                    if not good(status):
                        detail = response.text[:300]
                except httpx.HTTPError as exc:
                    status, size, detail = 0, 0, f"{type(exc).__name__}: {exc}"[:300]
                t1 = time.perf_counter()
                if t0 < t_measure:
                    continue  # warm-up
                tally.latencies[kind].append(t1 - t0)
                tally.statuses[kind][status] += 1
                tally.bytes[kind] += size
                if t1 <= t_stop:
                    tally.in_window[kind] += 1
                if not good(status):
                    tally.errors[kind] += 1
                    if len(tally.samples) < 5:
                        tally.samples.append(f"{status} {targets[j][:120]}: {detail}")

        await asyncio.gather(mark(), *(worker(k) for k in range(concurrency)))
    return _pass_result(spec, tally, marks, {})


def _drive_wrk(spec: dict[str, Any]) -> dict[str, Any]:
    """The wrk driver: wrk processes with one connection per thread (WRK_SCRIPT). A burst is one wrk process with
    a thread per client, all connecting when it starts; a ramp is one single-connection wrk process per client,
    client k started k x ramp / clients seconds after the first. Each is stopped (SIGINT) at the window's end."""
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit(WRK_MISSING)
    out = Path(spec["out"])
    script = out.with_name("wrk-driver.lua")
    script.write_text(WRK_SCRIPT)
    data = out.with_name(out.name.replace(".out.json", ".wrk-data.lua"))
    data.write_text(wrk_data(spec))
    concurrency: int = spec["concurrency"]
    connect: str = spec.get("connect", "burst")
    ramp: float = spec.get("ramp_seconds", 0.0) if connect == "ramp" else 0.0
    t_begin = time.monotonic() + 0.05
    t_measure = t_begin + spec["warmup"]
    t_stop = t_measure + spec["seconds"]
    duration = math.ceil(spec["warmup"] + spec["seconds"]) + 60  # a bound: stopped with SIGINT at t_stop
    groups = [(0, concurrency, t_begin)] if connect == "burst" else [
        (k, 1, t_begin + k * ramp / concurrency) for k in range(concurrency)
    ]  # fmt: skip
    env = {
        **os.environ,
        "CIVICSWITCH_WRK_T_MEASURE": repr(t_measure),
        "CIVICSWITCH_WRK_T_STOP": repr(t_stop),
        "CIVICSWITCH_WRK_CLIENTS": str(concurrency),
        "CIVICSWITCH_WRK_DATA": str(data),
    }
    procs: list[tuple[subprocess.Popen[bytes], Path, Path]] = []
    marks: dict[str, dict[str, Any]] = {}
    try:
        for first, count, at in groups:
            time.sleep(max(0.0, at - time.monotonic()))
            part = out.with_name(out.name.replace(".out.json", f".wrk-{first}.json"))
            for old in part.parent.glob(f"{part.name}.*"):
                old.unlink()
            log_path = part.with_suffix(".log")
            cmd = [exe, "-t", str(count), "-c", str(count), "-d", f"{duration}s"]
            cmd += ["--timeout", f"{math.ceil(spec['timeout'])}s", "-s", str(script), spec["base_url"]]
            with log_path.open("wb") as log_file:
                proc = subprocess.Popen(
                    cmd, env={**env, "CIVICSWITCH_WRK_FIRST_CLIENT": str(first), "CIVICSWITCH_WRK_OUT": str(part)},
                    stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                )  # fmt: skip
            procs.append((proc, part, log_path))
        pids = [proc.pid for proc, _, _ in procs]
        time.sleep(max(0.0, t_measure - time.monotonic()))
        marks["start"] = _snapshot(spec["server_pid"], spec["db_marker"], pids)
        time.sleep(max(0.0, t_stop - time.monotonic()))
        marks["stop"] = _snapshot(spec["server_pid"], spec["db_marker"], pids)
        # each client writes its file at its first answer after the window, then stops; a client still waiting
        # for an answer after the grace has none
        files = [
            out.with_name(f"{part.name}.{first + k}")
            for (first, count, _), (_, part, _) in zip(groups, procs, strict=True)
            for k in range(count)
        ]
        grace = time.monotonic() + min(spec["timeout"], WRK_GRACE_S)
        while not all(f.exists() for f in files) and time.monotonic() < grace:
            time.sleep(0.05)
        for proc, _, _ in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
        for proc, _, log_path in procs:
            rc = proc.wait(timeout=spec["timeout"] + 30)
            if rc != 0:
                raise RuntimeError(f"wrk exited with {rc}: {log_path.read_text(errors='replace')[-1000:]}")
    finally:
        for proc, _, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    tally = Tally.empty()
    socket_errors: Counter[str] = Counter()
    for _, _, log_path in procs:
        found = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", log_path.read_text())
        if found:
            for name, value in zip(("connect", "read", "write", "timeout"), found.groups(), strict=True):
                socket_errors[name] += int(value)
    missing = [f.name for f in files if not f.exists()]
    for path in files:
        if not path.exists():
            continue
        client = json.loads(path.read_bytes().decode("utf-8", "replace"))
        for kind, values in (client.get("lat") or {}).items():
            tally.latencies[kind].extend(values)
            tally.in_window[kind] += int(client["inw"][kind])
            tally.bytes[kind] += int(client["bytes"][kind])
            tally.errors[kind] += int(client["bad"][kind])
            for status, count in client["st"][kind].items():
                tally.statuses[kind][int(status)] += int(count)
        for sample in client.get("samples") or []:
            if len(tally.samples) < 5:
                tally.samples.append(sample)
    if missing:
        tally.samples.append(
            f"{len(missing)} wrk clients had no answer {WRK_GRACE_S:g} s after the window: {missing[:4]}"
        )
    # wrk counts a broken connection (it reconnects) but not which request or kind it was: an error of its own, as
    # is a client that never answered after the window
    extra = {
        "wrk_processes": len(procs),
        "wrk_socket_errors": dict(socket_errors),
        "wrk_clients_without_results": len(missing),
        "unattributed_errors": sum(socket_errors[k] for k in ("connect", "read", "write")) + len(missing),
    }
    return _pass_result(spec, tally, marks, extra)


def _run_loop(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    result: dict[str, Any] = uvloop.run(coro)
    return result


def drive_main(spec_path: Path) -> int:
    spec = json.loads(spec_path.read_text())
    result = _drive_wrk(spec) if spec.get("driver") == "wrk" else _run_loop(_drive(spec))
    Path(spec["out"]).write_text(json.dumps(result))
    return 0


def run_driver(
    workdir: Path,
    tag: str,
    server: Server,
    scenario: Scenario,
    *,
    concurrency: int,
    warmup: float,
    seconds: float,
    connect: str = "burst",
    ramp_seconds: float = 0.0,
    during: Callable[[], Callable[[], None]] | None = None,
    driver: str = "httpx",
) -> dict[str, Any]:
    """One load pass from a separate process (``driver``: httpx in that process, or wrk processes it starts).
    ``connect``: the clients open their connections all at once (``burst``) or one after another over
    ``ramp_seconds`` (``ramp``). ``during`` is started after the warm-up; it returns its waiter."""
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    spec_path = tmp / f"drive-{tag}.json"
    out = tmp / f"drive-{tag}.out.json"
    out.unlink(missing_ok=True)
    spec = {
        "driver": driver,
        "base_url": server.base_url,
        "method": scenario.method,
        "targets": scenario.targets,
        "bodies": scenario.bodies,
        "methods": scenario.methods,
        "kinds": scenario.kinds,
        "headers": prime_etags(server, scenario) if scenario.conditional else None,
        "expect": [304] if scenario.conditional else None,
        "concurrency": concurrency,
        "warmup": warmup,
        "seconds": seconds,
        "timeout": 30.0,
        "server_pid": server.pid,
        "db_marker": server.db_marker,
        "connect": connect,
        "ramp_seconds": ramp_seconds,
        "out": str(out),
    }
    spec_path.write_text(json.dumps(spec))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--drive", str(spec_path)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL)
    waiter: Callable[[], None] | None = None
    try:
        if during is not None:
            time.sleep(warmup + 0.3)
            waiter = during()
        rc = proc.wait(timeout=warmup + seconds + 120)
        if waiter is not None:
            waiter()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    if rc != 0:
        raise RuntimeError(f"the load driver failed ({rc}) for {tag}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# -- in-process baselines and profiles ----------------------------------------------------------------
BASE_URL = "http://127.0.0.1:8311"


def _list_call(store: Any) -> tuple[str, Callable[[Any], Any]]:
    """What GET requests.json (JSON, no extensions) asks the store for: the database-rendered list when the
    store has it (``find_open311_json``), else ``find``."""
    if hasattr(store, "find_open311_json"):
        return "SqlRequestStore.find_open311_json()", lambda q: store.find_open311_json(q, BASE_URL)
    return "SqlRequestStore.find()", store.find


def _count_rows(result: Any) -> int:
    if isinstance(result, tuple) and result and isinstance(result[0], int):  # list_validator: (count, validator)
        return result[0]
    if isinstance(result, bytes):
        return result.count(b'"service_request_id"')
    return len(result) if isinstance(result, list) else 1


def db_baseline(engine: Engine, scenario: Scenario, seconds: float, call: str | None = None) -> dict[str, Any]:
    """The store call the route makes, serially in this process, each in its own unit of work like the route."""
    from civicswitch.core.clock import SystemClock
    from civicswitch.requests.handlers import Limits, submit_request
    from civicswitch.storage.sql import SqlUnitOfWork

    clock, limits = SystemClock(), Limits()
    kind = call or scenario.call
    what = {
        "submit": "submit_request() use case",
        "find": "SqlRequestStore.find()",
        "validator": "SqlRequestStore.list_validator()",
        "catalog": "SqlCatalogStore.version()",
        "healthz": "engine.connect() + SELECT 1",
    }.get(kind, "")

    def run(item: Any) -> tuple[float, Any]:
        nonlocal what
        if kind == "submit":
            t0 = time.perf_counter()
            result = submit_request(SqlUnitOfWork(engine), clock, item, limits)
            return time.perf_counter() - t0, result
        if kind == "healthz":
            from sqlalchemy import text

            t0 = time.perf_counter()
            with engine.connect() as conn:
                result = conn.execute(text("SELECT 1")).scalar()
            return time.perf_counter() - t0, result
        t0 = time.perf_counter()
        with SqlUnitOfWork(engine, writing=False) as uow:
            if kind == "list":
                what, method = _list_call(uow.requests)
            elif kind == "validator":
                method = uow.requests.list_validator
            elif kind == "catalog" and hasattr(uow.catalog, "version"):
                method = lambda _: uow.catalog.version()  # noqa: E731 - what a cached catalog document reads
            elif kind == "catalog":  # code from before the catalog cache: the route read the list every time
                what = "SqlCatalogStore.services()"
                method = lambda _: uow.catalog.services()  # noqa: E731
            elif hasattr(uow.requests, "view_with_validator") and item.ids is not None and len(item.ids) == 1:
                # GET requests/{id}: the row and its ETag's validator in one query, where the code has it
                what = "SqlRequestStore.view_with_validator()"
                method = lambda q: uow.requests.view_with_validator(q.ids[0])  # noqa: E731
            else:
                method = uow.requests.find
            result = method(item)
        return time.perf_counter() - t0, result

    items = scenario.calls
    warm_until = time.perf_counter() + min(1.0, seconds / 4)
    i = 0
    while time.perf_counter() < warm_until:
        run(items[i % len(items)])
        i += 1
    samples: list[float] = []
    rows = 0
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        took, result = run(items[i % len(items)])
        samples.append(took)
        rows += _count_rows(result)
        i += 1
    return {
        "what": what + " in-process",
        "latency": latency_summary(samples),
        "rows_mean": round(rows / len(samples), 1) if samples else None,
        "serial_calls_per_s": round(len(samples) / seconds, 1),
    }


def stage_breakdown(engine: Engine, scenario: Scenario, seconds: float, workdir: Path, tag: str) -> dict[str, Any]:
    """Where a list request's time goes outside HTTP, in-process: the driver's execute+fetch of the exact SQL the
    route's store call sends, the whole store call (SQLAlchemy, the service-code lookup, joining the JSON), and,
    for comparison, the Python rendering path (find() + request_payload + orjson) that XML and extensions use."""
    from sqlalchemy import event

    from civicswitch.storage.sql import SqlUnitOfWork

    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        captured.append((statement, parameters))

    stages: dict[str, list[float]] = defaultdict(list)
    sizes: list[int] = []
    what = ""
    python_path: Callable[[Any], bytes] | None = None
    try:
        from civicswitch.web.open311.render import render, request_payload

        def python_render(views: Any) -> bytes:
            return render("json", "service_requests", [request_payload(v, BASE_URL) for v in views])

        python_path = python_render
    except ImportError as exc:
        log(f"breakdown: no Python rendering path to compare ({exc})")
    raw = engine.raw_connection()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        stop = time.perf_counter() + seconds
        i = 0
        while time.perf_counter() < stop:
            q = scenario.calls[i % len(scenario.calls)]
            i += 1
            captured.clear()
            t0 = time.perf_counter()
            with SqlUnitOfWork(engine, writing=False) as uow:
                what, method = _list_call(uow.requests)
                result = method(q)
            stages["store_call"].append(time.perf_counter() - t0)
            statement, parameters = captured[-1]  # the list query (an earlier one looks up service ids)
            cur = raw.cursor()
            t0 = time.perf_counter()
            cur.execute(statement, parameters)
            cur.fetchall()
            stages["driver_sql"].append(time.perf_counter() - t0)
            cur.close()
            sizes.append(len(result) if isinstance(result, bytes) else 0)
            if python_path is not None:
                t0 = time.perf_counter()
                with SqlUnitOfWork(engine, writing=False) as uow:
                    views = uow.requests.find(q)
                t1 = time.perf_counter()
                python_path(views)
                stages["python_find"].append(t1 - t0)
                stages["python_render"].append(time.perf_counter() - t1)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
        with contextlib.suppress(Exception):
            raw.rollback()
        raw.close()
    out: dict[str, Any] = {k: latency_summary(v) for k, v in stages.items()}
    out["store_call_name"] = what
    out["bytes_mean"] = round(sum(sizes) / len(sizes)) if sizes else None

    # cProfile of the route's store call, for the top functions (profiling inflates Python-heavy parts).
    profiler = cProfile.Profile()
    profiler.enable()
    for q in scenario.calls[:100]:
        with SqlUnitOfWork(engine, writing=False) as uow:
            _list_call(uow.requests)[1](q)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
    path = workdir / f"cprofile-{tag}.txt"
    path.write_text(text.getvalue())
    out["cprofile"] = str(path)
    return out


STORE_READS = frozenset({"find", "find_open311_json", "events", "_list_query", "_filtered", "get"})
PYSPY_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("serialise: orjson.dumps", ("dumps_json",)),
    ("serialise: request_payload dicts", ("request_payload", "format_datetime", "sla_notice")),
)


def _frame_name(frame: str) -> str:
    """``Class.method (path:line)`` -> ``method``."""
    return frame.split(" (", 1)[0].rsplit(".", 1)[-1]


def classify_stack(frames: Sequence[str]) -> str:
    names = [_frame_name(f) for f in frames]
    for label, markers in PYSPY_RULES:
        if any(n in markers for n in names):
            return label
    in_find = any(n in STORE_READS and "requests/sql.py" in f for n, f in zip(names, frames, strict=True))
    leaf = frames[-1] if frames else ""
    leaf_name = names[-1] if names else ""
    if in_find:
        if leaf_name in ("do_execute", "execute") and ("sqlalchemy" in leaf or "psycopg" in leaf):
            return "DB: driver execute (SQL runs)"
        if "fetch" in leaf_name or "psycopg" in leaf:
            return "DB: driver fetch + row objects"
        if "requests/sql.py" in leaf:
            return "find(): RequestView build"
        if "sqlalchemy/sql/" in leaf:
            return "SQLAlchemy: compile/cache key"
        if "sqlalchemy/engine/" in leaf or "sqlalchemy/" in leaf or "core/db.py" in leaf or "json" in leaf:
            return "SQLAlchemy: result/type processing"
        return "find(): other"
    if any("SqlUnitOfWork" in f or "storage/sql.py" in f or "sqlalchemy/pool" in f for f in frames):
        return "DB: connect/checkout/rollback"
    if any("sqlalchemy" in f for f in frames):
        return "SQLAlchemy: other"
    return "framework: uvicorn/starlette/fastapi/anyio"


def summarize_pyspy(path: Path) -> dict[str, Any]:
    categories: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        categories[classify_stack(frames)] += count
        leaves[frames[-1] if frames else "?"] += count
        total += count
    return {
        "samples": total,
        "categories_pct": {k: round(100 * v / total, 1) for k, v in categories.most_common()} if total else {},
        "top_self_pct": {k: round(100 * v / total, 1) for k, v in leaves.most_common(15)} if total else {},
        "raw": str(path),
    }


def pyspy_during(server: Server, seconds: float, path: Path) -> Callable[[], Callable[[], None]] | None:
    exe = Path(sys.executable).with_name("py-spy")
    found = str(exe) if exe.exists() else shutil.which("py-spy")
    if found is None:
        log("py-spy is not installed (.venv/bin/pip install py-spy); no server profile")
        return None
    assert server.proc is not None
    pid = server.proc.pid

    def start() -> Callable[[], None]:
        cmd = [found, "record", "--pid", str(pid), "--subprocesses", "--rate", "250", "--format", "raw"]
        cmd += ["--duration", str(max(1, int(seconds) - 1)), "--output", str(path), "--nonblocking"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def wait() -> None:
            try:
                _, err = proc.communicate(timeout=seconds + 60)
                if proc.returncode != 0:
                    log(f"py-spy failed ({proc.returncode}): {err.decode(errors='replace')[-300:]}")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)

        return wait

    return start


# -- a database's run ---------------------------------------------------------------------------------
def create_api_key(url: str) -> str:
    """Through the real CLI: the key is the last line of stdout. ``--no-limit``, so that the rate limiter never
    refuses the benchmark's POSTs (code from before rate limits has no such option: then without it)."""
    for extra in (["--no-limit"], []):
        done = subprocess.run(
            [*civicswitch_command(), "apikey", "create", BENCH_CLIENT, *extra],
            cwd=REPO,
            env={**os.environ, "CIVICSWITCH_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode == 0:
            return done.stdout.strip().splitlines()[-1].strip()
        if not (extra and "--no-limit" in done.stderr):
            break
    raise RuntimeError(f"civicswitch apikey create failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def code_of(server_env: dict[str, str], code: Path | None) -> str:
    """Where a server started like this imports civicswitch from (checks that the A/B baseline is what it says)."""
    env = {**os.environ, **server_env}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    done = subprocess.run(
        [sys.executable, "-c", "import civicswitch, os; print(os.path.dirname(civicswitch.__file__))"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _pass_summary(run: dict[str, Any]) -> dict[str, Any]:
    rps = run["rps"] or math.nan
    return {
        "rps": run["rps"],
        "p50_ms": run["latency"]["p50_ms"],
        "p99_ms": run["latency"]["p99_ms"],
        "server_cpu_ms": None
        if run["cpu_cores"]["server"] is None
        else round(1000 * run["cpu_cores"]["server"] / rps, 3),
        "errors": run["errors"],
        "other_cores": run["cpu_cores"]["other"],
        "worker_cores": run["worker_cores"],
        "worker_balance": run["worker_balance"],
    }


def titled(name: str, connect: str, connects: Sequence[str]) -> str:
    return TITLES[name] if len(connects) < 2 else f"{TITLES[name]} [{connect}]"


def _balance(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def ab_compare(
    kind: str, args: argparse.Namespace, scenarios: Sequence[Scenario], test: Server, base: Server
) -> list[dict[str, Any]]:
    """The same scenarios against the code under test and the baseline, alternating, on one database."""
    out = []
    for sc, connect in itertools.product(scenarios, args.connect):
        if sc.name not in args.ab_scenarios:
            continue
        rounds: dict[str, list[dict[str, Any]]] = {"test": [], "base": []}
        for r in range(args.ab_rounds):
            order = (("base", base), ("test", test)) if r % 2 == 0 else (("test", test), ("base", base))
            for label, server in order:
                tag = f"{kind}-ab-{sc.name}-{connect}-{label}-{r}"
                c1 = run_driver(args.workdir, f"{tag}-c1", server, sc, concurrency=1, warmup=1.0,
                                seconds=args.serial_seconds, driver=args.driver)  # fmt: skip
                wait_quiet(args.idle_wait, say=log)
                load = run_driver(args.workdir, tag, server, sc, concurrency=args.concurrency, warmup=args.warmup,
                                  seconds=args.seconds, connect=connect, ramp_seconds=args.ramp_seconds,
                                  driver=args.driver)  # fmt: skip
                one = {"c1_p50_ms": c1["latency"]["p50_ms"], "c1_server_cpu_ms": _pass_summary(c1)["server_cpu_ms"]}
                rounds[label].append({**one, **_pass_summary(load)})
                log(
                    f"{kind} A/B {sc.name} [{connect}] {label} round {r}: {load['rps']} req/s, p50 "
                    f"{load['latency']['p50_ms']} ms, per-worker CPU (cores) {load['worker_cores']}, balance "
                    f"{_balance(load['worker_balance'])}"
                )
        title = titled(sc.name, connect, args.connect)
        summary: dict[str, Any] = {"name": sc.name, "connect": connect, "title": title, "rounds": rounds}
        for field in ("server_cpu_ms", "c1_p50_ms", "p50_ms", "rps", "c1_server_cpu_ms"):
            t = statistics.median(x[field] for x in rounds["test"])
            b = statistics.median(x[field] for x in rounds["base"])
            summary[field] = {"test": t, "base": b, "ratio": round(t / b, 3) if b else None}
        out.append(summary)
        log(
            f"{kind} A/B {title}: server CPU ms/request {summary['server_cpu_ms']['test']} vs "
            f"{summary['server_cpu_ms']['base']} (x{summary['server_cpu_ms']['ratio']}), c=1 p50 "
            f"{summary['c1_p50_ms']['test']} vs {summary['c1_p50_ms']['base']} ms (x{summary['c1_p50_ms']['ratio']})"
        )
    return out


def pair_compare(
    kind: str, args: argparse.Namespace, scenarios: dict[str, Scenario], server: Server
) -> list[dict[str, Any]]:
    """Each pair ``a/b`` on the same server, loaded passes alternating (``a`` first in even rounds): medians of
    req/s, p50, p99 and server CPU ms per request, and the ratio a / b, so both sides see the same machine."""
    out = []
    for pair in args.pairs:
        a, b = pair.split("/")
        rounds: dict[str, list[dict[str, Any]]] = {a: [], b: []}
        for r in range(args.pair_rounds):
            for name in (a, b) if r % 2 == 0 else (b, a):
                wait_quiet(args.idle_wait, say=log)
                run = run_driver(args.workdir, f"{kind}-pair-{name}-{r}", server, scenarios[name],
                                 concurrency=args.concurrency, warmup=args.warmup, seconds=args.seconds,
                                 driver=args.driver)  # fmt: skip
                rounds[name].append(
                    {**_pass_summary(run), "p99_ms": run["latency"]["p99_ms"], "requests": run["requests"],
                     "statuses": run["statuses"], "cpu_cores": run["cpu_cores"]}
                )  # fmt: skip
        summary: dict[str, Any] = {"pair": pair, "a": a, "b": b, "titles": [TITLES[a], TITLES[b]], "rounds": rounds}
        for field in ("rps", "p50_ms", "p99_ms", "server_cpu_ms"):
            if any(x[field] is None for x in rounds[a] + rounds[b]):  # not measured: a server that is not ours
                summary[field] = {a: None, b: None, "ratio": None}
                continue
            va = statistics.median(x[field] for x in rounds[a])
            vb = statistics.median(x[field] for x in rounds[b])
            summary[field] = {a: va, b: vb, "ratio": round(va / vb, 3) if vb else None}
        out.append(summary)
        log(
            f"{kind} pair {pair}: {summary['rps'][a]} vs {summary['rps'][b]} req/s (x{summary['rps']['ratio']}), "
            f"server CPU ms/request {summary['server_cpu_ms'][a]} vs {summary['server_cpu_ms'][b]}"
        )
    return out


def measure(
    kind: str,
    args: argparse.Namespace,
    server: Server | RemoteServer,
    scenarios: Sequence[Scenario],
    paired: dict[str, Scenario],
    engine: Engine | None,
    result: dict[str, Any],
    failures: list[str],
) -> None:
    """Each scenario on ``server``: the in-process DB baseline (only with ``engine``: a database of ours), a c=1
    pass, one loaded pass per connect pattern; then the pairs. Results go to ``result``, failures to ``failures``."""
    for sc in scenarios:
        shared: dict[str, Any] = {"rows_stored": count_requests(engine) if engine is not None else None}
        tag = f"{kind}-{sc.name}"
        shared["background_before_db"] = wait_quiet(args.idle_wait, say=log)
        if engine is not None and sc.call != "mixed":
            shared["db"] = db_baseline(engine, sc, args.db_seconds)
            if sc.call == "list" and not shared["db"]["what"].startswith("SqlRequestStore.find()"):
                shared["db_find"] = db_baseline(engine, sc, args.db_seconds / 2, call="find")
            if sc.call == "list" and sc.name in PROFILED:
                shared["breakdown"] = stage_breakdown(engine, sc, args.db_seconds, args.workdir, tag)
        if args.serial_seconds > 0:
            shared["http_c1"] = run_driver(args.workdir, f"{tag}-c1", server, sc, concurrency=1, warmup=1.0,
                                           seconds=args.serial_seconds, driver=args.driver)  # fmt: skip
        for n, connect in enumerate(args.connect):  # the measurements above hold for every connect pattern
            title = titled(sc.name, connect, args.connect)
            entry: dict[str, Any] = {"name": sc.name, "connect": connect, "title": title, "note": sc.note}
            entry.update(shared)
            during = None
            spy_path = args.workdir / f"pyspy-{tag}.txt"
            if args.py_spy and sc.name in PROFILED and n == 0 and isinstance(server, Server):
                during = pyspy_during(server, args.seconds, spy_path)
            entry["background_before_load"] = wait_quiet(args.idle_wait, say=log)
            entry["http"] = run_driver(
                args.workdir,
                f"{tag}-{connect}",
                server,
                sc,
                concurrency=args.concurrency,
                warmup=args.warmup,
                seconds=args.seconds,
                connect=connect,
                ramp_seconds=args.ramp_seconds,
                during=during,
                driver=args.driver,
            )
            if during is not None and spy_path.exists():
                entry["pyspy"] = summarize_pyspy(spy_path)
            result["scenarios"].append(entry)
            http, db = entry["http"], entry.get("db")
            log(
                f"{kind} {title} ({args.driver}): {http['rps']} req/s, p50 {http['latency']['p50_ms']} ms, "
                f"p99 {http['latency']['p99_ms']} ms, errors {http['errors']}; DB p50 "
                f"{db['latency']['p50_ms'] if db else '-'} ms; per-worker CPU (cores) {http['worker_cores']}, "
                f"balance {_balance(http['worker_balance'])}"
            )
            for name, one in (http.get("kinds") or {}).items():
                log(
                    f"  {name}: {one['rps']} req/s, p50 {one['latency']['p50_ms']} ms, p99 "
                    f"{one['latency']['p99_ms']} ms, errors {one['errors']}, statuses {one['statuses']}"
                )
            for label, run in (("load", http), ("c=1", entry.get("http_c1") if n == 0 else None)):
                if run and run["requests"] and (run["errors"] / run["requests"]) > ERROR_LIMIT:
                    failures.append(
                        f"{kind} {title} ({label}): {run['errors']} of {run['requests']} requests failed; "
                        f"statuses {run['statuses']}; e.g. {run['error_samples'][:2]}"
                    )
                if run and not run["requests"]:
                    failures.append(f"{kind} {title} ({label}): no request completed")
    if args.pairs:
        result["pairs"] = pair_compare(kind, args, paired, server)
        for entry in result["pairs"]:
            for name, runs in entry["rounds"].items():
                for n, run in enumerate(runs):
                    if run["errors"] > ERROR_LIMIT * max(1, run["requests"]) or not run["requests"]:
                        failures.append(
                            f"{kind} pair {entry['pair']} {name} round {n}: {run['errors']} of "
                            f"{run['requests']} unexpected answers; statuses {run['statuses']}"
                        )


def run_database(
    kind: str, args: argparse.Namespace, templates: Sequence[Template], source: str, failures: list[str]
) -> dict[str, Any]:
    from civicswitch.core.db import make_engine

    prepared = prepare(kind, args, templates, source)
    result: dict[str, Any] = {
        "kind": kind,
        "url": prepared.url,
        "rows_generated": prepared.rows,
        "data_now": datetime.fromtimestamp(prepared.now, UTC).isoformat(),
        "reused": prepared.reused,
        "source": prepared.source,
        "load": prepared.load,
        "scenarios": [],
    }
    if args.load_only:
        return result
    if kind == "postgres":
        import psycopg

        with psycopg.connect(prepared.url, connect_timeout=10) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            result["server_version"] = row[0] if row else None
    else:
        result["server_version"] = sqlite3.sqlite_version
    engine = make_engine(prepared.url)
    server = Server(prepared.url, args.server_workers, args.workdir / f"server-{kind}.log")
    base: Server | None = None
    if args.baseline_root is not None:
        base = Server(prepared.url, args.server_workers, args.workdir / f"server-{kind}-baseline.log",
                      env={**BENCH_SERVER_ENV, **args.baseline_env}, code=args.baseline_root)  # fmt: skip
    try:
        catalog = catalog_info(engine)
        api_key = create_api_key(prepared.url)
        scenarios = build_scenarios(args.scenarios, templates, catalog, prepared, api_key, args.seed)
        pair_names = sorted({n for pair in args.pairs for n in pair.split("/")})
        paired = {sc.name: sc for sc in build_scenarios(pair_names, templates, catalog, prepared, api_key, args.seed)}
        log(f"{kind}: starting civicswitch serve --workers {args.server_workers}")
        server.start()
        measure(kind, args, server, scenarios, paired, engine, result, failures)
        if base is not None:
            log(f"{kind}: starting the A/B baseline server ({args.baseline_code}) beside the one under test")
            base.start()
            result["ab"] = {
                "baseline_code": args.baseline_code,
                "baseline_env": args.baseline_env,
                "baseline_commit": args.baseline_commit,
                "baseline_imports": code_of(base.extra_env, base.code),
                "test_imports": code_of(server.extra_env, None),
                "scenarios": ab_compare(kind, args, scenarios, server, base),
            }
            for entry in result["ab"]["scenarios"]:
                for label in ("test", "base"):
                    for n, run in enumerate(entry["rounds"][label]):
                        if run["errors"]:
                            failures.append(f"{kind} A/B {entry['title']} {label} round {n}: {run['errors']} errors")
    finally:
        if base is not None:
            base.stop()
        server.stop()
        engine.dispose()
        with contextlib.suppress(Exception):
            cleanup(prepared.url, prepared.rows)
    return result


# -- a GeoReport v2 server we did not start (--base) --------------------------------------------------
REMOTE_SCENARIOS = tuple(s for s in SCENARIOS if s != "healthz")  # /healthz is ours, not GeoReport v2


@dataclass
class RemoteServer:
    """A GeoReport v2 server the bench did not start: its address, and its process id when the operator gives
    it (``--server-pid``, the server running on this machine), for per-process CPU and RSS."""

    base_url: str
    pid: int | None = None
    db_marker: str | None = None


@dataclass
class Remote:
    """What the bench found out about a server at ``--base`` (services.json, requests.json)."""

    api: str  # the base path, e.g. /open311/v2
    jurisdiction: str | None
    codes: list[str]  # services asked for in lists (the commonest in its requests first)
    postable: list[str]  # services a POST can use: no required attribute
    ids: list[str]
    points: list[tuple[float, float]]  # where its requests are: POSTs go near them


def _with_jurisdiction(query: dict[str, str], jurisdiction: str | None) -> dict[str, str]:
    return {**query, "jurisdiction_id": jurisdiction} if jurisdiction else query


def discover(base: str, args: argparse.Namespace) -> Remote:
    """Service codes from services.json (and each service definition with attributes, for the required ones),
    request ids and points from requests.json (``--request-ids`` and ``--service-code`` take precedence)."""
    import httpx

    api = args.base_path.rstrip("/")
    juris = args.jurisdiction_id
    query = urlencode(_with_jurisdiction({}, juris))
    suffix = f"?{query}" if query else ""
    with httpx.Client(base_url=base, timeout=60.0) as client:
        response = client.get(f"{api}/services.json{suffix}")
        if response.status_code != 200:
            raise SystemExit(f"{base}{api}/services.json answered {response.status_code}: {response.text[:300]}")
        services = response.json()
        codes = [str(s["service_code"]) for s in services if s.get("service_code") is not None]
        if args.service_code:
            codes = [c for c in codes if c in args.service_code] or list(args.service_code)
        postable = []
        for s in services:
            code = str(s.get("service_code"))
            if code not in codes or s.get("type", "realtime") != "realtime":
                continue
            if s.get("metadata"):
                definition = client.get(f"{api}/services/{code}.json{suffix}")
                required = definition.status_code != 200 or any(
                    a.get("required") and a.get("variable", True) for a in definition.json().get("attributes", [])
                )
                if required:
                    continue
            postable.append(code)
        response = client.get(f"{api}/requests.json{suffix}")
        found = response.json() if response.status_code == 200 else []
    ids = [str(r["service_request_id"]) for r in found if r.get("service_request_id") is not None]
    if args.request_ids:
        ids = list(args.request_ids)
    points = [
        (float(r["lat"]), float(r["long"])) for r in found if r.get("lat") is not None and r.get("long") is not None
    ]
    if args.point:
        points = [args.point]
    seen = Counter(str(r.get("service_code")) for r in found if str(r.get("service_code")) in codes)
    codes = [c for c, _ in seen.most_common()] + [c for c in codes if c not in seen]
    log(
        f"{base}{api}: {len(services)} services ({len(postable)} a POST can use), {len(ids)} request ids, "
        f"{len(points)} points from requests.json"
    )
    return Remote(api, juris, codes, postable, ids, points)


def build_remote_scenarios(names: Sequence[str], remote: Remote, api_key: str | None, seed: int) -> list[Scenario]:
    """The GET and POST scenarios for a server at ``--base``, from what ``discover`` found. Lists ask the
    commonest services of its requests, 30-day windows in the last year as for our server; POSTs use a service
    without required attributes and a point 5 m around one of its requests."""
    rng = random.Random(seed + 1)
    api, juris = remote.api, remote.jurisdiction
    now = int(time.time())
    top = remote.codes[:TOP_SERVICES]
    out: list[Scenario] = []

    def need(what: list[Any], why: str) -> None:
        if not what:
            raise SystemExit(f"--base: {why}")

    def lists(r: random.Random, count: int, extra: dict[str, str]) -> list[str]:
        need(top, "services.json lists no service to filter on (give --service-code)")
        targets = []
        for _ in range(count):
            start = now - r.randrange(WINDOW_DAYS * DAY, YEAR_DAYS * DAY)
            given = {"service_code": r.choice(top), "status": "open", "start_date": _iso(start),
                     "end_date": _iso(start + WINDOW_DAYS * DAY), **extra}  # fmt: skip
            targets.append(f"{api}/requests.json?{urlencode(_with_jurisdiction(given, juris))}")
        return targets

    suffix = urlencode(_with_jurisdiction({}, juris))
    suffix = f"?{suffix}" if suffix else ""
    for name in names:
        if name in ("filtered", "filtered_p50"):
            extra = {"page_size": "50"} if name == "filtered_p50" else {}
            targets = lists(rng, ITEMS_PER_SCENARIO, extra)
            note = f"service_code one of {', '.join(top)}; random {WINDOW_DAYS}-day windows in the last year"
            out.append(Scenario(name, "GET", targets, None, [None] * len(targets), "list", note))
        elif name == "default_window":
            out.append(Scenario(name, "GET", [f"{api}/requests.json{suffix}"], None, [None], "list", "no parameters"))
        elif name == "by_id":
            need(remote.ids, "no request ids: requests.json listed none (give --request-ids)")
            ids = [rng.choice(remote.ids) for _ in range(ITEMS_PER_SCENARIO)]
            targets = [f"{api}/requests/{i}.json{suffix}" for i in ids]
            note = f"random ids among the {len(remote.ids)} that requests.json listed (or --request-ids)"
            out.append(Scenario(name, "GET", targets, None, [None] * len(targets), "find", note))
        elif name == "post":
            need(remote.postable, "no service without required attributes to POST to (give --service-code)")
            need(remote.points, "no point to POST at: requests.json had no lat/long (give --point LAT,LONG)")
            if not api_key:
                raise SystemExit("--base: the post and mixed scenarios need --api-key")
            bodies = []
            for _ in range(ITEMS_PER_SCENARIO):
                lat, lon = rng.choice(remote.points)
                d_lat, d_lon = rng.gauss(0.0, JITTER_M) / M_PER_DEG_LAT, rng.gauss(0.0, JITTER_M) / M_PER_DEG_LAT
                form = {"api_key": api_key, "service_code": rng.choice(remote.postable), "lat": f"{lat + d_lat:.6f}",
                        "long": f"{lon + d_lon / max(0.1, math.cos(math.radians(lat))):.6f}",
                        "description": "civicswitch bench: a generated request"}  # fmt: skip
                bodies.append(urlencode(_with_jurisdiction(form, juris)))
            note = f"{len(remote.postable)} services without required attributes, points 5 m around its requests"
            targets = [f"{api}/requests.json"] * len(bodies)
            out.append(Scenario(name, "POST", targets, bodies, [None] * len(bodies), "submit", note))
        elif name == "services":
            out.append(
                Scenario(name, "GET", [f"{api}/services.json{suffix}"], None, [None], "catalog", "no If-None-Match")
            )
        elif name in ("filtered_304", "filtered_200"):
            targets = lists(random.Random(seed + 3), PAIR_LIST_TARGETS, {})
            conditional = name == "filtered_304"
            note = f"{PAIR_LIST_TARGETS} URLs as in filtered" + (
                ", with If-None-Match: 304 expected" if conditional else ""
            )
            out.append(
                Scenario(name, "GET", targets, None, [None] * len(targets), "list", note, conditional=conditional)
            )
        elif name == "mixed":
            parts = build_remote_scenarios(MIXED_PARTS, remote, api_key, seed)
            out.append(compose_mixed({sc.name: sc for sc in parts}, seed))
        else:
            raise SystemExit(
                f"--base: scenario {name!r} is not GeoReport v2; choose from {', '.join(REMOTE_SCENARIOS)}"
            )
    return out


def run_remote(args: argparse.Namespace, failures: list[str]) -> dict[str, Any]:
    """The scenarios against ``--base``: no database of ours (no DB baseline, no generation, no cleanup: rows
    POSTed stay there), and the server's CPU and RSS only with ``--server-pid``."""
    parts = urlsplit(args.base)
    base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    args.base_path = (
        parts.path.rstrip("/") + "/" + args.base_path.strip("/") if parts.path.strip("/") else args.base_path
    )
    remote = discover(base, args)
    server = RemoteServer(base, args.server_pid)
    result: dict[str, Any] = {
        "kind": "remote",
        "url": f"{base}{remote.api}",
        "server_pid": args.server_pid,
        "discovered": {
            "services": len(remote.codes),
            "postable": remote.postable[:20],
            "ids": len(remote.ids),
            "points": len(remote.points),
        },
        "scenarios": [],
    }
    scenarios = build_remote_scenarios(args.scenarios, remote, args.api_key, args.seed)
    pair_names = sorted({n for pair in args.pairs for n in pair.split("/")})
    paired = {sc.name: sc for sc in build_remote_scenarios(pair_names, remote, args.api_key, args.seed)}
    measure("remote", args, server, scenarios, paired, None, result, failures)
    return result


# -- report -------------------------------------------------------------------------------------------
def _fmt(value: float | int | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.1f}x"


def print_kinds(scenarios: Sequence[dict[str, Any]]) -> None:
    """Per kind of request, for the scenarios that mix kinds (mixed): req/s, p50, p90, p99, errors, statuses."""
    mixed = [sc for sc in scenarios if sc["http"].get("kinds")]
    if not mixed:
        return
    print()
    print(f"{'per kind of request':48}  {'kind':>8}  {'req/s':>7}  {'p50 ms':>7}  {'p90 ms':>7}  {'p99 ms':>7}  "
          f"{'errors':>6}  {'KB/resp':>7}  statuses")  # fmt: skip
    for sc in mixed:
        for kind, one in sc["http"]["kinds"].items():
            lat = one["latency"]
            size = one["bytes_mean"] / 1024 if one["bytes_mean"] is not None else None
            print(
                f"{sc['title']:48}  {kind:>8}  {_fmt(one['rps']):>7}  {_fmt(lat['p50_ms']):>7}  "
                f"{_fmt(lat['p90_ms']):>7}  {_fmt(lat['p99_ms']):>7}  {one['errors']:>6}  {_fmt(size):>7}  "
                f"{one['statuses']}"
            )


def print_rss(scenarios: Sequence[dict[str, Any]]) -> None:
    """The server's RSS at the start and the end of each loaded pass of a mixed scenario: the sum over its
    processes, and each process (pid, role)."""
    rows = [sc for sc in scenarios if sc["http"].get("kinds") and sc["http"].get("server_rss")]
    if not rows:
        return
    print()
    print(f"{'server RSS, MB (start -> end of the pass)':48}  {'sum':>17}  per process (pid role: start -> end)")
    for sc in rows:
        rss = sc["http"]["server_rss"]
        start = {p["pid"]: p for p in rss["start"]["processes"]}
        end = {p["pid"]: p for p in rss["end"]["processes"]}
        parts = []
        for pid in sorted(set(start) | set(end)):
            role = (start.get(pid) or end[pid])["role"]
            a = start[pid]["mb"] if pid in start else None
            b = end[pid]["mb"] if pid in end else None
            parts.append(f"{pid} {role}: {_fmt(a)} -> {_fmt(b)}")
        total = f"{rss['start']['total_mb']:.1f} -> {rss['end']['total_mb']:.1f}"
        print(f"{sc['title']:48}  {total:>17}  " + "; ".join(parts))


def print_c1(scenarios: Sequence[dict[str, Any]], driver: str) -> None:
    """The one-client passes: a load that starves no process of CPU, where two drivers should agree on the
    server's latency; what the driver's CPU costs per request."""
    seen = {sc["name"]: sc["http_c1"] for sc in scenarios if sc.get("http_c1")}
    if not seen:
        return
    print()
    print(f"{'c=1 pass (one client), driver ' + driver:48}  {'req/s':>7}  {'p50 ms':>7}  {'p90 ms':>7}  {'p99 ms':>7}  "
          f"{'errors':>6}  {'driver cores':>12}  CPU ms/request: driver  server")  # fmt: skip
    for name, run in seen.items():
        lat, cpu, rps = run["latency"], run["cpu_cores"], run["rps"] or math.nan
        server = "-" if cpu["server"] is None else f"{1000 * cpu['server'] / rps:.3f}"
        print(
            f"{TITLES[name]:48}  {_fmt(run['rps']):>7}  {_fmt(lat['p50_ms'], '.2f'):>7}  "
            f"{_fmt(lat['p90_ms'], '.2f'):>7}  {_fmt(lat['p99_ms'], '.2f'):>7}  {run['errors']:>6}  "
            f"{cpu['driver']:>12.2f}  {' ' * 15}"
            f"{1000 * cpu['driver'] / rps:>6.3f}  {server:>6}"
        )


def print_tables(report: dict[str, Any]) -> None:
    cols = (
        ("scenario", 48, "<"),
        ("rows stored", 11, ">"),
        ("req/s", 7, ">"),
        ("p50 ms", 7, ">"),
        ("p99 ms", 7, ">"),
        ("errors", 6, ">"),
        ("DB p50", 6, ">"),
        ("DB p99", 6, ">"),
        ("ratio", 6, ">"),
        ("c=1 p50", 7, ">"),
        ("c1/DB", 6, ">"),
        ("rows/resp", 9, ">"),
        ("KB/resp", 7, ">"),
    )
    header = "  ".join(f"{name:{align}{width}}" for name, width, align in cols)
    settings = report["settings"]
    driver = settings.get("driver", "httpx")
    for kind, db in report["databases"].items():
        print()
        if kind == "remote":
            print(
                f"== {db['url']}: a GeoReport v2 server the bench did not start (load driver {driver}); no DB "
                "baseline (DB columns '-'); "
                + (
                    f"server CPU and RSS from --server-pid {db['server_pid']}"
                    if db.get("server_pid")
                    else "its CPU and RSS not measured (not ours: give --server-pid PID when it runs on this machine)"
                )
            )
        else:
            load = db["load"]
            print(
                f"== {kind} {db.get('server_version', '')}: {db['rows_generated']:,} generated requests "
                f"({'reused; ' if db['reused'] else ''}generation {load['total_s']:.1f} s: schema+catalog "
                f"{load['schema_s']:.1f}, python rows {load['generate_s']:.1f}, insert {load['insert_s']:.1f}, "
                f"indexes {load['indexes_s']:.1f}, analyze {load['analyze_s']:.1f}; indexes built {load['mode']} "
                f"load); load driver {driver}"
            )
        if not db["scenarios"]:
            continue
        print(header)
        print("-" * len(header))
        no_db = {"latency": {"p50_ms": None, "p99_ms": None}, "rows_mean": None}
        for sc in db["scenarios"]:
            http, dbl, c1 = sc["http"], sc.get("db") or no_db, sc.get("http_c1")
            lat, dlat = http["latency"], dbl["latency"]
            c1p50 = c1["latency"]["p50_ms"] if c1 else None
            values = (
                sc["title"],
                "-" if sc.get("rows_stored") is None else f"{sc['rows_stored']:,}",
                _fmt(http["rps"]),
                _fmt(lat["p50_ms"], ".1f"),
                _fmt(lat["p99_ms"], ".1f"),
                str(http["errors"]),
                _fmt(dlat["p50_ms"], ".2f"),
                _fmt(dlat["p99_ms"], ".2f"),
                _ratio(lat["p50_ms"], dlat["p50_ms"]),
                _fmt(c1p50, ".2f"),
                _ratio(c1p50, dlat["p50_ms"]),
                _fmt(dbl["rows_mean"]),
                _fmt(http["bytes_mean"] / 1024 if http["bytes_mean"] is not None else None),
            )
            print("  ".join(f"{v:{align}{width}}" for v, (_, width, align) in zip(values, cols, strict=True)))
        calls = sorted({sc["db"]["what"] for sc in db["scenarios"] if sc.get("db")})
        print(
            f"req/s, p50, p99: {settings['concurrency']} clients for {settings['seconds']:g} s; "
            "c=1: one client (no queueing); DB: the route's store call in-process, serial, one unit of work each "
            f"({'; '.join(calls) or 'none'}); ratio: HTTP p50 / DB p50"
        )
        for sc in db["scenarios"]:
            ref = sc.get("db_find")
            if ref:
                print(
                    f"  {sc['title']}: for reference SqlRequestStore.find() p50 {ref['latency']['p50_ms']} ms, "
                    f"p99 {ref['latency']['p99_ms']} ms"
                )
        print_kinds(db["scenarios"])
        print()
        names = ("driver", "server", "postgres", "other", "machine")
        print(
            f"{'CPU cores during the loaded pass':48}  "
            + "  ".join(f"{n:>8}" for n in names)
            + f"  {'idle-bg':>7}   CPU ms/request: server  postgres  driver   per-worker cores  balance"
        )
        for sc in db["scenarios"]:
            http = sc["http"]
            cpu, rps = http["cpu_cores"], http["rps"] or math.nan

            def per_request(cores: float | None, rps: float = rps) -> str:
                return "-" if cores is None else f"{1000 * cores / rps:.2f}"

            workers = "[" + ", ".join(f"{c:.2f}" for c in http.get("worker_cores", [])) + "]"
            print(
                f"{sc['title']:48}  "
                + "  ".join(f"{_fmt(cpu.get(n), '.2f'):>8}" for n in names)
                + f"  {sc.get('background_before_load', 0.0):>7.2f}"
                + f"  {' ' * 15}{per_request(cpu['server']):>6}  {per_request(cpu['postgres']):>8}"
                + f"  {per_request(cpu['driver']):>6}   {workers:>16}  {_balance(http.get('worker_balance')):>7}"
            )
        what_driver = (
            "the httpx load process"
            if driver == "httpx"
            else "the wrk load processes (and the Python process that starts them)"
        )
        print(
            f"driver = {what_driver}; server = uvicorn master + workers; postgres = backends of this "
            "database; other = everything else on the machine (other users' jobs, kernel); idle-bg = machine "
            "load just before the pass. CPU ms/request does not depend on how busy the machine was. per-worker "
            "cores: each worker process's CPU, by pid; balance: the least busy worker's / the busiest one's. "
            f"[burst]: the {settings['concurrency']} clients connect at once; [ramp]: one after another "
            f"over {settings.get('ramp_seconds', 0):g} s."
            + (" '-': not measured, the server is not ours." if kind == "remote" and not db.get("server_pid") else "")
        )
        print_rss(db["scenarios"])
        print_c1(db["scenarios"], driver)
        pairs = db.get("pairs")
        if pairs:
            print()
            rounds = len(next(iter(pairs[0]["rounds"].values()))) if pairs else 0
            print(
                f"pairs, same server, loaded passes alternating, {rounds} rounds each, medians; ratio = first / second "
                f"({report['settings']['concurrency']} clients, {report['settings']['seconds']:g} s a pass)"
            )
            heads = ("req/s", "p50 ms", "p99 ms", "server CPU ms/req")
            print(f"{'pair':60}  " + "  ".join(f"{h:>26}" for h in heads))
            for e in pairs:
                a, b = e["a"], e["b"]
                cells = []
                for field, spec in (("rps", ".0f"), ("p50_ms", ".2f"), ("p99_ms", ".2f"), ("server_cpu_ms", ".3f")):
                    v = e[field]
                    ratio = "-" if v["ratio"] is None else f"{v['ratio']:.3f}"
                    cells.append(f"{_fmt(v[a], spec)} / {_fmt(v[b], spec)} = {ratio}")
                print(f"{e['titles'][0] + ' / ' + e['titles'][1]:60}  " + "  ".join(f"{c:>26}" for c in cells))
        ab = db.get("ab")
        if ab:
            print()
            rounds = len(ab["scenarios"][0]["rounds"]["test"]) if ab["scenarios"] else 0
            extra = " with " + ", ".join(f"{k}={v}" for k, v in ab.get("baseline_env", {}).items())
            print(
                f"A/B, same run, same database: code under test vs baseline {ab['baseline_code']} "
                f"({ab['baseline_commit'][:12]}){extra if ab.get('baseline_env') else ''}, {rounds} alternating "
                "rounds each, medians; ratio = test / baseline"
            )
            heads = ("server CPU ms/req", "c=1 p50 ms", "p50 ms (load)", "req/s")
            print(f"{'scenario':41}  " + "  ".join(f"{h:>22}" for h in heads))
            for e in ab["scenarios"]:
                cells = []
                for field, spec in (("server_cpu_ms", ".3f"), ("c1_p50_ms", ".2f"), ("p50_ms", ".1f"), ("rps", ".0f")):
                    v = e[field]
                    cells.append(f"{format(v['test'], spec)} / {format(v['base'], spec)} = {v['ratio']:.3f}")
                print(f"{e['title']:41}  " + "  ".join(f"{c:>22}" for c in cells))
            print(f"\n{'A/B rounds, in the order run':48}  {'server':>6}  {'round':>5}  {'req/s':>7}  {'p50 ms':>7}  "
                  f"{'p99 ms':>7}  {'per-worker cores':>16}  {'balance':>7}")  # fmt: skip
            for e in ab["scenarios"]:
                for r in range(len(e["rounds"]["test"])):
                    for label in ("base", "test") if r % 2 == 0 else ("test", "base"):
                        run = e["rounds"][label][r]
                        workers = "[" + ", ".join(f"{c:.2f}" for c in run.get("worker_cores", [])) + "]"
                        print(
                            f"{e['title']:48}  {label:>6}  {r:>5}  {_fmt(run['rps']):>7}  {_fmt(run['p50_ms']):>7}  "
                            f"{_fmt(run.get('p99_ms')):>7}  {workers:>16}  {_balance(run.get('worker_balance')):>7}"
                        )
        for sc in db["scenarios"]:
            b = sc.get("breakdown")
            if b:
                line = (
                    f"in-process stages, {sc['title']} (p50 ms): {b['store_call_name']} "
                    f"{b['store_call']['p50_ms']} of which the driver's execute+fetch of its SQL "
                    f"{b['driver_sql']['p50_ms']}"
                )
                if "python_find" in b:
                    line += (
                        f"; Python path for comparison: find() {b['python_find']['p50_ms']} + request_payload/orjson "
                        f"{b['python_render']['p50_ms']}"
                    )
                print(line + f"; {b['bytes_mean']:,} bytes")
            spy = sc.get("pyspy")
            if spy and spy["samples"]:
                parts = ", ".join(f"{k} {v}%" for k, v in spy["categories_pct"].items())
                print(f"py-spy on the server, {sc['title']} ({spy['samples']} samples): {parts}")


def machine_info() -> dict[str, Any]:
    from importlib.metadata import version

    mem = ""
    with contextlib.suppress(OSError):
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split(":", 1)[1].strip()
    packages = {}
    for name in ("fastapi", "starlette", "uvicorn", "sqlalchemy", "psycopg", "httpx", "orjson", "uvloop"):
        with contextlib.suppress(Exception):
            packages[name] = version(name)
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "packages": packages,
    }


# -- command line -------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Open311 API benchmark: the real server over HTTP on SQLite and PostgreSQL.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--rows", type=int, default=None, help="generated requests (default 1,000,000; --quick 50,000)")
    p.add_argument("--concurrency", type=int, default=16, help="concurrent keep-alive clients")
    p.add_argument("--seconds", type=float, default=None, help="measured seconds per scenario (default 15; --quick 5)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    p.add_argument(
        "--connect",
        default=",".join(CONNECTS),
        help="how the clients connect, each pattern a loaded pass: ramp (one after another over --ramp-seconds), "
        "burst (all at once)",
    )
    p.add_argument("--ramp-seconds", type=float, default=1.0, help="the ramp's length (within the warm-up)")
    p.add_argument("--server-workers", type=int, default=2, help="civicswitch serve --workers")
    p.add_argument("--workdir", type=Path, default=REPO / "bench" / "results")
    p.add_argument("--reuse", action="store_true", help="reuse a generated database of the same row count")
    p.add_argument("--quick", action="store_true", help="smoke run: 50,000 rows, 5 s per scenario")
    p.add_argument("--serial-seconds", type=float, default=None, help="one-client HTTP pass (default 3; --quick 2)")
    p.add_argument("--db-seconds", type=float, default=None, help="in-process DB baseline (default 5; --quick 2)")
    p.add_argument(
        "--scenarios", default=",".join(DEFAULT_SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}"
    )
    p.add_argument(
        "--pairs",
        default=None,
        help=f"a/b,...: scenarios compared on the same server in alternating loaded passes (empty: none; default "
        f"{','.join(PAIRS)}, with --base only the pairs of GeoReport v2 scenarios)",
    )
    p.add_argument("--pair-rounds", type=int, default=3, help="alternating rounds per scenario of each pair")
    p.add_argument("--load-indexes", choices=("after", "during"), default="after", help="build indexes after the load")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin database URL")
    p.add_argument("--nyc-data", type=Path, default=REPO.parent / "shared" / "data" / "nyc")
    p.add_argument("--seed", type=int, default=311)
    p.add_argument("--py-spy", action="store_true", help="profile the server workers with py-spy (list scenarios)")
    p.add_argument("--idle-wait", type=float, default=20.0, help="wait up to this long for a quiet machine per pass")
    p.add_argument("--load-only", action="store_true", help="generate (or reuse) the databases, run nothing")
    p.add_argument(
        "--code",
        default=None,
        metavar="REF",
        help="benchmark the committed code at REF (git archive), not the work tree",
    )
    p.add_argument(
        "--baseline-code",
        default=None,
        metavar="REF",
        help="also run a server on the committed code at REF and measure --ab-scenarios on both, alternating",
    )
    p.add_argument(
        "--baseline-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the baseline server only (repeat), e.g. CIVICSWITCH_RATE_LIMIT_ENABLED=false",
    )
    p.add_argument("--ab-scenarios", default=",".join(AB_SCENARIOS), help="scenarios of the A/B comparison")
    p.add_argument("--ab-rounds", type=int, default=2, help="alternating rounds per server in the A/B comparison")
    p.add_argument(
        "--driver",
        choices=DRIVERS,
        default="httpx",
        help="the load generator: httpx (asyncio, one Python process) or wrk (C, `apt-get install -y wrk`; "
        "one thread per client, a Lua script that cycles through the scenario's requests)",
    )
    g = p.add_argument_group(
        "a GeoReport v2 server the bench does not start (--base)",
        "The same GET and POST scenarios against a running server: no data generated, no DB baseline, its "
        "service codes and request ids found in its services.json and requests.json. Loopback addresses only.",
    )
    g.add_argument("--base", metavar="URL", default=None, help="the server's root, e.g. http://127.0.0.1:8311")
    g.add_argument("--base-path", default=API, help="where GeoReport v2 lives under --base")
    g.add_argument("--api-key", default=None, help="the key POSTs send (api_key); the post and mixed scenarios need it")
    g.add_argument("--jurisdiction-id", default=None, help="sent as jurisdiction_id with every request")
    g.add_argument("--service-code", default=None, help="comma list: only these services (else all in services.json)")
    g.add_argument(
        "--request-ids", default=None, help="comma list or @FILE (one a line): ids for by_id (else from requests.json)"
    )
    g.add_argument("--point", default=None, metavar="LAT,LONG", help="where POSTs go (else near its requests)")
    g.add_argument(
        "--server-pid", type=int, default=None, help="the server's process (on this machine): its CPU and RSS are read"
    )
    args = p.parse_args(argv)
    args.ab_scenarios = [s.strip() for s in args.ab_scenarios.split(",") if s.strip()]
    if any("=" not in item for item in args.baseline_env):
        p.error("--baseline-env takes NAME=VALUE")
    args.baseline_env = dict(item.split("=", 1) for item in args.baseline_env)
    args.baseline_root = None
    args.baseline_commit = None
    args.rows = args.rows if args.rows is not None else (50_000 if args.quick else 1_000_000)
    args.seconds = args.seconds if args.seconds is not None else (5.0 if args.quick else 15.0)
    args.serial_seconds = args.serial_seconds if args.serial_seconds is not None else (2.0 if args.quick else 3.0)
    args.db_seconds = args.db_seconds if args.db_seconds is not None else (2.0 if args.quick else 5.0)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    args.connect = [c.strip() for c in args.connect.split(",") if c.strip()]
    if not args.connect or any(c not in CONNECTS for c in args.connect):
        p.error(f"--connect takes a comma list of {', '.join(CONNECTS)}")
    if "ramp" in args.connect and not 0 <= args.ramp_seconds < args.warmup:
        p.error("--ramp-seconds must be shorter than --warmup: the ramp ends before the measurement starts")
    if args.pairs is None:
        remote_ok = [pair for pair in PAIRS if all(n in REMOTE_SCENARIOS for n in pair.split("/"))]
        args.pairs = ",".join(remote_ok if args.base else PAIRS)
    args.pairs = [s.strip() for s in args.pairs.split(",") if s.strip()]
    for pair in args.pairs:
        if pair.count("/") != 1 or any(n not in SCENARIOS for n in pair.split("/")):
            p.error(f"--pairs takes a/b with a and b among {', '.join(SCENARIOS)}; got {pair!r}")
    args.workdir = args.workdir.resolve()
    if args.rows < 1 or args.concurrency < 1 or args.seconds <= 0 or args.server_workers < 1:
        p.error("--rows, --concurrency, --seconds and --server-workers must be positive")
    for name in args.scenarios:
        if name not in SCENARIOS:
            p.error(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    if args.driver == "wrk" and shutil.which("wrk") is None:
        p.error(WRK_MISSING)
    args.service_code = [c.strip() for c in args.service_code.split(",") if c.strip()] if args.service_code else None
    if args.request_ids and args.request_ids.startswith("@"):
        args.request_ids = Path(args.request_ids[1:]).read_text().split()
    elif args.request_ids:
        args.request_ids = [i.strip() for i in args.request_ids.split(",") if i.strip()]
    if args.point:
        try:
            lat, lon = (float(v) for v in args.point.split(","))
        except ValueError:
            p.error("--point takes LAT,LONG")
        args.point = (lat, lon)
    if args.base:
        if urlsplit(args.base).scheme not in ("http", "https"):
            p.error("--base takes http://HOST:PORT")
        loopback_only(args.base)
        bad = [n for n in args.scenarios if n not in REMOTE_SCENARIOS]
        bad += [n for pair in args.pairs for n in pair.split("/") if n not in REMOTE_SCENARIOS]
        if bad:
            p.error(f"--base: {', '.join(sorted(set(bad)))} is not GeoReport v2 (--pairs '' or other scenarios)")
    elif args.db in ("postgres", "both"):
        loopback_only(args.pg_url)
    return args


def _git(*args: str) -> str:
    """Read-only git (no optional index refresh)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, env=env, timeout=60, check=True)
    return done.stdout.decode()


def select_code(ref: str | None, workdir: Path) -> dict[str, Any]:
    """The code under test: the working tree, or ``ref`` extracted with ``git archive`` (other people may be
    editing the working tree while a run is going on). Must run before civicswitch is imported."""
    info: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        info["head"] = _git("rev-parse", "HEAD").strip()
    if ref is None:
        info["tree"] = str(REPO)
        with contextlib.suppress(Exception):
            info["uncommitted"] = [line[3:] for line in _git("status", "--porcelain", "--", "src").splitlines()]
        return info
    if "civicswitch" in sys.modules:
        raise SystemExit("--code must be applied before civicswitch is imported")
    sha, root = extract_code(ref, workdir)
    src = str(root / "src")
    sys.path.insert(0, src)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    CODE["root"] = root
    info.update({"ref": ref, "commit": sha, "tree": str(root)})
    return info


def extract_code(ref: str, workdir: Path) -> tuple[str, Path]:
    """``ref``'s src/ and scripts/ extracted with ``git archive`` into the workdir (once): (commit, folder)."""
    sha = _git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()
    root = workdir / f"code-{sha[:12]}"
    if not (root / "src" / "civicswitch").is_dir():
        tmp = workdir / f"code-{sha[:12]}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", sha, "src", "scripts"],
            capture_output=True,
            timeout=120,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, timeout=120, check=True)
        tmp.rename(root)
    return sha, root


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--drive"] and len(argv) == 2:
        return drive_main(Path(argv[1]))
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    args.workdir.mkdir(parents=True, exist_ok=True)
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    machine = machine_info()
    print(f"command: {command}")
    print(
        f"machine: {machine['cpu_count']} cores ({machine['cpus_usable']} usable), {machine['memory']} RAM, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}"
    )
    driver = "httpx, 1 process" if args.driver == "httpx" else f"wrk, a thread per client, {args.concurrency} in all"
    if args.base:
        print(
            f"note: the load driver ({driver}) runs here against {args.base}, a server the bench did not start: "
            "no DB baseline; "
            + ("its CPU and RSS from --server-pid" if args.server_pid else "its CPU and RSS are not measured")
        )
    else:
        print(
            f"note: the load driver ({driver}), the server ({args.server_workers} workers) and the database all "
            f"share these {machine['cpus_usable']} cores; the CPU table shows who used what"
        )
    if args.driver == "wrk" and "ramp" in args.connect:
        print(
            "note: wrk opens every connection of a process when it starts: a [ramp] pass starts one wrk process "
            f"per client, spread over {args.ramp_seconds:g} s; a [burst] pass is one wrk process"
        )
    code = select_code(args.code, args.workdir)
    if args.baseline_code:
        args.baseline_commit, baseline = extract_code(args.baseline_code, args.workdir)
        args.baseline_root = baseline / "src"
        print(f"A/B baseline: {args.baseline_code} = {args.baseline_commit[:12]}, extracted to {args.baseline_root}")
    import civicswitch

    where = Path(civicswitch.__file__).resolve().parent.parent
    if code.get("ref"):
        print(f"code under test: {code['ref']} = {code['commit'][:12]}, extracted to {where}")
    else:
        dirty = code.get("uncommitted") or []
        print(f"code under test: working tree {where} (HEAD {code.get('head', '?')[:12]}, {len(dirty)} changed files)")
    templates: list[Template] = []
    source = f"the server at {args.base}"
    if not args.base:
        log("reading the real NYC 311 records")
        rows, source = real_rows(args.nyc_data, args.workdir)
        templates = templates_from(rows)
        log(f"{len(templates):,} real records from {source}")
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "command": command,
        "started": started.isoformat(),
        "machine": machine,
        "settings": {
            "rows": args.rows,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "connect": args.connect,
            "ramp_seconds": args.ramp_seconds,
            "serial_seconds": args.serial_seconds,
            "db_seconds": args.db_seconds,
            "server_workers": args.server_workers,
            "scenarios": args.scenarios,
            "pairs": args.pairs,
            "pair_rounds": args.pair_rounds,
            "load_indexes": args.load_indexes,
            "seed": args.seed,
            "server_env": BENCH_SERVER_ENV,
            "baseline_code": args.baseline_code,
            "ab_scenarios": args.ab_scenarios if args.baseline_code else None,
            "ab_rounds": args.ab_rounds if args.baseline_code else None,
            "driver": args.driver,
            "base": args.base,
        },
        "source": source,
        "code": code,
        "databases": {},
    }
    failures: list[str] = []
    out = args.workdir / f"open311_api-{started.strftime('%Y%m%d-%H%M%S')}.json"
    status = 0
    try:
        if args.base:
            report["databases"]["remote"] = run_remote(args, failures)
        for kind in () if args.base else ("sqlite", "postgres") if args.db == "both" else (args.db,):
            report["databases"][kind] = run_database(kind, args, templates, source, failures)
    except KeyboardInterrupt:
        log("interrupted; the server was stopped")
        report["interrupted"] = True
        status = 130
    finally:
        report["failures"] = failures
        report["finished"] = datetime.now(UTC).isoformat()
        out.write_text(json.dumps(report, indent=1))
    print_tables(report)
    print(f"\nresults: {out}")
    print(f"command: {command}")
    if failures:
        print("\n" + "!" * 100, file=sys.stderr)
        print("BENCHMARK FAILED: more than 1% of requests were errors (non-2xx or no answer):", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        print("!" * 100, file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
