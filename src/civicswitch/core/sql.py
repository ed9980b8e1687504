"""SQL unit of work and the API-client store."""

from __future__ import annotations

import threading
import weakref
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, insert, select, update

from civicswitch.catalog.sql import SqlCatalogStore
from civicswitch.core.clients import ApiClient, Scope
from civicswitch.core.db import storable, unique_as_conflict
from civicswitch.core.ports import CatalogStore, ClientStore, RequestStore
from civicswitch.core.tables import api_clients
from civicswitch.hub.outbox import write_outbox
from civicswitch.hub.ports import HubStore
from civicswitch.hub.sql import SqlHubStore
from civicswitch.requests.sql import SqlRequestStore


class SqlClientStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, client: ApiClient) -> ApiClient:
        with unique_as_conflict("api client key"):
            new_id = self._insert(client)
        return ApiClient(
            name=client.name,
            key_prefix=client.key_prefix,
            key_hash=client.key_hash,
            scopes=client.scopes,
            created_at=client.created_at,
            revoked_at=client.revoked_at,
            id=new_id,
        )

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
            )
            .returning(api_clients.c.id)
        ).scalar_one()
        return new_id

    def by_hash(self, key_hash: str) -> ApiClient | None:
        if not storable(key_hash):
            return None
        row = self._conn.execute(select(api_clients).where(api_clients.c.key_hash == key_hash)).first()
        return None if row is None else _client(row)

    def all(self) -> list[ApiClient]:
        return [_client(r) for r in self._conn.execute(select(api_clients).order_by(api_clients.c.id))]

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
    )


_WRITER_LOCKS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def _writer_lock(engine: Engine) -> threading.RLock:
    with _LOCKS_GUARD:
        lock = _WRITER_LOCKS.get(engine)
        if lock is None:
            lock = _WRITER_LOCKS[engine] = threading.RLock()
        return lock


class SqlUnitOfWork:
    """One connection and one transaction; nothing is written unless :meth:`commit` is called."""

    catalog: CatalogStore
    requests: RequestStore
    clients: ClientStore
    hub: HubStore

    def __init__(self, engine: Engine, *, writing: bool = True) -> None:
        self._engine = engine
        self._writing = writing
        self._conn: Connection | None = None
        self._queued: threading.RLock | None = None

    def __enter__(self) -> Self:
        # The transaction begins on first use (autobegin); on SQLite a writing unit takes the lock then.
        # SQLite has one writer at a time: writers of this process queue on a lock first, in order, instead
        # of polling the database lock with sleeps (which gave POSTs a long latency tail under load).
        self._queued = _writer_lock(self._engine) if self._writing and self._engine.dialect.name == "sqlite" else None
        if self._queued is not None:
            self._queued.acquire()
        try:
            conn = self._engine.connect().execution_options(writing=self._writing)
        except BaseException:
            self._release()
            raise
        self._conn = conn
        self.catalog = SqlCatalogStore(conn)
        self.requests = SqlRequestStore(conn)
        self.clients = SqlClientStore(conn)
        self.hub = SqlHubStore(conn)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None
        try:
            self._conn.rollback()  # no-op after commit; undoes anything uncommitted
        finally:
            self._conn.close()
            self._conn = None
            self._release()

    def _release(self) -> None:
        if self._queued is not None:
            self._queued.release()
            self._queued = None

    def commit(self) -> None:
        """Write the outbox rows for what changed (same transaction), then commit."""
        assert self._conn is not None
        write_outbox(self)
        self._conn.commit()

    def rollback(self) -> None:
        assert self._conn is not None
        self._conn.rollback()
        self.requests.take_changes()  # rolled back: nothing to announce
