"""SQL unit of work and the API-client store."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from civicswitch.agent.sql import SqlCallerSearch, SqlCallStore, SqlKnowledgeStore
from civicswitch.catalog.sql import SqlCatalogStore
from civicswitch.core.clock import Clock
from civicswitch.core.db import SQLITE_BUSY_TIMEOUT_S
from civicswitch.core.walsync import syncing
from civicswitch.hub.mailin.sql import SqlMailStore
from civicswitch.hub.outbox import write_outbox
from civicswitch.hub.ports import HubStore
from civicswitch.hub.sql import SqlHubStore
from civicswitch.people.area_follows.sql import SqlAreaFollowStore
from civicswitch.people.sql import SqlAuditStore, SqlClientStore, SqlUserStore
from civicswitch.requests.bulk import BulkResultStore
from civicswitch.requests.bulk_sql import SqlBulkResultStore
from civicswitch.requests.escalation import EscalationStore
from civicswitch.requests.escalation_sql import SqlEscalationStore
from civicswitch.requests.queue_sql import SqlQueueStore
from civicswitch.requests.sql import SqlRequestStore
from civicswitch.responses.sql import SqlTemplateStore
from civicswitch.storage.ports import (
    AreaFollowStore,
    AuditStore,
    CallerSearch,
    CallStore,
    CatalogStore,
    ClientStore,
    KnowledgeStore,
    MailStore,
    QueueStore,
    RequestStore,
    TemplateStore,
    UserStore,
)
from civicswitch.storage.settings import SettingsStore, SqlSettingsStore
from civicswitch.storage.writelock import WriterLock

_FILE_LOCKS: dict[str, WriterLock] = {}  # one per database file in this process, whatever the engine
_MEMORY_LOCKS: weakref.WeakKeyDictionary[Engine, WriterLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def sqlite_writer_lock(engine: Engine) -> WriterLock:
    """The writer lock of an SQLite engine's database: shared by every engine on the same file in this
    process, and through ``<file>-writer.lock`` with other processes."""
    database = engine.url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file:") or "mode=memory" in str(engine.url)
    with _LOCKS_GUARD:
        if memory:
            lock = _MEMORY_LOCKS.get(engine)
            if lock is None:
                lock = _MEMORY_LOCKS[engine] = WriterLock(None, SQLITE_BUSY_TIMEOUT_S)
            return lock
        path = os.path.abspath(database) + "-writer.lock"
        lock = _FILE_LOCKS.get(path)
        if lock is None:
            lock = _FILE_LOCKS[path] = WriterLock(path, SQLITE_BUSY_TIMEOUT_S)
        return lock


def _total_changes(conn: Connection) -> int:
    """Rows the SQLite connection has changed since it was opened (the DB-API connection's count)."""
    raw = conn.connection.dbapi_connection
    return int(getattr(raw, "total_changes", 0))


class SqlUnitOfWork:
    """One connection and one transaction; nothing is written unless :meth:`commit` is called."""

    catalog: CatalogStore
    requests: RequestStore
    queue: QueueStore
    escalations: EscalationStore
    clients: ClientStore
    users: UserStore
    audit: AuditStore
    hub: HubStore
    settings: SettingsStore
    knowledge: KnowledgeStore
    calls: CallStore
    callers: CallerSearch
    templates: TemplateStore
    bulk_results: BulkResultStore
    mail: MailStore
    area_follows: AreaFollowStore

    def __init__(self, engine: Engine, *, writing: bool = True, clock: Clock | None = None) -> None:
        self._engine = engine
        self._writing = writing
        self.clock = clock
        self._conn: Connection | None = None
        self._queued: WriterLock | None = None
        self._reads_first = False  # reading_first(): SQLite writes wait for begin_writes()
        self._changes_at_start = 0
        # A caller that cannot wait long (the event loop: web/open311/hot.py) bounds the wait for the SQLite writer's
        # turn of a reading_first() unit (WriterBusy past it, before anything is written), and takes the sync that
        # makes the commit durable (owed_sync) to run it elsewhere before it answers.
        self.turn_timeout: float | None = None
        self.sync_later = False
        self.owed_sync: Callable[[], None] | None = None
        self.writes_elsewhere = engine.dialect.name != "sqlite"  # SQLite works in this process, holding its GIL

    def reading_first(self) -> Self:
        """This unit reads and validates everything before its first write, and its writes do not depend on what
        it read staying unchanged until commit (e.g. filing a new request: nothing read is updated). On SQLite its
        reads then run on a snapshot without the writer's turn, and :meth:`begin_writes` takes the turn, so the
        writers of every process wait only for each other's writes, not for their validation. Call it before
        entering the unit; elsewhere (PostgreSQL, a unit that writes from the start) it changes nothing."""
        self._reads_first = self._writing and self._engine.dialect.name == "sqlite"
        return self

    def __enter__(self) -> Self:
        # The transaction begins on first use (autobegin); on SQLite a writing unit takes the lock then.
        # SQLite has one writer at a time: writers of every process queue on the writer lock first, and the
        # next is woken the moment the last lets go, instead of polling the database lock with sleeps (which
        # gave POSTs a latency tail of seconds under load).
        sqlite = self._writing and self._engine.dialect.name == "sqlite"
        late = self._reads_first
        self._queued = sqlite_writer_lock(self._engine) if sqlite and not late else None
        if self._queued is not None:
            self._queued.acquire()
        try:
            conn = self._engine.connect().execution_options(writing=self._writing and not late)
        except BaseException:
            self._release()
            raise
        self._conn = conn
        if late:
            self._changes_at_start = _total_changes(conn)
        self.catalog = SqlCatalogStore(conn)
        self.requests = SqlRequestStore(conn)
        self.queue = SqlQueueStore(conn)
        self.escalations = SqlEscalationStore(conn)
        self.clients = SqlClientStore(conn)
        self.users = SqlUserStore(conn)
        self.audit = SqlAuditStore(conn)
        self.hub = SqlHubStore(conn)
        self.settings = SqlSettingsStore(conn)
        self.knowledge = SqlKnowledgeStore(conn)
        self.calls = SqlCallStore(conn)
        self.callers = SqlCallerSearch(conn)
        self.templates = SqlTemplateStore(conn)
        self.bulk_results = SqlBulkResultStore(conn)
        self.mail = SqlMailStore(conn)
        self.area_follows = SqlAreaFollowStore(conn)
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
            self._reads_first = False
            self._release()

    def begin_writes(self) -> None:
        """The end of a :meth:`reading_first` unit's reads: on SQLite the read snapshot is let go, the writer's turn
        taken and the write transaction begun (what the unit reads from here on is read in it). Otherwise nothing."""
        conn = self._conn
        assert conn is not None
        if not self._reads_first or self._queued is not None:
            return
        if _total_changes(conn) != self._changes_at_start:
            raise RuntimeError("a reading_first() unit of work wrote before begin_writes()")
        conn.rollback()  # ends the read snapshot (nothing was written)
        lock = sqlite_writer_lock(self._engine)
        lock.acquire(self.turn_timeout)
        self._queued = lock
        conn.execution_options(writing=True)  # the next statement begins with BEGIN IMMEDIATE

    def _release(self) -> None:
        if self._queued is not None:
            self._queued.release()
            self._queued = None

    def commit(self) -> None:
        """Write the outbox rows for what changed (same transaction), then commit."""
        assert self._conn is not None
        write_outbox(self)
        # With group commit (core/walsync.py) the sync that makes this commit durable runs after the writer's turn
        # is let go where the unit allows it, so the next writer writes while this one waits for the disk.
        raw = syncing(self._conn.connection.dbapi_connection) if self._queued is not None else None
        if raw is not None:
            raw.defer_sync = True
        try:
            self._conn.commit()
        finally:
            if raw is not None:
                raw.defer_sync = False
        if self._reads_first and self._queued is not None:
            # The turn ends with the writes: the next writer need not wait for this unit to be closed. A further
            # write in this unit begins with begin_writes() again.
            self._conn.execution_options(writing=False)
            self._changes_at_start = _total_changes(self._conn)
            self._release()
        if raw is not None:
            if self.sync_later:
                self.owed_sync = raw.take_owed()  # the caller runs it before it tells anyone the commit happened
            else:
                raw.sync_owed()  # returns once the commit is on disk

    def rollback(self) -> None:
        assert self._conn is not None
        self._conn.rollback()
        self.requests.take_changes()  # rolled back: nothing to announce
        self.requests.take_notices()
