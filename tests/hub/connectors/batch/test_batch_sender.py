"""The batch sender: rows durably in the pending batch, whole files in the drop folder on the schedule."""

from __future__ import annotations

import asyncio
import csv
import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from batch_support import NOW, drop_files, message, read_csv

from civicswitch.core.clock import FixedClock, SystemClock
from civicswitch.hub.connectors.batch import OUTBOUND_COLUMNS, BatchSender, check_config, spool
from civicswitch.hub.model import Connector, ConnectorKind, MessageType, OutboundMessage, OutcomeKind

MakeConnector = Callable[..., Connector]
HEADER = (
    "idempotency_key,type,event_time,service_request_id,external_id,service_code,status,external_status,"
    "description,lat,long,address,zipcode,agency,requested_datetime,expected_datetime,media_url,status_notes,"
    "note,transferred_to,referred,attributes,areas,contact_first_name,contact_last_name,contact_email,"
    "contact_phone,language"
)


def _sender(clock: FixedClock | None = None) -> BatchSender:
    return BatchSender(clock=clock or FixedClock(NOW), schedule=False)


def test_header__documented__is_the_stable_column_list() -> None:
    assert ",".join(OUTBOUND_COLUMNS) == HEADER


def test_send__one_message__csv_reader_reads_it_back_with_the_documented_header(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector()
    sender = _sender()

    async def run() -> tuple[OutcomeKind, list[str]]:
        outcome = await sender.send(connector, message(1, description='Light out, pole "7",\nflickering'))
        return outcome.kind, await sender.flush(connector, force=True)

    kind, closed = asyncio.run(run())

    assert kind == OutcomeKind.DELIVERED
    assert closed == ["dpw-batch_20261128T120000Z_000001.csv"]
    raw = (folders["outbox_dir"] / closed[0]).read_bytes()
    assert raw.startswith(HEADER.encode() + b"\r\n")
    header, rows = read_csv(folders["outbox_dir"] / closed[0])
    assert header == list(OUTBOUND_COLUMNS)
    assert rows == [
        {
            "idempotency_key": f"cs_{1:032x}",
            "type": "created",
            "event_time": "2026-11-28T11:59:30Z",
            "service_request_id": "1001",
            "external_id": "",
            "service_code": "streetlight",
            "status": "new",
            "external_status": "OPEN",
            "description": 'Light out, pole "7",\nflickering',
            "lat": "42.2715",
            "long": "-71.0772",
            "address": "INTERSECTION of Groveland St & River St  Mattapan  MA",
            "zipcode": "02126",
            "agency": "DPW",
            "requested_datetime": "2026-11-28T11:58:00Z",
            "expected_datetime": "2026-12-12T11:58:00Z",
            "media_url": "",
            "status_notes": "",
            "note": "",
            "transferred_to": "",
            "referred": "",
            "attributes": '{"pole_number":"P-1"}',
            "areas": '["ward-17"]',
            "contact_first_name": "",
            "contact_last_name": "",
            "contact_email": "",
            "contact_phone": "",
            "language": "",
        }
    ]


def test_send__status_change_with_contact_and_external_id__columns_filled(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(include_contact=True, file_prefix="DPW_requests")
    sender = _sender()
    base = message(2, type_=MessageType.STATUS_CHANGED, status="closed/fixed", external_status="DONE", note="Fixed")
    data = dict(base.envelope["data"], contact={"first_name": "Ana", "email": "ana@example.org"})
    sent = OutboundMessage(2, base.idempotency_key, base.type, 1002, dict(base.envelope, data=data), "SR21-0000042")

    async def run() -> list[str]:
        await sender.send(connector, sent)
        return await sender.flush(connector, force=True)

    (name,) = asyncio.run(run())

    assert name.startswith("DPW_requests_20261128T120000Z_")
    _, (row,) = read_csv(folders["outbox_dir"] / name)
    assert (row["type"], row["status"], row["external_status"], row["note"]) == (
        "status_changed",
        "closed/fixed",
        "DONE",
        "Fixed",
    )
    assert (row["external_id"], row["contact_first_name"], row["contact_email"]) == (
        "SR21-0000042",
        "Ana",
        "ana@example.org",
    )


def test_send__text_that_a_spreadsheet_would_run__escaped_numbers_untouched(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector()
    sender = _sender()

    async def run() -> list[str]:
        await sender.send(connector, message(3, description='=HYPERLINK("http://x.example","click")'))
        return await sender.flush(connector, force=True)

    (name,) = asyncio.run(run())

    _, (row,) = read_csv(folders["outbox_dir"] / name)
    assert row["description"] == '\'=HYPERLINK("http://x.example","click")'
    assert row["long"] == "-71.0772"


def test_send__before_the_schedule__drop_folder_stays_empty_until_the_batch_is_due(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(flush_every_s=300)
    clock = FixedClock(NOW)
    sender = _sender(clock)

    async def run() -> tuple[list[str], list[str], list[str]]:
        for n in range(3):
            assert (await sender.send(connector, message(n))).kind == OutcomeKind.DELIVERED
        early = await sender.flush(connector)
        clock.advance(timedelta(seconds=299))
        still_early = await sender.flush(connector)
        clock.advance(timedelta(seconds=1))
        due = await sender.flush(connector)
        return early, still_early, due

    early, still_early, due = asyncio.run(run())

    assert early == still_early == []
    assert due == ["dpw-batch_20261128T120500Z_000001.csv"]
    assert [p.name for p in drop_files(folders["outbox_dir"])] == due
    assert len(read_csv(folders["outbox_dir"] / due[0])[1]) == 3


def test_send__after_the_batch_is_due__closes_it_and_starts_the_next(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(flush_every_s=60)
    clock = FixedClock(NOW)
    sender = _sender(clock)

    async def run() -> None:
        await sender.send(connector, message(1))
        clock.advance(timedelta(seconds=61))
        await sender.send(connector, message(2))  # closes the first batch, starts the second
        clock.advance(timedelta(seconds=61))
        await sender.flush(connector)

    asyncio.run(run())

    files = drop_files(folders["outbox_dir"])
    assert [p.name for p in files] == [
        "dpw-batch_20261128T120101Z_000001.csv",
        "dpw-batch_20261128T120202Z_000002.csv",
    ]
    assert [[r["service_request_id"] for r in read_csv(p)[1]] for p in files] == [["1001"], ["1002"]]


def test_send__200_at_once__every_row_once_in_the_batch(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector()
    sender = _sender()

    async def run() -> list[OutcomeKind]:
        outcomes = await asyncio.gather(*(sender.send(connector, message(n)) for n in range(200)))
        await sender.flush(connector, force=True)
        return [o.kind for o in outcomes]

    kinds = asyncio.run(run())

    assert kinds == [OutcomeKind.DELIVERED] * 200
    (path,) = drop_files(folders["outbox_dir"])
    _, rows = read_csv(path)
    assert sorted(r["idempotency_key"] for r in rows) == sorted(f"cs_{n:032x}" for n in range(200))


def test_send__two_senders_sharing_the_folders__no_row_lost(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    """Two workers (here: two senders on two threads, each with its own loop) append to one pending batch."""
    connector = make_connector()

    def work(first: int) -> None:
        sender = _sender()

        async def run() -> None:
            outcomes = await asyncio.gather(*(sender.send(connector, message(n)) for n in range(first, first + 100)))
            assert {o.kind for o in outcomes} == {OutcomeKind.DELIVERED}

        asyncio.run(run())

    threads = [threading.Thread(target=work, args=(first,)) for first in (0, 100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    asyncio.run(_sender().flush(connector, force=True))

    (path,) = drop_files(folders["outbox_dir"])
    assert len({r["idempotency_key"] for r in read_csv(path)[1]}) == 200


def test_send__same_message_again__one_row_in_the_batch(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector()
    sender = _sender()

    async def run() -> None:
        await sender.send(connector, message(1))
        await sender.send(connector, message(1))  # a retry after a lost reply
        await sender.flush(connector, force=True)

    asyncio.run(run())

    (path,) = drop_files(folders["outbox_dir"])
    assert len(read_csv(path)[1]) == 1


def test_flush__department_watching_the_drop_folder__only_ever_sees_whole_files(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector()
    sender = _sender()
    outbox = folders["outbox_dir"]
    stop = threading.Event()
    seen: dict[str, int] = {}
    problems: list[str] = []

    def watch() -> None:
        while not stop.is_set():
            for path in drop_files(outbox):
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue
                rows = list(csv.reader(data.decode("utf-8").splitlines()))
                if rows[0] != list(OUTBOUND_COLUMNS) or not data.endswith(b"\r\n") or len(rows) != 51:
                    problems.append(f"{path.name}: {len(rows)} lines")
                seen[path.name] = len(rows) - 1

    watcher = threading.Thread(target=watch)
    watcher.start()

    async def run() -> None:
        for batch in range(15):
            await asyncio.gather(*(sender.send(connector, message(batch * 50 + n)) for n in range(50)))
            await sender.flush(connector, force=True)

    try:
        asyncio.run(run())
    finally:
        stop.set()
        watcher.join()

    assert problems == []
    assert len(drop_files(outbox)) == 15
    assert set(seen.values()) <= {50}


def test_send__process_killed_while_sending__every_acknowledged_row_in_the_batch_and_no_half_row(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector()
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from batch_support import message
        from civicswitch.hub.connectors.batch import BatchSender
        from civicswitch.hub.model import Connector, ConnectorKind, OutcomeKind

        config = {dict(connector.config)!r}
        connector = Connector(code="dpw-batch", kind=ConnectorKind.BATCH, body_code="DPW", config=config)

        async def main():
            sender = BatchSender(schedule=False)
            n = 0
            while True:
                batch = [message(n + i, description="x" * 3000) for i in range(20)]
                outcomes = await asyncio.gather(*(sender.send(connector, m) for m in batch))
                for m, o in zip(batch, outcomes):
                    if o.kind == OutcomeKind.DELIVERED:
                        print(m.idempotency_key, flush=True)
                n += 20

        asyncio.run(main())
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    acknowledged = [child.stdout.readline().strip() for _ in range(300)]
    child.send_signal(signal.SIGKILL)
    acknowledged += [line.strip() for line in child.stdout if line.strip()]
    child.wait()
    assert all(acknowledged)

    asyncio.run(_sender().flush(connector, force=True))

    (path,) = drop_files(folders["outbox_dir"])
    _, rows = read_csv(path)
    keys = [r["idempotency_key"] for r in rows]
    assert set(acknowledged) <= set(keys)
    assert len(keys) == len(set(keys))
    assert all(r["description"] == "x" * 3000 and r["contact_phone"] == "" for r in rows)


def test_send__half_row_left_by_a_crash__cut_off_and_later_rows_kept(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector()
    sender = _sender()
    asyncio.run(sender.send(connector, message(1)))
    (journal,) = (folders["outbox_dir"] / ".staging" / "dpw-batch").glob("open-*.jsonl")
    with journal.open("ab") as f:
        f.write(b'{"idempotency_key":"cs_torn","type":"crea')  # a write cut short by a power loss

    async def run() -> None:
        assert (await sender.send(connector, message(2))).kind == OutcomeKind.DELIVERED
        await sender.flush(connector, force=True)

    asyncio.run(run())

    (path,) = drop_files(folders["outbox_dir"])
    assert [r["service_request_id"] for r in read_csv(path)[1]] == ["1001", "1002"]


def test_send__disk_full_mid_write__retry_and_no_trace_of_the_failed_rows(
    make_connector: MakeConnector, folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = make_connector()
    sender = _sender()
    asyncio.run(sender.send(connector, message(1)))

    def half_then_full(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool, "write_all", half_then_full)
    failed = asyncio.run(sender.send(connector, message(2)))
    monkeypatch.undo()

    async def run() -> None:
        assert (await sender.send(connector, message(3))).kind == OutcomeKind.DELIVERED
        await sender.flush(connector, force=True)

    asyncio.run(run())

    assert failed.kind == OutcomeKind.RETRY
    assert "No space left on device" in failed.detail
    (path,) = drop_files(folders["outbox_dir"])
    assert [r["service_request_id"] for r in read_csv(path)[1]] == ["1001", "1003"]


def test_send__drop_folder_missing__retry_naming_the_folder(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector()
    folders["outbox_dir"].rmdir()

    outcome = asyncio.run(_sender().send(connector, message(1)))

    assert outcome.kind == OutcomeKind.RETRY
    assert "outbox_dir" in outcome.detail and str(folders["outbox_dir"]) in outcome.detail


def test_send__staging_is_not_a_folder__retry(make_connector: MakeConnector, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    connector = make_connector(staging_dir=str(blocker))

    outcome = asyncio.run(_sender().send(connector, message(1)))

    assert outcome.kind == OutcomeKind.RETRY
    assert outcome.detail.startswith("batch: cannot write the pending batch")


def test_send__envelope_without_data__failed(make_connector: MakeConnector) -> None:
    broken = OutboundMessage(1, "cs_x", MessageType.CREATED, 1, {"specversion": "1.0", "id": "cs_x"})

    outcome = asyncio.run(_sender().send(make_connector(), broken))

    assert outcome.kind == OutcomeKind.FAILED


def test_send__pending_batch__survives_a_restart_and_the_next_process_closes_it(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(flush_every_s=60)
    asyncio.run(_sender().send(connector, message(1)))

    later = FixedClock(NOW + timedelta(minutes=5))
    closed = asyncio.run(_sender(later).flush(connector))

    assert closed == ["dpw-batch_20261128T120500Z_000001.csv"]
    assert [r["service_request_id"] for r in read_csv(folders["outbox_dir"] / closed[0])[1]] == ["1001"]


def test_schedule__no_more_messages__batch_closed_by_the_timer(
    make_connector: MakeConnector, folders: dict[str, Path]
) -> None:
    connector = make_connector(flush_every_s=1)
    sender = BatchSender(clock=SystemClock(), schedule=True)

    async def run() -> list[Path]:
        await sender.send(connector, message(1))
        deadline = time.monotonic() + 10
        while not drop_files(folders["outbox_dir"]) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await sender.aclose()
        return drop_files(folders["outbox_dir"])

    files = asyncio.run(run())

    assert len(files) == 1
    assert [r["service_request_id"] for r in read_csv(files[0])[1]] == ["1001"]


def test_flush__nothing_sent__no_file(make_connector: MakeConnector, folders: dict[str, Path]) -> None:
    assert asyncio.run(_sender().flush(make_connector(), force=True)) == []
    assert drop_files(folders["outbox_dir"]) == []


def test_flush__two_connectors_with_one_prefix_and_folder__neither_file_overwritten(
    folders: dict[str, Path],
) -> None:
    config = check_config(
        {"outbox_dir": str(folders["outbox_dir"]), "inbox_dir": str(folders["inbox_dir"]), "file_prefix": "city311"}
    )
    dpw, parks = (
        Connector(code=code, kind=ConnectorKind.BATCH, body_code=code.upper(), config=config)
        for code in ("dpw", "parks")
    )
    sender = _sender()

    async def run() -> list[str]:
        await sender.send(dpw, message(1))
        await sender.send(parks, message(2))
        return await sender.flush(dpw, force=True) + await sender.flush(parks, force=True)

    closed = asyncio.run(run())

    assert closed[0] == "city311_20261128T120000Z_000001.csv" and closed[1].startswith(closed[0][:-4] + "_")
    assert sorted(r["service_request_id"] for p in drop_files(folders["outbox_dir"]) for r in read_csv(p)[1]) == [
        "1001",
        "1002",
    ]
