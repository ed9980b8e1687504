"""SQL store of API clients."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from civicswitch.core.db import storable, unique_as_conflict
from civicswitch.people.clients import ApiClient, Scope
from civicswitch.people.tables import api_clients


class SqlClientStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, client: ApiClient) -> ApiClient:
        with unique_as_conflict("api client key"):
            new_id = self._insert(client)
        return dataclasses.replace(client, id=new_id)

    def _insert(self, client: ApiClient) -> int:
        new_id: int = self._conn.execute(
            insert(api_clients)
            .values(
                name=client.name,
                key_prefix=client.key_prefix,
                key_hash=client.key_hash,
                scopes=sorted(str(s) for s in client.scopes),
                created_at=client.created_at,
                revoked_at=client.revoked_at,
                body_code=client.body_code,
                rate_limit=client.rate_limit,
            )
            .returning(api_clients.c.id)
        ).scalar_one()
        return new_id

    def by_hash(self, key_hash: str) -> ApiClient | None:
        if not storable(key_hash):
            return None
        row = self._conn.execute(select(api_clients).where(api_clients.c.key_hash == key_hash)).first()
        return None if row is None else _client(row)

    def all(self) -> list[ApiClient]:
        return [_client(r) for r in self._conn.execute(select(api_clients).order_by(api_clients.c.id))]

    def get(self, client_id: int) -> ApiClient | None:
        row = self._conn.execute(select(api_clients).where(api_clients.c.id == client_id)).first()
        return None if row is None else _client(row)

    def set_limit(self, client_id: int, rate_limit: int | None) -> bool:
        result = self._conn.execute(
            update(api_clients).where(api_clients.c.id == client_id).values(rate_limit=rate_limit)
        )
        return bool(result.rowcount)

    def set_body(self, client_id: int, body_code: str | None) -> bool:
        result = self._conn.execute(
            update(api_clients).where(api_clients.c.id == client_id).values(body_code=body_code)
        )
        return bool(result.rowcount)

    def revoke(self, client_id: int, at: datetime) -> bool:
        result = self._conn.execute(
            update(api_clients)
            .where(api_clients.c.id == client_id, api_clients.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(result.rowcount)


def _client(row: Any) -> ApiClient:
    return ApiClient(
        name=row.name,
        key_prefix=row.key_prefix,
        key_hash=row.key_hash,
        scopes=frozenset(Scope(s) for s in row.scopes),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        id=row.id,
        body_code=row.body_code,
        rate_limit=row.rate_limit,
    )
