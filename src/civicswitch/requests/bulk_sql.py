"""Bulk actions' results in the database (``bulk_results``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from civicswitch.requests.bulk import BulkResult
from civicswitch.requests.commands import BulkItem
from civicswitch.requests.model import Status
from civicswitch.requests.tables import bulk_results


def item_json(item: BulkItem) -> dict[str, Any]:
    return {"id": item.service_request_id, "ok": item.ok, "error": item.error,
            "status": None if item.status is None else str(item.status)}  # fmt: skip


def item_of(data: dict[str, Any]) -> BulkItem:
    status = data.get("status")
    return BulkItem(str(data["id"]), bool(data["ok"]), data.get("error"), None if status is None else Status(status))


class SqlBulkResultStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, result: BulkResult) -> None:
        self._conn.execute(
            insert(bulk_results).values(
                token=result.token,
                user_id=result.user_id,
                action=result.action,
                items=[item_json(i) for i in result.items],
                created_at=result.created_at,
                expires_at=result.expires_at,
            )
        )

    def get(self, token: str) -> BulkResult | None:
        row = self._conn.execute(select(bulk_results).where(bulk_results.c.token == token)).first()
        if row is None:
            return None
        items = tuple(item_of(i) for i in row.items)
        return BulkResult(row.token, row.user_id, row.action, items, row.created_at, row.expires_at)

    def purge(self, expired_before: datetime) -> int:
        done = self._conn.execute(delete(bulk_results).where(bulk_results.c.expires_at < expired_before))
        return int(done.rowcount or 0)
