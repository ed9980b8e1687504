"""SQL unit of work and the API-client store."""

from __future__ import annotations

import threading
import weakref
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from civicswitch.catalog.sql import SqlCatalogStore
from civicswitch.core.clock import Clock
from civicswitch.hub.outbox import write_outbox
from civicswitch.hub.ports import HubStore
from civicswitch.hub.sql import SqlHubStore
from civicswitch.people.sql import SqlAuditStore, SqlClientStore, SqlUserStore
from civicswitch.requests.sql import SqlRequestStore
from civicswitch.storage.ports import AuditStore, CatalogStore, ClientStore, RequestStore, UserStore
from civicswitch.storage.settings import SettingsStore, SqlSettingsStore

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
    users: UserStore
    audit: AuditStore
    hub: HubStore
    settings: SettingsStore

    def __init__(self, engine: Engine, *, writing: bool = True, clock: Clock | None = None) -> None:
        self._engine = engine
        self._writing = writing
        self.clock = clock
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
        self.users = SqlUserStore(conn)
        self.audit = SqlAuditStore(conn)
        self.hub = SqlHubStore(conn)
        self.settings = SqlSettingsStore(conn)
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
        self.requests.take_notices()
