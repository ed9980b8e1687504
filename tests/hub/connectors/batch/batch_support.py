"""Helpers of the batch connector tests: messages shaped like the outbox writes them, CSV reading."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from civicswitch.hub.model import MessageType, OutboundMessage

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def message(n: int, *, type_: MessageType = MessageType.CREATED, **data: Any) -> OutboundMessage:
    """A message as the outbox writes it (CloudEvents envelope, the request in ``data``)."""
    body: dict[str, Any] = {
        "service_request_id": str(1000 + n),
        "service_code": "streetlight",
        "status": "new",
        "external_status": "OPEN",
        "description": f"Street light out at pole {n}",
        "lat": 42.2715,
        "long": -71.0772,
        "address": "INTERSECTION of Groveland St & River St  Mattapan  MA",
        "zipcode": "02126",
        "media_url": None,
        "attributes": {"pole_number": f"P-{n}"},
        "areas": ["ward-17"],
        "agency": "DPW",
        "requested_datetime": "2026-11-28T11:58:00+00:00",
        "expected_datetime": "2026-12-12T11:58:00+00:00",
        "status_notes": None,
        "note": None,
    }
    body.update(data)
    key = f"cs_{n:032x}"
    envelope = {
        "specversion": "1.0",
        "id": key,
        "source": "urn:civicswitch:requests",
        "type": f"gov.civicswitch.request.{type_}",
        "subject": body["service_request_id"],
        "time": "2026-11-28T11:59:30+00:00",
        "datacontenttype": "application/json",
        "data": body,
    }
    return OutboundMessage(n, key, type_, 1000 + n, envelope)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def drop_files(folder: Path) -> list[Path]:
    """What a department's pick-up job would take: top-level *.csv files."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".csv" and not p.name.startswith("."))
