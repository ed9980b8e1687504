"""The shipped import profiles on the cities' real exports (../shared/data): every record is accounted for, and what
is stored agrees with an independent reading of the file (times converted with zoneinfo here, statuses by the
cities' own values)."""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from civicswitch.catalog.loader import load_catalog
from civicswitch.people.policy import OPERATOR
from civicswitch.profiles import import_mapping, load_shipped_layers, profile_document
from civicswitch.requests.imports.run import ImportHistory, ImportReport, import_history
from civicswitch.requests.tables import service_requests as sr
from civicswitch.storage.sql import SqlUnitOfWork

NEW_YORK = ZoneInfo("America/New_York")
NYC_FILES = [
    "nyc311_2023-02-28_5k.csv.gz",
    "nyc311_2025q1_animal_complaints.csv.gz",
    "nyc311_2013-12-25_legacy_schema.csv.gz",
    "nyc311_2022-05-01_sample.csv",
    "nyc311_2014-2019_sample1k.csv",
    "nyc311_api_2024-04-15_1k.csv",
]
NYC_STATUS = {"closed": "closed", "open": "new", "assigned": "acknowledged", "in progress": "in_progress",
              "started": "in_progress", "pending": "on_hold"}  # fmt: skip


def records(path: Path) -> Iterator[dict[str, str]]:
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode("utf-8-sig") if raw[:2] == b"\x1f\x8b" else raw.decode("utf-8-sig")
    for row in csv.DictReader(io.StringIO(text, newline="")):
        yield {k.lower().replace(" ", "_").replace("(", "").replace(")", ""): v for k, v in row.items()}


def nyc_time(text: str) -> datetime | None:
    if not text:
        return None
    for fmt in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M", "%Y-%m-%dT%H:%M:%S.%f"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=NEW_YORK).astimezone(UTC)
        except ValueError:
            continue
    raise AssertionError(f"the test cannot read {text!r}")


