"""The email a resident reads (a residents' connector: ``audience=residents``), one per notice.

An update on a request the resident filed or follows (hub/updates.py), in their language from the templates beside
this module, as plain text and HTML, with a one-click "stop these emails" (``List-Unsubscribe``). And the follow
confirmation, in their language too: it names the request and its service, holds the signed link (good for a few
days), and says plainly what happens if the reader did not ask: nothing, the address is not used. It is sent to
``data.to`` only; the connector has no ``to`` of its own.

With ``reply_to`` set (the city's 311 address, where email in listens: hub/mailin), an update carries it as its
``Reply-To`` and says that a reply is added to the request; its ``Message-ID`` (``<cs_…@…>``, the delivery's
idempotency key) is what ties the reply to the request. A follow confirmation takes no replies."""

from __future__ import annotations

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

POLICY = SMTP.clone(cte_type="7bit")  # as message.py: 7-bit on the wire
TEMPLATES = Path(__file__).parent / "templates"  # an update's words, translated as the pages are (core/i18n.py)


def recipient(message: OutboundMessage) -> str:
    """The resident's address, checked like any address we send to (a bad one fails the delivery for good)."""
    data = message.envelope.get("data")
    to = data.get("to") if isinstance(data, Mapping) else None
    return check_address(to, "to")


@lru_cache(maxsize=16)
def _templates(code: str) -> Environment:
    return jinja_environment(FileSystemLoader(TEMPLATES), code)


def _link(data: Mapping[str, Any], name: str) -> str:
    url = str(data.get(name) or "")
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"the message's {name} is missing or not absolute")
    return url


def _update(data: Mapping[str, Any], replies: bool = False) -> tuple[str, str, str, str]:
    """Subject, plain text, HTML and language of an update (hub/updates.py), in the resident's language."""
    lang = _language(data)
    values = {
        "lang": lang, "number": str(data.get("service_request_id") or ""), "change": data.get("change"),
        "close_reason": data.get("close_reason"), "owner": data.get("owner"), "note": data.get("note"),
        "duplicate_of": data.get("duplicate_of"), "duplicate_url": data.get("duplicate_url"),
        "filer": bool(data.get("filer")), "service": " ".join(str(data.get("service_name") or "").split()),
        "place": " ".join(str(data.get("address") or "").split()),
        "track_url": _link(data, "track_url"), "stop_url": _link(data, "stop_url"),
        # "Is it fixed?" (a closure that says the problem is dealt with: requests/answers.py)
        "fixed_url": _link(data, "fixed_url") if data.get("fixed_url") else None,
        "not_fixed_url": _link(data, "not_fixed_url") if data.get("fixed_url") else None,
        "replies": bool(replies),
    }  # fmt: skip
    env = _templates(lang)
    subject = " ".join(env.get_template("update_subject.txt").render(values).split())
    return subject, env.get_template("update.txt").render(values), env.get_template("update.html").render(values), lang


def _language(data: Mapping[str, Any]) -> str:
    """The message's language: the resident's where we have it, else the instance's (English)."""
    given = data.get("language")
    return chosen(given if isinstance(given, str) else None) or SOURCE


def _confirmation(data: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """Subject, plain text, HTML and language of a follow confirmation."""
    lang = _language(data)
    values = {
        "lang": lang, "number": str(data.get("service_request_id") or ""),
        "service": " ".join(str(data.get("service_name") or "").split()),
        "place": " ".join(str(data.get("address") or "").split()),
        "confirm_url": _link(data, "confirm_url"), "days": int(data.get("link_days") or 7),
    }  # fmt: skip
    env = _templates(lang)
    subject = " ".join(env.get_template("confirm_subject.txt").render(values).split())
    return (
        subject,
        env.get_template("confirm.txt").render(values),
        env.get_template("confirm.html").render(values),
        lang,
    )


def _area(data: Mapping[str, Any], name: str) -> tuple[str, str, str, str]:
    """Subject, plain text, HTML and language of the mail about an area (people/area_follows): ``name`` is
    ``area_confirm``, ``area_update`` or ``area_digest``."""
    lang = _language(data)
    given = data.get("requests")
    requests: list[Any] = given if isinstance(given, list) else []
    for r in [*requests, data.get("request")]:
        if isinstance(r, Mapping):
            _link(r, "track_url")
    values = {
        "lang": lang, "area": " ".join(str(data.get("area_name") or "").split()),
        "service": " ".join(str(data.get("service_name") or "").split()) or None,
        "cadence": str(data.get("cadence") or ""), "request": data.get("request"), "requests": requests,
        "changes": data.get("changes") or [{}], "total": len(requests) + int(data.get("more") or 0),
        "more": int(data.get("more") or 0), "days": int(data.get("link_days") or 7),
        "confirm_url": _link(data, "confirm_url") if name == "area_confirm" else None,
        "stop_url": _link(data, "stop_url") if name != "area_confirm" else None,
        "map_url": str(data.get("map_url") or ""),
    }  # fmt: skip
    env = _templates(lang)
    subject = " ".join(env.get_template(f"{name}_subject.txt").render(values).split())
    text, page = env.get_template(f"{name}.txt").render(values), env.get_template(f"{name}.html").render(values)
    return subject, text, page, lang


_AREA_TEMPLATES = {
    MessageType.AREA_FOLLOW_CONFIRMATION: "area_confirm",
    MessageType.AREA_UPDATE: "area_update",
    MessageType.AREA_DIGEST: "area_digest",
}


def build_resident_email(
    config: Mapping[str, Any], message: OutboundMessage, now: datetime, *, message_id: str
) -> EmailMessage:
    raw = message.envelope.get("data")
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    lang = SOURCE
    if message.type == MessageType.RESIDENT_UPDATE:
        subject, text, page, lang = _update(data, bool(config.get("reply_to")))
    elif message.type == MessageType.FOLLOW_CONFIRMATION:
        subject, text, page, lang = _confirmation(data)
    elif message.type in _AREA_TEMPLATES:
        subject, text, page, lang = _area(data, _AREA_TEMPLATES[message.type])
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
    if data.get("service_request_id") or message.request_id is not None:
        email["X-Civicswitch-Request-Id"] = str(data.get("service_request_id") or message.request_id)
    email["X-Civicswitch-Event-Type"] = str(message.envelope.get("type") or message.type)
    if message.type in (MessageType.RESIDENT_UPDATE, MessageType.AREA_UPDATE, MessageType.AREA_DIGEST):
        # one click in the mail program stops them (RFC 8058)
        email["List-Unsubscribe"] = f"<{data['stop_url']}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        # a reply comes back to the city's 311 address: a note on the request (hub/mailin)
        if config.get("reply_to") and message.type == MessageType.RESIDENT_UPDATE:
            email["Reply-To"] = config["reply_to"]
    email.set_content(text)
    if config.get("html"):
        email.add_alternative(page, subtype="html")
    email["Content-Language"] = lang  # after the content: setting it clears the Content-* headers
    return email
