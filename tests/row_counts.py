"""Row counts of every table: "nothing was written" in tests that compare them before and after a refused call."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text


def row_counts(engine: Engine) -> dict[str, int]:
    """Each table's row count. SQLite's FTS5 tables (the word indexes of the queue and the agent search) cannot be
    scanned: their shadow tables (``…_data`` and the rest) are counted instead."""
    with engine.connect() as conn:
        virtual: set[str] = set()
        if conn.dialect.name == "sqlite":
            found = conn.execute(text("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'"))
            virtual = set(found.scalars())
        tables = [t for t in inspect(conn).get_table_names() if t not in virtual]
        return {t: int(conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one()) for t in tables}
