"""The in-memory fake of the inbound mail store (the same promises as ``sql.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from civicswitch.core.errors import Conflict
from civicswitch.hub.mailin.model import DONE, MailRecord, MailState


@dataclass
class MailData:
    mail: dict[int, MailRecord] = field(default_factory=dict)
    next_id: int = 1


class MemoryMailStore:
    def __init__(self, data: MailData) -> None:
        self._d = data

    def add(self, record: MailRecord) -> MailRecord:
        if self.by_message_id(record.message_id) is not None:
            raise Conflict(f"mail {record.message_id!r} is stored already (message_id)")
        mail_id, self._d.next_id = self._d.next_id, self._d.next_id + 1
        saved = dataclasses.replace(record, id=mail_id, sender=record.sender.lower())
        self._d.mail[mail_id] = saved
        return saved

    def get(self, mail_id: int, *, raw: bool = True) -> MailRecord | None:
        found = self._d.mail.get(mail_id)
        return found if found is None or raw else dataclasses.replace(found, raw=None)

    def by_message_id(self, message_id: str) -> MailRecord | None:
        found = next((m for m in self._d.mail.values() if m.message_id == message_id), None)
        return None if found is None else dataclasses.replace(found, raw=None)

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
        found = self._d.mail[mail_id]
        self._d.mail[mail_id] = dataclasses.replace(
            found,
            state=state,
            reason=reason,
            request_id=request_id,
            handled_at=at,
            handled_by=by,
            raw=None if state in DONE else found.raw,
        )

    def in_state(self, state: MailState, limit: int = 100) -> list[MailRecord]:
        found = sorted((m for m in self._d.mail.values() if m.state == state), key=lambda m: (m.received_at, m.id))
        return [dataclasses.replace(m, raw=None) for m in found[:limit]]

    def count_from(self, sender: str, since: datetime, states: Sequence[MailState]) -> int:
        return sum(
            1
            for m in self._d.mail.values()
            if m.sender == sender.lower() and m.received_at >= since and m.state in states
        )
