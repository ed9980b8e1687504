"""Staff pages' server time with a city's worth of requests stored (issue 10: each page ≤ 100 ms at 1,000,000),
and the residents' pages (issue 11: the same budget; role ``resident``, not signed in).

The database is the Open311 benchmark's (``bench/open311_api.py``: requests generated from the real NYC 311
records, reused with ``--reuse``), on SQLite and PostgreSQL. Staff accounts are added to it (one per role that has
pages; they stay). The real application runs in-process (``create_app``); each page is signed in as a role and
fetched ``--requests`` times one after another, after one warm-up fetch, and the time the application takes per
page is measured around the ASGI call (no client, no network: server time). Printed per page: p50, p95 and the
slowest, in ms, the page's size, and whether p95 is within the 100 ms budget.

    .venv/bin/python bench/staff_pages.py --db sqlite --reuse            # 1,000,000 rows
    .venv/bin/python bench/staff_pages.py --db both --rows 50000 --reuse

One client, one page at a time: what one person waits for, not throughput. The machine has 2 cores shared with
whatever else runs; say so next to any figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `bench` importable

from bench import open311_api as api

BUDGET_MS = 100.0
PASSWORD = "bench staff password 311"


@dataclass
class Page:
    role: str
    name: str
    path: str
    form: dict[str, str] | None = None  # POSTed (with the session's CSRF token) instead of fetched


class Timed:
    """The application, with the time of each HTTP call it handles."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.samples: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        await self.app(scope, receive, send)
        self.samples.append(time.perf_counter() - started)


