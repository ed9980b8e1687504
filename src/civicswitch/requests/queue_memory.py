"""The staff queue over the in-memory database (a fake of ``queue_sql.py``)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from civicswitch.requests.model import ServiceRequest, Status
from civicswitch.requests.queue import (
    QueueFilter,
    QueuePage,
    QueueRow,
    QueueScope,
    SlaFilter,
    Sort,
    snippet,
    total_of,
)
from civicswitch.requests.search import matches, words

if TYPE_CHECKING:
    from civicswitch.storage.memory import MemoryDatabase

NEVER = datetime.min.replace(tzinfo=UTC)  # in place of no due date (those come last anyway)


class MemoryQueueStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    @staticmethod
    def _in_scope(r: ServiceRequest, scope: QueueScope) -> bool:
        areas = r.areas or {}
        return (
            scope.everything
            or (r.body_code is not None and r.body_code in scope.bodies)
            or (scope.org is not None and r.assigned_org == scope.org)
            or any(areas.get(layer) == key for layer, key in scope.areas)
        )

    @staticmethod
    def _matches(r: ServiceRequest, query: QueueFilter) -> bool:
        if query.service_code and r.service_code != query.service_code:
            return False
        if query.body_code and r.body_code != query.body_code:
            return False
        if query.area is not None and (r.areas or {}).get(query.area[0]) != query.area[1]:
            return False
        if query.assignee is not None and r.assignee_user_id != query.assignee:
            return False
        if query.unassigned and r.assignee_user_id is not None:
            return False
        if query.bounced and r.transfers < 1:
            return False
        if query.filed_by is not None and r.filed_by_user_id != query.filed_by:
            return False
        if query.sla is not None:
            now, due = query.now, r.expected_at
            assert now is not None
            if due is None or r.status in (Status.ON_HOLD, Status.CLOSED):
                return False
            if query.sla is SlaFilter.OVERDUE and not due < now:
                return False
            if query.sla is SlaFilter.DUE_SOON and not now <= due <= now + query.due_soon:
                return False
        text = (query.text or "").strip()
        if text.isascii() and text.isdigit() and len(text) <= 18:
            return r.id == int(text)  # a request number: that request
        if text:  # words (requests/search.py)
            return matches(words(text), r.description, r.address)
        return True

    def queue(self, scope: QueueScope, query: QueueFilter) -> QueuePage:
        found = [r for r in self._db.requests.values() if self._in_scope(r, scope) and self._matches(r, query)]
        cap = query.count_cap  # as the SQL store: each status counted up to one past it
        counts = {status: min(n, cap + 1) for status, n in Counter(r.status for r in found).items()}
        rows = [r for r in found if r.status in query.statuses]

        def ident(r: ServiceRequest) -> int:
            return r.id or 0

        match query.sort:
            case Sort.OLDEST:
                rows.sort(key=lambda r: (r.requested_at, ident(r)))
            case Sort.NEWEST:
                rows.sort(key=lambda r: (r.requested_at, ident(r)), reverse=True)
            case Sort.UPDATED:
                rows.sort(key=lambda r: (r.updated_at or r.requested_at, ident(r)), reverse=True)
            case Sort.DUE:
                # no due date last, by number (as the SQL store's second walk), not by filing time
                rows.sort(key=lambda r: (r.expected_at is None, r.expected_at or NEVER, ident(r)))
        start = (query.page - 1) * query.page_size
        page = [
            QueueRow(
                id=ident(r),
                service_code=r.service_code,
                service_name=self._db.services[r.service_code].name,
                status=r.status,
                body_code=r.body_code,
                address=r.address,
                description=snippet(r.description),
                requested_at=r.requested_at,
                updated_at=r.updated_at or r.requested_at,
                expected_at=r.expected_at,
                assigned_org=r.assigned_org,
                assignee_user_id=r.assignee_user_id,
                transfers=r.transfers,
                closed_at=r.closed_at,
            )
            for r in rows[start : start + query.page_size]
        ]
        total, more = total_of(counts, query.statuses, cap)
        return QueuePage(page, total, counts, query.page, query.page_size, more, cap)
