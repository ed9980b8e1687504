"""Reads the department's status-update CSV files from the inbox; archives them, quarantines bad rows."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import io
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from civicswitch.core.clock import Clock, SystemClock
from civicswitch.core.csvsafe import neutralise_row, restore
from civicswitch.hub.connectors.batch import sftp
from civicswitch.hub.connectors.batch.config import BatchSettings
from civicswitch.hub.connectors.batch.cursor import Cursor, SourceState
from civicswitch.hub.connectors.batch.files import atomic_write, file_digest, locked, make_dirs, move
from civicswitch.hub.connectors.batch.formats import (
    ID_COLUMNS,
    INBOUND_COLUMNS,
    MAX_DESCRIPTION,
    MAX_ID,
    MAX_STATUS,
    MAX_UPDATE_ID,
    REQUIRED_COLUMNS,
    normalise_header,
    parse_when,
)
from civicswitch.hub.model import Connector, InboundUpdate, Origin, Problem, ProblemKind

log = logging.getLogger(__name__)

QUARANTINE_COLUMNS = ("file", "line", "reason", "row")
FUTURE_SLACK = timedelta(days=1)
MAX_SOURCE_NAME = 64


@dataclass(slots=True)
class Reject:
    line: int
    reason: str
    row: str = ""


@dataclass(slots=True)
class FileResult:
    updates: list[InboundUpdate] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    unreadable: bool = False  # the whole file was refused (the rejects say why)


def _row_text(cells: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()[:2000]


def _header(names: list[str], settings: BatchSettings) -> tuple[list[str | None], str | None]:
    """The batch column of each file column (None: ignored) and, when the file cannot be read, why."""
    mapped = {theirs: ours for ours, theirs in settings.columns.items()}
    columns: list[str | None] = []
    unknown: list[str] = []
    for raw in names:
        name = normalise_header(raw)
        if name in mapped:
            columns.append(mapped[name])
        elif name in INBOUND_COLUMNS and name not in settings.columns:
            columns.append(name)
        else:
            columns.append(None)
            if name:
                unknown.append(raw.strip())
    present = [c for c in columns if c is not None]
    twice = sorted({c for c in present if present.count(c) > 1})
    if twice:
        return columns, f"column {', '.join(twice)} appears more than once in the header"
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if not any(c in present for c in ID_COLUMNS):
        missing.append("service_request_id or external_id")
    if missing:
        return columns, (
            f"the header lacks {', '.join(missing)} (it has: {', '.join(n.strip() for n in names)[:300]}; "
            "other names can be mapped with the columns setting)"
        )
    if unknown and not settings.ignore_unknown_columns:
        return columns, (
            f"unknown column {', '.join(repr(u) for u in unknown)[:300]} (batch columns: {', '.join(INBOUND_COLUMNS)}; "
            "map other names with the columns setting, or set ignore_unknown_columns)"
        )
    return columns, None


def _row_hash(values: dict[str, str], at: datetime) -> bytes:
    """What makes two rows the same update, whatever file they came in: the ids, the status (any case), the
    time and the text. Not the update id: some systems number rows afresh in every export."""
    key = [
        values.get("service_request_id", ""),
        values.get("external_id", ""),
        values.get("status", "").casefold(),
        at.isoformat(),
        values.get("description", ""),
        values.get("media_url", ""),
    ]
    return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode("utf-8")).digest()


def _check(values: dict[str, str]) -> str | None:
    if any("\x00" in v for v in values.values()):
        return "a cell contains a NUL character"
    if not values.get("service_request_id") and not values.get("external_id"):
        return "missing id: neither service_request_id nor external_id is set"
    for column, limit in (
        ("service_request_id", MAX_ID),
        ("external_id", MAX_ID),
        ("update_id", MAX_UPDATE_ID),
        ("status", MAX_STATUS),
        ("description", MAX_DESCRIPTION),
        ("media_url", 2000),
    ):
        if len(values.get(column, "")) > limit:
            return f"{column} is longer than {limit} characters"
    if not values.get("status") and not values.get("description"):
        return "no status and no description: nothing to apply"
    media = values.get("media_url", "")
    if media and not media.lower().startswith(("http://", "https://")):
        return f"media_url is not an http(s) URL: {media[:100]!r}"
    return None


def read_updates(
    content: bytes, settings: BatchSettings, now: datetime, state: SourceState, file: str = ""
) -> FileResult:
    """The updates of one status-update file (``file``: its path in the inbox) not already in ``state`` (which
    learns them), and its bad rows."""
    result = FileResult()

    def refuse(line: int, reason: str) -> FileResult:
        result.unreadable = True
        result.rejects.append(Reject(line, reason))
        return result

    try:
        text = content.decode(settings.encoding)
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        return refuse(line, f"not {settings.encoding} text (byte {exc.start}); set the encoding setting, e.g. cp1252")
    if not text.strip():
        return refuse(1, "empty file: no header")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        names = next(reader)
    except csv.Error as exc:
        return refuse(1, f"unreadable header: {exc}")
    columns, problem = _header(names, settings)
    if problem:
        return refuse(1, problem)

    start = reader.line_num + 1
    while True:
        line = start
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.rejects.append(Reject(line, f"unreadable CSV: {exc}"))
            if reader.line_num < line:  # the reader cannot go on
                break
            start = reader.line_num + 1
            continue
        start = reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue  # a blank line, or a spreadsheet's row of empty cells
        raw = _row_text(cells)
        if len(cells) > len(columns):
            if any(c.strip() for c in cells[len(columns) :]):
                result.rejects.append(
                    Reject(line, f"unknown columns: the row has {len(cells)} cells, the header {len(columns)}", raw)
                )
                continue
            cells = cells[: len(columns)]
        if len(cells) < len(columns):
            result.rejects.append(
                Reject(line, f"missing cells: the row has {len(cells)} cells, the header {len(columns)}", raw)
            )
            continue
        values: dict[str, str] = {}
        reason = None
        for column, name, cell in zip(columns, names, cells, strict=True):
            if column is not None:  # a value we wrote with a protecting apostrophe comes back as it was
                values[column] = restore(cell.strip())
            elif not normalise_header(name) and cell.strip():
                reason = "a value under a column with no name in the header"
        reason = reason or _check(values)
        if reason is None:
            try:
                at = parse_when(values.get("updated_datetime", ""), settings.timezone)
            except ValueError as exc:
                reason = f"bad updated_datetime: {exc}"
            else:
                if at > now + FUTURE_SLACK:
                    reason = f"updated_datetime {at.isoformat()} is in the future"
        if reason is not None:
            result.rejects.append(Reject(line, reason, raw))
            continue
        digest = _row_hash(values, at)
        if not state.take(base64.urlsafe_b64encode(digest[:8]).decode().rstrip("="), int(at.timestamp())):
            continue  # seen before: an overlapping window, or the same row twice
        result.updates.append(
            InboundUpdate(
                update_id=values.get("update_id") or f"batch-{digest.hex()[:32]}",
                status=values.get("status", ""),
                at=at,
                service_request_id=values.get("service_request_id") or None,
                external_id=values.get("external_id") or None,
                description=values.get("description", ""),
                media_url=values.get("media_url") or None,
                origin=Origin(file, line, raw),
            )
        )
    return result


def render_rejects(file: str, rejects: list[Reject]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(QUARANTINE_COLUMNS)
    for reject in rejects:
        writer.writerow(neutralise_row([file, reject.line, reject.reason, reject.row]))
    return out.getvalue().encode("utf-8")


class BatchPoller:
    """The batch connector's :class:`~civicswitch.hub.connectors.Poller`.

    Each poll: fetches new files over SFTP (where configured) into ``inbox_dir``; archives the files the given
    cursor says were read (the caller stored that cursor, so their updates are applied); reads up to
    ``max_files_per_poll`` new ``*.csv`` files (older than ``settle_s``; hidden and temporary names skipped) from
    ``inbox_dir`` and its sub-folders (one source each); returns their new rows, oldest ``updated_datetime``
    first, and the new cursor. Rows already handed over (by row hash, see :mod:`.cursor`) are dropped. Bad rows go
    to ``<quarantine_dir>/<file>.<digest>.rejects.csv`` (columns ``file, line, reason, row``) and the good rows
    of the file still come through; a file that cannot be read at all (wrong encoding, bad header) is moved to
    ``quarantine_dir`` whole, with such a rejects file beside it.

    The caller stores the returned cursor only together with applying the updates (the worker does both in one
    unit of work): a poll given an older cursor reads the not-yet-archived files again. Polls of one connector
    take a lock, so two workers never read the same inbox at once.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._rejects: dict[str, list[Problem]] = {}

    async def poll(self, connector: Connector, cursor: str | None) -> tuple[Sequence[InboundUpdate], str | None]:
        settings = BatchSettings.of(connector.config)
        state = Cursor.decode(cursor)
        if settings.sftp is not None and settings.sftp.remote_inbox is not None:
            if not settings.inbox_dir.is_dir():
                raise FileNotFoundError(2, "the inbox folder (inbox_dir) does not exist", str(settings.inbox_dir))
            await sftp.fetch_inbox(settings.sftp, settings.inbox_dir, settings.settle_s)
        rejects: list[Problem] = []
        found = await asyncio.to_thread(self._poll, settings, state, self._clock.now(), rejects)
        self._rejects.setdefault(connector.code, []).extend(rejects)
        return found

    def take_rejects(self, connector: Connector) -> list[Problem]:
        """The rows quarantined by the polls of ``connector`` since the last call (for its health)."""
        return self._rejects.pop(connector.code, [])

    async def quarantine(self, connector: Connector, refused: Sequence[tuple[InboundUpdate, str]]) -> list[str]:
        """Rows the hub refused after reading them (no such request, a status the connector's map does not
        know): written to ``<quarantine_dir>/<file>.<digest>.rejects.csv`` like bad rows (file, line, reason,
        row). Returns the files written."""
        settings = BatchSettings.of(connector.config)
        by_file: dict[str, list[Reject]] = {}
        for update, reason in refused:
            if update.origin is not None:
                by_file.setdefault(update.origin.file, []).append(
                    Reject(update.origin.line, f"refused: {reason}", update.origin.row)
                )
        return await asyncio.to_thread(self._write_refused, settings, by_file)

    @staticmethod
    def _write_refused(settings: BatchSettings, by_file: dict[str, list[Reject]]) -> list[str]:
        written = []
        for rel, rejects in by_file.items():
            content = render_rejects(rel, sorted(rejects, key=lambda r: r.line))
            target = settings.quarantine_dir / Path(rel).parent / f"{Path(rel).name}.{file_digest(content)}.rejects.csv"
            make_dirs(target.parent)
            atomic_write(target, content)
            written.append(str(target))
            log.warning("batch: %s: %d row(s) refused by the hub, quarantined in %s", rel, len(rejects), target)
        return written

    def _poll(
        self, settings: BatchSettings, state: Cursor, now: datetime, problems: list[Problem]
    ) -> tuple[list[InboundUpdate], str]:
        if not settings.inbox_dir.is_dir():
            raise FileNotFoundError(2, "the inbox folder (inbox_dir) does not exist", str(settings.inbox_dir))
        make_dirs(settings.archive_dir)
        make_dirs(settings.quarantine_dir)
        with locked(settings.archive_dir / ".poll.lock"):
            done = set(state.done)
            read: list[str] = []
            found: list[InboundUpdate] = []
            for source, rel, path in self._files(settings):
                try:
                    content = path.read_bytes()
                except OSError as exc:
                    log.warning("batch: cannot read %s: %s", path, exc)
                    continue
                digest = file_digest(content)
                if digest in done:
                    self._put_away(path, settings.archive_dir / rel, digest)
                    continue
                if len(read) >= settings.max_files_per_poll:
                    continue
                result = read_updates(content, settings, now, state.source(source), rel)
                if result.rejects:
                    name = f"{Path(rel).name}.{digest}.rejects.csv"
                    target = settings.quarantine_dir / Path(rel).parent / name
                    make_dirs(target.parent)
                    atomic_write(target, render_rejects(rel, result.rejects))
                    problems.extend(
                        Problem(ProblemKind.QUARANTINED, now, r.reason, rel, r.line) for r in result.rejects
                    )
                    log.warning(
                        "batch: %s: %d row(s) quarantined%s",
                        rel,
                        len(result.rejects),
                        " (the whole file)" if result.unreadable else "",
                    )
                if result.unreadable:
                    self._put_away(path, settings.quarantine_dir / rel, digest)
                    continue
                if digest not in read:
                    read.append(digest)
                found.extend(result.updates)
            state.done = read
            text = state.encode(settings.dedupe_window_s)
        found.sort(key=lambda u: u.at)  # stable: same time → file order
        return found, text

    @staticmethod
    def _files(settings: BatchSettings) -> list[tuple[str, str, Path]]:
        """(source, path relative to the inbox, path) of each file ready to read, in name order per source."""
        inbox = settings.inbox_dir
        ours = {settings.archive_dir, settings.quarantine_dir, settings.staging_dir, settings.outbox_dir}
        folders: list[tuple[str, Path]] = [(".", inbox)]
        for sub in sorted(inbox.iterdir()):
            if sub.is_dir() and not sub.name.startswith(".") and sub not in ours:
                if len(sub.name) > MAX_SOURCE_NAME:
                    log.warning("batch: folder %s skipped: a source (folder) name has at most 64 characters", sub)
                    continue
                folders.append((sub.name, sub))
        settled = time.time() - settings.settle_s
        found = []
        for source, folder in folders:
            for path in sorted(folder.iterdir()):
                if path.name.startswith(".") or not path.name.lower().endswith(".csv") or not path.is_file():
                    continue
                try:
                    if path.stat().st_mtime > settled:
                        continue  # maybe still being written
                except OSError:
                    continue
                found.append((source, path.name if source == "." else f"{source}/{path.name}", path))
        return found

    @staticmethod
    def _put_away(path: Path, target: Path, digest: str) -> None:
        """Move a read file to the archive (or quarantine); a different file already there keeps its name."""
        if target.exists():
            if file_digest(target.read_bytes()) == digest:
                path.unlink()
                return
            target = target.with_name(f"{target.stem}.{digest}{target.suffix}")
        move(path, target)
