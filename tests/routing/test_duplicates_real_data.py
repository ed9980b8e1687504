"""Duplicate detection on a real day of NYC 311 (2023-02-28, 4,999 records): the day is replayed request by
request, and every real close pair — same complaint type, within the service radius, the earlier one still
open when the later one came in — must be found; different complaint types at the same spot never are.

Run with ``-s`` to see the figures."""

from __future__ import annotations

import csv
import gzip
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from civicswitch.catalog.loader import load_catalog
from civicswitch.catalog.model import DuplicatePolicy
from civicswitch.requests.model import Channel, ServiceRequest
from civicswitch.routing.duplicates import find_duplicates
from civicswitch.routing.grid import distance_m
from civicswitch.storage.sql import SqlUnitOfWork

RADIUS = DuplicatePolicy().radius_m


def _when(text: str) -> datetime | None:
    return datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=UTC) if text else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _records(shared: Path) -> list[dict[str, Any]]:
    raw = gzip.decompress((shared / "nyc/requests/nyc311_2023-02-28_5k.csv.gz").read_bytes()).decode("utf-8")
    found = []
    for row in csv.DictReader(io.StringIO(raw)):
        if row["Latitude"] and row["Longitude"]:
            found.append({
                "key": row["Unique Key"], "service": _slug(row["Complaint Type"]), "name": row["Complaint Type"],
                "lat": float(row["Latitude"]), "long": float(row["Longitude"]),
                "created": _when(row["Created Date"]), "closed": _when(row["Closed Date"]),
                "description": row["Descriptor"],
            })  # fmt: skip
    found.sort(key=lambda r: (r["created"], r["key"]))
    return found


def test_duplicates__real_nyc_day__close_pairs_found_and_other_services_never(
    engine: Engine, shared_data_dir: Path
) -> None:
    records = _records(shared_data_dir)
    services = {r["service"]: r["name"] for r in records}
    load_catalog(SqlUnitOfWork(engine), {
        "bodies": [], "services": [{"code": code, "name": name[:200]} for code, name in services.items()],
    })  # fmt: skip
    with SqlUnitOfWork(engine) as uow:
        requests = [
            ServiceRequest(service_code=r["service"], requested_at=r["created"], channel=Channel.IMPORT,
                           lat=r["lat"], long=r["long"], description=r["description"], source_ref=r["key"])
            for r in records
        ]  # fmt: skip
        uow.requests.add_many(requests)
        uow.commit()
    ids = {r.source_ref: r.id for r in requests}

    # Real pairs, from the records alone (no index): earlier still open when the later one came in.
    same, other = [], []
    by_lat = sorted(records, key=lambda r: r["lat"])
    window = RADIUS / 111_000 * 1.01  # degrees of latitude: pairs further apart than this cannot be close
    for i, first in enumerate(by_lat):
        for second in by_lat[i + 1 :]:
            if second["lat"] - first["lat"] > window:
                break
            if first["created"] == second["created"]:
                continue  # filed in the same second: neither came first
            a, b = (first, second) if first["created"] < second["created"] else (second, first)
            near = distance_m(a["lat"], a["long"], b["lat"], b["long"])
            if a["service"] == b["service"] and near <= RADIUS and (a["closed"] is None or a["closed"] > b["created"]):
                same.append((a, b))
            elif a["service"] != b["service"] and near <= 10:
                other.append((a, b))

    found = top1 = 0
    misses = []
    with SqlUnitOfWork(engine, writing=False) as uow:
        catalog = {s.code: s for s in uow.catalog.services()}
        matches_of: dict[str, list[int]] = {}
        for b in {id(b): b for _, b in same + other}.values():
            matches = find_duplicates(uow.requests, catalog[b["service"]], b["lat"], b["long"], b["description"],
                                      b["created"], exclude_id=ids[b["key"]], limit=1000)  # fmt: skip
            matches_of[b["key"]] = [m.request.id for m in matches]
    for a, b in same:
        ranked = matches_of[b["key"]]
        if ids[a["key"]] in ranked:
            found += 1
            top1 += ranked.index(ids[a["key"]]) < 5
        else:
            misses.append((a["key"], b["key"]))
    wrongly = [(a["key"], b["key"]) for a, b in other if ids[a["key"]] in matches_of[b["key"]]]
    print(
        f"\nNYC 2023-02-28: {len(records)} records with coordinates; {len(same)} real close pairs "
        f"(same type, ≤ {RADIUS:g} m, earlier still open): {found} found ({found / len(same):.2%}), "
        f"{top1} of them among the top 5 offered; {len(other)} different-type pairs within 10 m: "
        f"{len(wrongly)} offered. Misses: {misses[:5]}"
    )
    assert len(same) > 100 and len(other) > 50
    assert found == len(same)
    assert wrongly == []
