"""The staff queue in SQL: one query for the page, one for the counts per status; the scope is part of the WHERE."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, String, and_, cast, false, func, or_, select, true

from civicswitch.catalog.tables import bodies, services
from civicswitch.requests.model import Status
from civicswitch.requests.queue import QueueFilter, QueuePage, QueueRow, QueueScope, SlaFilter, Sort, snippet
from civicswitch.requests.tables import service_requests as sr


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _area(layer: str, key: str) -> ColumnElement[bool]:
    found: ColumnElement[bool] = sr.c.areas[layer].as_string() == key
    return found


_JOINED = sr.join(services, services.c.id == sr.c.service_id).outerjoin(bodies, bodies.c.id == sr.c.body_id)


class SqlQueueStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _where(self, scope: QueueScope, query: QueueFilter, *, statuses: bool) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if not scope.everything:
            reach: list[ColumnElement[bool]] = []
            if scope.bodies:
                reach.append(bodies.c.code.in_(sorted(scope.bodies)))
            if scope.org:
                reach.append(sr.c.assigned_org == scope.org)
            reach.extend(_area(layer, key) for layer, key in sorted(scope.areas))
            where.append(or_(*reach) if reach else false())
        if statuses:
            where.append(sr.c.status.in_([str(s) for s in query.statuses]))
        if query.service_code:
            where.append(services.c.code == query.service_code)
        if query.body_code:
            where.append(bodies.c.code == query.body_code)
        if query.area is not None:
            where.append(_area(*query.area))
        if query.assignee is not None:
            where.append(sr.c.assignee_user_id == query.assignee)
        if query.unassigned:
            where.append(sr.c.assignee_user_id.is_(None))
        if query.bounced:
            where.append(sr.c.transfers >= 1)
        if query.sla is not None:
            now = query.now
            assert now is not None
            where.append(sr.c.status.notin_([str(Status.ON_HOLD), str(Status.CLOSED)]))
            if query.sla is SlaFilter.OVERDUE:
                where.append(sr.c.expected_at < now)
            else:
                where.append(sr.c.expected_at.between(now, now + query.due_soon))
        text = (query.text or "").strip()
        if text:
            pattern = _like(text)
            match: list[ColumnElement[bool]] = [
                sr.c.description.ilike(pattern, escape="\\"),
                sr.c.address.ilike(pattern, escape="\\"),
            ]
            if text.isdigit() and len(text) <= 18:
                match.append(sr.c.id == int(text))
            else:
                match.append(cast(sr.c.id, String) == text)
            where.append(or_(*match))
        return where

    def page_statement(self, scope: QueueScope, query: QueueFilter) -> Select[Any]:
        """The page's rows (a test reads its plan)."""
        order = {
            Sort.OLDEST: (sr.c.requested_at.asc(), sr.c.id.asc()),
            Sort.NEWEST: (sr.c.requested_at.desc(), sr.c.id.desc()),
            Sort.UPDATED: (sr.c.updated_at.desc(), sr.c.id.desc()),
            Sort.DUE: (sr.c.expected_at.is_(None).asc(), sr.c.expected_at.asc(), sr.c.id.asc()),
        }[query.sort]
        return (
            select(
                sr.c.id,
                services.c.code,
                services.c.name,
                sr.c.status,
                bodies.c.code.label("body_code"),
                sr.c.address,
                func.substr(sr.c.description, 1, 400).label("description"),
                sr.c.requested_at,
                sr.c.updated_at,
                sr.c.expected_at,
                sr.c.assigned_org,
                sr.c.assignee_user_id,
                sr.c.transfers,
                sr.c.closed_at,
            )
            .select_from(_JOINED)
            .where(and_(true(), *self._where(scope, query, statuses=True)))
            .order_by(*order)
            .limit(query.page_size)
            .offset((query.page - 1) * query.page_size)
        )

    def counts_statement(self, scope: QueueScope, query: QueueFilter) -> Select[Any]:
        """The counts per status (every status: the filter's other criteria applied). Every request has a service:
        without a service filter the join is left out, so a department's counts read its index alone."""
        joined = _JOINED if query.service_code else sr.outerjoin(bodies, bodies.c.id == sr.c.body_id)
        return (
            select(sr.c.status, func.count())
            .select_from(joined)
            .where(and_(true(), *self._where(scope, query, statuses=False)))
            .group_by(sr.c.status)
        )

    def queue(self, scope: QueueScope, query: QueueFilter) -> QueuePage:
        rows = [
            QueueRow(
                id=r.id,
                service_code=r.code,
                service_name=r.name,
                status=Status(r.status),
                body_code=r.body_code,
                address=r.address,
                description=snippet(r.description or ""),
                requested_at=r.requested_at,
                updated_at=r.updated_at,
                expected_at=r.expected_at,
                assigned_org=r.assigned_org,
                assignee_user_id=r.assignee_user_id,
                transfers=r.transfers,
                closed_at=r.closed_at,
            )
            for r in self._conn.execute(self.page_statement(scope, query))
        ]
        counts = {Status(status): n for status, n in self._conn.execute(self.counts_statement(scope, query))}
        total = sum(n for status, n in counts.items() if status in query.statuses)
        return QueuePage(rows, total, counts, query.page, query.page_size)
