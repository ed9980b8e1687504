"""Importing another system's history (requests/imports): records read through a mapping, converted, routed and
written in batches, on every store (memory, SQLite, PostgreSQL). Hand-built exports: each case names what it
checks."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from civicswitch.catalog.handlers import load_layer
from civicswitch.catalog.loader import load_catalog
from civicswitch.core.errors import Forbidden, Invalid
from civicswitch.people.policy import OPERATOR, Principal, Role
from civicswitch.requests.imports.mapping import ImportMapping, parse_mapping
from civicswitch.requests.imports.run import ImportHistory, import_history
from civicswitch.requests.model import Channel, CloseReason, ServiceRequest, Status
from civicswitch.storage.ports import UnitOfWork

CATALOG = {
    "bodies": [{"code": "DOT", "name": "Department of Transportation"}, {"code": "DSNY", "name": "Sanitation"}],
    "services": [
        {"code": "pothole", "name": "Pothole", "body": "DOT", "group": "Streets"},
        {"code": "dumping", "name": "Illegal  Dumping", "body": "DSNY", "group": "Sanitation"},
    ],
}
HEADER = ["Key", "Opened", "Closed", "Type", "State", "Resolution", "Street", "Lat", "Lon", "Via", "Dept"]
MAPPING: dict[str, Any] = {
    "source": "oldcrm",
    "timezone": "America/New_York",
    "date_formats": ["%m/%d/%Y %I:%M:%S %p", "iso"],
    "columns": {
        "id": "Key", "service": "Type", "requested_at": "Opened", "closed_at": "Closed", "status": "State",
        "status_notes": "Resolution", "address": "Street", "lat": "Lat", "long": "Lon", "channel": "Via",
        "owner": "Dept",
    },
    "statuses": {"Closed": "closed", "Open": "new", "Working": "in_progress"},
    "close_rules": [{"pattern": "duplicate", "reason": "duplicate"}, {"pattern": "no action", "reason": "no_action"}],
    "channels": {"PHONE": "phone", "ONLINE": "web"},
    "owners": {"Transportation": "DOT"},
}  # fmt: skip
# A square around the point of the rows below, as one layer with two versions: the old map until 2020, the new one.
SQUARE = [[[-74.01, 40.70], [-73.99, 40.70], [-73.99, 40.72], [-74.01, 40.72], [-74.01, 40.70]]]


def row(key: str, **fields: str) -> list[str]:
    values = {"Key": key, "Opened": "02/28/2023 11:45:00 PM", "Closed": "", "Type": "Pothole", "State": "Open",
              "Resolution": "", "Street": "1 MAIN ST", "Lat": "40.71", "Lon": "-74.0", "Via": "PHONE", "Dept": "DOT",
              **fields}  # fmt: skip
    return [values[h] for h in HEADER]


def write_csv(path: Path, rows: Sequence[Sequence[str]], *, gz: bool = False, header: Sequence[str] = HEADER) -> Path:
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8", newline="") as out:  # type: ignore[operator]
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def mapping(**changes: Any) -> ImportMapping:
    return parse_mapping({**MAPPING, **changes})


@pytest.fixture
def make(store_uow_factory: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
    load_catalog(store_uow_factory(), CATALOG)
    return store_uow_factory


def run(make: Callable[[], UnitOfWork], files: Sequence[Path], m: ImportMapping | None = None, **kw: Any) -> Any:
    return import_history(make(), ImportHistory(list(files), m or mapping(), OPERATOR, **kw))


def stored(make: Callable[[], UnitOfWork]) -> dict[str, ServiceRequest]:
    with make() as uow:
        found = [uow.requests.get(i) for i in range(1, uow.requests.count() + 50)]
    return {r.source_ref or "": r for r in found if r is not None}


# -- conversion -----------------------------------------------------------------------------------------------------
def test_import__closed_row__stored_with_utc_times_reason_channel_owner_and_timeline(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    rows = [row("1", State="Closed", Closed="03/01/2023 09:00:00 AM", Resolution="A duplicate of 0", Via="ONLINE",
                Dept="Transportation")]  # fmt: skip
    report = run(make, [write_csv(tmp_path / "a.csv", rows)])
    assert (report.read, report.inserted, report.quarantined) == (1, 1, 0)
    got = stored(make)["oldcrm:1"]
    assert got.requested_at == datetime(2023, 3, 1, 4, 45, tzinfo=UTC)  # 11:45 PM EST
    assert got.closed_at == datetime(2023, 3, 1, 14, 0, tzinfo=UTC)
    assert (got.status, got.close_reason, got.channel, got.body_code) == (
        Status.CLOSED, CloseReason.DUPLICATE, Channel.WEB, "DOT",
    )  # fmt: skip
    with make() as uow:
        assert got.id is not None
        kinds = [(e.kind, e.status_to) for e in uow.requests.events([got.id], public_only=False)[got.id]]
    assert kinds == [("submitted", Status.NEW), ("status_changed", Status.CLOSED)]


def test_import__service_by_name__matches_ignoring_case_and_spaces(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    run(make, [write_csv(tmp_path / "a.csv", [row("1", Type="illegal dumping", Dept="")])])
    got = stored(make)["oldcrm:1"]
    assert (got.service_code, got.body_code) == ("dumping", "DSNY")  # no owner in the row: the service's


def test_import__status_not_in_mapping__closed_when_it_has_a_closing_date_and_noted(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    rows = [row("1", State="Email Sent", Closed="03/01/2023 09:00:00 AM"), row("2", State="Email Sent")]
    report = run(make, [write_csv(tmp_path / "a.csv", rows)])
    got = stored(make)
    assert (got["oldcrm:1"].status, got["oldcrm:2"].status) == (Status.CLOSED, Status.NEW)
    assert any("'Email Sent' is not in the mapping" in note and n == 2 for note, n in report.notes)


def test_import__closed_before_opened__closed_at_the_opening_and_noted(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    rows = [row("1", State="Closed", Closed="01/01/2023 01:00:00 AM")]
    report = run(make, [write_csv(tmp_path / "a.csv", rows)])
    got = stored(make)["oldcrm:1"]
    assert got.closed_at == got.requested_at
    assert ("closing date before the opening date: closed at the opening", 1) in report.notes


def test_import__no_point_and_no_address__kept_as_unknown_location_or_refused_as_chosen(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "a.csv", [row("1", Street="", Lat="", Lon="")])
    assert run(make, [path], mapping(unknown_place="refuse")).quarantined == 1
    assert run(make, [path]).inserted == 1
    assert stored(make)["oldcrm:1"].address == "unknown location"


# -- quarantine, dry run, idempotence ---------------------------------------------------------------------------------
def test_import__bad_rows__quarantined_with_line_and_reason_and_the_rest_written(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    rows = [row("1"), row("2", Opened="yesterday"), row("", Type="Pothole"), row("4", Type="Graffiti"),
            row("5", Lat="north", Lon="-74")]  # fmt: skip
    out = tmp_path / "q.csv"
    report = run(make, [write_csv(tmp_path / "a.csv", rows)], quarantine=out)
    assert (report.read, report.inserted, report.quarantined) == (5, 1, 4)
    with out.open(encoding="utf-8", newline="") as f:
        quarantined = list(csv.DictReader(f))
    assert [q["line"] for q in quarantined] == ["3", "4", "5", "6"]
    assert "requested_at: 'yesterday' is not a date" in quarantined[0]["reason"]
    assert quarantined[1]["reason"] == "no id (column 'Key')"
    assert quarantined[2]["reason"].startswith("unknown service 'Graffiti'")
    assert "not numbers" in quarantined[3]["reason"]
    assert json.loads(quarantined[2]["record"])["Type"] == "Graffiti"
    assert set(stored(make)) == {"oldcrm:1"}


def test_import__same_file_twice__second_run_changes_nothing(make: Callable[[], UnitOfWork], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv.gz", [row(str(i)) for i in range(1, 31)], gz=True)
    first = run(make, [path], batch=7)
    before = stored(make)
    second = run(make, [path], batch=7)
    assert (first.inserted, first.already_present) == (30, 0)
    assert (second.inserted, second.already_present) == (0, 30)
    assert stored(make) == before


def test_import__overlapping_file__inserts_only_the_new_ids(make: Callable[[], UnitOfWork], tmp_path: Path) -> None:
    run(make, [write_csv(tmp_path / "a.csv", [row(str(i)) for i in range(1, 11)])])
    report = run(make, [write_csv(tmp_path / "b.csv", [row(str(i), State="Closed") for i in range(6, 16)])])
    assert (report.inserted, report.already_present) == (5, 5)
    got = stored(make)
    assert len(got) == 15
    assert got["oldcrm:6"].status is Status.NEW  # the first import's row is kept as it was


def test_import__id_repeated_in_the_file__first_row_wins(make: Callable[[], UnitOfWork], tmp_path: Path) -> None:
    rows = [row("1", Street="FIRST"), row("1", Street="SECOND"), row("2")]
    report = run(make, [write_csv(tmp_path / "a.csv", rows)], batch=1)
    assert (report.inserted, report.already_present) == (2, 1)
    assert stored(make)["oldcrm:1"].address == "FIRST"


def test_import__dry_run__writes_nothing_and_reports_what_would_happen(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    rows = [row("1"), row("2"), row("2"), row("3", Type="Graffiti")]
    report = run(make, [write_csv(tmp_path / "a.csv", rows)], m=mapping(unknown_services="create"), dry_run=True,
                 batch=2)  # fmt: skip
    assert (report.inserted, report.already_present, report.quarantined, report.dry_run) == (3, 1, 0, True)
    assert report.services_created == ["graffiti"]
    assert stored(make) == {}
    with make() as uow:
        assert "graffiti" not in {s.code for s in uow.catalog.services(include_inactive=True)}


def test_import__unknown_service_with_create__created_inactive_owned_by_the_rows_body(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    report = run(make, [write_csv(tmp_path / "a.csv", [row("1", Type="Street Light Out", Dept="DOT")])],
                 m=mapping(unknown_services="create"))  # fmt: skip
    assert report.services_created == ["street-light-out"]
    with make() as uow:
        service = uow.catalog.service("street-light-out")
    assert service is not None
    assert (service.name, service.body_code, service.active) == ("Street Light Out", "DOT", False)
    assert stored(make)["oldcrm:1"].service_code == "street-light-out"


# -- files -------------------------------------------------------------------------------------------------------------
def test_import__file_without_the_id_column__refused_before_anything_is_written(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    good = write_csv(tmp_path / "good.csv", [row("1")])
    bad = write_csv(tmp_path / "bad.csv", [["x"]], header=["Something"])
    with pytest.raises(Invalid, match="no column 'Key'"):
        run(make, [good, bad])
    assert stored(make) == {}


def test_import__column_names_in_another_case_and_punctuation__still_found(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    header = [h.upper().replace("E", "e") if h != "Key" else "KEY" for h in HEADER]
    path = write_csv(tmp_path / "a.csv", [row("1")], header=header)
    assert run(make, [path]).inserted == 1


def test_import__open311_json__read_as_an_array_or_a_saved_response(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    items = [{"service_request_id": "A-1", "service_code": "pothole", "status": "closed", "lat": 40.71,
              "long": -74.0, "requested_datetime": "2025-09-04T22:37:50Z", "updated_datetime": "2025-09-05T13:48:58Z",
              "description": "Deep hole", "address": None}]  # fmt: skip
    plain = tmp_path / "requests.json"
    plain.write_text(json.dumps(items), encoding="utf-8")
    saved = tmp_path / "saved.json.gz"
    with gzip.open(saved, "wt", encoding="utf-8") as f:
        json.dump({"statusCode": 200, "body": json.dumps([{**items[0], "service_request_id": "A-2"}])}, f)
    m = parse_mapping({"source": "oldcrm", "format": "open311", "columns": {
        "id": "service_request_id", "service": "service_code", "requested_at": "requested_datetime",
        "updated_at": "updated_datetime", "closed_at": "updated_datetime", "status": "status",
        "description": "description", "address": "address", "lat": "lat", "long": "long"},
        "statuses": {"open": "new", "closed": "closed"}})  # fmt: skip
    report = run(make, [plain, saved], m)
    assert report.inserted == 2
    got = stored(make)["oldcrm:A-1"]
    assert (got.status, got.closed_at, got.lat, got.description) == (
        Status.CLOSED, datetime(2025, 9, 5, 13, 48, 58, tzinfo=UTC), 40.71, "Deep hole",
    )  # fmt: skip


# -- routing -----------------------------------------------------------------------------------------------------------
def test_import__point_in_a_versioned_layer__routed_to_the_version_in_force_when_filed(
    make: Callable[[], UnitOfWork], tmp_path: Path
) -> None:
    def layer(key: str) -> dict[str, Any]:
        feature = {
            "type": "Feature",
            "properties": {"ward": key},
            "geometry": {"type": "Polygon", "coordinates": SQUARE},
        }
        return {"type": "FeatureCollection", "features": [feature]}

    load_layer(make(), "wards", layer("old-7"), key_property="ward")
    load_layer(make(), "wards", layer("new-12"), key_property="ward", valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    rows = [row("1", Opened="06/01/2019 10:00:00 AM"), row("2", Opened="06/01/2021 10:00:00 AM"),
            row("3", Lat="41.5", Lon="-75")]  # fmt: skip
    report = run(make, [write_csv(tmp_path / "a.csv", rows)])
    got = stored(make)
    assert (got["oldcrm:1"].areas, got["oldcrm:2"].areas, got["oldcrm:3"].areas) == (
        {"wards": "old-7"}, {"wards": "new-12"}, None,
    )  # fmt: skip
    assert report.routed == 2


# -- who may ---------------------------------------------------------------------------------------------------------
def test_import__not_an_admin__forbidden(make: Callable[[], UnitOfWork], tmp_path: Path) -> None:
    agent = Principal(kind="staff", name="agent@city.gov", role=Role.AGENT)
    with pytest.raises(Forbidden):
        import_history(make(), ImportHistory([write_csv(tmp_path / "a.csv", [row("1")])], mapping(), agent))
    assert stored(make) == {}
