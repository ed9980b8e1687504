"""The import of a city's history (``civicswitch import``): files read through a mapping, in batches; each batch
converted, routed to the areas of every loaded layer and written in its own transaction.

* **Idempotent**: a request's reference is ``source:id`` (the source's own id), unique in the store. A batch's
  records already stored (an earlier import of the same or an overlapping file, or a repeat in this one) are skipped
  and counted; so re-running an import after a crash picks up where it stopped, changing nothing it had written.
* **No partial row**: a record that cannot be a request (no id, a date in no known format, an unknown service, no
  place…) is written to the quarantine file with its file, line and reason, and the rest go on.
* **Routing**: each request gets the area of every layer that holds its point, as the layers stood when it was
  filed (a layer's versions, ``valid_from``/``valid_to``): a 2021 request is not given a ward of the 2023 map.
* **Dry run**: everything but the writes; the report says what would happen.
* **Two things at once**: the batches are written on a thread of their own while the next one is read, converted
  and routed (:class:`_Writer`).
"""

from __future__ import annotations

import bisect
import csv
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

import orjson

from civicswitch.catalog.areas import Area
from civicswitch.catalog.model import Service
from civicswitch.core.errors import Invalid
from civicswitch.people.policy import Action, Principal, authorize
from civicswitch.requests.imports.convert import Converter, Known, Refused, counted
from civicswitch.requests.imports.mapping import ImportMapping
from civicswitch.requests.imports.readers import Source, open_csv, open_json
from civicswitch.requests.model import ServiceRequest
from civicswitch.routing.geography import AreaIndex

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)

BATCH = 5000
QUARANTINE_HEADER = ("file", "line", "reason", "record")


@dataclass(frozen=True, slots=True)
class ImportHistory:
    files: Sequence[Path]
    mapping: ImportMapping
    who: Principal
    dry_run: bool = False
    quarantine: Path | None = None  # where refused records go (CSV); None: nowhere (they are only counted)
    batch: int = BATCH


@dataclass
class ImportReport:
    read: int = 0
    inserted: int = 0  # with a dry run: would be inserted
    already_present: int = 0
    quarantined: int = 0
    routed: int = 0  # requests given at least one area
    services_created: list[str] = field(default_factory=list)
    notes: list[tuple[str, int]] = field(default_factory=list)  # what was decided without refusing, how often
    reasons: list[tuple[str, int]] = field(default_factory=list)  # why records were quarantined, how often
    absent_columns: dict[str, list[str]] = field(default_factory=dict)  # file → mapped columns it does not have
    dry_run: bool = False


Progress = Callable[[Path, int, int, int], None]  # file, records read so far, bytes read, bytes in all


class _Routes:
    """Point → areas as the layers stood at the request's time: one :class:`AreaIndex` per span between two
    changes of any layer (built when first needed)."""

    def __init__(self, areas: Sequence[Area]) -> None:
        self._areas = areas
        changes = {a.valid_from for a in areas if a.valid_from is not None}
        changes |= {a.valid_to for a in areas if a.valid_to is not None}
        self._changes = sorted(changes)
        self._indexes: dict[int, AreaIndex] = {}

    @property
    def empty(self) -> bool:
        return not self._areas

    def _index(self, span: int) -> AreaIndex:
        found = self._indexes.get(span)
        if found is None:
            if not self._changes:
                found = AreaIndex(self._areas)  # no layer has versions: the areas as they are
            elif span == 0:  # before any layer's first change
                found = AreaIndex(self._areas, at=self._changes[0] - timedelta(microseconds=1))
            else:  # nothing changes between one change and the next
                found = AreaIndex(self._areas, at=self._changes[span - 1])
            self._indexes[span] = found
        return found

    def route(self, requests: Sequence[ServiceRequest]) -> int:
        """Set each located request's ``areas``; how many got at least one."""
        if not self._areas:
            return 0
        spans: dict[int, list[ServiceRequest]] = {}
        for r in requests:
            if r.lat is not None:
                spans.setdefault(bisect.bisect_right(self._changes, r.requested_at), []).append(r)
        routed = 0
        for span, group in spans.items():
            index = self._index(span)
            if not index.layers:
                continue
            found = index.locate_keys([r.lat for r in group], [r.long for r in group])  # type: ignore[misc]
            for i, r in enumerate(group):
                areas = {layer: keys[i] for layer, keys in found.items() if keys[i]}
                if areas:
                    r.areas = areas
                    routed += 1
        return routed


_DATES = ("requested_at", "closed_at", "updated_at", "expected_at")


def _kind(reason: str) -> str:
    """The report's line for a reason: one per unknown service, one per date field, else the reason itself."""
    head = reason.split(":", 1)[0]
    if head in _DATES:
        return f"{head}: not a date in the mapping's formats"
    if head.startswith("unknown service"):
        return head
    return reason


