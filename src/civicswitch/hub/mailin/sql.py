"""The inbound mail store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from civicswitch.core.db import unique_as_conflict
from civicswitch.hub.mailin.model import DONE, MailRecord, MailState
from civicswitch.hub.mailin.tables import inbound_mail

m = inbound_mail
_LIGHT = [c for c in m.c if c.name != "raw"]


def _record(r: Row[Any], raw: bytes | None = None) -> MailRecord:
    return MailRecord(
        received_at=r.received_at, sender=r.sender, subject=r.subject, message_id=r.message_id,
        state=MailState(r.state), size=r.size, text=r.text, reason=r.reason, request_id=r.request_id, raw=raw,
        handled_at=r.handled_at, handled_by=r.handled_by, id=r.id,
    )  # fmt: skip


class SqlMailStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, record: MailRecord) -> MailRecord:
        values = {
            "received_at": record.received_at, "sender": record.sender.lower(), "subject": record.subject,
            "message_id": record.message_id, "state": str(record.state), "reason": record.reason,
            "request_id": record.request_id, "size": record.size, "text": record.text, "raw": record.raw,
            "handled_at": record.handled_at, "handled_by": record.handled_by,
        }  # fmt: skip
        with unique_as_conflict(f"mail {record.message_id!r}"):
            new_id = self._conn.execute(insert(m).values(**values).returning(m.c.id)).scalar_one()
        saved = self.get(new_id)
        assert saved is not None
        return saved

    def get(self, mail_id: int, *, raw: bool = True) -> MailRecord | None:
        if not 0 < mail_id < 2**31:
            return None
        row = self._conn.execute(select(*_LIGHT, *([m.c.raw] if raw else [])).where(m.c.id == mail_id)).first()
        if row is None:
            return None
        return _record(row, bytes(row.raw) if raw and row.raw is not None else None)

    def by_message_id(self, message_id: str) -> MailRecord | None:
        row = self._conn.execute(select(*_LIGHT).where(m.c.message_id == message_id)).first()
        return None if row is None else _record(row)

    def settle(
        self,
        mail_id: int,
        state: MailState,
        at: datetime,
        *,
        reason: str = "",
        request_id: int | None = None,
        by: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": str(state), "reason": reason, "request_id": request_id, "handled_at": at,
                                  "handled_by": by}  # fmt: skip
        if state in DONE:
            values["raw"] = None
        self._conn.execute(update(m).where(m.c.id == mail_id).values(**values))

    def in_state(self, state: MailState, limit: int = 100) -> list[MailRecord]:
        q = select(*_LIGHT).where(m.c.state == str(state)).order_by(m.c.received_at, m.c.id).limit(limit)
        return [_record(r) for r in self._conn.execute(q)]

    def count_from(self, sender: str, since: datetime, states: Sequence[MailState]) -> int:
        q = select(func.count()).where(
            m.c.sender == sender.lower(), m.c.received_at >= since, m.c.state.in_([str(s) for s in states])
        )
        return int(self._conn.execute(q).scalar_one())
