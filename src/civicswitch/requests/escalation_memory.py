"""The escalation queue over the in-memory database (a fake of ``escalation_sql.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from civicswitch.requests.escalation import COUNT_LIMIT, EscalationRow, EscalationRows
from civicswitch.requests.model import ServiceRequest, Status
from civicswitch.requests.queue import snippet

if TYPE_CHECKING:
    from civicswitch.storage.memory import MemoryDatabase


class MemoryEscalationStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def escalations(
        self, *, min_transfers: int | None, overdue_before: datetime | None, limit: int, offset: int
    ) -> EscalationRows:
        open_ = [r for r in self._db.requests.values() if r.status != Status.CLOSED]
        bounced = [r for r in open_ if min_transfers and r.transfers >= min_transfers]
        bounced.sort(key=lambda r: (-r.transfers, r.requested_at, r.id or 0))
        late = [
            r
            for r in open_
            if overdue_before is not None
            and r.expected_at is not None
            and r.expected_at < overdue_before
            and r.status != Status.ON_HOLD
            and not (min_transfers and r.transfers >= min_transfers)
        ]
        late.sort(key=lambda r: (r.requested_at, r.id or 0))
        rows = [self._row(r) for r in [*bounced, *late][offset : offset + limit]]
        return EscalationRows(rows, len(bounced) + min(len(late), COUNT_LIMIT), len(late) > COUNT_LIMIT)

    def _row(self, r: ServiceRequest) -> EscalationRow:
        return EscalationRow(
            id=r.id or 0,
            service_code=r.service_code,
            service_name=self._db.services[r.service_code].name,
            status=r.status,
            body_code=r.body_code,
            address=r.address,
            description=snippet(r.description),
            requested_at=r.requested_at,
            expected_at=r.expected_at,
            transfers=r.transfers,
        )
