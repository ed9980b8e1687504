"""The response templates' store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, or_, select, update

from civicswitch.core.db import unique_as_conflict
from civicswitch.responses.model import ResponseTemplate
from civicswitch.responses.tables import response_templates

rt = response_templates


def _templates(rows: Iterable[Row[Any]]) -> list[ResponseTemplate]:
    return [
        ResponseTemplate(r.name, r.body, bool(r.public), r.service_code, r.updated_at, r.updated_by, r.id) for r in rows
    ]


class SqlTemplateStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, template_id: int) -> ResponseTemplate | None:
        found = _templates(self._conn.execute(select(rt).where(rt.c.id == template_id)))
        return found[0] if found else None

    def save(self, template: ResponseTemplate) -> ResponseTemplate:
        values = {
            "name": template.name,
            "service_code": template.service_code,
            "public": template.public,
            "body": template.body,
            "updated_at": template.updated_at,
            "updated_by": template.updated_by,
        }
        with unique_as_conflict(f"response template {template.name!r}"):
            if template.id is None:
                new_id = self._conn.execute(insert(rt).values(**values).returning(rt.c.id)).scalar_one()
            else:
                new_id = template.id
                self._conn.execute(update(rt).where(rt.c.id == new_id).values(**values))
        saved = self.get(new_id)
        assert saved is not None
        return saved

    def delete(self, template_id: int) -> bool:
        return self._conn.execute(delete(rt).where(rt.c.id == template_id)).rowcount > 0

    def all(self) -> list[ResponseTemplate]:
        q = select(rt).order_by(rt.c.service_code.is_not(None), rt.c.service_code, rt.c.name, rt.c.id)
        return _templates(self._conn.execute(q))

    def for_service(self, service_code: str) -> list[ResponseTemplate]:
        q = (
            select(rt)
            .where(or_(rt.c.service_code == service_code, rt.c.service_code.is_(None)))
            .order_by(rt.c.name, rt.c.id)
        )
        return _templates(self._conn.execute(q))
