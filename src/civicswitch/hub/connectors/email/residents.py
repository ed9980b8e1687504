"""The email a resident reads (a residents' connector: ``audience=residents``), one per notice.

An update on a request the resident filed or follows (hub/updates.py), in their language from the templates beside
this module, as plain text and HTML, with a one-click "stop these emails" (``List-Unsubscribe``). And the follow
confirmation: it names the request and its service, holds the signed link (good for a few
days), and says plainly what happens if the reader did not ask: nothing, the address is not used. It is sent to
``data.to`` only; the connector has no ``to`` of its own."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from civicswitch.core.i18n import SOURCE, chosen, jinja_environment
from civicswitch.hub.connectors.email.config import check_address
from civicswitch.hub.model import MessageType, OutboundMessage

NOT_READ = "This message was sent automatically. Replies to it are not read."
POLICY = SMTP.clone(cte_type="7bit")  # as message.py: 7-bit on the wire
TEMPLATES = Path(__file__).parent / "templates"  # an update's words, translated as the pages are (core/i18n.py)


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


@lru_cache(maxsize=16)
def _templates(code: str) -> Environment:
    return jinja_environment(FileSystemLoader(TEMPLATES), code)


def _link(data: Mapping[str, Any], name: str) -> str:
    url = str(data.get(name) or "")
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"the message's {name} is missing or not absolute")
    return url


def _update(data: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """Subject, plain text, HTML and language of an update (hub/updates.py), in the resident's language."""
    lang = chosen(data.get("language") if isinstance(data.get("language"), str) else None) or SOURCE
    values = {
        "lang": lang, "number": str(data.get("service_request_id") or ""), "change": data.get("change"),
        "close_reason": data.get("close_reason"), "owner": data.get("owner"), "note": data.get("note"),
        "duplicate_of": data.get("duplicate_of"), "duplicate_url": data.get("duplicate_url"),
        "filer": bool(data.get("filer")), "service": " ".join(str(data.get("service_name") or "").split()),
        "place": " ".join(str(data.get("address") or "").split()),
        "track_url": _link(data, "track_url"), "stop_url": _link(data, "stop_url"),
    }  # fmt: skip
    env = _templates(lang)
    subject = " ".join(env.get_template("update_subject.txt").render(values).split())
    return subject, env.get_template("update.txt").render(values), env.get_template("update.html").render(values), lang


def build_resident_email(
    config: Mapping[str, Any], message: OutboundMessage, now: datetime, *, message_id: str
) -> EmailMessage:
    raw = message.envelope.get("data")
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    lang = SOURCE
    if message.type == MessageType.RESIDENT_UPDATE:
        subject, text, page, lang = _update(data)
    elif message.type == MessageType.FOLLOW_CONFIRMATION:
        _link(data, "confirm_url")
        subject, text, page = _confirmation(data)
    else:
        raise ValueError(f"a residents' connector sends no {message.type} messages")
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
    if message.type == MessageType.RESIDENT_UPDATE:  # one click in the mail program stops them (RFC 8058)
        email["List-Unsubscribe"] = f"<{data['stop_url']}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(text)
    if config.get("html"):
        email.add_alternative(page, subtype="html")
    email["Content-Language"] = lang  # after the content: setting it clears the Content-* headers
    return email
