"""The area follows' store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, insert, or_, select, update

from civicswitch.people.area_follows.model import AreaFollow, Cadence
from civicswitch.people.area_follows.tables import area_follows

f = area_follows


def _follow(r: Row[Any]) -> AreaFollow:
    return AreaFollow(
        email=r.email, layer=r.layer, area_key=r.area_key, service_code=r.service_code, cadence=Cadence(r.cadence),
        created_at=r.created_at, language=r.language, id=r.id, confirmed_at=r.confirmed_at, stopped_at=r.stopped_at,
        told_until=r.told_until, due_at=r.due_at,
    )  # fmt: skip


def _values(follow: AreaFollow) -> dict[str, Any]:
    return {
        "email": follow.email, "address_digest": follow.address_digest, "layer": follow.layer,
        "area_key": follow.area_key, "service_code": follow.service_code, "cadence": str(follow.cadence),
        "language": follow.language, "created_at": follow.created_at, "confirmed_at": follow.confirmed_at,
        "stopped_at": follow.stopped_at, "told_until": follow.told_until, "due_at": follow.due_at,
    }  # fmt: skip


_ACTIVE = and_(f.c.confirmed_at.is_not(None), f.c.stopped_at.is_(None))


class SqlAreaFollowStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, follow: AreaFollow) -> AreaFollow:
        new_id = self._conn.execute(insert(f).values(**_values(follow)).returning(f.c.id)).scalar_one()
        follow.id = int(new_id)
        return follow

    def get(self, follow_id: int) -> AreaFollow | None:
        if not 0 < follow_id < 2**31:
            return None
        row = self._conn.execute(select(f).where(f.c.id == follow_id)).first()
        return None if row is None else _follow(row)

    def save(self, follow: AreaFollow) -> None:
        assert follow.id is not None
        values = _values(follow)
        del values["created_at"]
        self._conn.execute(update(f).where(f.c.id == follow.id).values(**values))

    def of_address(self, digest: str) -> list[AreaFollow]:
        rows = self._conn.execute(select(f).where(f.c.address_digest == digest).order_by(f.c.id))
        return [_follow(r) for r in rows]

    def every_change(self, areas: Sequence[tuple[str, str]]) -> list[AreaFollow]:
        if not areas:
            return []
        each = [and_(f.c.layer == layer, f.c.area_key == key) for layer, key in sorted(set(areas))]
        query = select(f).where(or_(*each), f.c.cadence == str(Cadence.EVERY_CHANGE), _ACTIVE).order_by(f.c.id)
        return [_follow(r) for r in self._conn.execute(query)]

    def due(self, now: datetime, limit: int) -> list[AreaFollow]:
        query = select(f).where(f.c.due_at <= now, _ACTIVE).order_by(f.c.due_at, f.c.id).limit(limit)
        if self._conn.dialect.name == "postgresql":  # workers side by side: each digest is taken by one of them
            query = query.with_for_update(skip_locked=True)
        return [_follow(r) for r in self._conn.execute(query)]
