"""The measures on real exports (../shared/data), against figures computed here straight from the CSV: Chicago's
time to close per service, NYC's volume per channel."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Engine

from civicswitch.catalog.loader import load_catalog
from civicswitch.people.policy import OPERATOR
from civicswitch.profiles import import_mapping, load_shipped_layers, profile_document
from civicswitch.requests.imports.run import ImportHistory, import_history
from civicswitch.requests.metrics import MetricsQuery, time_to_close, volume
from civicswitch.storage.sql import SqlUnitOfWork

CHICAGO = ZoneInfo("America/Chicago")
WHOLE = MetricsQuery(datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "service")


def rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode("utf-8-sig") if raw[:2] == b"\x1f\x8b" else raw.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_time_to_close__chicago_export__median_and_p90_per_service_as_computed_from_the_csv(
    shared_data_dir: Path, engine: Engine
) -> None:
    path = shared_data_dir.joinpath("chicago", "requests", "chicago311_2021-01-01_5k.csv.gz")
    load_catalog(SqlUnitOfWork(engine), profile_document("chicago"))
    import_history(SqlUnitOfWork(engine), ImportHistory([path], import_mapping("chicago"), OPERATOR))
    hours: dict[str, list[float]] = defaultdict(list)
    for row in rows(path):
        if row["status"] != "Completed" or not row["closed_date"]:
            continue  # Canceled is closed as cancelled: not the time a fix takes; Open is open
        # to UTC first: the same tzinfo on both sides would give wall-clock hours across the March change of time
        opened = datetime.fromisoformat(row["created_date"]).replace(tzinfo=CHICAGO).astimezone(UTC)
        closed = datetime.fromisoformat(row["closed_date"]).replace(tzinfo=CHICAGO).astimezone(UTC)
        hours[row["sr_short_code"]].append(max((closed - opened).total_seconds(), 0) / 3600)
    expected = {
        code: (len(v), *(round(float(x), 2) for x in np.percentile(v, [50, 80, 90]))) for code, v in hours.items()
    }
    got = {r.group: (r.count, r.median_hours, r.p80_hours, r.p90_hours) for r in time_to_close(
        SqlUnitOfWork(engine), OPERATOR, WHOLE)}  # fmt: skip
    assert len(got) > 40
    assert got == expected


def test_volume__nyc_export__per_channel_as_counted_from_the_csv(
    shared_data_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    path = shared_data_dir.joinpath("nyc", "requests", "nyc311_2023-02-28_5k.csv.gz")
    load_shipped_layers(SqlUnitOfWork(engine), profile_document("nyc"))
    load_catalog(SqlUnitOfWork(engine), profile_document("nyc"))
    quarantine = tmp_path / "q.csv"
    import_history(SqlUnitOfWork(engine), ImportHistory([path], import_mapping("nyc"), OPERATOR, quarantine=quarantine))
    with quarantine.open(encoding="utf-8", newline="") as f:
        refused = {json.loads(q["record"])["Unique Key"] for q in csv.DictReader(f)}
    channel = {"PHONE": "phone", "ONLINE": "web", "MOBILE": "mobile", "UNKNOWN": "other", "OTHER": "other"}
    filed: Counter[str] = Counter()
    closed: Counter[str] = Counter()
    for row in rows(path):
        if row["Unique Key"] in refused:
            continue
        name = channel[row["Open Data Channel Type"]]
        filed[name] += 1
        named = row["Status"] in ("Open", "In Progress", "Assigned", "Started", "Pending", "Closed")
        closed[name] += row["Status"] == "Closed" or (not named and bool(row["Closed Date"]))
    query = MetricsQuery(WHOLE.since, WHOLE.until, "channel")
    got = {v.group: (v.filed, v.closed) for v in volume(SqlUnitOfWork(engine), OPERATOR, query)}
    assert got == {name: (filed[name], closed[name]) for name in filed}
