"""docs/import.md's worked example (Riverton) runs as written: its export and mapping are read out of the page, and
the page's account of the outcome is checked sentence by sentence."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import Engine

from civicswitch.catalog.loader import load_catalog
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.imports.mapping import parse_mapping
from civicswitch.requests.imports.run import ImportHistory, import_history
from civicswitch.requests.model import Channel, CloseReason, Status
from civicswitch.storage.sql import SqlUnitOfWork

DOC = Path(__file__).resolve().parents[3] / "docs" / "import.md"
CATALOG = {
    "bodies": [{"code": "DPW", "name": "Public Works"}, {"code": "ELEC", "name": "Electric"}],
    "services": [{"code": "pothole", "name": "Pothole", "body": "DPW"},
                 {"code": "streetlight", "name": "Street light out", "body": "ELEC"}],
}  # fmt: skip


def blocks() -> tuple[str, str]:
    """(the export, the mapping): the first fenced block after each of the page's two introductions."""
    text = DOC.read_text(encoding="utf-8")
    example = text.split("### A worked example", 1)[1]
    fenced = re.findall(r"```(?:yaml)?\n(.*?)```", example, flags=re.DOTALL)
    return fenced[0], fenced[1]


def test_docs_example__riverton_export_with_its_mapping__stored_as_the_page_says(
    engine: Engine, tmp_path: Path
) -> None:
    export, mapping_text = blocks()
    path = tmp_path / "riverton-2019-2024.csv.gz"
    path.write_bytes(gzip.compress(export.encode()))
    load_catalog(SqlUnitOfWork(engine), CATALOG)
    mapping = parse_mapping(yaml.safe_load(mapping_text))
    report = import_history(SqlUnitOfWork(engine), ImportHistory([path], mapping, OPERATOR))
    assert (report.read, report.inserted, report.quarantined) == (3, 3, 0)
    with SqlUnitOfWork(engine) as uow:
        got = {r.source_ref: r for r in (uow.requests.get(i) for i in (1, 2, 3)) if r is not None}
        timelines = uow.requests.events([1, 2, 3], public_only=False)
    first, second, third = got["riverton-crm:R-1001"], got["riverton-crm:R-1002"], got["riverton-crm:R-1003"]
    assert (first.status, first.service_code, first.body_code, first.close_reason) == (
        Status.CLOSED, "pothole", "DPW", CloseReason.FIXED,
    )  # fmt: skip
    assert first.requested_at == datetime(2024, 1, 3, 13, 15, tzinfo=UTC)
    assert (first.channel, first.status_notes) == (Channel.PHONE, "Filled")
    assert (second.status, second.service_code, second.address, second.lat, second.areas) == (
        Status.ON_HOLD, "streetlight", "Elm St & 3rd Ave", None, None,
    )  # fmt: skip
    assert (third.status, third.service_code, third.close_reason, third.channel) == (
        Status.CLOSED, "pothole", CloseReason.DUPLICATE, Channel.MOBILE,
    )  # fmt: skip
    assert first.id is not None and second.id is not None
    assert [(e.kind, e.at) for e in timelines[first.id]] == [
        ("submitted", first.requested_at), ("status_changed", datetime(2024, 1, 4, 21, 40, tzinfo=UTC)),
    ]  # fmt: skip
    assert [(e.kind, e.status_to, e.at) for e in timelines[second.id]] == [
        ("submitted", Status.NEW, second.requested_at), ("status_changed", Status.ON_HOLD, second.requested_at),
    ]  # fmt: skip
    again = import_history(SqlUnitOfWork(engine), ImportHistory([path], mapping, OPERATOR))
    assert (again.inserted, again.already_present) == (0, 3)
