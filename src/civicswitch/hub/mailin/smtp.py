"""The SMTP listener the city's mail relay hands residents' mail to (``civicswitch mail serve``), with ``aiosmtpd``.

It speaks plain SMTP (no login, no TLS): run it on the relay's side of the network (``127.0.0.1`` by default) and
let the relay (Postfix, Exim, a cloud mail service's forwarder) do the Internet-facing work: TLS, SPF/DKIM/DMARC
checks, spam filtering (docs/deployment.md, "Email in").

Each message is stored (committed) before the listener answers 250: a 250 means the message is kept, whatever
happens next. It is then handled (hub/mailin/handlers.py) before the answer too; a failure there is logged and the
message stays ``received`` for :func:`handle_pending` (the next start). Answers: 550 for a recipient that is not
``mail_address`` (when set), 552 for a message over ``mail_max_bytes`` (aiosmtpd counts it), 451 when it could not
be stored (the relay keeps it and tries again later)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from civicswitch.core.clock import Clock
from civicswitch.hub.mailin.handlers import MailSettings, handle_mail, store_mail

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)


def for_address(ours: str, recipient: str) -> bool:
    """Whether ``recipient`` is our address or a ``+tag`` form of it (``311+anything@city.gov``), any case."""
    local, _, domain = recipient.strip().strip("<>").lower().rpartition("@")
    want_local, _, want_domain = ours.lower().rpartition("@")
    return domain == want_domain and local.split("+", 1)[0] == want_local


class MailHandler:
    """aiosmtpd's handler: takes the recipients we serve, stores and handles each message."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, settings: MailSettings, address: str = "") -> None:
        self._uow = uow
        self._clock = clock
        self._settings = settings
        self._address = address.strip().lower()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self._address and not for_address(self._address, address):
            log.info("mail for %s refused: this listener takes mail for %s only", address[:200], self._address)
            return "550 5.1.1 Not a mailbox of this service"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):  # pragma: no cover - decode_data is off: bytes
            raw = raw.encode("utf-8", "surrogateescape")
        if not isinstance(raw, bytes):  # pragma: no cover - a DATA command always carries the message
            return "554 5.6.0 No message"
        sender = envelope.mail_from.strip().strip("<>") if isinstance(envelope.mail_from, str) else None
        if sender is not None and not any(c in sender for c in "\r\n<>"):
            # the envelope's sender kept with the message, as a final delivery does (RFC 5321 §4.4): an empty one
            # is a bounce's (hub/mailin/parse.py)
            raw = f"Return-Path: <{sender}>\r\n".encode("utf-8", "surrogateescape") + raw
        try:
            received = await asyncio.to_thread(store_mail, self._uow(), self._clock, raw, sender)
        except Exception:
            log.exception("mail from %s (%d bytes) could not be stored: answered 451", sender, len(raw))
            return "451 4.3.0 Could not keep the message now; try again later"
        record = received.record
        if received.duplicate:
            return f"250 2.0.0 Already received as mail {record.id}"
        assert record.id is not None
        mail_id = record.id
        try:
            await asyncio.to_thread(handle_mail, self._uow(), self._clock, mail_id, self._settings)
        except Exception:  # kept: handled again at the next start (handle_pending)
            log.exception("mail %s stored but not handled yet: it stays received", mail_id)
        return f"250 2.0.0 Received as mail {mail_id}"


class MailListener(Controller):
    """The listener on a thread of its own (aiosmtpd's Controller): ``start()``, ``stop()``."""

    def __init__(self, handler: MailHandler, host: str, port: int, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self.max_bytes = max_bytes

    def factory(self) -> SMTP:
        return SMTP(self.handler, data_size_limit=self.max_bytes, enable_SMTPUTF8=True, ident="Civic Switchboard",
                    hostname=None)  # fmt: skip
