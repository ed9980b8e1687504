"""One writer at a time on an SQLite database, across threads and processes, handed on without sleeping.

SQLite lets one connection write at a time. A connection that finds the database locked waits in SQLite's
busy handler, which sleeps and tries again (1, 2, 5, 10 … up to 100 ms between tries): the lock is often
free while every waiter sleeps, and a newcomer takes it before a writer that has waited for a second. With
several web processes filing requests at once, that made POST's p99 a second or more. Here writers queue:

* the threads of one process on a lock of that process;
* the thread at the head of each process's queue on ``flock(2)`` of a file beside the database
  (``<database>-writer.lock``). The kernel gives the lock to a waiter as soon as its holder lets go of it, or
  dies: a killed process's locks go with its open files, so a crash never leaves the database locked.

``flock`` cannot time out, so the blocking call runs in a helper thread and the writer waits for that
thread with a deadline (the same as SQLite's busy timeout): a writer never waits longer than SQLite would
have let it. File-lock libraries (filelock, fasteners, portalocker) wait with a timeout by polling with
sleeps, which is the tail this module removes.

Only SQLite needs this. It is advisory: a writer that does not take it (the ``sqlite3`` shell, a migration)
still meets SQLite's own lock and busy handler, so correctness never depends on it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class WriterBusy(TimeoutError):
    """Another writer held the database for longer than the writer timeout."""


class WriterLock:
    """A reentrant lock for the writers of one database: threads of this process, and other processes.

    ``path`` is the lock file (``None``: threads of this process only, e.g. an in-memory database).
    ``timeout`` bounds the whole wait, in seconds; past it :meth:`acquire` raises :class:`WriterBusy`.
    """

    def __init__(self, path: str | None, timeout: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.timeout = timeout
        self._monotonic = monotonic
        self._pid = -1
        self._reset()

    def _reset(self) -> None:
        # After a fork the child inherits the parent's open file (and so shares its lock) but none of its
        # threads: it starts again with its own file, queue and helper.
        self._pid = os.getpid()
        self._queue = threading.Lock()  # the threads of this process, one at a time
        self._owner: int | None = None
        self._depth = 0
        self._state = threading.Condition(threading.Lock())  # guards the fields below
        self._fd: int | None = None
        self._opened = False
        self._held = False  # this process holds the file lock
        self._wanted = False  # a writer of this process waits for the helper to get it
        self._helper: threading.Thread | None = None

    # -- the public side -----------------------------------------------------------------------------
    def acquire(self, timeout: float | None = None) -> None:
        """Wait for the turn, at most ``timeout`` seconds (default: the lock's own)."""
        if self._pid != os.getpid():
            self._reset()
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return
        limit = self.timeout if timeout is None else timeout
        deadline = self._monotonic() + limit
        if not self._queue.acquire(timeout=limit):
            raise WriterBusy(f"the database is locked: no turn to write within {limit:g} s")
        try:
            self._lock_file(deadline)
        except BaseException:
            self._queue.release()
            raise
        self._owner, self._depth = me, 1

    def release(self) -> None:
        if self._owner != threading.get_ident():
            raise RuntimeError("the writer lock is released by a thread that does not hold it")
        self._depth -= 1
        if self._depth:
            return
        self._owner = None
        try:
            self._unlock_file()
        finally:
            self._queue.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    @property
    def held(self) -> bool:
        """Whether the calling thread holds the lock."""
        return self._pid == os.getpid() and self._owner == threading.get_ident()

    # -- the file lock ---------------------------------------------------------------------------------
    def _file(self) -> int | None:
        if not self._opened:
            self._opened = True
            if self.path is not None:
                try:
                    self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
                except OSError as exc:
                    # e.g. a read-only folder: writers still take turns through SQLite's own lock
                    log.warning("no writer lock file %s (%s): writers of other processes poll", self.path, exc)
        return self._fd

    def _lock_file(self, deadline: float) -> None:
        with self._state:
            fd = self._file()
            if fd is None or self._held:
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            else:
                self._held = True
                return
            self._wanted = True
            self._start_helper()
            self._state.notify_all()
            got = self._state.wait_for(lambda: self._held, timeout=max(0.0, deadline - self._monotonic()))
            self._wanted = False
            if not got:
                raise WriterBusy(
                    f"the database is locked: another writer held it past the deadline ({self.timeout:g} s at most)"
                )

    def _unlock_file(self) -> None:
        with self._state:
            if self._held:
                assert self._fd is not None
                self._held = False
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _start_helper(self) -> None:
        if self._helper is None or not self._helper.is_alive():
            self._helper = threading.Thread(target=self._wait_for_file, name="sqlite-writer-lock", daemon=True)
            self._helper.start()

    def _wait_for_file(self) -> None:
        """The helper: blocks in flock whenever a writer wants the lock, and hands it over."""
        while True:
            with self._state:
                self._state.wait_for(lambda: self._wanted and not self._held)
                fd = self._fd
            assert fd is not None
            fcntl.flock(fd, fcntl.LOCK_EX)  # our own open file: a lock we already hold is granted at once
            with self._state:
                if self._held:
                    continue  # a writer got it meanwhile (LOCK_NB on the same open file): it is theirs
                if self._wanted:
                    self._held = True
                    self._state.notify_all()
                else:
                    fcntl.flock(fd, fcntl.LOCK_UN)  # the writer gave up waiting before we got it
