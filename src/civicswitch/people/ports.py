"""The people store port (SQL: ``people/sql.py``; in-memory fake: ``people/memory.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from civicswitch.people.clients import ApiClient


class ClientStore(Protocol):
    def add(self, client: ApiClient) -> ApiClient: ...
    def by_hash(self, key_hash: str) -> ApiClient | None: ...
    def all(self) -> list[ApiClient]: ...
    def revoke(self, client_id: int, at: datetime) -> bool: ...
