"""Sends each message over SMTP, one kept-open connection per mail server (and login), reopened after failure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from civicswitch.hub.connectors.email.config import bare_address
from civicswitch.hub.connectors.email.message import build_email
from civicswitch.hub.model import Connector, OutboundMessage, Outcome, OutcomeKind

log = logging.getLogger(__name__)

_LinkKey = tuple[str, int, bool, str | None, str | None]


@dataclass(eq=False)
class _Link:
    """One SMTP connection. ``turn`` queues the coroutines; ``guard`` keeps the worker threads apart even when a
    cancelled coroutine's thread is still finishing."""

    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    guard: threading.Lock = field(default_factory=threading.Lock)
    smtp: smtplib.SMTP | None = None

    def drop(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(OSError):
                self.smtp.close()
        self.smtp = None


class _Refused(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.detail)
        self.outcome = outcome


def _reply(code: int, text: bytes | str) -> str:
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(raw.split())}"[:300]


def by_code(code: int, text: bytes | str, doing: str) -> Outcome:
    """A mail server's refusal: 4xx is temporary (retry), 5xx permanent (fail), anything else retried."""
    detail = f"SMTP {doing}: {_reply(code, text)}"
    if 500 <= code < 600:
        return Outcome(OutcomeKind.FAILED, detail, code)
    return Outcome(OutcomeKind.RETRY, detail, code if code > 0 else None)


class EmailSender:
    """Implements :class:`civicswitch.hub.connectors.Sender` for ``email`` connectors."""

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._links: dict[_LinkKey, _Link] = {}

    async def send(self, connector: Connector, message: OutboundMessage) -> Outcome:
        config = connector.config
        try:
            email = build_email(config, message, self._now())
            payload = email.as_bytes()
            sender = bare_address(config["from"])
            to = [str(email["To"])] if config.get("audience") == "residents" else config["to"]
            recipients = [bare_address(a) for a in to]
            key: _LinkKey = (
                str(config["smtp_host"]),
                int(config.get("smtp_port", 25)),
                bool(config.get("starttls", False)),
                config.get("username"),
                connector.secret,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return Outcome(OutcomeKind.FAILED, f"cannot build the email: {type(exc).__name__}: {exc}"[:500])
        if key[3] and not connector.secret:
            return Outcome(OutcomeKind.FAILED, "email: username is set but the connector has no secret (password)")
        link = self._links.get(key)
        if link is None:
            link = self._links[key] = _Link()
        async with link.turn:
            return await asyncio.to_thread(self._deliver, link, config, key, payload, sender, recipients)

    async def aclose(self) -> None:
        links, self._links = list(self._links.values()), {}
        for link in links:
            async with link.turn:
                await asyncio.to_thread(self._quit, link)

    # -- in a worker thread ------------------------------------------------------------------------------
    @staticmethod
    def _quit(link: _Link) -> None:
        with link.guard:
            if link.smtp is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    link.smtp.quit()
                link.drop()

    @staticmethod
    def _open(config: Mapping[str, Any], key: _LinkKey) -> smtplib.SMTP:
        host, port, starttls, username, password = key
        smtp = smtplib.SMTP(host, port, timeout=float(config.get("timeout_s", 30)))
        try:
            smtp.ehlo()
            if starttls:
                if not smtp.has_extn("starttls"):
                    raise _Refused(Outcome(OutcomeKind.FAILED, f"SMTP: {host}:{port} does not offer STARTTLS"))
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if username:
                if not smtp.has_extn("auth"):
                    raise _Refused(Outcome(OutcomeKind.FAILED, f"SMTP: {host}:{port} does not offer AUTH (login)"))
                try:
                    smtp.login(username, password or "")
                except smtplib.SMTPAuthenticationError as exc:
                    raise _Refused(by_code(exc.smtp_code, exc.smtp_error, "login refused")) from exc
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _deliver(
        self,
        link: _Link,
        config: Mapping[str, Any],
        key: _LinkKey,
        payload: bytes,
        sender: str,
        recipients: list[str],
    ) -> Outcome:
        with link.guard:
            for attempt in (1, 2):
                reused = link.smtp is not None
                try:
                    if link.smtp is None:
                        link.smtp = self._open(config, key)
                    return self._transaction(link.smtp, payload, sender, recipients)
                except _Refused as refused:
                    self._reset(link)
                    return refused.outcome
                except smtplib.SMTPServerDisconnected as exc:
                    link.drop()
                    if reused and attempt == 1:
                        log.debug("email: %s:%s closed the kept connection (%s); reconnecting", key[0], key[1], exc)
                        continue  # the server closed an idle connection: once more on a new one
                    return Outcome(OutcomeKind.RETRY, f"SMTP: connection closed: {exc}"[:500])
                except smtplib.SMTPResponseException as exc:
                    link.drop()
                    return by_code(exc.smtp_code, exc.smtp_error, "refused")
                except (smtplib.SMTPException, ssl.SSLError, OSError, UnicodeError) as exc:
                    link.drop()
                    if isinstance(exc, TimeoutError):
                        return Outcome(OutcomeKind.RETRY, f"SMTP: {key[0]}:{key[1]} timed out")
                    return Outcome(OutcomeKind.RETRY, f"SMTP: {key[0]}:{key[1]}: {type(exc).__name__}: {exc}"[:500])
            raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _reset(link: _Link) -> None:
        """After a refused transaction the connection is kept (RSET) unless the server went away."""
        if link.smtp is None:
            return
        try:
            link.smtp.rset()
        except (smtplib.SMTPException, OSError):
            link.drop()

    @staticmethod
    def _transaction(smtp: smtplib.SMTP, payload: bytes, sender: str, recipients: list[str]) -> Outcome:
        smtp.ehlo_or_helo_if_needed()
        code, text = smtp.mail(sender)
        if code != 250:
            raise _Refused(by_code(code, text, "sender refused"))
        refused: dict[str, str] = {}
        codes: list[int] = []
        for recipient in recipients:
            code, text = smtp.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = _reply(code, text)
                codes.append(code)
        if len(refused) == len(recipients):
            listed = "; ".join(f"{r}: {t}" for r, t in refused.items())
            if all(500 <= c < 600 for c in codes):
                raise _Refused(Outcome(OutcomeKind.FAILED, f"SMTP recipients refused: {listed}"[:500], codes[0]))
            temporary = next(c for c in codes if not 500 <= c < 600)
            raise _Refused(Outcome(OutcomeKind.RETRY, f"SMTP recipients refused: {listed}"[:500], temporary))
        code, text = smtp.data(payload)
        if code != 250:
            raise _Refused(by_code(code, text, "message refused"))
        detail = f"SMTP {_reply(code, text)}"
        if refused:
            detail += " (not accepted for " + "; ".join(f"{r}: {t}" for r, t in refused.items()) + ")"
        return Outcome.delivered(detail[:500], status_code=code)
