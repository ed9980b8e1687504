"""SQLite is opened with synchronous=FULL unless configured otherwise (issue 8 §3): an acknowledged request
survives a power loss. At FULL a file database commits through a group sync of its WAL (core/walsync.py, issue 9 §4):
SQLite itself then runs at NORMAL and every commit returns after a sync of the log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, text

from civicswitch.core.db import UTCDateTime, make_engine, sqlite_time
from civicswitch.core.migrate import upgrade
from civicswitch.core.walsync import syncing
from civicswitch.settings import Settings
from civicswitch.web.app import create_app

FULL, NORMAL = 2, 1  # what PRAGMA synchronous answers


def _synchronous(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        if syncing(conn.connection.dbapi_connection) is not None:
            assert int(conn.execute(text("PRAGMA synchronous")).scalar_one()) == NORMAL
            return FULL  # durable at every commit, by the group sync
        return int(conn.execute(text("PRAGMA synchronous")).scalar_one())


def test_make_engine__sqlite__synchronous_full_by_default(tmp_path: Path) -> None:
    assert _synchronous(make_engine(f"sqlite:///{tmp_path / 'a.db'}")) == FULL


def test_make_engine__sqlite_file_at_full__commits_through_a_group_sync(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    with engine.connect() as conn:
        raw = syncing(conn.connection.dbapi_connection)
        assert raw is not None and raw.group_sync is not None
        assert raw.group_sync.wal_path == str(tmp_path / "g.db") + "-wal"
        assert int(conn.execute(text("PRAGMA synchronous")).scalar_one()) == NORMAL


def test_make_engine__group_commit_off__sqlite_syncs_each_commit_itself(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}", sqlite_group_commit=False)
    with engine.connect() as conn:
        assert syncing(conn.connection.dbapi_connection) is None
        assert int(conn.execute(text("PRAGMA synchronous")).scalar_one()) == FULL


def test_make_engine__normal_or_memory__no_group_sync(tmp_path: Path) -> None:
    for engine in (
        make_engine(f"sqlite:///{tmp_path / 'i.db'}", sqlite_synchronous="NORMAL"),
        make_engine("sqlite://"),
    ):
        with engine.connect() as conn:
            assert syncing(conn.connection.dbapi_connection) is None


def test_settings__sqlite_group_commit_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", f"sqlite:///{tmp_path / 'j.db'}")
    monkeypatch.setenv("CIVICSWITCH_SQLITE_GROUP_COMMIT", "false")
    engine = create_app(Settings()).state.engine
    with engine.connect() as conn:
        assert syncing(conn.connection.dbapi_connection) is None
        assert int(conn.execute(text("PRAGMA synchronous")).scalar_one()) == FULL


def test_make_engine__sqlite__synchronous_as_configured(tmp_path: Path) -> None:
    assert _synchronous(make_engine(f"sqlite:///{tmp_path / 'a.db'}", sqlite_synchronous="normal")) == NORMAL
    with pytest.raises(ValueError, match="sqlite_synchronous"):
        make_engine(f"sqlite:///{tmp_path / 'a.db'}", sqlite_synchronous="SOMETIMES")


def test_settings__sqlite_synchronous_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    monkeypatch.setenv("CIVICSWITCH_SQLITE_SYNCHRONOUS", "normal")
    app = create_app(Settings())
    assert _synchronous(app.state.engine) == NORMAL
    monkeypatch.delenv("CIVICSWITCH_SQLITE_SYNCHRONOUS")
    assert _synchronous(create_app(Settings()).state.engine) == FULL


def test_served_app__sqlite_synchronous_from_the_environment__applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade(make_engine(url))
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", url)
    monkeypatch.setenv("CIVICSWITCH_SQLITE_SYNCHRONOUS", "normal")
    app = create_app()  # as `civicswitch serve` builds it: the settings read from the database at start-up
    assert app.state.ctx.settings.sqlite_synchronous == "NORMAL"
    assert _synchronous(app.state.engine) == NORMAL
    app.state.engine.dispose()


def test_make_engine__sqlite_file__hands_out_the_connection_returned_last(tmp_path: Path) -> None:
    # Its page cache is the one no other connection has written past (a rotation re-read every page).
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    first, second = engine.connect(), engine.connect()
    first_raw, second_raw = first.connection.dbapi_connection, second.connection.dbapi_connection
    first.close()
    second.close()
    with engine.connect() as again:
        assert again.connection.dbapi_connection is second_raw
    second = engine.connect()
    with engine.connect() as other:
        assert other.connection.dbapi_connection is first_raw
    second.close()
    engine.dispose()


@pytest.mark.parametrize(
    "moment",
    [datetime(2023, 3, 1, 4, 45, tzinfo=UTC), datetime(2023, 3, 1, 4, 45, 1, 123, tzinfo=UTC),
     datetime(2023, 3, 1, 0, 45, 1, tzinfo=ZoneInfo("America/New_York"))],
)  # fmt: skip
def test_sqlite_time__any_instant__is_the_text_utcdatetime_stores(moment: datetime) -> None:
    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime))
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert().values(at=moment))
        assert conn.execute(text("SELECT at FROM t")).scalar() == sqlite_time(moment)
