"""Group commit for SQLite: one ``fdatasync`` of the write-ahead log covers every commit made before it began.

With ``PRAGMA synchronous=FULL`` SQLite syncs the WAL inside every commit, while the committing connection holds the
database's only write lock: each writer waits for the disk in turn, and one sync (3 ms here, 8 ms at p99) is most of
a POST's turn. With many clients the queue for that lock was POST's latency tail.

Here a connection at FULL runs SQLite at ``NORMAL`` (in WAL mode the WAL is then synced only at checkpoints; nothing is
ever corrupted, the last commits could be lost at a power cut) and the commit is made durable by us, *after* the
write lock is let go and *before* the commit returns to whoever acknowledges it:

* ``fdatasync`` works on the file, not on a descriptor: one sync of ``<database>-wal`` writes every frame appended to it
  before the sync began, by any connection of any process;
* so a committer needs one sync that *began after* its commit. If one is under way, it waits for it to end and for
  the next to run; whoever finds none under way runs it. Writers arriving during a sync share the next one: under load
  one sync serves many commits (group commit), and the write lock is held only for the writes themselves.

Checkpoints (copying the log into the database, with a sync of each) leave the writer's turn too. SQLite runs one
inside the commit that takes the log past ``wal_autocheckpoint`` pages (1,000 by default): one POST in every few
dozen held the write lock for 10-50 ms more, which was most of POST's p99. Grouped connections set that threshold
high (a safety net, :data:`AUTOCHECKPOINT_PAGES`) and every :data:`CHECKPOINT_EVERY` commits a thread of the process
runs a ``PASSIVE`` checkpoint on a connection of its own: it waits for no reader or writer, and writers go on
appending to the log meanwhile.

A commit is acknowledged only once it is on disk, as with ``FULL``. The difference: between the commit and the end of
its sync, another connection can already read the new rows (SQLite's own FULL makes them visible after the sync). What
leaves the platform is announced from the outbox by a unit of work that commits (claims) first, and so syncs first:
nothing is delivered before it is durable.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


AUTOCHECKPOINT_PAGES = 10_000  # SQLite's own checkpoint, inside a commit, only if ours fall behind (~40 MB of log)
CHECKPOINT_EVERY = 100  # commits between two checkpoints of the process's checkpointer thread
CHECKPOINTER_IDLE_S = 30.0  # the thread (and its connection) ends after this long without a checkpoint to run


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of its own, in a thread, when :meth:`due` says so."""

    def __init__(self, database: str, *, idle: float = CHECKPOINTER_IDLE_S) -> None:
        self.database = database
        self.idle = idle
        self.runs = 0
        self._state = threading.Condition(threading.Lock())
        self._wanted = False
        self._thread: threading.Thread | None = None

    def due(self) -> None:
        with self._state:
            self._wanted = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True)
                self._thread.start()
            self._state.notify()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                with self._state:
                    if not self._state.wait_for(lambda: self._wanted, timeout=self.idle):
                        self._thread = None
                        return
                    self._wanted = False
                try:
                    if conn is None:
                        conn = sqlite3.connect(self.database, timeout=10.0, check_same_thread=False)
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error as exc:  # e.g. the database was removed; the next commit asks again
                    log.warning("checkpoint of %s failed: %s", self.database, exc)
        finally:
            if conn is not None:
                conn.close()


class GroupSync:
    """Syncs of one WAL file for the threads of one process (after a fork the child starts again)."""

    def __init__(
        self,
        wal_path: str,
        *,
        sync: Callable[[int], None] = os.fdatasync,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        self.wal_path = wal_path
        self.checkpoint_every = checkpoint_every
        self._sync = sync
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._state = threading.Condition(threading.Lock())
        self._started = 0  # syncs begun
        self._finished = 0  # the number of the last sync that ended
        self._running = False
        self.syncs = 0  # syncs run (for tests and benchmarks)
        self.waits = 0  # commits made durable
        self._since_checkpoint = 0
        database = self.wal_path[: -len("-wal")] if self.wal_path.endswith("-wal") else self.wal_path
        self.checkpointer = Checkpointer(database)

    def sync(self) -> None:
        """Return once every commit made before this call is on disk."""
        if self._pid != os.getpid():
            self._reset()
        with self._state:
            self.waits += 1
            self._since_checkpoint += 1
            if self.checkpoint_every and self._since_checkpoint >= self.checkpoint_every:
                self._since_checkpoint = 0
                self.checkpointer.due()
            needed = self._started + 1  # the first sync to begin from now on covers this commit
            while self._finished < needed:
                if not self._running:
                    self._running = True
                    self._started += 1
                    mine = self._started
                    break
                self._state.wait()
            else:
                return
        error: BaseException | None = None
        try:
            self._sync_file()
        except BaseException as exc:
            error = exc
        with self._state:
            self._running = False
            if error is None:
                self._finished = mine
                self.syncs += 1
            self._state.notify_all()
        if error is not None:
            raise error  # the waiters run their own sync and meet the error themselves

    def _sync_file(self) -> None:
        try:
            fd = os.open(self.wal_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return  # no log: the last connection checkpointed it into the database, which SQLite synced
        try:
            self._sync(fd)
        finally:
            os.close(fd)


_SYNCS: dict[str, GroupSync] = {}
_GUARD = threading.Lock()


def group_sync_for(database: str) -> GroupSync:
    """The process's group sync of a database file (every engine on the file shares it)."""
    wal = os.path.abspath(database) + "-wal"
    with _GUARD:
        found = _SYNCS.get(wal)
        if found is None:
            found = _SYNCS[wal] = GroupSync(wal)
        return found


class SyncingConnection(sqlite3.Connection):
    """A DB-API connection whose ``commit`` is durable through its :class:`GroupSync` (when it has one).

    :attr:`defer_sync` lets a unit of work commit, let go of the writer's turn, then call :meth:`sync_owed`."""

    group_sync: GroupSync | None = None
    defer_sync: bool = False
    _owed: bool = False

    def commit(self) -> None:
        writing = self.in_transaction
        super().commit()
        if self.group_sync is None or not writing:
            return
        if self.defer_sync:
            self._owed = True
        else:
            self.group_sync.sync()

    def sync_owed(self) -> None:
        """The sync a deferred :meth:`commit` owes, if any."""
        owed = self.take_owed()
        if owed is not None:
            owed()

    def take_owed(self) -> Callable[[], None] | None:
        """The sync a deferred :meth:`commit` owes, for the caller to run (any later sync of the group makes the
        commit durable, so it may run in another thread once this connection is back in the pool); None if none."""
        if not self._owed:
            return None
        self._owed = False
        assert self.group_sync is not None
        return self.group_sync.sync


def syncing(dbapi_connection: Any) -> SyncingConnection | None:
    """The connection, if it commits through a group sync."""
    if isinstance(dbapi_connection, SyncingConnection) and dbapi_connection.group_sync is not None:
        return dbapi_connection
    return None
