"""Bulk import of historical requests (open-data exports): validated first, then inserted in batches."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from civicswitch.core.errors import Invalid
from civicswitch.core.timefmt import parse_datetime
from civicswitch.requests.model import Channel, CloseReason, Event, ServiceRequest, Status

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

BATCH = 2000
_CHANNELS = {"phone": Channel.PHONE, "online": Channel.WEB, "mobile": Channel.MOBILE, "other": Channel.OTHER}


@dataclass(frozen=True, slots=True)
class ImportResult:
    read: int
    inserted: int
    already_present: int


def _when(row: Mapping[str, str], key: str, line: int) -> datetime | None:
    value = (row.get(key) or "").strip()
    if not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise Invalid(f"line {line}: {key}: {exc}") from None


def request_from_row(
    row: Mapping[str, str], line: int, source: str, services: Mapping[str, str | None]
) -> ServiceRequest:
    """One CSV row in the shipped import format → a request with its historical timeline."""
    code = row.get("service_code", "")
    if code not in services:
        raise Invalid(f"line {line}: unknown service_code {code!r}")
    source_id = (row.get("source_id") or "").strip()
    if not source_id:
        raise Invalid(f"line {line}: source_id is required")
    requested = _when(row, "requested_at", line)
    if requested is None:
        raise Invalid(f"line {line}: requested_at is required")
    try:
        status = Status(row.get("status") or "new")
        reason = CloseReason(row["close_reason"]) if row.get("close_reason") else None
        lat = float(row["lat"]) if row.get("lat") else None
        long = float(row["long"]) if row.get("long") else None
    except ValueError as exc:
        raise Invalid(f"line {line}: {exc}") from None
    closed = _when(row, "closed_at", line)
    updated = _when(row, "updated_at", line) or closed or requested
    attributes: dict[str, str | list[str]] = {}
    for key in ("descriptor", "location_type"):
        if row.get(key):
            attributes[key] = row[key]
    notes = (row.get("status_notes") or "").strip() or None
    try:
        request = ServiceRequest(
            service_code=code,
            requested_at=requested,
            channel=_CHANNELS.get((row.get("channel") or "").lower(), Channel.IMPORT),
            description=(row.get("description") or "")[:4000],
            lat=lat,
            long=long,
            address=(row.get("address") or None) if lat is not None or row.get("address") else "unknown location",
            zipcode=row.get("zipcode") or None,
            attributes=attributes,
            status=status,
            close_reason=reason if status == Status.CLOSED else None,
            status_notes=notes,
            body_code=services[code],
            expected_at=_when(row, "expected_at", line),
            closed_at=closed if status == Status.CLOSED else None,
            updated_at=updated,
            source_ref=f"{source}:{source_id}",
        )
    except Invalid as exc:  # the request's own rules (location, lengths …): name the line that broke them
        raise Invalid(f"line {line}: {exc.description}", field=exc.field) from None
    request.pending_events.append(
        Event(at=request.requested_at, kind="submitted", status_to=Status.NEW, description="Request received")
    )
    if status != Status.NEW:
        request.pending_events.append(
            Event(
                at=updated,
                kind="status_changed",
                status_from=Status.NEW,
                status_to=status,
                close_reason=request.close_reason,
                description=notes or "",
                data={"imported": True},
            )
        )
    return request


def import_requests(uow: UnitOfWork, rows: Iterable[Mapping[str, str]], *, source: str) -> ImportResult:
    """Import rows; rows already imported (same source reference) are skipped. All or nothing."""
    read = inserted = present = 0
    with uow:
        services = {s.code: s.body_code for s in uow.catalog.services(include_inactive=True)}
        batch: list[ServiceRequest] = []
        lines: dict[str | None, int] = {}  # source reference → the line that first gave it

        def flush() -> int:
            refs = [r.source_ref for r in batch if r.source_ref]
            stored = uow.requests.source_refs(refs)
            fresh = [r for r in batch if r.source_ref not in stored]
            uow.requests.add_many(fresh)
            batch.clear()
            return len(fresh)

        for line, row in enumerate(rows, start=2):
            read += 1
            request = request_from_row(row, line, source, services)
            first = lines.setdefault(request.source_ref, line)
            if first != line:
                raise Invalid(f"line {line}: source_id {row['source_id']!r} repeats line {first}")
            batch.append(request)
            if len(batch) >= BATCH:
                size = len(batch)
                added = flush()
                inserted += added
                present += size - added
        if batch:
            size = len(batch)
            added = flush()
            inserted += added
            present += size - added
        uow.commit()
    return ImportResult(read=read, inserted=inserted, already_present=present)


def rows_from_bytes(data: bytes) -> Iterator[dict[str, str]]:
    text = gzip.decompress(data).decode("utf-8") if data[:2] == b"\x1f\x8b" else data.decode("utf-8")
    yield from csv.DictReader(io.StringIO(text))
