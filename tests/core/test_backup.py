"""`civicswitch backup`: a consistent copy of a live SQLite database, committed transactions still in the WAL
included; restored, it holds exactly what the database held."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from civicswitch.core.backup import BackupRefused, backup_sqlite
from civicswitch.core.db import make_engine
from civicswitch.core.migrate import current, head
from civicswitch.storage.schema import metadata


def table_rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            t.name: sorted(tuple(r) for r in conn.execute(text(f'SELECT * FROM "{t.name}"')))
            for t in metadata.sorted_tables
        }


def test_backup_sqlite__live_database_with_unchecked_wal__restored_copy_holds_every_row(
    engine: Engine, loaded: dict[str, str], tmp_path: Path
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the SQLite backup")
    database = Path(str(engine.url.database))
    with engine.connect() as conn:  # the engine keeps its connections open: nothing is checkpointed
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    wal = database.with_name(database.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the catalog and keys are (also) in the WAL

    made = backup_sqlite(engine, tmp_path / "backup.db")

    assert made.path == tmp_path / "backup.db" and made.bytes > 0
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    restored_path = tmp_path / "restored.db"
    restored_path.write_bytes(made.path.read_bytes())  # restore = put the file in place
    restored = make_engine(f"sqlite:///{restored_path}")
    assert current(restored) == head()
    original = table_rows(engine)
    assert original["api_clients"] and original["services"]
    assert table_rows(restored) == original
    restored.dispose()


def test_backup_sqlite__target_exists__refused_unless_overwrite(engine: Engine, tmp_path: Path) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the SQLite backup")
    target = tmp_path / "backup.db"
    target.write_text("keep me")
    with pytest.raises(BackupRefused, match="already exists"):
        backup_sqlite(engine, target)
    assert target.read_text() == "keep me"
    backup_sqlite(engine, target, overwrite=True)
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not list(tmp_path.glob(".*.partial"))


def test_backup_sqlite__postgresql__refused_naming_pg_dump(engine: Engine, tmp_path: Path) -> None:
    if engine.dialect.name == "sqlite":
        with pytest.raises(BackupRefused, match=r"folder .*nowhere does not exist"):
            backup_sqlite(engine, tmp_path / "nowhere" / "backup.db")
        return
    with pytest.raises(BackupRefused, match="pg_dump"):
        backup_sqlite(engine, tmp_path / "backup.db")
    assert not (tmp_path / "backup.db").exists()
