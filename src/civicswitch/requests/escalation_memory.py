"""The escalation queue over the in-memory database (a fake of ``escalation_sql.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from civicswitch.requests.escalation import EscalationRow
from civicswitch.requests.model import ServiceRequest, Status
from civicswitch.requests.queue import snippet

if TYPE_CHECKING:
    from civicswitch.storage.memory import MemoryDatabase


class MemoryEscalationStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def escalations(
        self, *, min_transfers: int | None, overdue_before: datetime | None, limit: int, offset: int
    ) -> tuple[list[EscalationRow], int]:
        def escalated(r: ServiceRequest) -> bool:
            if r.status == Status.CLOSED:
                return False
            bounced = bool(min_transfers) and r.transfers >= (min_transfers or 0)
            late = (
                overdue_before is not None
                and r.expected_at is not None
                and r.expected_at < overdue_before
                and r.status != Status.ON_HOLD
            )
            return bounced or late

        found = [r for r in self._db.requests.values() if escalated(r)]
        found.sort(key=lambda r: (-r.transfers, r.expected_at is None, r.expected_at or r.requested_at, r.id or 0))
        rows = [
            EscalationRow(
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
            for r in found[offset : offset + limit]
        ]
        return rows, len(found)
