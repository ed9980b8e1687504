"""The email a resident reads (a residents' connector: ``audience=residents``), one per notice.

Today: the follow confirmation. It names the request and its service, holds the signed link (good for a few
days), and says plainly what happens if the reader did not ask: nothing, the address is not used. It is sent to
``data.to`` only; the connector has no ``to`` of its own."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any

from civicswitch.hub.connectors.email.config import check_address
from civicswitch.hub.model import MessageType, OutboundMessage

NOT_READ = "This message was sent automatically. Replies to it are not read."
POLICY = SMTP.clone(cte_type="7bit")  # as message.py: 7-bit on the wire


def recipient(message: OutboundMessage) -> str:
    """The resident's address, checked like any address we send to (a bad one fails the delivery for good)."""
    data = message.envelope.get("data")
    to = data.get("to") if isinstance(data, Mapping) else None
    return check_address(to, "to")


def _confirmation(data: Mapping[str, Any]) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a follow confirmation."""
    rid = str(data.get("service_request_id") or "")
    service = " ".join(str(data.get("service_name") or "").split())
    where = " ".join(str(data.get("address") or "").split())
    url = str(data.get("confirm_url") or "")
    days = int(data.get("link_days") or 7)
    what = f"request {rid}" + (f" ({service}{', ' + where if where else ''})" if service else "")
    subject = f"Confirm that you want updates on request {rid}"
    text = "\n".join(
        [
            f"Someone, probably you, asked to receive updates by email on {what}.",
            "",
            "To confirm, open this link and press the button on the page:",
            url,
            "",
            f"The link works for {days} days. Until you confirm, nothing else is sent to this address.",
            "If you did not ask for this, ignore this message: this address will not be used.",
            "",
            "-- ",
            NOT_READ,
        ]
    )
    esc = html.escape
    page = (
        '<!DOCTYPE html><html lang="en"><body style="font-family:sans-serif">'
        f"<p>Someone, probably you, asked to receive updates by email on {esc(what)}.</p>"
        f'<p><a href="{esc(url)}">Confirm that you want updates on request {esc(rid)}</a></p>'
        f"<p>The link works for {days} days. Until you confirm, nothing else is sent to this address. "
        "If you did not ask for this, ignore this message: this address will not be used.</p>"
        f'<hr><p style="color:#555">{esc(NOT_READ)}</p></body></html>\n'
    )
    return subject, text + "\n", page


def build_resident_email(
    config: Mapping[str, Any], message: OutboundMessage, now: datetime, *, message_id: str
) -> EmailMessage:
    raw = message.envelope.get("data")
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    if message.type != MessageType.FOLLOW_CONFIRMATION:
        raise ValueError(f"a residents' connector sends no {message.type} messages")
    if not str(data.get("confirm_url") or "").startswith(("https://", "http://")):
        raise ValueError("the confirmation link is missing")
    subject, text, page = _confirmation(data)
    email = EmailMessage(policy=POLICY)
    email["Subject"] = subject
    email["From"] = config["from"]
    email["To"] = recipient(message)
    email["Date"] = format_datetime(now)
    email["Message-ID"] = message_id
    email["Auto-Submitted"] = "auto-generated"
    email["X-Auto-Response-Suppress"] = "All"
    email["X-Civicswitch-Idempotency-Key"] = message.idempotency_key
    email["X-Civicswitch-Request-Id"] = str(data.get("service_request_id") or message.request_id)
    email["X-Civicswitch-Event-Type"] = str(message.envelope.get("type") or message.type)
    email.set_content(text)
    if config.get("html"):
        email.add_alternative(page, subtype="html")
    return email
