"""Bulk actions' results in the in-memory database (a fake of ``bulk_sql.py``)."""

from __future__ import annotations

from datetime import datetime

from civicswitch.requests.bulk import BulkResult


class MemoryBulkResultStore:
    def __init__(self, data: dict[str, BulkResult]) -> None:
        self._data = data

    def add(self, result: BulkResult) -> None:
        if result.token in self._data:
            raise ValueError(f"bulk result {result.token!r} exists")  # the primary key, as in SQL
        self._data[result.token] = result

    def get(self, token: str) -> BulkResult | None:
        return self._data.get(token)

    def purge(self, expired_before: datetime) -> int:
        old = [t for t, r in self._data.items() if r.expires_at < expired_before]
        for token in old:
            del self._data[token]
        return len(old)
