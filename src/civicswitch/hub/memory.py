"""In-memory fake of the hub store: the same behaviour as ``hub/sql.py`` (the contract test says so)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from civicswitch.core.errors import Conflict, Invalid, NotFound
from civicswitch.hub.model import (
    PROBLEM_RETENTION,
    Connector,
    DeliveryState,
    MessageType,
    OutboundMessage,
    Problem,
    ProblemKind,
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

_OPEN = (DeliveryState.PENDING, DeliveryState.RETRYING, DeliveryState.IN_FLIGHT)
LATENCY_WINDOW = timedelta(hours=24)


@dataclass
class _Row:
    id: int
    connector_code: str | None
    body_code: str
    request_id: int | None  # None: mail about an area (people/area_follows)
    type: str
    idempotency_key: str
    payload: dict[str, Any]
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    claimed_until: datetime | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    last_error: str | None = None
    last_status: int | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    external_id: str | None = None
    effort_minutes: float | None = None
    done_by: str | None = None


@dataclass
class HubData:
    connectors: dict[str, Connector] = field(default_factory=dict)
    deliveries: list[_Row] = field(default_factory=list)
    refs: dict[tuple[str, str], int] = field(default_factory=dict)  # (body, external id) → request
    seen: set[tuple[str, str]] = field(default_factory=set)
    cursors: dict[str, str | None] = field(default_factory=dict)
    problems: list[tuple[str, Problem]] = field(default_factory=list)  # (connector, problem), oldest first
    next_id: dict[str, int] = field(default_factory=lambda: defaultdict(lambda: 1))

    def take(self, kind: str) -> int:
        value = self.next_id[kind]
        self.next_id[kind] = value + 1
        return value


class MemoryHubStore:
    def __init__(self, data: HubData, bodies: Container[str]) -> None:
        self._d = data
        self._bodies = bodies

    def _body(self, code: str) -> str:
        if code not in self._bodies:
            raise Invalid(f"unknown body {code!r}", field="body")
        return code

    def _need(self, code: str) -> Connector:
        found = self._d.connectors.get(code)
        if found is None:
            raise NotFound(f"connector {code!r} does not exist", field="connector")
        return found

    def add_connector(self, connector: Connector, at: datetime) -> Connector:
        self._body(connector.body_code)
        existing = self._d.connectors.get(connector.code)
        secret = connector.secret if connector.secret is not None else (existing.secret if existing else None)
        stored = dataclasses.replace(
            connector, secret=secret, id=existing.id if existing else self._d.take("connector")
        )
        self._d.connectors[connector.code] = stored
        return stored

    def connectors(self) -> list[Connector]:
        return [self._d.connectors[k] for k in sorted(self._d.connectors)]

    def connector(self, code: str) -> Connector | None:
        return self._d.connectors.get(code)

    def set_enabled(self, code: str, enabled: bool, reason: str | None) -> bool:
        found = self._d.connectors.get(code)
        if found is None:
            return False
        self._d.connectors[code] = dataclasses.replace(
            found, enabled=enabled, disabled_reason=None if enabled else reason
        )
        return True

    def enqueue(self, rows: Sequence[NewDelivery]) -> None:
        keys = {r.idempotency_key for r in self._d.deliveries}
        for r in rows:
            self._body(r.body_code)
            if r.connector_code is not None:
                self._need(r.connector_code)
            if r.idempotency_key in keys:
                raise Conflict(f"delivery {r.idempotency_key} already stored")
            keys.add(r.idempotency_key)
            self._d.deliveries.append(
                _Row(
                    self._d.take("delivery"),
                    r.connector_code,
                    r.body_code,
                    r.request_id,
                    str(r.type),
                    r.idempotency_key,
                    dict(r.payload),
                    DeliveryState.PENDING,
                    0,
                    r.at,
                    r.at,
                )
            )

    def claim(self, worker: str, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
        found: list[Claimed] = []
        for row in sorted(self._d.deliveries, key=lambda r: (r.next_attempt_at, r.id)):
            if len(found) >= limit:
                break
            if row.connector_code is None or not self._d.connectors[row.connector_code].enabled:
                continue
            due = (row.state in (DeliveryState.PENDING, DeliveryState.RETRYING) and row.next_attempt_at <= now) or (
                row.state == DeliveryState.IN_FLIGHT and row.claimed_until is not None and row.claimed_until < now
            )
            blocked = row.request_id is not None and any(  # SQL's NULL = NULL: no line for mail about an area
                e.request_id == row.request_id
                and e.connector_code == row.connector_code
                and e.id < row.id
                and e.state in _OPEN
                for e in self._d.deliveries
            )
            if not due or blocked:
                continue
            found.append(
                Claimed(
                    connector_code=row.connector_code,
                    attempts=row.attempts,
                    message=OutboundMessage(
                        delivery_id=row.id,
                        idempotency_key=row.idempotency_key,
                        type=MessageType(row.type),
                        request_id=row.request_id,
                        envelope=dict(row.payload),
                        external_id=None if row.request_id is None else self.external_id(row.request_id, row.body_code),
                    ),
                )
            )
        claimed = {c.message.delivery_id for c in found}
        for row in self._d.deliveries:
            if row.id in claimed:
                row.state, row.claimed_until, row.claimed_by = DeliveryState.IN_FLIGHT, now + lease, worker
                row.attempts += 1
        found = [dataclasses.replace(c, attempts=c.attempts + 1) for c in found]
        found.sort(key=lambda c: c.message.delivery_id)
        return found

    def _row(self, delivery_id: int) -> _Row | None:
        return next((r for r in self._d.deliveries if r.id == delivery_id), None)

    def settle(self, results: Sequence[Settlement]) -> None:
        for s in results:
            row = self._row(s.delivery_id)
            if row is None or (
                s.worker is not None and (row.claimed_by != s.worker or row.state != DeliveryState.IN_FLIGHT)
            ):
                continue
            row.state, row.attempts = s.state, s.attempts
            if s.next_attempt_at is not None:
                row.next_attempt_at = s.next_attempt_at
            row.last_error, row.last_status, row.claimed_until, row.claimed_by = s.last_error, s.last_status, None, None
            row.last_attempt_at = s.at
            row.delivered_at = s.at if s.state == DeliveryState.DELIVERED else None
            if s.external_id is not None:
                row.external_id = s.external_id
                if s.state == DeliveryState.DELIVERED and row.request_id is not None:
                    with contextlib.suppress(Conflict):  # a reused id: keep the delivery, not the reference
                        self._add_ref(row.request_id, row.body_code, s.external_id)

    def _view(self, r: _Row) -> DeliveryView:
        return DeliveryView(
            id=r.id,
            connector_code=r.connector_code,
            body_code=r.body_code,
            request_id=r.request_id,
            type=r.type,
            idempotency_key=r.idempotency_key,
            state=r.state,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            created_at=r.created_at,
            delivered_at=r.delivered_at,
            last_error=r.last_error,
            last_status=r.last_status,
            external_id=r.external_id,
            effort_minutes=r.effort_minutes,
            done_by=r.done_by,
            payload=dict(r.payload),
            claimed_by=r.claimed_by if r.connector_code is None else None,
            claimed_at=r.claimed_at if r.connector_code is None else None,
            claimed_until=r.claimed_until if r.connector_code is None else None,
        )

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
        rows = [
            r
            for r in self._d.deliveries
            if (states is None or r.state in states)
            and (connector is None or r.connector_code == connector)
            and (body is None or r.body_code == body)
            and (manual is None or (r.connector_code is None) == manual)
            and (request_id is None or r.request_id == request_id)
            and (ids is None or r.id in ids)
            and (keys is None or r.idempotency_key in keys)
            and r.id > after_id
        ]
        return [self._view(r) for r in sorted(rows, key=lambda r: r.id)[:limit]]

    def delivery(self, delivery_id: int) -> DeliveryView | None:
        row = self._row(delivery_id)
        return None if row is None else self._view(row)

    def replay(self, ids: Sequence[int] | None, connector: str | None, now: datetime) -> int:
        if connector is not None:
            self._need(connector)
        n = 0
        for r in self._d.deliveries:
            if (
                r.state == DeliveryState.DEAD
                and r.connector_code is not None
                and (ids is None or r.id in ids)
                and (connector is None or r.connector_code == connector)
            ):
                r.state, r.attempts, r.next_attempt_at = DeliveryState.PENDING, 0, now
                n += 1
        return n

    def complete_manual(self, delivery_id: int, external_id: str | None, minutes: float, by: str, now: datetime) -> int:
        row = self._row(delivery_id)
        if row is None or row.connector_code is not None:
            raise NotFound(f"manual task {delivery_id} does not exist", field="task")
        if row.state == DeliveryState.DELIVERED:
            raise Conflict(f"manual task {delivery_id} is already done")
        assert row.request_id is not None  # a manual task is always about a request
        if external_id:
            self._add_ref(row.request_id, row.body_code, external_id)
        row.state, row.delivered_at, row.attempts = DeliveryState.DELIVERED, now, row.attempts + 1
        row.external_id, row.effort_minutes, row.done_by = external_id, minutes, by
        return row.request_id

    def _manual_row(self, delivery_id: int) -> _Row:
        row = self._row(delivery_id)
        if row is None or row.connector_code is not None:
            raise NotFound(f"manual task {delivery_id} does not exist", field="task")
        return row

    def claim_manual(self, delivery_id: int, by: str, now: datetime, until: datetime) -> int:
        row = self._manual_row(delivery_id)
        if row.state not in _OPEN:
            raise Conflict(f"manual task {delivery_id} is no longer open ({row.state})")
        held = row.claimed_by is not None and row.claimed_until is not None and row.claimed_until > now
        if held and row.claimed_by != by:
            raise Conflict(
                f"manual task {delivery_id} is claimed by {row.claimed_by} until {row.claimed_until:%H:%M} UTC"
            )
        if not (held and row.claimed_by == by):
            row.claimed_at = now
        row.claimed_by, row.claimed_until = by, until
        assert row.request_id is not None  # a manual task is always about a request
        return row.request_id

    def release_manual(self, delivery_id: int, by: str) -> None:
        row = self._manual_row(delivery_id)
        if row.claimed_by == by:
            row.claimed_by = row.claimed_until = row.claimed_at = None

    def manual_effort(self, since: datetime) -> list[ManualEffort]:
        tasks: dict[str, list[float]] = {}
        for r in self._d.deliveries:
            if (
                r.connector_code is None
                and r.state == DeliveryState.DELIVERED
                and r.delivered_at
                and r.delivered_at >= since
            ):
                tasks.setdefault(r.body_code, []).append(r.effort_minutes or 0.0)
        return [ManualEffort(code, len(m), float(sum(m))) for code, m in sorted(tasks.items())]

    def withdraw_manual(
        self, request_id: int, reason: str, at: datetime, *, only: str | None = None, keep: str | None = None
    ) -> int:
        n = 0
        for r in self._d.deliveries:
            if (
                r.request_id == request_id
                and r.connector_code is None
                and r.state in _OPEN
                and (only is None or r.body_code == only)
                and (keep is None or r.body_code != keep)
            ):
                r.state, r.last_error, r.last_attempt_at = DeliveryState.WITHDRAWN, reason[:2000], at
                n += 1
        return n

    def record_problems(self, connector: str, problems: Sequence[Problem]) -> None:
        self._need(connector)
        if not problems:
            return
        oldest = max(p.at for p in problems) - PROBLEM_RETENTION
        self._d.problems = [(c, p) for c, p in self._d.problems if c != connector or p.at >= oldest]
        for p in problems:
            kept = dataclasses.replace(p, detail=p.detail[:2000], file=None if p.file is None else p.file[:300])
            self._d.problems.append((connector, kept))

    def clear_problems(self, connector: str, kind: ProblemKind) -> int:
        self._need(connector)
        before = len(self._d.problems)
        self._d.problems = [(c, p) for c, p in self._d.problems if not (c == connector and p.kind == kind)]
        return before - len(self._d.problems)

    def problem_summaries(self, since: datetime) -> list[ProblemSummary]:
        groups: dict[tuple[str, ProblemKind], list[Problem]] = defaultdict(list)
        for c, p in self._d.problems:
            if p.at >= since and c in self._d.connectors:
                groups[(c, p.kind)].append(p)
        return [
            ProblemSummary(c, kind, len(found), min(p.at for p in found), found[-1])
            for (c, kind), found in sorted(groups.items())
        ]

    def _add_ref(self, request_id: int, body: str, external_id: str) -> None:
        existing = self._d.refs.get((body, external_id))
        if existing is not None and existing != request_id:
            raise Conflict(f"external id {external_id!r} already names request {existing}")
        self._d.refs[(body, external_id)] = request_id

    def add_external_ref(self, request_id: int, body_code: str, external_id: str, at: datetime) -> None:
        self._add_ref(request_id, self._body(body_code), external_id)

    def external_id(self, request_id: int, body_code: str) -> str | None:
        return next((ext for (body, ext), rid in self._d.refs.items() if body == body_code and rid == request_id), None)

    def request_for_external(self, body_code: str, external_id: str) -> int | None:
        return self._d.refs.get((body_code, external_id))

    def seen_message(self, connector: str, message_id: str, now: datetime) -> bool:
        self._need(connector)
        if (connector, message_id) in self._d.seen:
            return True
        self._d.seen.add((connector, message_id))
        return False

    def cursor(self, connector: str) -> str | None:
        self._need(connector)
        return self._d.cursors.get(connector)

    def set_cursor(self, connector: str, cursor: str | None, now: datetime) -> None:
        self._need(connector)
        self._d.cursors[connector] = cursor

    def health_rows(self, now: datetime) -> list[HealthCounts]:
        groups: dict[tuple[str | None, str], list[_Row]] = defaultdict(list)
        for r in self._d.deliveries:
            groups[(r.connector_code, r.body_code)].append(r)
        found = []
        for key in sorted(groups, key=lambda k: (k[0] or "", k[1])):
            rows = groups[key]
            counts: dict[str, int] = defaultdict(int)
            for r in rows:
                counts[str(r.state)] += 1
            open_ = [r.created_at for r in rows if r.state in _OPEN]
            done = [r.delivered_at for r in rows if r.delivered_at is not None]
            errors = sorted(
                (r for r in rows if r.last_error and r.state != DeliveryState.WITHDRAWN),
                key=lambda r: (r.last_attempt_at or r.created_at, r.id),
            )
            recent = sorted(
                (r for r in rows if r.delivered_at and r.delivered_at >= now - LATENCY_WINDOW and r.connector_code),
                key=lambda r: r.id,
                reverse=True,
            )
            found.append(
                HealthCounts(
                    connector_code=key[0],
                    body_code=key[1],
                    counts=dict(counts),
                    oldest_pending_at=min(open_) if open_ else None,
                    latencies_s=[(r.delivered_at - r.created_at).total_seconds() for r in recent if r.delivered_at],
                    last_success_at=max(done) if done else None,
                    last_error_at=errors[-1].last_attempt_at if errors else None,
                    last_error=errors[-1].last_error if errors else None,
                    effort_minutes=float(sum(r.effort_minutes or 0.0 for r in rows)),
                )
            )
        return found
