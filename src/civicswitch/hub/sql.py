"""SQL implementation of the hub store. Claims are one statement per batch: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (any number of workers), inside the single-writer transaction on SQLite."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.orm import aliased

from civicswitch.catalog.sql import body_id
from civicswitch.catalog.tables import bodies
from civicswitch.core.db import storable, unique_as_conflict
from civicswitch.core.errors import Conflict, NotFound
from civicswitch.hub.model import (
    PROBLEM_RETENTION,
    Connector,
    ConnectorKind,
    DeliveryState,
    MessageType,
    OutboundMessage,
    Problem,
    ProblemKind,
    StatusMap,
)
from civicswitch.hub.tables import (
    connector_problems,
    connectors,
    deliveries,
    external_refs,
    inbound_messages,
    poll_cursors,
)
from civicswitch.hub.views import (
    Claimed,
    DeliveryView,
    HealthCounts,
    ManualEffort,
    NewDelivery,
    ProblemSummary,
    Settlement,
)

d = deliveries
log = logging.getLogger(__name__)
_OPEN = (DeliveryState.PENDING, DeliveryState.RETRYING, DeliveryState.IN_FLIGHT)
LATENCY_WINDOW = timedelta(hours=24)


def _connector(row: Any) -> Connector:
    return Connector(
        code=row.code,
        kind=ConnectorKind(row.kind),
        body_code=row.body_code,
        config=row.config,
        secret=row.secret,
        status_map=StatusMap.from_document(row.status_map),
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        retry_schedule=tuple(row.retry_schedule),
        client_id=row.client_id,
        id=row.id,
    )


# The outbox's statements, run by every write that has something to deliver: built once.
_CONNECTORS = select(connectors, bodies.c.code.label("body_code")).join(bodies, bodies.c.id == connectors.c.body_id)
_CONNECTORS_IN_ORDER = _CONNECTORS.order_by(connectors.c.code)
_INSERT_DELIVERIES = insert(d)


class SqlHubStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._ids: dict[str, int] = {}
        self._connectors: list[Connector] | None = None  # read once per unit of work, until it changes one

    # -- connectors ----------------------------------------------------------------------------------
    def _body_id(self, code: str) -> int:
        return body_id(self._conn, code)

    def _connector_id(self, code: str) -> int:
        if code not in self._ids:
            found = self._conn.execute(select(connectors.c.id).where(connectors.c.code == code)).scalar()
            if found is None:
                raise NotFound(f"connector {code!r} does not exist", field="connector")
            self._ids[code] = int(found)
        return self._ids[code]

    def add_connector(self, connector: Connector, at: datetime) -> Connector:
        self._connectors = None
        values: dict[str, Any] = {
            "code": connector.code,
            "kind": str(connector.kind),
            "body_id": self._body_id(connector.body_code),
            "config": dict(connector.config),
            "status_map": connector.status_map.document(),
            "retry_schedule": list(connector.retry_schedule),
            "enabled": connector.enabled,
            "disabled_reason": connector.disabled_reason,
            "client_id": connector.client_id,
        }
        if connector.secret is not None:
            values["secret"] = connector.secret
        existing = self._conn.execute(select(connectors.c.id).where(connectors.c.code == connector.code)).scalar()
        if existing is None:
            self._conn.execute(insert(connectors).values({**values, "created_at": at}))
        else:
            self._conn.execute(update(connectors).where(connectors.c.id == existing).values(values))
        found = self.connector(connector.code)
        assert found is not None
        return found

    def _connector_query(self) -> Any:
        return _CONNECTORS

    def connectors(self) -> list[Connector]:
        """Every connector, in code order. Read once per unit of work (a write to a connector reads them again):
        filing a request reads them before the writer's turn, so its outbox rows need no read in it."""
        if self._connectors is None:
            self._connectors = [_connector(r) for r in self._conn.execute(_CONNECTORS_IN_ORDER)]
        return list(self._connectors)

    def connector(self, code: str) -> Connector | None:
        if not storable(code):
            return None
        row = self._conn.execute(self._connector_query().where(connectors.c.code == code)).first()
        return None if row is None else _connector(row)

    def set_enabled(self, code: str, enabled: bool, reason: str | None) -> bool:
        self._connectors = None
        result = self._conn.execute(
            update(connectors)
            .where(connectors.c.code == code)
            .values(enabled=enabled, disabled_reason=None if enabled else reason)
        )
        return bool(result.rowcount)

    # -- the outbox ----------------------------------------------------------------------------------
    def enqueue(self, rows: Sequence[NewDelivery]) -> None:
        if not rows:
            return
        body_ids = {code: self._body_id(code) for code in {r.body_code for r in rows}}
        connector_ids = {code: self._connector_id(code) for code in {r.connector_code for r in rows} if code}
        self._conn.execute(
            _INSERT_DELIVERIES,
            [
                {
                    "connector_id": connector_ids[r.connector_code] if r.connector_code else None,
                    "body_id": body_ids[r.body_code],
                    "request_id": r.request_id,
                    "type": str(r.type),
                    "idempotency_key": r.idempotency_key,
                    "payload": r.payload,
                    "state": str(DeliveryState.PENDING),
                    "attempts": 0,
                    "next_attempt_at": r.at,
                    "created_at": r.at,
                }
                for r in rows
            ],
        )

    def claim(self, worker: str, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
        """Due heads of line: pending or retrying rows whose time has come (the partial index
        ``ix_deliveries_waiting``, in due order), then in-flight rows whose worker's lease ran out (it died), with
        no earlier open row for the same request and connector."""
        earlier = aliased(d)
        blocked = exists().where(
            earlier.c.request_id == d.c.request_id,
            earlier.c.connector_id == d.c.connector_id,
            earlier.c.id < d.c.id,
            earlier.c.state.in_([str(s) for s in _OPEN]),
        )
        waiting = d.c.state.in_([str(DeliveryState.PENDING), str(DeliveryState.RETRYING)])
        lapsed = and_(d.c.state == str(DeliveryState.IN_FLIGHT), d.c.claimed_until < now)
        ids: list[int] = []
        for due, order in ((and_(waiting, d.c.next_attempt_at <= now), (d.c.next_attempt_at, d.c.id)),
                           (lapsed, (d.c.claimed_until, d.c.id))):  # fmt: skip
            if len(ids) >= limit:
                break
            pick = (
                select(d.c.id)
                .join(connectors, connectors.c.id == d.c.connector_id)
                .where(due, connectors.c.enabled.is_(True), ~blocked)
                .order_by(*order)
                .limit(limit - len(ids))
            )
            if self._conn.dialect.name == "postgresql":
                pick = pick.with_for_update(of=d, skip_locked=True)
            ids.extend(self._conn.execute(pick).scalars())
        if not ids:
            return []
        self._conn.execute(  # the attempt counts from the claim: a worker killed mid-send still used one
            update(d)
            .where(d.c.id.in_(ids))
            .values(
                state=str(DeliveryState.IN_FLIGHT),
                claimed_by=worker,
                claimed_until=now + lease,
                attempts=d.c.attempts + 1,
            )
        )
        rows = self._conn.execute(
            select(d, connectors.c.code.label("connector_code"), external_refs.c.external_id.label("ref"))
            .join(connectors, connectors.c.id == d.c.connector_id)
            .outerjoin(
                external_refs,
                and_(external_refs.c.request_id == d.c.request_id, external_refs.c.body_id == d.c.body_id),
            )
            .where(d.c.id.in_(ids))
            .order_by(d.c.id)
        )
        claimed: dict[int, Claimed] = {}
        for r in rows:
            claimed.setdefault(
                r.id,
                Claimed(
                    connector_code=r.connector_code,
                    attempts=r.attempts,
                    message=OutboundMessage(
                        delivery_id=r.id,
                        idempotency_key=r.idempotency_key,
                        type=MessageType(r.type),
                        request_id=r.request_id,
                        envelope=r.payload,
                        external_id=r.ref,
                    ),
                ),
            )
        return list(claimed.values())

    def settle(self, results: Sequence[Settlement]) -> None:
        for worker in {s.worker for s in results}:
            self._settle([s for s in results if s.worker == worker], worker)

    def _settle(self, results: Sequence[Settlement], worker: str | None) -> None:
        if not results:
            return
        guard = [] if worker is None else [d.c.claimed_by == worker, d.c.state == str(DeliveryState.IN_FLIGHT)]
        self._conn.execute(
            update(d)
            .where(d.c.id == bindparam("b_id"), *guard)
            .values(
                state=bindparam("b_state"),
                attempts=bindparam("b_attempts"),
                next_attempt_at=func.coalesce(bindparam("b_next", type_=d.c.next_attempt_at.type), d.c.next_attempt_at),
                last_error=bindparam("b_error"),
                last_status=bindparam("b_status"),
                last_attempt_at=bindparam("b_at", type_=d.c.last_attempt_at.type),
                delivered_at=bindparam("b_delivered", type_=d.c.delivered_at.type),
                external_id=func.coalesce(bindparam("b_external", type_=d.c.external_id.type), d.c.external_id),
                claimed_by=None,
                claimed_until=None,
            ),
            [
                {
                    "b_id": s.delivery_id,
                    "b_state": str(s.state),
                    "b_attempts": s.attempts,
                    "b_next": s.next_attempt_at,
                    "b_error": s.last_error,
                    "b_status": s.last_status,
                    "b_at": s.at,
                    "b_delivered": s.at if s.state == DeliveryState.DELIVERED else None,
                    "b_external": s.external_id,
                }
                for s in results
            ],
        )
        for s in results:
            if s.external_id and s.state == DeliveryState.DELIVERED:
                row = self._conn.execute(
                    select(d.c.request_id, d.c.body_id, d.c.connector_id).where(d.c.id == s.delivery_id)
                ).one()
                if row.request_id is None:  # mail about an area: no request to refer to
                    continue
                try:
                    self._add_ref(row.request_id, row.body_id, row.connector_id, s.external_id, s.at)
                except Conflict as exc:  # the receiver reused an id: keep the delivery, not the reference
                    log.warning("delivery %s: reference not kept: %s", s.delivery_id, exc.description)

    # -- reading and replaying -----------------------------------------------------------------------
    def deliveries(
        self,
        *,
        states: Sequence[DeliveryState] | None = None,
        connector: str | None = None,
        body: str | None = None,
        manual: bool | None = None,
        request_id: int | None = None,
        ids: Sequence[int] | None = None,
        limit: int = 100,
        after_id: int = 0,
        keys: Sequence[str] | None = None,
    ) -> list[DeliveryView]:
        query = (
            select(d, connectors.c.code.label("connector_code"), bodies.c.code.label("body_code"))
            .outerjoin(connectors, connectors.c.id == d.c.connector_id)
            .join(bodies, bodies.c.id == d.c.body_id)
        )
        if states is not None:
            query = query.where(d.c.state.in_([str(s) for s in states]))
        if connector is not None:
            query = query.where(connectors.c.code == connector)
        if body is not None:
            query = query.where(bodies.c.code == body)
        if manual is not None:
            query = query.where(d.c.connector_id.is_(None) if manual else d.c.connector_id.is_not(None))
        if request_id is not None:
            query = query.where(d.c.request_id == request_id)
        if ids is not None:
            query = query.where(d.c.id.in_([i for i in ids if 0 < i < 2**31]))
        if keys is not None:
            query = query.where(d.c.idempotency_key.in_([k for k in keys if len(k) <= 64]))
        if after_id:  # the next page of a list by id (the manual bridge's)
            query = query.where(d.c.id > after_id)
        rows = self._conn.execute(query.order_by(d.c.id).limit(limit))
        return [
            DeliveryView(
                id=r.id,
                connector_code=r.connector_code,
                body_code=r.body_code,
                request_id=r.request_id,
                type=r.type,
                idempotency_key=r.idempotency_key,
                state=DeliveryState(r.state),
                attempts=r.attempts,
                next_attempt_at=r.next_attempt_at,
                created_at=r.created_at,
                delivered_at=r.delivered_at,
                last_error=r.last_error,
                last_status=r.last_status,
                external_id=r.external_id,
                effort_minutes=r.effort_minutes,
                done_by=r.done_by,
                payload=r.payload,
                claimed_by=r.claimed_by if r.connector_id is None else None,
                claimed_at=r.claimed_at if r.connector_id is None else None,
                claimed_until=r.claimed_until if r.connector_id is None else None,
            )
            for r in rows
        ]

    def delivery(self, delivery_id: int) -> DeliveryView | None:
        if not 0 < delivery_id < 2**31:
            return None
        found = self.deliveries(ids=[delivery_id], limit=1)  # WHERE id IN (:id): the primary key
        return found[0] if found else None

    def replay(self, ids: Sequence[int] | None, connector: str | None, now: datetime) -> int:
        """Dead deliveries back to pending (attempts reset), due now; the same idempotency key is kept."""
        where = [d.c.state == str(DeliveryState.DEAD), d.c.connector_id.is_not(None)]
        if ids is not None:
            where.append(d.c.id.in_(list(ids)))
        if connector is not None:
            where.append(d.c.connector_id == self._connector_id(connector))
        result = self._conn.execute(
            update(d).where(*where).values(state=str(DeliveryState.PENDING), attempts=0, next_attempt_at=now)
        )
        return int(result.rowcount)

    def complete_manual(self, delivery_id: int, external_id: str | None, minutes: float, by: str, now: datetime) -> int:
        """Close a manual bridge task; returns its request id."""
        row = self._conn.execute(
            select(d.c.request_id, d.c.body_id, d.c.connector_id, d.c.state).where(d.c.id == delivery_id)
        ).first()
        if row is None or row.connector_id is not None:
            raise NotFound(f"manual task {delivery_id} does not exist", field="task")
        if row.state == str(DeliveryState.DELIVERED):
            raise Conflict(f"manual task {delivery_id} is already done")
        self._conn.execute(
            update(d)
            .where(d.c.id == delivery_id)
            .values(
                state=str(DeliveryState.DELIVERED),
                delivered_at=now,
                attempts=d.c.attempts + 1,
                external_id=external_id,
                effort_minutes=minutes,
                done_by=by,
            )
        )
        if external_id:
            self._add_ref(row.request_id, row.body_id, None, external_id, now)
        return int(row.request_id)

    def _manual_row(self, delivery_id: int) -> Any:
        row = self._conn.execute(
            select(d.c.request_id, d.c.connector_id, d.c.state, d.c.claimed_by, d.c.claimed_until).where(
                d.c.id == delivery_id
            )
        ).first()
        if row is None or row.connector_id is not None:
            raise NotFound(f"manual task {delivery_id} does not exist", field="task")
        return row

    def claim_manual(self, delivery_id: int, by: str, now: datetime, until: datetime) -> int:
        row = self._manual_row(delivery_id)
        if row.state not in {str(s) for s in _OPEN}:
            raise Conflict(f"manual task {delivery_id} is no longer open ({row.state})")
        held = row.claimed_by is not None and row.claimed_until is not None and row.claimed_until > now
        if held and row.claimed_by != by:
            raise Conflict(
                f"manual task {delivery_id} is claimed by {row.claimed_by} until {row.claimed_until:%H:%M} UTC"
            )
        # claimed_at stays from the first claim when the holder renews
        mine = held and row.claimed_by == by
        values: dict[str, Any] = {"claimed_by": by, "claimed_until": until}
        if not mine:
            values["claimed_at"] = now
        taken = self._conn.execute(
            update(d)
            .where(
                d.c.id == delivery_id,
                d.c.state == row.state,
                d.c.claimed_by.is_(None) if row.claimed_by is None else d.c.claimed_by == row.claimed_by,
            )
            .values(**values)
        ).rowcount
        if not taken:  # someone else claimed it between our read and write
            raise Conflict(f"manual task {delivery_id} was just claimed by someone else")
        return int(row.request_id)

    def release_manual(self, delivery_id: int, by: str) -> None:
        self._manual_row(delivery_id)
        self._conn.execute(
            update(d)
            .where(d.c.id == delivery_id, d.c.claimed_by == by)
            .values(claimed_by=None, claimed_until=None, claimed_at=None)
        )

    def manual_effort(self, since: datetime) -> list[ManualEffort]:
        query = (
            select(bodies.c.code, func.count(), func.sum(d.c.effort_minutes))
            .select_from(d.join(bodies, bodies.c.id == d.c.body_id))
            .where(
                d.c.connector_id.is_(None),
                d.c.state == str(DeliveryState.DELIVERED),
                d.c.delivered_at >= since,
            )
            .group_by(bodies.c.code)
            .order_by(bodies.c.code)
        )
        return [ManualEffort(code, int(n), float(m or 0.0)) for code, n, m in self._conn.execute(query)]

    def withdraw_manual(
        self, request_id: int, reason: str, at: datetime, *, only: str | None = None, keep: str | None = None
    ) -> int:
        where = [
            d.c.request_id == request_id,
            d.c.connector_id.is_(None),
            d.c.state.in_([str(s) for s in _OPEN]),
        ]
        if only is not None:
            where.append(d.c.body_id == select(bodies.c.id).where(bodies.c.code == only).scalar_subquery())
        if keep is not None:
            where.append(d.c.body_id.not_in(select(bodies.c.id).where(bodies.c.code == keep)))
        result = self._conn.execute(
            update(d)
            .where(*where)
            .values(state=str(DeliveryState.WITHDRAWN), last_error=reason[:2000], last_attempt_at=at)
        )
        return int(result.rowcount)

    # -- problems of the inbound side -----------------------------------------------------------------
    def record_problems(self, connector: str, problems: Sequence[Problem]) -> None:
        if not problems:
            return
        cid = self._connector_id(connector)
        newest = max(p.at for p in problems)
        self._conn.execute(
            delete(connector_problems).where(
                connector_problems.c.connector_id == cid, connector_problems.c.at < newest - PROBLEM_RETENTION
            )
        )
        self._conn.execute(
            insert(connector_problems),
            [
                {
                    "connector_id": cid,
                    "kind": str(p.kind),
                    "at": p.at,
                    "detail": p.detail[:2000],
                    "file": None if p.file is None else p.file[:300],
                    "line": p.line,
                }
                for p in problems
            ],
        )

    def clear_problems(self, connector: str, kind: ProblemKind) -> int:
        cid = self._connector_id(connector)
        result = self._conn.execute(
            delete(connector_problems).where(
                connector_problems.c.connector_id == cid, connector_problems.c.kind == str(kind)
            )
        )
        return int(result.rowcount)

    def problem_summaries(self, since: datetime) -> list[ProblemSummary]:
        p = connector_problems
        groups = self._conn.execute(
            select(
                p.c.connector_id,
                connectors.c.code,
                p.c.kind,
                func.count().label("n"),
                func.min(p.c.at).label("first_at"),
                func.max(p.c.id).label("latest_id"),
            )
            .join(connectors, connectors.c.id == p.c.connector_id)
            .where(p.c.at >= since)
            .group_by(p.c.connector_id, connectors.c.code, p.c.kind)
        ).all()
        if not groups:
            return []
        latest = {r.id: r for r in self._conn.execute(select(p).where(p.c.id.in_([g.latest_id for g in groups])))}
        found = []
        for g in sorted(groups, key=lambda g: (g.code, g.kind)):
            row = latest[g.latest_id]
            problem = Problem(ProblemKind(row.kind), row.at, row.detail, row.file, row.line)
            found.append(ProblemSummary(g.code, ProblemKind(g.kind), int(g.n), g.first_at, problem))
        return found

    # -- external references, inbound bookkeeping --------------------------------------------------------
    def _add_ref(self, request_id: int, body_id: int, connector_id: int | None, external_id: str, at: datetime) -> None:
        existing = self._conn.execute(
            select(external_refs.c.request_id).where(
                external_refs.c.body_id == body_id, external_refs.c.external_id == external_id
            )
        ).scalar()
        if existing is not None:
            if existing != request_id:
                raise Conflict(f"external id {external_id!r} already names request {existing}")
            return
        with unique_as_conflict("external reference"):
            self._conn.execute(
                insert(external_refs).values(
                    request_id=request_id,
                    body_id=body_id,
                    connector_id=connector_id,
                    external_id=external_id,
                    created_at=at,
                )
            )

    def add_external_ref(self, request_id: int, body_code: str, external_id: str, at: datetime) -> None:
        self._add_ref(request_id, self._body_id(body_code), None, external_id, at)

    def external_id(self, request_id: int, body_code: str) -> str | None:
        found = self._conn.execute(
            select(external_refs.c.external_id)
            .join(bodies, bodies.c.id == external_refs.c.body_id)
            .where(external_refs.c.request_id == request_id, bodies.c.code == body_code)
            .order_by(external_refs.c.id)
        ).scalar()
        return None if found is None else str(found)

    def request_for_external(self, body_code: str, external_id: str) -> int | None:
        if not storable(external_id):
            return None
        found = self._conn.execute(
            select(external_refs.c.request_id)
            .join(bodies, bodies.c.id == external_refs.c.body_id)
            .where(bodies.c.code == body_code, external_refs.c.external_id == external_id)
        ).scalar()
        return None if found is None else int(found)

    def seen_message(self, connector: str, message_id: str, now: datetime) -> bool:
        """Record an inbound message id; True when it was seen before (a replay)."""
        cid = self._connector_id(connector)
        found = self._conn.execute(
            select(inbound_messages.c.message_id).where(
                inbound_messages.c.connector_id == cid, inbound_messages.c.message_id == message_id
            )
        ).first()
        if found is not None:
            return True
        with unique_as_conflict(f"message {message_id}"):
            self._conn.execute(
                insert(inbound_messages).values(connector_id=cid, message_id=message_id, received_at=now)
            )
        return False

    def cursor(self, connector: str) -> str | None:
        cid = self._connector_id(connector)
        found = self._conn.execute(select(poll_cursors.c.cursor).where(poll_cursors.c.connector_id == cid)).first()
        return None if found is None else found.cursor

    def set_cursor(self, connector: str, cursor: str | None, now: datetime) -> None:
        cid = self._connector_id(connector)
        done = self._conn.execute(
            update(poll_cursors).where(poll_cursors.c.connector_id == cid).values(cursor=cursor, updated_at=now)
        ).rowcount
        if not done:
            self._conn.execute(insert(poll_cursors).values(connector_id=cid, cursor=cursor, updated_at=now))

    # -- health ----------------------------------------------------------------------------------------
    def health_rows(self, now: datetime) -> list[HealthCounts]:
        key = (connectors.c.code, bodies.c.code)
        base = (
            select(connectors.c.code.label("connector"), bodies.c.code.label("body"))
            .select_from(d)
            .outerjoin(connectors, connectors.c.id == d.c.connector_id)
            .join(bodies, bodies.c.id == d.c.body_id)
        )
        counts: dict[tuple[str | None, str], dict[str, int]] = defaultdict(dict)
        for r in self._conn.execute(base.add_columns(d.c.state, func.count()).group_by(*key, d.c.state)):
            counts[(r.connector, r.body)][r.state] = r[3]
        extra: dict[tuple[str | None, str], Any] = {}
        stats = base.add_columns(
            func.min(d.c.created_at).filter(d.c.state.in_([str(s) for s in _OPEN])).label("oldest"),
            func.max(d.c.delivered_at).label("last_ok"),
            func.sum(d.c.effort_minutes).label("effort"),
        ).group_by(*key)
        for r in self._conn.execute(stats):
            extra[(r.connector, r.body)] = r
        errors: dict[tuple[str | None, str], tuple[datetime | None, str | None]] = {}
        last_error = (  # the latest failed attempt (a withdrawn manual task's note is not an error)
            base.add_columns(d.c.last_error, d.c.last_attempt_at)
            .where(d.c.last_error.is_not(None), d.c.state != str(DeliveryState.WITHDRAWN))
            .order_by(d.c.last_attempt_at.desc(), d.c.id.desc())
        )
        for r in self._conn.execute(last_error.limit(1000)):
            errors.setdefault((r.connector, r.body), (r[3], r.last_error))
        latencies: dict[tuple[str | None, str], list[float]] = defaultdict(list)
        recent = (
            base.add_columns(d.c.created_at, d.c.delivered_at)
            .where(d.c.delivered_at >= now - LATENCY_WINDOW, d.c.connector_id.is_not(None))
            .order_by(d.c.id.desc())
            .limit(20_000)
        )
        for r in self._conn.execute(recent):
            latencies[(r.connector, r.body)].append((r.delivered_at - r.created_at).total_seconds())
        found = []
        for k in sorted(counts, key=lambda k: (k[0] or "", k[1])):
            e = extra[k]
            err_at, err = errors.get(k, (None, None))
            found.append(
                HealthCounts(
                    connector_code=k[0],
                    body_code=k[1],
                    counts=counts[k],
                    oldest_pending_at=e.oldest,
                    latencies_s=latencies.get(k, []),
                    last_success_at=e.last_ok,
                    last_error_at=err_at,
                    last_error=err,
                    effort_minutes=float(e.effort or 0.0),
                )
            )
        return found
