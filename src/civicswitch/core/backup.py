"""A consistent copy of a live SQLite database (SQLite's online backup API: committed data, WAL included)."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine


class BackupRefused(Exception):
    """The backup cannot be made as asked (message fit for an operator)."""


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    bytes: int
    pages: int


def backup_sqlite(engine: Engine, target: Path, *, overwrite: bool = False) -> Backup:
    """Copy the SQLite database behind ``engine`` to ``target`` while it is in use: every committed transaction,
    including those still in the write-ahead log, and nothing half-written. The file is readable by its owner
    only (it holds residents' contact data), written next to ``target`` and renamed into place when checked."""
    if engine.dialect.name != "sqlite":
        raise BackupRefused(
            f"the database is {engine.dialect.name}: back it up with its own tools, e.g. "
            "`pg_dump --format=custom --file=FILE DBNAME` (see docs/deployment.md)"
        )
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupRefused("an in-memory database cannot be backed up")
    if target.exists() and not overwrite:
        raise BackupRefused(f"{target} already exists: give a new file name (or --overwrite)")
    if target.exists() and target.resolve() == Path(database).resolve():
        raise BackupRefused(f"{target} is the database itself")
    if not target.parent.is_dir():
        raise BackupRefused(f"folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # one step: a consistent snapshot; writers are not blocked (WAL)
            checked = copy.execute("PRAGMA integrity_check").fetchone()[0]
            pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
        finally:
            copy.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        raw.close()
    if checked != "ok":
        partial.unlink(missing_ok=True)
        raise BackupRefused(f"the copy failed its integrity check ({checked}); the database may be damaged")
    os.replace(partial, target)
    return Backup(target, target.stat().st_size, pages)
