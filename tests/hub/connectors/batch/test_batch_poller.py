"""The batch poller: status-update files read once, overlaps dropped, bad rows quarantined with a reason.

The fixture files copy the shapes of real 311 exports (../shared/data): Boston's case export (``Open``/``Closed``,
``2011-07-01 05:06:58`` local time, closure text with trailing blanks), Chicago's API export (``sr_number``,
``Completed``/``Canceled``/``Open``, ``2021-01-01T00:31:03.000`` local time, dozens of other columns) and NYC's
(quoted header, ``In Progress``, ``03/14/2025 01:20:00 PM``)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from batch_support import NOW, csv_text, read_csv

from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors.batch import QUARANTINE_COLUMNS, BatchPoller
from civicswitch.hub.model import Connector, InboundUpdate

MakeConnector = Callable[..., Connector]
HEADER = ["update_id", "service_request_id", "external_id", "status", "updated_datetime", "description"]
# Boston-shaped rows, local time in America/New_York (-05:00 in November)
BOSTON = [
    ["u-1", "1001", "101000295613", "Open", "2026-11-27 08:02:11", "Case Noted Assigned to crew "],
    ["u-2", "1001", "101000295613", "Closed", "2026-11-27 15:06:58", "Case Closed Case Resolved replaced fuse "],
    ["u-3", "1002", "101000295614", "Open", "2026-11-27 16:18:31", ""],
    ["u-4", "1003", "101000295615", "Closed", "2026-11-27 17:21:46", "Case Closed Case Scheduled Items picked up"],
    ["u-5", "1002", "101000295614", "Closed", "2026-11-27 18:12:43", "Case Closed Case Invalid "],
    ["u-6", "1004", "101000295616", "Open", "2026-11-27 19:28:04", "Case Noted"],
]


def _poller() -> BatchPoller:
    return BatchPoller(clock=FixedClock(NOW))


def _drop(folder: Path, name: str, text: str | bytes, *, age_s: float = 120) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def _poll(connector: Connector, cursor: str | None) -> tuple[Sequence[InboundUpdate], str | None]:
    return asyncio.run(_poller().poll(connector, cursor))


def _ids(updates: Sequence[InboundUpdate]) -> list[str]:
    return [u.update_id for u in updates]


def test_poll__boston_shaped_file__updates_in_time_order_with_raw_status_and_utc_times(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(timezone="America/New_York")
    _drop(folders["inbox_dir"], "dpw_status_20261127.csv", csv_text([HEADER, *reversed(BOSTON[:3])]))

    updates, cursor = _poll(connector, None)

    assert _ids(updates) == ["u-1", "u-2", "u-3"]  # oldest first, whatever the file's order
    first = updates[0]
    assert first == InboundUpdate(
        update_id="u-1",
        status="Open",  # the department's code: the caller maps it
        at=datetime(2026, 11, 27, 13, 2, 11, tzinfo=UTC),
        service_request_id="1001",
        external_id="101000295613",
        description="Case Noted Assigned to crew",
    )
    assert updates[1].status == "Closed" and updates[2].description == ""
    assert cursor is not None and len(cursor) < 1000


def test_poll__overlapping_windows__each_row_handed_over_once(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(timezone="America/New_York")
    inbox = folders["inbox_dir"]
    _drop(inbox, "status_0800.csv", csv_text([HEADER, *BOSTON[0:4]]))
    first, cursor1 = _poll(connector, None)
    _drop(inbox, "status_1200.csv", csv_text([HEADER, *BOSTON[2:6]]))  # rows 3 and 4 again

    second, _ = _poll(connector, cursor1)

    assert _ids(first) == ["u-1", "u-2", "u-3", "u-4"]
    assert _ids(second) == ["u-5", "u-6"]


def test_poll__same_overlapping_file_read_again__changes_nothing(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(timezone="America/New_York")
    inbox = folders["inbox_dir"]
    _drop(inbox, "status_0800.csv", csv_text([HEADER, *BOSTON[0:4]]))
    _drop(inbox, "status_1200.csv", csv_text([HEADER, *BOSTON[2:6]]))
    first, cursor = _poll(connector, None)
    # The department sends the window again: same rows, renamed, columns reordered, other quoting and case.
    again = [["STATUS", "Updated DateTime", "Service Request ID", "Description", "External ID", "Update ID"]]
    again += [[r[3].upper(), r[4], r[1], r[5], r[2], r[0]] for r in BOSTON[1:6]]
    quoted = io.StringIO()
    csv.writer(quoted, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(again)
    _drop(inbox, "status_resend.csv", "\ufeff" + quoted.getvalue())  # Excel's UTF-8 with a byte-order mark
    _drop(inbox, "status_1200_copy.csv", csv_text([HEADER, *BOSTON[2:6]]))

    second, cursor2 = _poll(connector, cursor)
    third, _ = _poll(connector, cursor2)

    assert len(first) == 6
    assert second == [] and third == []
    assert list((inbox / "quarantine").iterdir()) == []  # read, not refused
    assert sorted(p.name for p in folders["inbox_dir"].glob("*.csv")) == []  # all archived
    archived = sorted(p.name for p in (inbox / "archive").glob("*.csv"))
    assert archived == ["status_0800.csv", "status_1200.csv", "status_1200_copy.csv", "status_resend.csv"]


def test_poll__file_with_bad_rows__good_rows_through_and_quarantine_names_file_line_reason(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(timezone="America/New_York")
    rows = [
        HEADER,  # line 1
        ["u-1", "1001", "", "Open", "2026-11-27 08:02:11", "Assigned"],  # line 2
        ["u-2", "1002", "", "Open", "2026-13-45 25:00:00", "Assigned"],  # line 3: bad date
        ["u-3", "1003", "", "Closed", "2026-11-27 09:00:00", "Replaced fuse,\nreset breaker"],  # lines 4-5
        ["u-4", "", "", "Closed", "2026-11-27 09:10:00", "Done"],  # line 6: no id
        ["u-5", "1005", "", "Closed", "2026-11-27 09:20:00", "Done", "EXTRA", "CELLS"],  # line 7
        ["u-6", "1006", "", "Closed", "2026-11-27", "Done"],  # line 8: no time of day
        ["u-7", "1007", "", "Closed", "11/27/2026 09:30:00 AM", "Done"],  # line 9
        ["u-8", "1008", "", "", "2026-11-27 09:40:00", ""],  # line 10: nothing to apply
        ["u-9", "1009", "", "Closed", "2030-01-01 00:00:00", "Done"],  # line 11: in the future
        ["u-10", "1010", "", "Closed"],  # line 12: short row
    ]
    _drop(folders["inbox_dir"], "dpw_status_20261127.csv", csv_text(rows))

    updates, cursor = _poll(connector, None)

    assert _ids(updates) == ["u-1", "u-3", "u-7"]
    assert updates[1].description == "Replaced fuse,\nreset breaker"
    (rejects,) = (folders["inbox_dir"] / "quarantine").glob("*.rejects.csv")
    assert rejects.name.startswith("dpw_status_20261127.csv.")
    header, found = read_csv(rejects)
    assert header == list(QUARANTINE_COLUMNS) == ["file", "line", "reason", "row"]
    assert {r["file"] for r in found} == {"dpw_status_20261127.csv"}
    reasons = {int(r["line"]): r["reason"] for r in found}
    assert sorted(reasons) == [3, 6, 7, 8, 10, 11, 12]
    assert reasons[3].startswith("bad updated_datetime: '2026-13-45 25:00:00'")
    assert reasons[6].startswith("missing id")
    assert reasons[7] == "unknown columns: the row has 8 cells, the header 6"
    assert "without a time of day" in reasons[8]
    assert reasons[10].startswith("no status and no description")
    assert "in the future" in reasons[11]
    assert reasons[12] == "missing cells: the row has 4 cells, the header 6"
    assert next(r for r in found if r["line"] == "6")["row"] == "u-4,,,Closed,2026-11-27 09:10:00,Done"

    again, _ = _poll(connector, cursor)
    assert again == []
    assert (folders["inbox_dir"] / "archive" / "dpw_status_20261127.csv").exists()  # archived, not quarantined


def test_poll__chicago_export_with_mapped_columns__read_in_chicago_time(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(
        timezone="America/Chicago",
        columns={"external_id": "sr_number", "updated_datetime": "last_modified_date"},
        ignore_unknown_columns=True,
    )
    rows = [
        ["sr_number", "sr_type", "sr_short_code", "owner_department", "status", "created_date",
         "last_modified_date", "closed_date", "street_address", "latitude", "longitude"],
        ["SR26-00000001", "Street Light Out Complaint", "SFD", "CDOT - Department of Transportation", "Completed",
         "2026-11-26T23:00:09.000", "2026-11-27T00:31:03.000", "2026-11-27T00:31:03.000", "2111 W Lexington ST",
         "41.871831277993564", "-87.67984621876099"],
        ["SR26-00000004", "Pothole in Street Complaint", "PHF", "CDOT - Department of Transportation", "Canceled",
         "2026-11-26T23:01:19.000", "2026-11-27T00:31:22.000", "2026-11-27T00:31:22.000", "1200 S Halsted ST",
         "41.86", "-87.64"],
        ["SR26-00000006", "Tree Trim Request", "SEE", "Streets and Sanitation", "Open",
         "2026-11-26T23:02:17.000", "2026-11-27T00:35:03.000", "", "5500 N Broadway", "", ""],
    ]  # fmt: skip
    _drop(folders["inbox_dir"], "chicago_sr_update.csv", csv_text(rows))

    updates, _ = _poll(connector, None)

    assert [(u.external_id, u.status, u.service_request_id) for u in updates] == [
        ("SR26-00000001", "Completed", None),
        ("SR26-00000004", "Canceled", None),
        ("SR26-00000006", "Open", None),
    ]
    assert updates[0].at == datetime(2026, 11, 27, 6, 31, 3, tzinfo=UTC)
    assert all(u.update_id.startswith("batch-") for u in updates)  # no update_id column: made from the row


def test_poll__rows_without_update_id__same_id_every_time_the_row_comes(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(
        columns={
            "external_id": "unique_key",
            "updated_datetime": "resolution_date",
            "description": "resolution_description",
        }
    )
    text = '"unique_key","status","resolution_date","resolution_description"\r\n'
    text += '"60012345","In Progress","11/27/2026 01:20:00 PM","The Department of Sanitation inspected."\r\n'
    _drop(folders["inbox_dir"], "a.csv", text)

    (first,), _ = _poll(connector, None)
    (again,), _ = _poll(connector, None)  # a caller that lost its cursor gets the same id: the hub drops it

    assert first.update_id == again.update_id
    assert (first.status, first.at) == ("In Progress", datetime(2026, 11, 27, 13, 20, tzinfo=UTC))


def test_poll__unknown_column__whole_file_quarantined_with_the_reason(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector()
    header = ["update_id", "service_request_id", "status", "updated_datetime", "descripton"]  # misspelt
    _drop(folders["inbox_dir"], "typo.csv", csv_text([header, ["u-1", "1001", "Closed", "2026-11-27T10:00:00Z", "x"]]))

    updates, cursor = _poll(connector, None)

    assert updates == []
    quarantine = folders["inbox_dir"] / "quarantine"
    assert (quarantine / "typo.csv").exists() and not (folders["inbox_dir"] / "typo.csv").exists()
    (rejects,) = quarantine.glob("*.rejects.csv")
    (row,) = read_csv(rejects)[1]
    assert (row["file"], row["line"]) == ("typo.csv", "1")
    assert "unknown column 'descripton'" in row["reason"]
    assert json.loads(cursor or "{}")["done"] == []


def test_poll__header_without_an_id_column__whole_file_quarantined(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    _drop(folders["inbox_dir"], "noid.csv", csv_text([["status", "updated_datetime"], ["Closed", "2026-11-27T10:00Z"]]))

    updates, _ = _poll(make_connector(), None)

    assert updates == []
    (row,) = read_csv(next((folders["inbox_dir"] / "quarantine").glob("*.rejects.csv")))[1]
    assert "lacks service_request_id or external_id" in row["reason"]


def test_poll__windows_1252_file__quarantined_unless_the_encoding_is_set(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    text = csv_text([HEADER, ["u-1", "1001", "", "Closed", "2026-11-27T10:00:00Z", "Café closed – fixed"]])

    _drop(folders["inbox_dir"], "excel.csv", text.encode("cp1252"))
    refused, _ = _poll(make_connector(), None)
    (row,) = read_csv(next((folders["inbox_dir"] / "quarantine").glob("*.rejects.csv")))[1]
    _drop(folders["inbox_dir"], "excel.csv", text.encode("cp1252"))
    (read,), _ = _poll(make_connector(encoding="cp1252"), None)

    assert refused == []
    assert "not utf-8-sig text" in row["reason"] and row["line"] == "2"
    assert read.description == "Café closed – fixed"


def test_poll__cursor_not_stored_by_the_caller__files_read_again(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    """The worker stores the cursor with the updates; if it dies before, the next poll must hand them over."""
    connector = make_connector(timezone="America/New_York")
    _drop(folders["inbox_dir"], "a.csv", csv_text([HEADER, *BOSTON[:2]]))
    first, cursor1 = _poll(connector, None)
    _drop(folders["inbox_dir"], "b.csv", csv_text([HEADER, *BOSTON[2:4]]))
    second, _lost = _poll(connector, cursor1)  # a.csv archived now; b.csv read, but this cursor is never stored

    replay, _ = _poll(connector, cursor1)

    assert _ids(first) == ["u-1", "u-2"]
    assert _ids(second) == _ids(replay) == ["u-3", "u-4"]
    assert (folders["inbox_dir"] / "archive" / "a.csv").exists() and (folders["inbox_dir"] / "b.csv").exists()


def test_poll__file_still_being_written__left_until_it_settles(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(settle_s=30)
    path = _drop(folders["inbox_dir"], "a.csv", csv_text([HEADER, *BOSTON[:1]]), age_s=0)
    _drop(folders["inbox_dir"], ".b.csv.part", csv_text([HEADER, *BOSTON[1:2]]), age_s=600)

    fresh, cursor = _poll(connector, None)
    os.utime(path, (time.time() - 60, time.time() - 60))
    settled, _ = _poll(connector, cursor)

    assert fresh == []
    assert _ids(settled) == ["u-1"]


def test_poll__sub_folders__each_a_source_with_its_own_high_water_mark(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(dedupe_window_s=3600)
    inbox = folders["inbox_dir"]
    _drop(inbox, "north/n1.csv", csv_text([HEADER, ["n-1", "1001", "", "Closed", "2026-11-27T20:00:00Z", ""]]))
    _drop(inbox, "south/s1.csv", csv_text([HEADER, ["s-1", "1002", "", "Closed", "2026-11-27T08:00:00Z", ""]]))

    first, cursor = _poll(connector, None)
    _drop(inbox, "south/s2.csv", csv_text([HEADER, ["s-1", "1002", "", "Closed", "2026-11-27T08:00:00Z", ""]]))
    second, cursor2 = _poll(connector, cursor)

    assert sorted(_ids(first)) == ["n-1", "s-1"]
    assert second == []  # south's mark is its own: north's later rows did not push s-1 out of the window
    assert set(json.loads(cursor2 or "{}")["src"]) == {"north", "south"}
    assert (inbox / "archive" / "north" / "n1.csv").exists()


def test_poll__many_polls__cursor_stays_bounded_and_recent_overlaps_still_dropped(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(dedupe_window_s=2 * 86_400)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    cursor = None
    sizes = []
    for day in range(60):  # two months of daily files of 400 rows, each repeating the day before
        rows = [HEADER]
        for d in (day - 1, day):
            for n in range(200):
                at = start + timedelta(days=d, minutes=7 * n)
                rows.append([f"u-{d}-{n}", str(10_000 + n), "", "Closed", at.isoformat(), f"day {d}"])
        _drop(folders["inbox_dir"], f"status_{day:03d}.csv", csv_text(rows))
        updates, cursor = _poll(connector, cursor)
        assert len(updates) == (200 if day else 400), day
        sizes.append(len(cursor or ""))

    assert max(sizes) <= 64_000
    assert max(sizes[5:]) < sizes[1] * 3  # flat: old rows are forgotten


def test_poll__huge_file__cursor_under_the_limit_and_forgotten_rows_keep_their_ids(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector()
    start = datetime(2026, 11, 20, tzinfo=UTC)
    rows = [["service_request_id", "status", "updated_datetime"]]
    rows += [[str(n), "Closed", (start + timedelta(seconds=30 * n)).isoformat()] for n in range(10_000)]
    _drop(folders["inbox_dir"], "big.csv", csv_text(rows))

    first, cursor = _poll(connector, None)
    _drop(folders["inbox_dir"], "big_again.csv", csv_text([rows[0], *reversed(rows[1:])]))
    again, cursor2 = _poll(connector, cursor)

    assert len(first) == 10_000
    assert len(cursor or "") <= 64_000 and len(cursor2 or "") <= 64_000
    assert 0 < len(again) < 10_000  # the newest rows are still known; the oldest come again…
    by_id = {u.service_request_id: u.update_id for u in first}
    assert all(by_id[u.service_request_id] == u.update_id for u in again)  # …with their ids: the hub drops them
    assert max(int(u.service_request_id or 0) for u in again) < min(
        int(u.service_request_id or 0) for u in first[-1000:]
    )


def test_poll__cursor_from_elsewhere__refused(make_connector: MakeConnector) -> None:
    with pytest.raises(Invalid, match="cursor"):
        _poll(make_connector(), '{"page": 3}')


def test_poll__inbox_missing__raises(make_connector: MakeConnector, folders: dict[str, Path]) -> None:
    connector = make_connector()
    folders["inbox_dir"].rmdir()

    with pytest.raises(FileNotFoundError, match="inbox_dir"):
        _poll(connector, None)


def test_poll__more_files_than_the_limit__rest_read_by_the_next_poll(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(max_files_per_poll=2)
    for n in range(5):
        _drop(
            folders["inbox_dir"],
            f"f{n}.csv",
            csv_text([HEADER, [f"u-{n}", "1001", "", "Open", f"2026-11-27T0{n}:00Z", ""]]),
        )

    seen: list[str] = []
    cursor = None
    for _ in range(4):
        updates, cursor = _poll(connector, cursor)
        seen += _ids(updates)

    assert seen == ["u-0", "u-1", "u-2", "u-3", "u-4"]
