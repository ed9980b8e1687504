"""The pending batch of one connector: an append-only journal on disk, closed into a CSV file on the schedule.

Layout under ``<staging_dir>/<connector code>/``:

- ``open-<seq>-<opened epoch>.jsonl``: the pending batch, one JSON object per line (JSON escapes line breaks,
  so a row is exactly one line and a torn last line, from a crash in the middle of a write, is plain to see);
- ``closing-<final name>.jsonl``: a batch being closed (renamed first, so its final name is fixed: a crash while
  closing is finished on the next close with the same name);
- ``sequence``: the last sequence number given out; ``.lock``: the lock every step takes (threads and processes).

Every step holds the lock. An append writes all its rows with one ``write`` and fsyncs before it returns; a
failed write is cut back off, and a torn tail left by a killed process is cut off by the next append. Closing
writes ``<prefix>_<YYYYMMDDTHHMMSSZ>_<seq>.csv`` to a hidden temporary name in the drop folder, fsyncs it and
renames it into place, so the department only ever sees whole files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from civicswitch.hub.connectors.batch.config import BatchSettings
from civicswitch.hub.connectors.batch.files import (
    atomic_write,
    create_file,
    file_digest,
    fsync_dir,
    locked,
    make_dirs,
    write_all,
)
from civicswitch.hub.connectors.batch.formats import OUTBOUND_COLUMNS

log = logging.getLogger(__name__)

_OPEN = re.compile(r"open-(\d{8,})-(\d+)\.jsonl")
_CLOSING = re.compile(r"closing-(.+)\.jsonl")


@dataclass(frozen=True, slots=True)
class _Journal:
    seq: int
    opened: int  # epoch seconds
    path: Path


def render_csv(rows: list[dict[str, object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(OUTBOUND_COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else str(row.get(c)) for c in OUTBOUND_COLUMNS])
    return out.getvalue().encode("utf-8")


def read_journal(path: Path) -> list[dict[str, object]]:
    """The rows of a journal, first copy of each idempotency key only, a torn last line left out."""
    rows: list[dict[str, object]] = []
    seen: set[object] = set()
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            log.warning("batch journal %s: line %d is not a whole row (a write cut short); left out", path, number)
            continue
        if not isinstance(row, dict):
            continue
        key = row.get("idempotency_key")
        if key in seen:
            continue
        seen.add(key)
        rows.append(row)
    return rows


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class Spool:
    def __init__(self, settings: BatchSettings, code: str) -> None:
        self.dir = settings.staging_dir / code
        self.outbox = settings.outbox_dir
        self.prefix = settings.file_prefix or code
        self.every = settings.flush_every_s
        self.lock = self.dir / ".lock"

    # -- reading the state -----------------------------------------------------------------------------
    def _journals(self) -> list[_Journal]:
        found = []
        for path in self.dir.glob("open-*.jsonl"):
            match = _OPEN.fullmatch(path.name)
            if match:
                found.append(_Journal(int(match[1]), int(match[2]), path))
        return sorted(found, key=lambda j: j.seq)

    def _due(self, journal: _Journal, now: datetime) -> bool:
        return journal.opened + self.every <= now.timestamp()

    def seconds_until_due(self, now: datetime) -> float | None:
        """Seconds until the pending batch is due to close (0: due now); None when there is none."""
        if not self.dir.is_dir():
            return None
        journals = self._journals()
        if not journals:
            return None
        return max(0.0, journals[0].opened + self.every - now.timestamp())

    def _next_seq(self) -> int:
        counter = self.dir / "sequence"
        last = 0
        with contextlib.suppress(FileNotFoundError, ValueError):
            last = int(counter.read_text().strip() or 0)
        for path in self.dir.iterdir():  # a lost or stale counter never gives a number out twice
            match = _OPEN.fullmatch(path.name) or re.fullmatch(r"closing-.*_(\d{6,})\.jsonl", path.name)
            if match:
                last = max(last, int(match[1]))
        atomic_write(counter, f"{last + 1}\n".encode())
        return last + 1

    # -- appending -------------------------------------------------------------------------------------
    def _check_outbox(self) -> None:
        if not self.outbox.is_dir():
            raise FileNotFoundError(2, "the drop folder (outbox_dir) does not exist", str(self.outbox))

    def append(self, lines: list[bytes], now: datetime) -> str:
        """Append whole rows (each one JSON line) to the pending batch, durably; returns the journal's name.
        A pending batch that is due is closed first. Raises ``OSError`` (nothing of these rows stays then)."""
        self._check_outbox()
        make_dirs(self.dir)
        with locked(self.lock):
            journals = self._journals()
            if journals and self._due(journals[-1], now):
                self._close(now, force=True)
                journals = []
            created = not journals
            if created:
                path = self.dir / f"open-{self._next_seq():08d}-{int(now.timestamp())}.jsonl"
                fd = create_file(path, os.O_RDWR | os.O_EXCL | os.O_APPEND)
            else:
                path = journals[-1].path
                fd = os.open(path, os.O_RDWR | os.O_APPEND)
            try:
                size = self._cut_torn_tail(fd, path)
                try:
                    write_all(fd, b"".join(lines))
                    os.fsync(fd)
                except OSError:
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, size)
                        os.fsync(fd)
                    raise
            finally:
                os.close(fd)
            if created:
                fsync_dir(self.dir)
            return path.name

    @staticmethod
    def _cut_torn_tail(fd: int, path: Path) -> int:
        """A journal must end at a line end; a killed writer may have left part of a row (never acknowledged:
        the fsync had not returned). Cut it off; returns the size after."""
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return size
        end = size
        while end > 0:
            start = max(0, end - 65536)
            chunk = os.pread(fd, end - start, start)
            at = chunk.rfind(b"\n")
            if at >= 0:
                end = start + at + 1
                break
            end = start
        os.ftruncate(fd, end)
        os.fsync(fd)
        log.warning("batch journal %s: cut off %d bytes of a row a crash left half-written", path, size - end)
        return end

    # -- closing ---------------------------------------------------------------------------------------
    def close_due(self, now: datetime, *, force: bool = False) -> list[str]:
        """Close the pending batch into the drop folder if it is due (or ``force``); returns the new files."""
        if not self.dir.is_dir():
            return []
        self._check_outbox()
        with locked(self.lock):
            return self._close(now, force=force)

    def _close(self, now: datetime, *, force: bool) -> list[str]:
        produced: list[str] = []
        for closing in sorted(self.dir.glob("closing-*.jsonl")):  # left by a crash while closing
            produced += self._finish(closing)
        journals = self._journals()
        for i, journal in enumerate(journals):
            if force or i < len(journals) - 1 or self._due(journal, now):
                name = f"{self.prefix}_{_stamp(now)}_{journal.seq:06d}"
                closing = self.dir / f"closing-{name}.jsonl"
                os.replace(journal.path, closing)
                fsync_dir(self.dir)
                produced += self._finish(closing)
        return produced

    def _finish(self, closing: Path) -> list[str]:
        match = _CLOSING.fullmatch(closing.name)
        assert match is not None
        name = f"{match[1]}.csv"
        rows = read_journal(closing)
        if rows:
            data = render_csv(rows)
            target = self.outbox / name
            if target.exists() and target.read_bytes() != data:  # another connector's file (same prefix)
                name = f"{match[1]}_{file_digest(data)}.csv"
                target = self.outbox / name
            atomic_write(target, data)
            log.info("batch: closed %s with %d rows", target, len(rows))
        closing.unlink()
        fsync_dir(self.dir)
        return [name] if rows else []
