"""The people store ports (SQL: ``people/sql.py``; in-memory fake: ``people/memory.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from civicswitch.people.audit import AuditEntry
from civicswitch.people.clients import ApiClient
from civicswitch.people.users import StaffUser


class ClientStore(Protocol):
    def add(self, client: ApiClient) -> ApiClient: ...
    def by_hash(self, key_hash: str) -> ApiClient | None: ...
    def all(self) -> list[ApiClient]: ...
    def get(self, client_id: int) -> ApiClient | None: ...
    def set_limit(self, client_id: int, rate_limit: int | None) -> bool:
        """Requests per minute for this key (None: the instance default, 0: no limit); False if no such id."""
        ...

    def suspend(self, client_id: int, reason: str | None) -> bool:
        """Suspend the key with a reason (it is refused until cleared with None)."""
        ...

    def set_body(self, client_id: int, body_code: str | None) -> bool: ...
    def revoke(self, client_id: int, at: datetime) -> bool: ...


class UserStore(Protocol):
    def add(self, user: StaffUser) -> StaffUser:
        """Insert; :class:`Conflict` if the email is taken."""
        ...

    def get(self, user_id: int) -> StaffUser | None: ...
    def by_email(self, email: str) -> StaffUser | None: ...
    def all(self) -> list[StaffUser]: ...
    def save(self, user: StaffUser) -> None:
        """Write every field of a stored user (by id)."""
        ...


class AuditStore(Protocol):
    def append(self, entry: AuditEntry, hasher: Callable[[AuditEntry], str]) -> AuditEntry:
        """Append after the newest entry: sets ``id`` (the previous id + 1), ``prev_hash`` and ``hash`` (computed
        by ``hasher``), serialised against other writers so the chain never forks."""
        ...

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
        """Entries in id order (``newest_first``: the newest first), filtered: ``principal`` matches a prefix (e.g.
        ``staff:3``), ``action`` exactly, ``since <= at < until``, ``after_id < id < before_id``."""
        ...
