"""Instance settings stored in the database: the port, its SQL implementation and its in-memory fake."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, delete, insert, select, update

from civicswitch.storage.tables import instance_settings


class SettingsStore(Protocol):
    def all(self) -> dict[str, Any]:
        """Every stored setting (key → JSON value)."""
        ...

    def set(self, key: str, value: Any, at: datetime) -> None: ...
    def unset(self, key: str) -> bool: ...


class SqlSettingsStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def all(self) -> dict[str, Any]:
        rows = self._conn.execute(select(instance_settings.c.key, instance_settings.c.value))
        return {r.key: r.value for r in rows}

    def set(self, key: str, value: Any, at: datetime) -> None:
        table = instance_settings
        done = self._conn.execute(update(table).where(table.c.key == key).values(value=value, updated_at=at))
        if not done.rowcount:
            self._conn.execute(insert(table).values(key=key, value=value, updated_at=at))

    def unset(self, key: str) -> bool:
        return bool(self._conn.execute(delete(instance_settings).where(instance_settings.c.key == key)).rowcount)


class MemorySettingsStore:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def all(self) -> dict[str, Any]:
        return dict(self._data)

    def set(self, key: str, value: Any, at: datetime) -> None:
        self._data[key] = value

    def unset(self, key: str) -> bool:
        return self._data.pop(key, None) is not None
