"""The in-memory people store (a fake of ``people/sql.py``), over the database of ``storage/memory.py``."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

from civicswitch.core.errors import Conflict
from civicswitch.people.clients import ApiClient

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

    def set_limit(self, client_id: int, rate_limit: int | None) -> bool:
        client = self._db.clients.get(client_id)
        if client is None:
            return False
        self._db.clients[client_id] = dataclasses.replace(client, rate_limit=rate_limit)
        return True

    def set_body(self, client_id: int, body_code: str | None) -> bool:
        client = self._db.clients.get(client_id)
        if client is None:
            return False
        self._db.clients[client_id] = dataclasses.replace(client, body_code=body_code)
        return True

    def revoke(self, client_id: int, at: datetime) -> bool:
        client = self._db.clients.get(client_id)
        if client is None or client.revoked_at is not None:
            return False
        self._db.clients[client_id] = dataclasses.replace(client, revoked_at=at)
        return True