def stored(engine: Engine, prefix: str) -> dict[str, tuple[datetime, datetime | None, str, dict[str, str] | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(sr.c.source_ref, sr.c.requested_at, sr.c.closed_at, sr.c.status, sr.c.areas).where(
                sr.c.source_ref.like(f"{prefix}:%")
            )
        )
        return {r.source_ref.split(":", 1)[1]: (r.requested_at, r.closed_at, r.status, r.areas) for r in rows}


def run(engine: Engine, profile: str, paths: list[Path], **kw: object) -> ImportReport:
    cmd = ImportHistory(paths, import_mapping(profile), OPERATOR, **kw)  # type: ignore[arg-type]
    return import_history(SqlUnitOfWork(engine), cmd)


@pytest.fixture
def nyc(engine: Engine) -> Engine:
    load_shipped_layers(SqlUnitOfWork(engine), profile_document("nyc"))  # the routing rules name its layers
    load_catalog(SqlUnitOfWork(engine), profile_document("nyc"))
    return engine


@pytest.mark.parametrize("name", NYC_FILES)
def test_import_nyc__real_export__every_record_accounted_for_and_times_and_statuses_as_in_the_file(
    shared_data_dir: Path, nyc: Engine, name: str, tmp_path: Path
) -> None:
    path = shared_data_dir.joinpath("nyc", "requests", name)
    rows = list(records(path))
    report = run(nyc, "nyc", [path], quarantine=tmp_path / "q.csv")
    assert report.read == len(rows)
    assert report.inserted + report.already_present + report.quarantined == report.read
    # only the complaint types too rare for the demo catalog (fewer than 3 rows in all its sources) are refused
    assert all(reason.startswith("unknown service") for reason, _ in report.reasons), report.reasons
    assert report.quarantined <= 0.03 * report.read
    got = stored(nyc, "nyc311")
    statuses: Counter[str] = Counter()
    for row in rows:
        key = row["unique_key"]
        if key not in got:
            continue
        requested, closed, status, _ = got[key]
        assert requested == nyc_time(row["created_date"]), key
        expected = NYC_STATUS.get(row["status"].lower()) or ("closed" if row["closed_date"] else "new")
        assert status == expected, key
        statuses[status] += 1
        if status == "closed":
            close = nyc_time(row["closed_date"]) or nyc_time(row.get("resolution_action_updated_date", ""))
            assert closed == max(close or requested, requested), key
    assert sum(statuses.values()) == report.inserted


def test_import_nyc__real_export__routed_to_the_borough_the_city_recorded(
    shared_data_dir: Path, nyc: Engine, tmp_path: Path
) -> None:
    path = shared_data_dir.joinpath("nyc", "requests", "nyc311_2023-02-28_5k.csv.gz")
    run(nyc, "nyc", [path], quarantine=tmp_path / "q.csv")
    got = stored(nyc, "nyc311")
    agree = total = 0
    for row in records(path):
        areas = got.get(row["unique_key"], (None, None, None, None))[3]
        if areas and row["borough"] not in ("", "Unspecified"):
            total += 1
            agree += areas.get("boroughs", "").upper() == row["borough"]
    assert total > 4500
    assert agree / total > 0.99, (agree, total)


def test_import_nyc__same_files_again__inserts_nothing(shared_data_dir: Path, nyc: Engine, tmp_path: Path) -> None:
    paths = [
        shared_data_dir.joinpath("nyc", "requests", name) for name in ("nyc311_2022-05-01_sample.csv", NYC_FILES[-1])
    ]
    first = run(nyc, "nyc", paths, quarantine=tmp_path / "q.csv")
    second = run(nyc, "nyc", paths, quarantine=tmp_path / "q.csv")
    assert first.inserted > 1800
    assert (second.inserted, second.already_present) == (0, first.inserted + first.already_present)


def test_import_boston__real_export__placeholder_points_dropped_and_deadlines_kept(
    shared_data_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    source = shared_data_dir.joinpath("boston", "requests", "boston311_2011.csv.gz")
    with gzip.open(source) as f:
        head = b"".join(f.readlines()[:5001])  # the first 5,000 cases: enough, and CI stays fast
    path = tmp_path / "boston.csv"
    path.write_bytes(head)
    load_catalog(SqlUnitOfWork(engine), profile_document("boston"))
    report = run(engine, "boston", [path])
    assert (report.read, report.quarantined, report.inserted) == (5000, 0, 5000)
    rows = list(records(path))
    placeholders = sum(1 for r in rows if (r["latitude"], r["longitude"]) == ("42.3594", "-71.0587"))
    assert ("placeholder point (the mapping's placeholder_points): dropped", placeholders) in report.notes
    with engine.connect() as conn:
        lat, due = conn.execute(
            select(sr.c.lat, sr.c.expected_at).where(sr.c.source_ref == "boston311:101000295613")
        ).one()
    assert lat == 42.2715
    assert due == datetime(2011, 7, 15, 5, 32, 32, tzinfo=UTC)  # 01:32:32 EDT


def test_import_chicago__real_export__cancelled_closed_as_cancelled_and_owners_by_name(
    shared_data_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    path = shared_data_dir.joinpath("chicago", "requests", "chicago311_2021-01-01_5k.csv.gz")
    load_catalog(SqlUnitOfWork(engine), profile_document("chicago"))
    report = run(engine, "chicago", [path])
    assert (report.read, report.inserted, report.quarantined) == (5000, 5000, 0)
    assert not any(note.startswith("owner") for note, _ in report.notes)  # every owner_department is a body
    with engine.connect() as conn:
        reasons = Counter(conn.execute(select(sr.c.close_reason).where(sr.c.status == "closed")).scalars())
    statuses = Counter(r["status"] for r in records(path))
    assert reasons["cancelled"] == statuses["Canceled"]
    assert sum(reasons.values()) == statuses["Completed"] + statuses["Canceled"]


def test_import_sf__real_exports__csv_and_open311_json_with_services_created(
    shared_data_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    csv_path = shared_data_dir.joinpath("sf", "requests", "sf311_street_sidewalk_cleaning_fy2018-19.csv.gz")
    json_path = shared_data_dir.joinpath("sf", "requests", "sf311_open311_encampment_reports_2025-09.json.gz")
    from_csv = import_history(SqlUnitOfWork(engine), ImportHistory(
        [csv_path], import_mapping("sf").with_unknown_services("create"), OPERATOR))  # fmt: skip
    from_json = import_history(SqlUnitOfWork(engine), ImportHistory(
        [json_path], import_mapping("open311").with_unknown_services("create"), OPERATOR))  # fmt: skip
    assert (from_csv.read, from_csv.inserted) == (4209, 4209)
    assert (from_json.read, from_json.inserted) == (1095, 1095)
    assert "hsoc-homeless-encampment" in from_json.services_created
    with engine.connect() as conn:
        status = conn.execute(
            select(sr.c.status, sr.c.closed_at).where(sr.c.source_ref == "open311:101002555701")
        ).one()
    assert tuple(status) == ("closed", datetime(2025, 9, 5, 13, 48, 58, tzinfo=UTC))
