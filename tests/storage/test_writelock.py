"""The SQLite writer lock (storage/writelock.py): threads of a process and other processes take turns, a
waiter is handed the lock when its holder lets go (or dies), and a wait is bounded by the timeout.

Other processes are plain ``python -c`` children that hold ``flock`` on the lock file, as another web process
does. Nothing here asserts how long anything took: a broken lock shows as a hang, cut off by the timeouts.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from civicswitch.core.db import make_engine
from civicswitch.core.migrate import upgrade
from civicswitch.storage.sql import SqlUnitOfWork, sqlite_writer_lock
from civicswitch.storage.writelock import WriterBusy, WriterLock

NOW = datetime(2026, 12, 1, tzinfo=UTC)
HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


class Holder:
    """Another process holding the lock file until told to let go (a line on its stdin) or killed."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "held"

    def let_go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=30)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / "civicswitch.db-writer.lock"


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    made: list[Holder] = []
    yield made
    for holder in made:
        if holder.proc.poll() is None:
            holder.kill()


def other_process_can_lock(path: Path) -> bool:
    """Whether another process can take the lock file at once (it asks without waiting)."""
    code = "import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\n"
    code += "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n"
    done = subprocess.run([sys.executable, "-c", code, str(path)], timeout=30, check=False)
    assert done.returncode in (0, 3)
    return done.returncode == 0


def acquire_in_thread(lock: WriterLock) -> tuple[threading.Thread, threading.Event, list[BaseException]]:
    got, errors = threading.Event(), []

    def take() -> None:
        try:
            lock.acquire()
        except BaseException as exc:
            errors.append(exc)
            return
        got.set()
        lock.release()

    thread = threading.Thread(target=take)
    thread.start()
    return thread, got, errors


def test_writer_lock__held__other_processes_cannot_take_it_until_released(lock_path: Path) -> None:
    lock = WriterLock(str(lock_path), timeout=30)
    with lock:
        assert lock.held
        assert not other_process_can_lock(lock_path)
    assert not lock.held
    assert other_process_can_lock(lock_path)


def test_writer_lock__same_thread_again__reentrant(lock_path: Path) -> None:
    lock = WriterLock(str(lock_path), timeout=30)
    with lock:
        with lock:
            assert lock.held
        assert lock.held
        assert not other_process_can_lock(lock_path)
    assert other_process_can_lock(lock_path)


def test_writer_lock__second_thread__waits_for_the_first(lock_path: Path) -> None:
    lock = WriterLock(str(lock_path), timeout=30)
    lock.acquire()
    thread, got, errors = acquire_in_thread(lock)
    assert not got.wait(0.2)  # still waiting while the first thread writes
    lock.release()
    thread.join(30)
    assert got.is_set() and not errors


def test_writer_lock__released_by_another_thread__refused(lock_path: Path) -> None:
    lock = WriterLock(str(lock_path), timeout=30)
    with lock:
        errors: list[BaseException] = []

        def release() -> None:
            try:
                lock.release()
            except RuntimeError as exc:
                errors.append(exc)

        thread = threading.Thread(target=release)
        thread.start()
        thread.join(30)
        assert len(errors) == 1
        assert lock.held


def test_writer_lock__other_process_holds_it__taken_once_it_lets_go(lock_path: Path, holders: list[Holder]) -> None:
    holder = Holder(lock_path)
    holders.append(holder)
    lock = WriterLock(str(lock_path), timeout=60)
    thread, got, errors = acquire_in_thread(lock)
    assert not got.wait(0.2)
    holder.let_go()
    thread.join(60)
    assert got.is_set() and not errors
    assert other_process_can_lock(lock_path)  # released again after the writer


def test_writer_lock__holder_killed__lock_taken(lock_path: Path, holders: list[Holder]) -> None:
    holder = Holder(lock_path)
    holders.append(holder)
    lock = WriterLock(str(lock_path), timeout=60)
    thread, got, errors = acquire_in_thread(lock)
    holder.kill()  # SIGKILL: the kernel drops its locks with its files
    thread.join(60)
    assert got.is_set() and not errors


