"""The escalation queue in SQL: one query for the page and one for the total. ``transfers >= N`` is a range of
``ix_service_requests_transfers``; the overdue test reads the open requests (``public_status = 'open'``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select

from civicswitch.catalog.tables import bodies, services
from civicswitch.requests.escalation import EscalationRow
from civicswitch.requests.model import Status
from civicswitch.requests.queue import snippet
from civicswitch.requests.tables import service_requests as sr


class SqlEscalationStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def escalations(
        self, *, min_transfers: int | None, overdue_before: datetime | None, limit: int, offset: int
    ) -> tuple[list[EscalationRow], int]:
        reasons: list[ColumnElement[bool]] = []
        if min_transfers:
            reasons.append(sr.c.transfers >= min_transfers)
        if overdue_before is not None:
            reasons.append(
                and_(
                    sr.c.expected_at.is_not(None),
                    sr.c.expected_at < overdue_before,
                    sr.c.status != str(Status.ON_HOLD),
                )
            )
        if not reasons:
            return [], 0
        where = and_(sr.c.public_status == "open", or_(*reasons))
        joined = sr.join(services, services.c.id == sr.c.service_id).outerjoin(bodies, bodies.c.id == sr.c.body_id)
        stmt = (
            select(
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
            .select_from(joined)
            .where(where)
            .order_by(sr.c.transfers.desc(), sr.c.expected_at.is_(None).asc(), sr.c.expected_at.asc(), sr.c.id.asc())
            .limit(limit)
            .offset(offset)
        )
        rows = [
            EscalationRow(
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
            for r in self._conn.execute(stmt)
        ]
        total = int(self._conn.execute(select(func.count()).select_from(sr).where(where)).scalar_one())
        return rows, total
