"""The inbound mail store port (``sql.py``; in-memory fake ``memory.py``;
``tests/hub/mailin/test_mail_store_contract.py`` holds both to the same promises)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from civicswitch.hub.mailin.model import MailRecord, MailState


class MailStore(Protocol):
    def add(self, record: MailRecord) -> MailRecord:
        """Store a message received; :class:`Conflict` when one with the same ``message_id`` is stored."""
        ...

    def get(self, mail_id: int, *, raw: bool = True) -> MailRecord | None: ...
    def by_message_id(self, message_id: str) -> MailRecord | None:
        """The message stored with this id (without its raw bytes), if any."""
        ...

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
        """Where the message went; a handled state (``model.DONE``) lets its raw bytes go."""
        ...

    def in_state(self, state: MailState, limit: int = 100) -> list[MailRecord]:
        """Messages in ``state``, oldest first (without their raw bytes)."""
        ...

    def count_from(self, sender: str, since: datetime, states: Sequence[MailState]) -> int:
        """Messages from ``sender`` (lower-cased) received at or after ``since`` now in one of ``states``."""
        ...