def test_writer_lock__held_past_the_timeout__writer_busy_and_nothing_kept(
    lock_path: Path, holders: list[Holder]
) -> None:
    holder = Holder(lock_path)
    holders.append(holder)
    lock = WriterLock(str(lock_path), timeout=0.2)
    with pytest.raises(WriterBusy, match="locked"):
        lock.acquire()
    assert not lock.held
    holder.let_go()
    # The helper that was still waiting gets the lock after the writer gave up, and must give it back.
    fd = os.open(lock_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks (until the test times out) if the helper kept it
    finally:
        os.close(fd)
    lock.timeout = 60
    with lock:  # and the lock still works for the next writer
        assert lock.held


def test_writer_lock__threads_waiting_behind_a_slow_writer__busy_after_the_timeout(lock_path: Path) -> None:
    lock = WriterLock(str(lock_path), timeout=0.2)
    lock.acquire()
    thread, got, errors = acquire_in_thread(lock)
    thread.join(60)
    lock.release()
    assert not got.is_set() and len(errors) == 1 and isinstance(errors[0], WriterBusy)


def test_writer_lock__no_file__threads_still_take_turns() -> None:
    lock = WriterLock(None, timeout=30)
    lock.acquire()
    thread, got, errors = acquire_in_thread(lock)
    assert not got.wait(0.2)
    lock.release()
    thread.join(30)
    assert got.is_set() and not errors


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_writer_lock__forked_child__has_its_own_lock(lock_path: Path) -> None:
    lock = WriterLock(str(lock_path), timeout=30)
    with lock:
        pass  # the parent has opened its lock file
    lock.acquire()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its inherited open file is the parent's; it must wait for the parent's turn
        os.close(read)
        try:
            lock.timeout = 0.2
            try:
                lock.acquire()
                outcome = b"taken"
            except WriterBusy:
                outcome = b"busy"
            os.write(write, outcome)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        outcome = pipe.read()
    os.waitpid(pid, 0)
    lock.release()
    assert outcome == b"busy"


def test_sqlite_writer_lock__engines_on_one_file__share_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first, second = make_engine(url), make_engine(url)
    try:
        assert sqlite_writer_lock(first) is sqlite_writer_lock(second)
        assert sqlite_writer_lock(first).path == str(tmp_path / "a.db") + "-writer.lock"
        memory = make_engine("sqlite://")
        assert sqlite_writer_lock(memory).path is None
        assert sqlite_writer_lock(memory) is not sqlite_writer_lock(make_engine("sqlite://"))
    finally:
        first.dispose()
        second.dispose()


def test_sql_unit_of_work__writing_on_sqlite__holds_the_writer_lock_until_it_ends(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    lock = sqlite_writer_lock(engine)
    try:
        with SqlUnitOfWork(engine, writing=False):
            assert not lock.held  # readers never queue
        with SqlUnitOfWork(engine) as uow:
            assert lock.held
            uow.commit()
            assert lock.held
        assert not lock.held
        assert other_process_can_lock(Path(lock.path or ""))
    finally:
        engine.dispose()


def test_sql_unit_of_work__reading_first_on_sqlite__takes_the_writer_lock_at_begin_writes(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(engine)
    lock = sqlite_writer_lock(engine)
    try:
        with SqlUnitOfWork(engine).reading_first() as uow:
            assert uow.settings.all() == {}
            assert not lock.held  # its reads let other writers go
            uow.begin_writes()
            assert lock.held
            assert not other_process_can_lock(Path(lock.path or ""))
            uow.settings.set("public_url", "https://311.example.gov", NOW)
            uow.commit()
            assert not lock.held  # the turn ends with the writes
            uow.begin_writes()  # and is taken again for more
            uow.settings.set("timezone", "America/New_York", NOW)
            uow.commit()
        assert not lock.held
        with SqlUnitOfWork(engine, writing=False) as reader:
            assert reader.settings.all() == {"public_url": "https://311.example.gov", "timezone": "America/New_York"}
    finally:
        engine.dispose()


def test_sql_unit_of_work__reading_first_writes_before_begin_writes__refused_and_nothing_kept(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(engine)
    try:
        with pytest.raises(RuntimeError, match="before begin_writes"), SqlUnitOfWork(engine).reading_first() as uow:
            uow.settings.set("public_url", "https://311.example.gov", NOW)
            uow.begin_writes()
        with SqlUnitOfWork(engine, writing=False) as reader:
            assert reader.settings.all() == {}
    finally:
        engine.dispose()


def test_sql_unit_of_work__reading_first_without_writes__never_takes_the_writer_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(engine)
    lock = sqlite_writer_lock(engine)
    try:
        with lock, SqlUnitOfWork(engine).reading_first() as uow:  # another writer holds it throughout
            assert uow.settings.all() == {}
    finally:
        engine.dispose()


def test_writer_lock__shorter_timeout_for_one_wait__busy_after_it_and_the_lock_keeps_its_own(lock_path: Path) -> None:
    lock = WriterLock(str(lock_path), timeout=60)
    lock.acquire()  # this thread holds it; another thread asks with a short deadline
    errors: list[BaseException] = []

    def short_wait() -> None:
        try:
            lock.acquire(timeout=0.05)
        except BaseException as exc:
            errors.append(exc)

    holder = threading.Thread(target=short_wait)
    holder.start()
    holder.join(60)
    lock.release()
    assert len(errors) == 1 and isinstance(errors[0], WriterBusy)
    assert lock.timeout == 60
    thread, got, errs = acquire_in_thread(lock)  # the default wait is unchanged, and the lock is free
    thread.join(60)
    assert got.is_set() and not errs


def test_sql_unit_of_work__turn_timeout_passed__writer_busy_before_anything_is_written(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(engine)
    lock = sqlite_writer_lock(engine)
    errors: list[BaseException] = []

    def file() -> None:
        uow = SqlUnitOfWork(engine)
        uow.turn_timeout = 0.05
        try:
            with uow.reading_first():
                assert uow.settings.all() == {}
                uow.begin_writes()
                uow.settings.set("public_url", "https://311.example.gov", NOW)
                uow.commit()
        except BaseException as exc:
            errors.append(exc)

    try:
        with lock:  # another writer holds the turn throughout
            thread = threading.Thread(target=file)
            thread.start()
            thread.join(60)
        assert len(errors) == 1 and isinstance(errors[0], WriterBusy)
        assert not lock.held
        with SqlUnitOfWork(engine, writing=False) as reader:
            assert reader.settings.all() == {}
    finally:
        engine.dispose()


def test_sql_unit_of_work__sync_later__commit_leaves_its_sync_to_the_caller(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}", sqlite_synchronous="FULL", sqlite_group_commit=True)
    upgrade(engine)
    try:
        uow = SqlUnitOfWork(engine)
        uow.sync_later = True
        with uow.reading_first():
            uow.begin_writes()
            uow.settings.set("public_url", "https://311.example.gov", NOW)
            uow.commit()
        assert uow.owed_sync is not None  # a file database at FULL commits through the group sync
        uow.owed_sync()  # the caller's: returns once the commit is on disk
        with SqlUnitOfWork(engine, writing=False) as reader:
            assert reader.settings.all() == {"public_url": "https://311.example.gov"}
        plain = SqlUnitOfWork(engine)  # by default the unit syncs before commit() returns
        with plain.reading_first():
            plain.begin_writes()
            plain.settings.set("timezone", "America/New_York", NOW)
            plain.commit()
        assert plain.owed_sync is None
    finally:
        engine.dispose()
