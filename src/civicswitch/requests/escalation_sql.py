"""The escalation queue in SQL. The bounced requests are a range of ``ix_service_requests_transfers`` (few, and
read whole); the overdue ones a walk of the open requests in filing order (``ix_service_requests_public_requested``)
that stops when the page is full, and their count stops at ``COUNT_LIMIT``: there is no index on the due date, so
neither sorts nor counts every open request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, select

from civicswitch.catalog.tables import bodies, services
from civicswitch.requests.escalation import COUNT_LIMIT, EscalationRow, EscalationRows
from civicswitch.requests.model import Status
from civicswitch.requests.queue import snippet
from civicswitch.requests.tables import service_requests as sr

_JOINED = sr.join(services, services.c.id == sr.c.service_id).outerjoin(bodies, bodies.c.id == sr.c.body_id)
_COLUMNS = (
    sr.c.id,
    services.c.code,
    services.c.name,
    sr.c.status,
    bodies.c.code.label("body_code"),
    sr.c.address,
    func.substr(sr.c.description, 1, 400).label("description"),
    sr.c.requested_at,
    sr.c.expected_at,
    sr.c.transfers,
)


def _row(r: Any) -> EscalationRow:
    return EscalationRow(
        id=r.id,
        service_code=r.code,
        service_name=r.name,
        status=Status(r.status),
        body_code=r.body_code,
        address=r.address,
        description=snippet(r.description or ""),
        requested_at=r.requested_at,
        expected_at=r.expected_at,
        transfers=r.transfers,
    )


class SqlEscalationStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _page(self, where: ColumnElement[bool], order: tuple[Any, ...], limit: int, offset: int) -> list[EscalationRow]:
        stmt: Select[Any] = (
            select(*_COLUMNS).select_from(_JOINED).where(where).order_by(*order).limit(limit).offset(offset)
        )
        return [_row(r) for r in self._conn.execute(stmt)]

    def _count(self, where: ColumnElement[bool], cap: int | None = None) -> int:
        inner = select(sr.c.id).where(where)
        if cap is not None:
            inner = inner.limit(cap)
        return int(self._conn.execute(select(func.count()).select_from(inner.subquery())).scalar_one())

    def escalations(
        self, *, min_transfers: int | None, overdue_before: datetime | None, limit: int, offset: int
    ) -> EscalationRows:
        rows: list[EscalationRow] = []
        bounced_total = 0
        if min_transfers:
            # not closed by its status (no index), so the planner takes the transfers index, not the open requests
            bounced = and_(sr.c.transfers >= min_transfers, sr.c.status != str(Status.CLOSED))
            bounced_total = self._count(bounced)
            if offset < bounced_total:
                order = (sr.c.transfers.desc(), sr.c.requested_at.asc(), sr.c.id.asc())
                rows = self._page(bounced, order, limit, offset)
        late_total, more = 0, False
        if overdue_before is not None:
            late = and_(
                sr.c.public_status == "open",
                sr.c.expected_at < overdue_before,
                sr.c.status != str(Status.ON_HOLD),
                *([sr.c.transfers < min_transfers] if min_transfers else []),
            )
            if len(rows) < limit:
                by_filing = (sr.c.requested_at.asc(), sr.c.id.asc())
                rows += self._page(late, by_filing, limit - len(rows), max(0, offset - bounced_total))
            late_total = self._count(late, COUNT_LIMIT + 1)
            more = late_total > COUNT_LIMIT
        return EscalationRows(rows, bounced_total + min(late_total, COUNT_LIMIT), more)
