"""Email in: what is kept of each message received, and where it went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class MailState(StrEnum):
    RECEIVED = "received"  # stored, not yet handled (the listener handles it at once; a crash leaves it for later)
    FILED = "filed"  # a new request (request_id)
    THREADED = "threaded"  # a reply to our mail: a public note on request_id
    TRIAGE = "triage"  # an agent picks the service and the place (the agent console's mail queue)
    FILED_FROM_TRIAGE = "filed_from_triage"  # an agent filed it (request_id)
    DISMISSED = "dismissed"  # an agent said it is not a request (reason)
    IGNORED = "ignored"  # an auto-reply or a bounce (reason)
    RATE_LIMITED = "rate_limited"  # the sender had more requests made from their mail today than allowed


# Handled: the raw message is no longer kept (the record, its text and the reason are).
DONE = frozenset({MailState.FILED, MailState.THREADED, MailState.FILED_FROM_TRIAGE, MailState.DISMISSED,
                  MailState.IGNORED, MailState.RATE_LIMITED})  # fmt: skip
# What counts against a sender's daily limit: each made (or will make, once an agent files it) a request.
COUNTED = (MailState.FILED, MailState.TRIAGE, MailState.FILED_FROM_TRIAGE)

LIMITS = {"sender": 320, "subject": 500, "message_id": 255, "reason": 500, "handled_by": 300}
MAX_TEXT = 4000  # the text kept with the record (the whole message is kept raw until handled)


@dataclass(frozen=True, slots=True)
class MailRecord:
    """One message received. ``raw`` is the message as it came, kept until it is handled (None after, or when not
    read from the store); ``text`` the first part of its text, kept for good."""

    received_at: datetime
    sender: str
    subject: str
    message_id: str
    state: MailState
    size: int
    text: str = ""
    reason: str = ""
    request_id: int | None = None
    raw: bytes | None = None
    handled_at: datetime | None = None
    handled_by: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            if value is not None and len(value) > limit:
                raise ValueError(f"mail {name} is longer than {limit} characters")