class _Quarantine:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None
        self.reasons: Counter[str] = Counter()

    def add(self, file: Path, line: int, reason: str, record: Sequence[str], header: Sequence[str]) -> None:
        key = _kind(reason)
        self.reasons[key] += 1
        log.info("import: %s line %d quarantined: %s", file.name, line, reason)
        if self.path is None:
            return
        if self._writer is None:
            self._file = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.DictWriter(self._file, QUARANTINE_HEADER)
            self._writer.writeheader()
        text = orjson.dumps(dict(zip(header, record, strict=False))).decode()
        self._writer.writerow({"file": str(file), "line": line, "reason": reason, "record": text})

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _Writer:
    """Writes the batches. On PostgreSQL on a thread of its own, beside the reading: while one batch is written,
    the next is read, converted and routed, so the database and the conversion each keep a core busy; at most one
    batch is being written while one more is made, so memory stays two batches. Each batch is its own transaction;
    a dry run only reads (which references are stored), remembering the ones it would have written."""

    def __init__(self, uow: UnitOfWork, dry_run: bool) -> None:
        self._uow = uow
        self._dry_run = dry_run
        # Only where the database works in its own process: SQLite writes in this one, and a thread beside the
        # conversion would only fight it for Python's lock (bench/README.md, "Importing history").
        self._pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") if uow.writes_elsewhere else None
        )
        self._pending: Future[tuple[int, int]] | None = None
        self._seen: set[int] = set()  # a dry run's references so far (hashes): the store cannot tell them
        self.inserted = 0
        self.present = 0

    def submit(self, requests: list[ServiceRequest], services: list[Service]) -> None:
        self.wait()
        if self._pool is None:
            fresh, present = self._write(requests, services)
            self.inserted += fresh
            self.present += present
            return
        self._pending = self._pool.submit(self._write, requests, services)

    def wait(self) -> None:
        """Wait for the batch being written; its error, if any, is raised here."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            fresh, present = pending.result()
            self.inserted += fresh
            self.present += present

    def close(self) -> None:
        """Let the batch being written finish (committed or not), whatever stopped the import."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _write(self, requests: list[ServiceRequest], services: list[Service]) -> tuple[int, int]:
        refs = [r.source_ref or "" for r in requests]
        uow = self._uow
        if self._dry_run:
            with uow:
                present = uow.requests.source_refs(refs)
            fresh = [r for r in requests if r.source_ref not in present and hash(r.source_ref) not in self._seen]
            self._seen.update(hash(r.source_ref) for r in fresh)
            return len(fresh), len(requests) - len(fresh)
        with uow:
            for service in services:
                uow.catalog.add_service(service)
            present = uow.requests.source_refs(refs)
            fresh = [r for r in requests if r.source_ref not in present]
            uow.requests.add_many(fresh)
            uow.commit()
        return len(fresh), len(requests) - len(fresh)


def _source(path: Path, mapping: ImportMapping) -> Source:
    if mapping.format == "open311":
        return open_json(path, [*mapping.columns.required(), *mapping.columns.optional()])
    return open_csv(path, delimiter=mapping.delimiter, encoding=mapping.encoding)


def _batches(records: Iterable[tuple[int, list[str]]], size: int) -> Iterable[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_history(uow: UnitOfWork, cmd: ImportHistory, progress: Progress | None = None) -> ImportReport:
    """Import the files (module docstring). Raises :class:`Invalid` before writing anything for a file that cannot
    be read at all (no such file, no header, a header without the mapping's id, service and opening-date columns)."""
    authorize(cmd.who, Action.REQUEST_IMPORT)
    if not cmd.files:
        raise Invalid("name at least one file to import", field="file")
    if cmd.batch < 1:
        raise Invalid("the batch size is at least 1", field="batch")
    for path in cmd.files:
        if not path.is_file():
            raise Invalid(f"{path}: no such file", field="file")
    with uow:
        known = Known.of(uow.catalog.services(include_inactive=True), [(b.code, b.name) for b in uow.catalog.bodies()])
        routes = _Routes(uow.catalog.areas())
    for path in cmd.files:  # every file's header first: a file that cannot be read stops the import before any write
        source = _source(path, cmd.mapping)
        try:
            Converter(cmd.mapping, source.header, Known.of([], []))
        except Invalid as exc:
            raise Invalid(f"{path}: {exc.description}", field="file") from None
        finally:
            source.close()
    report = ImportReport(dry_run=cmd.dry_run)
    quarantine = _Quarantine(cmd.quarantine)
    notes: Counter[str] = Counter()
    submitted = set(known.services)  # services the writer has been given (or the catalog had)
    writer = _Writer(uow, cmd.dry_run)
    try:
        for path in cmd.files:
            source = _source(path, cmd.mapping)
            try:
                try:
                    converter = Converter(cmd.mapping, source.header, known)
                except Invalid as exc:
                    raise Invalid(f"{path}: {exc.description}", field="file") from None
                if converter.absent:
                    report.absent_columns[str(path)] = converter.absent
                for batch in _batches(source.records, cmd.batch):
                    requests: list[ServiceRequest] = []
                    in_batch: set[str] = set()
                    for line, record in batch:
                        report.read += 1
                        try:
                            request = converter.convert(record)
                        except Refused as refused:
                            report.quarantined += 1
                            quarantine.add(path, line, refused.reason, record, source.header)
                            continue
                        ref = request.source_ref or ""
                        if ref in in_batch:
                            report.already_present += 1
                            continue
                        in_batch.add(ref)
                        requests.append(request)
                    report.routed += routes.route(requests)
                    new_services = [s for code, s in known.created.items() if code not in submitted]
                    submitted.update(s.code for s in new_services)
                    writer.submit(requests, new_services)
                    if progress is not None:
                        progress(path, report.read, source.position, source.size)
                notes.update(converter.notes)
            finally:
                source.close()
        writer.wait()
    finally:
        writer.close()
        quarantine.close()
    report.inserted = writer.inserted
    report.already_present += writer.present
    report.services_created = sorted(known.created)
    report.notes = counted(notes)
    report.reasons = counted(quarantine.reasons)
    log.info("import of %s (%s): %d read, %d inserted, %d already present, %d quarantined%s",
             ", ".join(p.name for p in cmd.files), cmd.mapping.source, report.read, report.inserted,
             report.already_present, report.quarantined, " (dry run)" if cmd.dry_run else "")  # fmt: skip
    return report
