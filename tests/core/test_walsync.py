"""Group commit on SQLite (issue 9 §4): a commit returns once a sync of the WAL that began after it has ended;
commits made during one sync share the next."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from civicswitch.core.db import make_engine
from civicswitch.core.walsync import AUTOCHECKPOINT_PAGES, Checkpointer, GroupSync, group_sync_for, syncing
from civicswitch.storage.sql import SqlUnitOfWork, sqlite_writer_lock


class GatedSync:
    """A stand-in for fdatasync: records each call and, while ``gate`` is clear, blocks in it."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.calls = 0
        self.fail_next = False

    def __call__(self, _fd: int) -> None:
        self.calls += 1
        self.entered.set()
        assert self.gate.wait(10)
        if self.fail_next:
            self.fail_next = False
            raise OSError(5, "Input/output error")


def _wal(tmp_path: Path) -> str:
    path = tmp_path / "x.db-wal"
    path.write_bytes(b"")
    return str(path)


def _start(target: object) -> threading.Thread:
    thread = threading.Thread(target=target)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_group_sync__commits_made_during_a_sync__share_the_next_one(tmp_path: Path) -> None:
    fake = GatedSync()
    group = GroupSync(_wal(tmp_path), sync=fake)
    fake.gate.clear()
    first = _start(group.sync)
    assert fake.entered.wait(5)
    done: list[int] = []
    later = [_start(lambda n=n: (group.sync(), done.append(n))) for n in range(5)]
    time.sleep(0.05)
    assert done == [], "a commit made during a sync must wait for the next sync, not this one"
    fake.gate.set()
    for thread in (first, *later):
        thread.join(5)
    assert sorted(done) == [0, 1, 2, 3, 4]
    assert fake.calls == 2  # the one under way, then one for the five that came during it
    assert group.syncs == 2 and group.waits == 6


def test_group_sync__alone__syncs_once_per_commit(tmp_path: Path) -> None:
    fake = GatedSync()
    group = GroupSync(_wal(tmp_path), sync=fake)
    for _ in range(3):
        group.sync()
    assert fake.calls == 3


def test_group_sync__a_failed_sync__raises_and_the_next_commit_syncs_again(tmp_path: Path) -> None:
    fake = GatedSync()
    group = GroupSync(_wal(tmp_path), sync=fake)
    fake.fail_next = True
    with pytest.raises(OSError, match="Input/output"):
        group.sync()
    group.sync()
    assert fake.calls == 2 and group.syncs == 1


def test_group_sync__no_log_file__nothing_to_sync(tmp_path: Path) -> None:
    fake = GatedSync()
    GroupSync(str(tmp_path / "gone.db-wal"), sync=fake).sync()
    assert fake.calls == 0


def test_engine__a_write_commits__syncs_the_wal_and_a_read_does_not(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    fake = GatedSync()
    group = group_sync_for(str(tmp_path / "w.db"))
    group._sync = fake
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert fake.calls == 2
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    assert fake.calls == 2  # a read rolls back: nothing to sync


def test_unit_of_work__reading_first__lets_the_writers_turn_go_before_waiting_for_the_sync(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'u.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    fake = GatedSync()
    group_sync_for(str(tmp_path / "u.db"))._sync = fake
    fake.entered.clear()
    fake.gate.clear()

    def write() -> None:
        with SqlUnitOfWork(engine).reading_first() as uow:
            uow.begin_writes()
            uow.requests._conn.execute(text("INSERT INTO t VALUES (1)"))  # type: ignore[attr-defined]
            uow.commit()

    writer = _start(write)
    assert fake.entered.wait(5), "the commit waits for its sync"
    lock = sqlite_writer_lock(engine)
    took = threading.Event()

    def next_writer() -> None:
        with lock:
            took.set()

    other = _start(next_writer)
    assert took.wait(5), "the next writer must not wait for this commit's sync"
    assert writer.is_alive(), "the commit is not acknowledged before its sync ends"
    fake.gate.set()
    writer.join(5)
    other.join(5)
    assert not writer.is_alive()


def test_unit_of_work__commit__is_durable_through_the_group_sync(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    fake = GatedSync()
    group_sync_for(str(tmp_path / "v.db"))._sync = fake
    with SqlUnitOfWork(engine) as uow:
        uow.requests._conn.execute(text("INSERT INTO t VALUES (1)"))  # type: ignore[attr-defined]
        uow.commit()
        assert fake.calls == 1
    with engine.connect() as conn:
        raw = syncing(conn.connection.dbapi_connection)
        assert raw is not None and not raw.defer_sync


def test_engine__grouped_connections__leave_checkpoints_to_the_checkpointer_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    with engine.begin() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == AUTOCHECKPOINT_PAGES
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    group = group_sync_for(str(tmp_path / "c.db"))
    group.checkpoint_every = 5
    for n in range(5):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
    deadline = time.monotonic() + 10
    while group.checkpointer.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert group.checkpointer.runs == 1
    with engine.connect() as conn:
        busy, frames, copied = conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)")).one()
        assert (busy, frames) == (0, copied)  # nothing left behind in the log
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 5


def test_checkpointer__idle__ends_its_thread_and_starts_again_when_due(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    checkpointer = Checkpointer(str(tmp_path / "k.db"), idle=0.05)
    for expected in (1, 2):
        checkpointer.due()
        deadline = time.monotonic() + 10
        while (checkpointer.runs < expected or checkpointer._thread is not None) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.runs == expected and checkpointer._thread is None
