"""The in-memory people stores (a fake of ``people/sql.py``), over the database of ``storage/memory.py``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from civicswitch.core.errors import Conflict
from civicswitch.people.audit import GENESIS, AuditEntry
from civicswitch.people.clients import ApiClient
from civicswitch.people.users import StaffUser

if TYPE_CHECKING:
    from civicswitch.storage.memory import MemoryDatabase


class MemoryClientStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def add(self, client: ApiClient) -> ApiClient:
        if any(c.key_hash == client.key_hash for c in self._db.clients.values()):
            raise Conflict("key already stored")
        stored = dataclasses.replace(client, id=self._db.take_id("client"))
        assert stored.id is not None
        self._db.clients[stored.id] = stored
        return stored

    def by_hash(self, key_hash: str) -> ApiClient | None:
        return next((c for c in self._db.clients.values() if c.key_hash == key_hash), None)

    def all(self) -> list[ApiClient]:
        return [self._db.clients[k] for k in sorted(self._db.clients)]

    def get(self, client_id: int) -> ApiClient | None:
        return self._db.clients.get(client_id)

    def _set(self, client_id: int, **values: object) -> bool:
        client = self._db.clients.get(client_id)
        if client is None:
            return False
        self._db.clients[client_id] = dataclasses.replace(client, **values)  # type: ignore[arg-type]
        return True

    def set_limit(self, client_id: int, rate_limit: int | None) -> bool:
        return self._set(client_id, rate_limit=rate_limit)

    def suspend(self, client_id: int, reason: str | None) -> bool:
        return self._set(client_id, suspended=reason)

    def set_body(self, client_id: int, body_code: str | None) -> bool:
        return self._set(client_id, body_code=body_code)

    def revoke(self, client_id: int, at: datetime) -> bool:
        client = self._db.clients.get(client_id)
        if client is None or client.revoked_at is not None:
            return False
        self._db.clients[client_id] = dataclasses.replace(client, revoked_at=at)
        return True


class MemoryUserStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def add(self, user: StaffUser) -> StaffUser:
        if any(u.email == user.email for u in self._db.users.values()):
            raise Conflict(f"a staff account for {user.email} already exists")
        stored = dataclasses.replace(user, id=self._db.take_id("user"))
        assert stored.id is not None
        self._db.users[stored.id] = stored
        return stored

    def get(self, user_id: int) -> StaffUser | None:
        return self._db.users.get(user_id)

    def by_email(self, email: str) -> StaffUser | None:
        return next((u for u in self._db.users.values() if u.email == email), None)

    def all(self) -> list[StaffUser]:
        return [self._db.users[k] for k in sorted(self._db.users)]

    def save(self, user: StaffUser) -> None:
        assert user.id is not None and user.id in self._db.users
        if any(u.email == user.email and u.id != user.id for u in self._db.users.values()):
            raise Conflict(f"a staff account for {user.email} already exists")
        self._db.users[user.id] = user


class MemoryAuditStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def append(self, entry: AuditEntry, hasher: Callable[[AuditEntry], str]) -> AuditEntry:
        last = self._db.audit[-1] if self._db.audit else None
        chained = dataclasses.replace(
            entry, id=(last.id or 0) + 1 if last else 1, prev_hash=last.hash if last else GENESIS
        )
        chained = dataclasses.replace(chained, hash=hasher(chained))
        self._db.audit.append(chained)
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
        exact = None if principal is None else (principal if " " in principal else principal + " ")
        found = [
            e
            for e in self._db.audit
            if (e.id or 0) > after_id
            and (before_id is None or (e.id or 0) < before_id)
            and (not principal or e.principal == principal or e.principal.startswith(exact or ""))
            and (object_type is None or e.object_type == object_type)
            and (object_id is None or e.object_id == object_id)
            and (not action or e.action == action)
            and (since is None or e.at >= since)
            and (until is None or e.at < until)
        ]
        if newest_first:
            found.reverse()
        return found if limit is None else found[:limit]