def _facts(url: str) -> dict[str, Any]:
    """What the pages are asked about: the body owning most requests, a busy service, a request of that body,
    a word from the descriptions ("pothole"), a word common in that body's open requests (the commonest first word
    of its 1,000 latest open requests' descriptions), an area."""
    from sqlalchemy import text

    from civicswitch.core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as db:
            body_id, body = db.execute(text(
                "SELECT b.id, b.code FROM service_requests r JOIN bodies b ON b.id = r.body_id "
                "GROUP BY b.id, b.code ORDER BY count(*) DESC LIMIT 1")).one()  # fmt: skip
            busiest = text(
                "SELECT s.code FROM service_requests r JOIN services s ON s.id = r.service_id "
                "WHERE r.body_id = :b GROUP BY s.code ORDER BY count(*) DESC LIMIT 1"
            )
            service = db.execute(busiest, {"b": body_id}).scalar_one()
            public_id = db.execute(text(
                "SELECT id FROM service_requests WHERE body_id = :b AND status <> 'closed' ORDER BY id DESC "
                "LIMIT 1"), {"b": body_id}).scalar_one()  # fmt: skip
            word = "pothole"
            point = db.execute(text("SELECT lat, long FROM service_requests WHERE id = :i"), {"i": public_id}).one()
            latest = db.execute(text(
                "SELECT description FROM service_requests WHERE body_id = :b AND status <> 'closed' "
                "ORDER BY id DESC LIMIT 1000"), {"b": body_id}).scalars()  # fmt: skip
            firsts = Counter(w.group(0).lower() for d in latest if (w := re.search(r"[^\W_]{3,}", d or "")))
            common = firsts.most_common(1)[0][0] if firsts else word
            # the busiest community district (a liaison's small area; the demo's liaison has a borough), one of
            # its open requests, and one of the partner's
            district_of = ("json_extract(areas, '$.community_districts')" if engine.dialect.name == "sqlite"
                           else "areas ->> 'community_districts'")  # fmt: skip
            district = db.execute(text(
                f"SELECT {district_of} FROM service_requests WHERE id % 100 = 0 AND {district_of} IS NOT NULL "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar()  # fmt: skip
            in_area = db.execute(text(
                f"SELECT max(id) FROM service_requests WHERE status <> 'closed' AND {district_of} = :d"),
                {"d": district}).scalar()  # fmt: skip
            # a request closed as fixed: its "Is it fixed?" page (web/answers.py)
            fixed = db.execute(text(
                "SELECT max(id) FROM service_requests WHERE body_id = :b AND close_reason = 'fixed'"),
                {"b": body_id}).scalar()  # fmt: skip
            partner_request = db.execute(text(
                "SELECT max(id) FROM service_requests WHERE assigned_org = :o AND status <> 'closed'"),
                {"o": api.PARTNER_ORG}).scalar()  # fmt: skip
    finally:
        engine.dispose()
    return {"body": body, "service": service, "public_id": public_id, "word": word, "common": common,
            "district": district, "area_request": in_area, "partner_request": partner_request, "fixed": fixed,
            "point": (point.lat, point.long)}  # fmt: skip


def _users(url: str, body: str, district: str | None = None) -> dict[str, str]:
    from civicswitch.core.clock import SystemClock
    from civicswitch.core.db import make_engine
    from civicswitch.people.handlers import AddUser, add_user
    from civicswitch.storage.sql import SqlUnitOfWork

    engine = make_engine(url)
    emails = {
        "admin": AddUser("bench-admin@bench.invalid", "admin", name="Bench admin", password=PASSWORD),
        "department": AddUser(
            "bench-dept@bench.invalid", "department", bodies=(body,), name="Bench clerk", password=PASSWORD
        ),
        "executive": AddUser("bench-exec@bench.invalid", "executive", name="Bench executive", password=PASSWORD),
        "agent": AddUser("bench-agent@bench.invalid", "agent", name="Bench agent", password=PASSWORD),
        # the demo's partner organisation and its liaison's area (a borough: a third of the city's requests)
        "partner": AddUser(
            "bench-partner@bench.invalid", "partner", org=api.PARTNER_ORG, name="Bench partner", password=PASSWORD
        ),
        "liaison": AddUser(
            "bench-liaison@bench.invalid",
            "liaison",
            areas=("boroughs:Brooklyn",),
            name="Bench liaison",
            password=PASSWORD,
        ),
    }
    if district:  # a liaison of one community district (a small area: about 1 request in 60)
        emails["liaison-cd"] = AddUser("bench-liaison-cd@bench.invalid", "liaison",
                                       areas=(f"community_districts:{district}",), name="Bench district liaison",
                                       password=PASSWORD)  # fmt: skip
    try:
        for command in emails.values():
            uow = SqlUnitOfWork(engine)
            with uow:
                known = uow.users.by_email(command.email)
            if known is None:
                add_user(SqlUnitOfWork(engine), SystemClock(), command)
    finally:
        engine.dispose()
    return {role: command.email for role, command in emails.items()}


FIRST_NAMES = ("Rosa", "Sam", "Ana", "Luis", "Mei", "Omar", "Grace", "Ivan", "Nia", "Tom", "Priya", "Kofi")
LAST_NAMES = ("Diaz", "Lee", "Ruiz", "Chen", "Okafor", "Smith", "Khan", "Novak", "Garcia", "Brown", "Cohen")


def _contacts(url: str, every: int) -> int:
    """Give every ``every``-th request a filer's contact (a name, an email, a phone number), once: the generated
    requests have none, so without this the caller search's names, emails and phones search an empty table.
    Deterministic, so both databases and every run hold the same. Returns the contacts stored."""
    from sqlalchemy import func, insert, select, text

    from civicswitch.core.db import make_engine
    from civicswitch.requests.tables import request_contacts, service_requests

    engine = make_engine(url)
    try:
        with engine.begin() as db:
            stored = int(db.execute(select(func.count()).select_from(request_contacts)).scalar_one())
            if stored or every <= 0:
                return stored
            ids = db.execute(select(service_requests.c.id).where(service_requests.c.id % every == 0)).scalars().all()
            rows = []
            for i in ids:
                first, last = FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[(i // 7) % len(LAST_NAMES)]
                rows.append({"request_id": i, "first_name": first, "last_name": last,
                             "email": f"{first}.{last}{i % 5000}@example.org",
                             "phone": f"(212) 555-{i % 10_000:04d}"})  # fmt: skip
            for start in range(0, len(rows), 20_000):
                db.execute(insert(request_contacts), rows[start : start + 20_000])
        # the planner's statistics, as the generator's VACUUM (ANALYZE); on PostgreSQL also the GIN index's pending
        # list of names (migration 0017) merged, as autovacuum would (the bench's server runs without it)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
                db.execute(text("VACUUM (ANALYZE) request_contacts"))
        else:
            with engine.begin() as db:
                db.execute(text("ANALYZE request_contacts"))
        return len(rows)
    finally:
        engine.dispose()


def _manual_tasks(url: str, body: str, rows: int) -> int:
    """Manual bridge tasks (deliveries with no connector) for the busiest body, one per 50 requests, made once (they
    stay, like the accounts): the task page looks one up among them. The id of the newest."""
    from sqlalchemy import text

    from civicswitch.core.clock import SystemClock
    from civicswitch.core.db import make_engine
    from civicswitch.hub.model import MessageType
    from civicswitch.hub.views import NewDelivery
    from civicswitch.storage.sql import SqlUnitOfWork

    engine = make_engine(url)
    try:
        with engine.connect() as db:
            made = db.execute(text("SELECT max(id) FROM deliveries WHERE idempotency_key LIKE 'bench-manual-%'"))
            newest = made.scalar()
            if newest is not None:
                return int(newest)
            ids = [r[0] for r in db.execute(text(
                "SELECT r.id FROM service_requests r JOIN bodies b ON b.id = r.body_id WHERE b.code = :b "
                "ORDER BY r.id LIMIT :n"), {"b": body, "n": max(1, rows // 50)})]  # fmt: skip
        now = SystemClock().now()
        with SqlUnitOfWork(engine) as uow:
            uow.hub.enqueue([NewDelivery(None, body, rid, MessageType.CREATED, f"bench-manual-{rid}",
                                         {"data": {"service_request_id": str(rid), "description": "bench task",
                                                   "address": "1 Bench Street"}}, now) for rid in ids])  # fmt: skip
            uow.commit()
        with engine.connect() as db:
            made = db.execute(text("SELECT max(id) FROM deliveries WHERE idempotency_key LIKE 'bench-manual-%'"))
            return int(made.scalar_one())
    finally:
        engine.dispose()


def _bulk_result(url: str, email: str, body: str) -> str | None:
    """A bulk action's result for the department clerk (50 of its body's requests, half refused), stored as the
    action would (requests/bulk.py), good for a day: the result page's token. None where the code has no such page
    (a baseline from before it)."""
    try:
        from civicswitch.requests.bulk import BulkResult
    except ImportError:
        return None
    import secrets
    from datetime import timedelta

    from sqlalchemy import text

    from civicswitch.core.clock import SystemClock
    from civicswitch.core.db import make_engine
    from civicswitch.requests.commands import BulkItem
    from civicswitch.requests.model import Status
    from civicswitch.storage.sql import SqlUnitOfWork

    engine = make_engine(url)
    try:
        with engine.connect() as db:
            ids = [str(r[0]) for r in db.execute(text(
                "SELECT r.id FROM service_requests r JOIN bodies b ON b.id = r.body_id WHERE b.code = :b "
                "AND r.status <> 'closed' ORDER BY r.id DESC LIMIT 50"), {"b": body})]  # fmt: skip
        refused = "cannot go from in_progress to acknowledged"
        items = tuple(BulkItem(i, True, status=Status.ACKNOWLEDGED) if n % 2 else BulkItem(i, False, refused)
                      for n, i in enumerate(ids))  # fmt: skip
        now = SystemClock().now()
        with SqlUnitOfWork(engine) as uow:
            user = uow.users.by_email(email)
            assert user is not None and user.id is not None
            token = secrets.token_urlsafe(32)
            uow.bulk_results.add(BulkResult(token, user.id, "acknowledge", items, now, now + timedelta(days=1)))
            uow.commit()
        return token
    finally:
        engine.dispose()


def pages(facts: dict[str, Any]) -> list[Page]:
    body, service, rid, word = facts["body"], facts["service"], facts["public_id"], facts["word"]
    common = facts["common"]
    task, bulk = facts.get("manual_task"), facts.get("bulk_token")
    extra = [Page("department", "manual bridge: one task", f"/staff/bridge/{task}"),
             Page("agent", "manual bridge: one task", f"/staff/bridge/{task}")] if task else []  # fmt: skip
    if bulk:
        extra.append(Page("department", "bulk action's result (50 rows)", f"/staff/queue/bulk/{bulk}?sort=newest"))
    return [
        *extra,
        Page("department", "queue (own body, open, oldest)", "/staff/queue"),
        Page("department", "queue, newest first", "/staff/queue?sort=newest"),
        Page("department", "queue, by due date", "/staff/queue?sort=due"),
        Page("department", "queue, one service", f"/staff/queue?service={service}"),
        Page("department", "queue, closed, page 20", "/staff/queue?status=closed&page=20"),
        Page("department", "queue, text search", f"/staff/queue?q={word}"),
        Page("department", "queue, search a common word", f"/staff/queue?q={common}"),
        Page("department", "queue, closed, a common word", f"/staff/queue?status=closed&q={common}"),
        Page("department", "request page", f"/staff/requests/{rid}"),
        Page("department", "manual bridge", "/staff/bridge"),
        Page("admin", "queue (every body)", "/staff/queue"),
        Page("admin", "queue, one body, by due", f"/staff/queue?body={body}&sort=due"),
        Page("admin", "queue, request number", f"/staff/queue?q={rid}"),
        Page("admin", "queue, text search", f"/staff/queue?q={word}"),
        Page("admin", "queue, search a common word", f"/staff/queue?q={common}"),
        Page("executive", "queue (every body)", "/staff/queue?sort=updated"),
        Page("agent", "manual bridge", "/staff/bridge"),
        Page("executive", "escalations", "/staff/escalations"),
        Page("admin", "escalations, page 20", "/staff/escalations?page=20"),
        Page("admin", "staff accounts", "/staff/admin/users"),
        Page("admin", "API keys", "/staff/admin/keys"),
        Page("admin", "connectors with health", "/staff/admin/connectors"),
        Page("admin", "SLA calendars", "/staff/admin/calendars"),
        Page("admin", "audit log", "/staff/admin/audit"),
        Page("admin", "audit log, one action", "/staff/admin/audit?action=user.manage"),
        Page("agent", "agent console", "/staff/agent"),
        Page("agent", "search: a street name", "/staff/agent/search", {"q": "BROADWAY"}),
        Page("agent", "search: a street name, page 5", "/staff/agent/search", {"q": "BROADWAY", "page": "5"}),
        Page("agent", "search: an email", "/staff/agent/search", {"q": "Rosa.Diaz4200@example.org"}),
        Page("agent", "search: a name", "/staff/agent/search", {"q": "Grace Okafor"}),
        Page("agent", "search: a common last name", "/staff/agent/search", {"q": "Okafor"}),
        Page("agent", "search: a word nobody has", "/staff/agent/search", {"q": "Zyzzogeton"}),
        Page("agent", "search: a phone number", "/staff/agent/search", {"q": "(212) 555-0142"}),
        Page("agent", "search: a request number", "/staff/agent/search", {"q": f"#{rid}"}),
        Page("agent", "file on behalf: the form", f"/staff/agent/file?service={service}"),
        Page("agent", "knowledge articles", "/staff/knowledge"),
        *_partner_and_liaison_pages(facts),
    ]


def _partner_and_liaison_pages(facts: dict[str, Any]) -> list[Page]:
    """The partner's and the liaisons' pages, where the database has their work (generator version 4 on)."""
    found = []
    if facts.get("partner_request"):
        found += [Page("partner", "queue (the organisation's work)", "/staff/queue"),
                  Page("partner", "queue, closed", "/staff/queue?status=closed"),
                  Page("partner", "request page", f"/staff/requests/{facts['partner_request']}")]  # fmt: skip
    service = facts["service"]
    found += [Page("liaison", "queue (a borough, open)", "/staff/queue"),
              Page("liaison", "queue (a borough), newest first", "/staff/queue?sort=newest"),
              Page("liaison", "queue (a borough), closed", "/staff/queue?status=closed"),
              Page("liaison", "queue (a borough), a word", f"/staff/queue?q={facts['word']}"),
              Page("liaison", "queue, filed by me", "/staff/queue?filed=me"),
              Page("liaison", "file for a resident: the form", f"/staff/agent/file?service={service}")]  # fmt: skip
    if facts.get("district"):
        area, common = f"community_districts:{facts['district']}", facts["common"]
        found += [
            Page("department", "queue, one area (a district)", f"/staff/queue?area={area}"),
            Page("admin", "queue, one area (a borough)", "/staff/queue?area=boroughs:Brooklyn&sort=newest"),
        ]
        found += [Page("liaison-cd", "queue (a district, open)", "/staff/queue"),
                  Page("liaison-cd", "queue (a district), by due date", "/staff/queue?sort=due"),
                  Page("liaison-cd", "queue (a district), closed", "/staff/queue?status=closed"),
                  Page("liaison-cd", "queue (a district), a common word", f"/staff/queue?q={common}")]  # fmt: skip
        if facts.get("area_request"):
            found.append(Page("liaison-cd", "request page", f"/staff/requests/{facts['area_request']}"))
    return found


def resident_pages(facts: dict[str, Any]) -> list[Page]:
    """The residents' pages (web/residents.py): no sign-in; the Spanish page last (its ?lang= sets the cookie)."""
    rid = facts["public_id"]
    lat, long = facts["point"]
    service = facts["service"]
    return [Page("resident", "front page", "/"),
            Page("resident", "track: the lookup form", "/requests"),
            Page("resident", "track: a request (English)", f"/requests/{rid}"),
            Page("resident", "report: the form", "/report"),
            Page("resident", "report: the form at a point", f"/report?lat={lat}&long={long}"),
            Page("resident", "report: a service's questions", f"/report/questions?service={service}"),
            Page("resident", "report: sent (usual times)", f"/report/sent/{rid}"),
            Page("resident", "follow an area: the form", "/follow/area?layer=boroughs&area=Brooklyn"),
            Page("resident", "follow a request: the form", f"/requests/{rid}/follow"),
            *map_pages(facts),
            *([Page("resident", "is it fixed? (a visitor)", f"/requests/{facts['fixed']}/fixed?answer=not_fixed")]
              if facts.get("fixed") else []),
            Page("resident", "report: the form (Spanish)", "/report?lang=es"),
            Page("resident", "track: a request (Spanish)", f"/requests/{rid}?lang=es"),
            Page("resident", "map: the list (Spanish)", "/map?lang=es")]  # fmt: skip


def map_pages(facts: dict[str, Any]) -> list[Page]:
    """The public map (web/public_map.py): its list, filtered and deep in its pages, and the map's points for a city's
    view, a street's and an empty stretch of sea (each read a different way: requests/sql.py map_requests)."""
    lat, long = facts["point"]
    service = facts["service"]
    street = f"{long - 0.005},{lat - 0.005},{long + 0.005},{lat + 0.005}"
    return [Page("resident", "map: the list", "/map"),
            Page("resident", "map: a service's open requests", f"/map?service={service}&status=open"),
            Page("resident", "map: the list's page 100", "/map?page=100"),
            Page("resident", "map: on hold", "/map?status=on_hold"),
            Page("resident", "map points: the city", "/map/requests.geojson?bbox=-74.3,40.45,-73.65,40.95"),
            Page("resident", "map points: a street", f"/map/requests.geojson?bbox={street}"),
            Page("resident", "map points: the sea (0.1°)", "/map/requests.geojson?bbox=-73.7,40.3,-73.6,40.4"),
            Page("resident", "map points: a service, the city",
                 f"/map/requests.geojson?service={service}&bbox=-74.3,40.45,-73.65,40.95")]  # fmt: skip


def _sign_in(client: Any, email: str) -> None:
    form = client.get("/staff/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text[:500]
    reply = client.post("/staff/login", data={"email": email, "password": PASSWORD, "csrf": csrf.group(1)},
                        follow_redirects=False)  # fmt: skip
    if reply.status_code != 303:
        raise SystemExit(f"sign-in as {email} answered {reply.status_code}")


def measure(
    url: str, facts: dict[str, Any], emails: dict[str, str], n: int, only: Callable[[Page], bool]
) -> list[dict[str, Any]]:
    from fastapi.testclient import TestClient

    from civicswitch.core.db import make_engine
    from civicswitch.settings import Settings
    from civicswitch.web.app import create_app

    engine = make_engine(url)
    settings = Settings(database_url=url, rate_limit_enabled=False, access_log=False)
    timed = Timed(create_app(settings, engine=engine))
    results = []
    try:
        clients: dict[str, Any] = {}
        for page in filter(only, [*pages(facts), *resident_pages(facts)]):
            client = clients.get(page.role)
            if client is None:
                client = clients[page.role] = TestClient(timed, raise_server_exceptions=True).__enter__()
                if page.role != "resident":
                    _sign_in(client, emails[page.role])
            if page.form is not None:
                token = re.search(r'name="csrf" value="([^"]+)"', client.get("/staff/me").text)
                assert token, "no CSRF token on /staff/me"
                data = {**page.form, "csrf": token.group(1)}

                def fetch(page: Page = page, data: dict[str, str] = data, client: Any = client) -> Any:
                    return client.post(page.path, data=data)
            else:

                def fetch(page: Page = page, client: Any = client) -> Any:
                    return client.get(page.path)

            first = fetch()
            if first.status_code != 200:
                raise SystemExit(f"{page.role} {page.path} answered {first.status_code}: {first.text[:300]}")
            timed.samples.clear()
            for _ in range(n):
                fetch()
            ms = sorted(s * 1000 for s in timed.samples)
            p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
            row = {"role": page.role, "page": page.name, "path": page.path, "n": len(ms),
                   "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(p95, 1), "max_ms": round(ms[-1], 1),
                   "bytes": len(first.content), "within_budget": p95 <= BUDGET_MS}  # fmt: skip
            results.append(row)
            print(f"  {page.role:10} {page.name:34} p50 {row['p50_ms']:7.1f}  p95 {row['p95_ms']:7.1f}  max "
                  f"{row['max_ms']:7.1f} ms  {row['bytes'] / 1024:6.1f} KB  {'ok' if row['within_budget'] else 'OVER'}",
                  flush=True)  # fmt: skip
        for client in clients.values():
            client.__exit__(None, None, None)
    finally:
        engine.dispose()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=30, help="timed fetches per page")
    p.add_argument("--reuse", action="store_true", help="reuse the Open311 benchmark's generated database")
    p.add_argument("--workdir", type=Path, default=api.REPO / "bench" / "results")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--nyc-data", type=Path, default=api.REPO.parent / "shared" / "data" / "nyc")
    p.add_argument("--seed", type=int, default=311)
    p.add_argument("--load-indexes", choices=("after", "during"), default="after")
    p.add_argument("--role", default=None, help="only this role's pages")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    p.add_argument("--contacts", type=int, default=0, metavar="N",
                   help="give every N-th request a filer's contact, once (0: none, as generated)")  # fmt: skip
    args = p.parse_args()
    print(f"command: {' '.join(sys.argv)}")
    print(f"machine: {len(os.sched_getaffinity(0))} usable cores (shared with whatever else runs)")
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows, source = api.real_rows(args.nyc_data, args.workdir)
    templates = api.templates_from(rows)
    report: dict[str, Any] = {"command": sys.argv, "rows": args.rows, "budget_ms": BUDGET_MS, "databases": {}}
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        prepared = api.prepare(kind, args, templates, source)
        facts = _facts(prepared.url)
        emails = _users(prepared.url, facts["body"], facts.get("district"))
        contacts = _contacts(prepared.url, args.contacts)
        facts["manual_task"] = _manual_tasks(prepared.url, facts["body"], prepared.rows)
        facts["bulk_token"] = _bulk_result(prepared.url, emails["department"], facts["body"])
        print(f"{kind}, {prepared.rows:,} requests ({contacts:,} with a filer's contact); department body "
              f"{facts['body']}, common word {facts['common']!r}:", flush=True)  # fmt: skip
        only: Callable[[Page], bool] = (lambda page: page.role == args.role) if args.role else (lambda page: True)
        report["databases"][kind] = measure(prepared.url, facts, emails, args.requests, only)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
