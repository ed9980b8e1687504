"""SQL stores of people: API clients, staff accounts, the audit log."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, false, func, insert, select, update

from civicswitch.core.db import storable, unique_as_conflict
from civicswitch.people.audit import GENESIS, AuditEntry
from civicswitch.people.clients import ApiClient, Scope
from civicswitch.people.policy import Role
from civicswitch.people.tables import api_clients, audit_log, staff_users
from civicswitch.people.users import StaffUser

# Every API call with a key reads it: built once (building the statement cost more than running it).
_BY_HASH = select(api_clients).where(api_clients.c.key_hash == bindparam("key_hash"))


class SqlClientStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, client: ApiClient) -> ApiClient:
        with unique_as_conflict("api client key"):
            new_id = self._insert(client)
        return dataclasses.replace(client, id=new_id)

    def _insert(self, client: ApiClient) -> int:
        new_id: int = self._conn.execute(
            insert(api_clients)
            .values(
                name=client.name,
                key_prefix=client.key_prefix,
                key_hash=client.key_hash,
                scopes=sorted(str(s) for s in client.scopes),
                created_at=client.created_at,
                revoked_at=client.revoked_at,
                body_code=client.body_code,
                rate_limit=client.rate_limit,
                suspended=client.suspended,
            )
            .returning(api_clients.c.id)
        ).scalar_one()
        return new_id

    def by_hash(self, key_hash: str) -> ApiClient | None:
        if not storable(key_hash):
            return None
        row = self._conn.execute(_BY_HASH, {"key_hash": key_hash}).first()
        return None if row is None else _client(row)

    def all(self) -> list[ApiClient]:
        return [_client(r) for r in self._conn.execute(select(api_clients).order_by(api_clients.c.id))]

    def get(self, client_id: int) -> ApiClient | None:
        row = self._conn.execute(select(api_clients).where(api_clients.c.id == client_id)).first()
        return None if row is None else _client(row)

    def _set(self, client_id: int, **values: object) -> bool:
        done = self._conn.execute(update(api_clients).where(api_clients.c.id == client_id).values(**values))
        return bool(done.rowcount)

    def set_limit(self, client_id: int, rate_limit: int | None) -> bool:
        return self._set(client_id, rate_limit=rate_limit)

    def suspend(self, client_id: int, reason: str | None) -> bool:
        return self._set(client_id, suspended=reason)

    def set_body(self, client_id: int, body_code: str | None) -> bool:
        return self._set(client_id, body_code=body_code)

    def revoke(self, client_id: int, at: datetime) -> bool:
        result = self._conn.execute(
            update(api_clients)
            .where(api_clients.c.id == client_id, api_clients.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(result.rowcount)


def _client(row: Any) -> ApiClient:
    return ApiClient(
        name=row.name,
        key_prefix=row.key_prefix,
        key_hash=row.key_hash,
        scopes=frozenset(Scope(s) for s in row.scopes),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        id=row.id,
        body_code=row.body_code,
        rate_limit=row.rate_limit,
        suspended=row.suspended,
    )


class SqlUserStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, user: StaffUser) -> StaffUser:
        with unique_as_conflict(f"a staff account for {user.email}"):
            new_id: int = self._conn.execute(
                insert(staff_users).values(**_user_values(user)).returning(staff_users.c.id)
            ).scalar_one()
        return dataclasses.replace(user, id=new_id)

    def get(self, user_id: int) -> StaffUser | None:
        row = self._conn.execute(select(staff_users).where(staff_users.c.id == user_id)).first()
        return None if row is None else _user(row)

    def by_email(self, email: str) -> StaffUser | None:
        if not storable(email):
            return None
        row = self._conn.execute(select(staff_users).where(staff_users.c.email == email)).first()
        return None if row is None else _user(row)

    def all(self) -> list[StaffUser]:
        return [_user(r) for r in self._conn.execute(select(staff_users).order_by(staff_users.c.id))]

    def save(self, user: StaffUser) -> None:
        assert user.id is not None
        with unique_as_conflict(f"a staff account for {user.email}"):
            self._conn.execute(update(staff_users).where(staff_users.c.id == user.id).values(**_user_values(user)))


def _user_values(user: StaffUser) -> dict[str, Any]:
    return {
        "email": user.email,
        "name": user.name,
        "role": str(user.role),
        "bodies": sorted(user.bodies),
        "areas": sorted(f"{layer}:{key}" for layer, key in user.areas),
        "org": user.org,
        "password_hash": user.password_hash,
        "must_change_password": user.must_change_password,
        "created_at": user.created_at,
        "password_changed_at": user.password_changed_at,
        "disabled_at": user.disabled_at,
    }


def _user(row: Any) -> StaffUser:
    return StaffUser(
        email=row.email,
        role=Role(row.role),
        password_hash=row.password_hash,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
        name=row.name,
        bodies=frozenset(row.bodies),
        areas=frozenset(tuple(a.split(":", 1)) for a in row.areas),
        org=row.org,
        must_change_password=row.must_change_password,
        disabled_at=row.disabled_at,
        id=row.id,
    )


# One fixed key for PostgreSQL's transaction-level advisory lock that serialises audit appends (SQLite writers are
# serialised already): without it two transactions could chain onto the same previous entry.
_AUDIT_LOCK = 0x0311_A0D1


def _who(conn: Connection, principal: str) -> list[ColumnElement[bool]]:
    """The "who" filter: the label ``principal``, or labels starting with it (a prefix such as ``staff:3`` stands
    for ``staff:3 <email>``, never ``staff:30``), in a form that reads ``ix_audit_log_principal`` (LIKE can't:
    SQLite's is case-blind, and PostgreSQL's needs a constant pattern).

    PostgreSQL: the range of labels that can match, with the pattern operators of the index's operator class (byte
    order whatever the collation); the planner weighs it against walking the log newest first. SQLite, whose planner
    cannot weigh a range: the few labels that match (an account's label changes only with its email), each found by
    one seek in the index, then those labels exactly, which the index gives in id order."""
    column = audit_log.c.principal
    prefix = principal if " " in principal else principal + " "
    exact = (column == principal) | column.startswith(prefix, autoescape=True)
    top = ord(prefix[-1])
    if top >= 0x10FFFF:
        return [exact]
    after = prefix[:-1] + chr(top + 1)  # the first label past every one starting with ``prefix``
    if conn.dialect.name == "postgresql":
        return [column.op("~>=~", is_comparison=True)(principal), column.op("~<~", is_comparison=True)(after), exact]
    labels: list[str] = []
    past: ColumnElement[bool] = column >= principal
    for _ in range(_MAX_LABELS):
        label = conn.execute(select(column).where(past, column < after).order_by(column).limit(1)).scalar()
        if label is None:
            return [column.in_(labels)] if labels else [false()]
        if label == principal or label.startswith(prefix):
            labels.append(label)
        past = column > label
    return [column >= principal, column < after, exact]  # that many labels: the range, as on PostgreSQL


_MAX_LABELS = 20


class SqlAuditStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, entry: AuditEntry, hasher: Callable[[AuditEntry], str]) -> AuditEntry:
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(select(func.pg_advisory_xact_lock(_AUDIT_LOCK)))
        last = self._conn.execute(
            select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
        ).first()
        chained = dataclasses.replace(entry, id=(last.id if last else 0) + 1, prev_hash=last.hash if last else GENESIS)
        chained = dataclasses.replace(chained, hash=hasher(chained))
        self._conn.execute(
            insert(audit_log).values(
                id=chained.id,
                at=chained.at,
                principal=chained.principal,
                action=chained.action,
                object_type=chained.object_type,
                object_id=chained.object_id,
                reason=chained.reason,
                detail=dict(chained.detail),
                prev_hash=chained.prev_hash,
                hash=chained.hash,
            )
        )
        return chained

    def entries(
        self,
        *,
        principal: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditEntry]:
        order = audit_log.c.id.desc() if newest_first else audit_log.c.id
        query = select(audit_log).where(audit_log.c.id > after_id).order_by(order)
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        if action:
            query = query.where(audit_log.c.action == action)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if until is not None:
            query = query.where(audit_log.c.at < until)
        if principal:
            query = query.where(*_who(self._conn, principal))
        if object_type:
            query = query.where(audit_log.c.object_type == object_type)
        if object_id is not None:
            query = query.where(audit_log.c.object_id == object_id)
        if limit is not None:
            query = query.limit(limit)
        return [
            AuditEntry(
                at=r.at,
                principal=r.principal,
                action=r.action,
                object_type=r.object_type,
                object_id=r.object_id,
                reason=r.reason,
                detail=r.detail,
                prev_hash=r.prev_hash,
                hash=r.hash,
                id=r.id,
            )
            for r in self._conn.execute(query)
        ]
