"""Batch files are safe to open in a spreadsheet (every supplied value neutralised) and readable by the owner and
group only (files 0o640, folders 0o750), whatever the process's umask."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from batch_support import NOW, csv_text, message, read_csv

from civicswitch.core.clock import FixedClock
from civicswitch.hub.connectors.batch import BatchPoller, BatchSender
from civicswitch.hub.model import Connector, OutboundMessage

MakeConnector = Callable[..., Connector]
FORMULA = '=HYPERLINK("http://x.example","click")'


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask a process can have: what the connector creates must not depend on it."""
    old = os.umask(0)
    yield
    os.umask(old)


def _send_and_close(connector: Connector, *messages: OutboundMessage) -> list[str]:
    sender = BatchSender(clock=FixedClock(NOW), schedule=False)

    async def run() -> list[str]:
        for m in messages:
            await sender.send(connector, m)
        return await sender.flush(connector, force=True)

    return asyncio.run(run())


def test_send__formula_in_zipcode_phone_address_and_external_id__every_cell_neutralised(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(include_contact=True)
    base = message(1, zipcode="=1+2", address="@SUM(A1)", status_notes="+cmd|' /C calc'!A0", attributes={"pole": "=A1"})
    data = dict(base.envelope["data"], contact={"phone": "-2+3+cmd", "last_name": "\t=evil"})
    sent = OutboundMessage(1, base.idempotency_key, base.type, 1001, dict(base.envelope, data=data), "=EXT(1)")

    (name,) = _send_and_close(connector, sent)

    _, (row,) = read_csv(folders["outbox_dir"] / name)
    assert (row["zipcode"], row["contact_phone"], row["address"], row["external_id"]) == (
        "'=1+2",
        "'-2+3+cmd",
        "'@SUM(A1)",
        "'=EXT(1)",
    )
    assert row["status_notes"] == "'+cmd|' /C calc'!A0" and row["contact_last_name"] == "'\t=evil"
    assert (row["lat"], row["long"]) == ("42.2715", "-71.0772")  # numbers stay numbers
    dangerous = [c for c, v in row.items() if v[:1] in ("=", "+", "@", "\t", "\r") or v.startswith("-2")]
    assert dangerous == []


def test_poll__department_sends_back_cells_we_neutralised__values_restored(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    header = ["update_id", "external_id", "status", "updated_datetime", "description"]
    row = ["u-1", "'=EXT(1)", "Closed", "2026-11-27T10:00:00Z", "'=resident text"]
    path = folders["inbox_dir"] / "status.csv"
    path.write_text(csv_text([header, row]), encoding="utf-8")
    then = time.time() - 120
    os.utime(path, (then, then))

    updates, _ = asyncio.run(BatchPoller(clock=FixedClock(NOW)).poll(make_connector(), None))

    (update,) = updates
    assert (update.external_id, update.description) == ("=EXT(1)", "=resident text")


def test_poll__bad_row_with_a_formula__quarantine_file_neutralised(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    header = ["update_id", "service_request_id", "status", "updated_datetime", "description"]
    path = folders["inbox_dir"] / "=evil.csv"
    path.write_text(csv_text([header, ["u-1", "1001", "Closed", "not a time", "=cmd"]]), encoding="utf-8")
    then = time.time() - 120
    os.utime(path, (then, then))

    asyncio.run(BatchPoller(clock=FixedClock(NOW)).poll(make_connector(), None))

    (rejects,) = (folders["inbox_dir"] / "quarantine").glob("*.rejects.csv")
    _, (reject,) = read_csv(rejects)
    assert reject["file"] == "'=evil.csv" and reject["line"] == "2"
    assert all(not v.startswith(("=", "+", "@")) for v in reject.values())


def test_batch_files__any_umask__files_0640_and_folders_0750(
    make_connector: MakeConnector, folders: dict[str, Path], open_umask: None, tmp_path: Path
) -> None:
    connector = make_connector(staging_dir=str(tmp_path / "staging" / "deep"))
    (name,) = _send_and_close(connector, message(1))
    header = ["update_id", "service_request_id", "status", "updated_datetime"]
    bad = folders["inbox_dir"] / "dept" / "status.csv"
    bad.parent.mkdir(mode=0o750)
    bad.write_text(csv_text([header, ["u-1", "1001", "Closed", "not a time"]]), encoding="utf-8")
    then = time.time() - 120
    os.utime(bad, (then, then))
    poller = BatchPoller(clock=FixedClock(NOW))
    _, cursor = asyncio.run(poller.poll(connector, None))
    asyncio.run(poller.poll(connector, cursor))  # archives what the first poll read

    made_files = [folders["outbox_dir"] / name, *(tmp_path / "staging").rglob("*"), *folders["inbox_dir"].rglob("*")]
    files = [p for p in made_files if p.is_file() and p != bad]
    folders_made = [p for p in made_files if p.is_dir() and p != bad.parent]
    assert files and folders_made
    assert {str(p): oct(_mode(p)) for p in files if _mode(p) != 0o640} == {}
    assert {str(p): oct(_mode(p)) for p in folders_made if _mode(p) != 0o750} == {}
