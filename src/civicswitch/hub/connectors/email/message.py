"""The email a department reads: a plain-text message (and optionally an HTML alternative) per request event.

Built only from the CloudEvent's ``data`` (what the outbox decided this body may see), so the email never carries
more than a webhook would."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any

from civicswitch.hub.connectors.email.config import bare_address
from civicswitch.hub.connectors.email.residents import build_resident_email
from civicswitch.hub.model import MessageType, OutboundMessage

SUBJECT_LIMIT = 200
NOT_READ = "This message was sent automatically by Civic Switchboard. Replies to it are not read."
# 7-bit on the wire (quoted-printable or base64 bodies): any mail server takes it, 8BITMIME or not.
POLICY = SMTP.clone(cte_type="7bit")
MAP_URL = "https://www.openstreetmap.org/?mlat={lat}&mlon={long}#map=18/{lat}/{long}"

_HEADLINES = {
    MessageType.CREATED: "New request {id}",
    MessageType.STATUS_CHANGED: "Request {id} is now {status}",
    MessageType.NOTE: "Note on request {id}",
    MessageType.TRANSFERRED: "Request {id} moved to {transferred_to}",
}
_INTROS = {
    MessageType.CREATED: "A new service request {id} is assigned to {agency}.",
    MessageType.STATUS_CHANGED: "Service request {id} changed status: it is now {status}.",
    MessageType.NOTE: "A note was added to service request {id}.",
    MessageType.TRANSFERRED: "Service request {id} was transferred from {agency_old} to {transferred_to}; "
    "it no longer needs work from you.",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value if v is not None and v != "")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).strip()


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _when(value: Any) -> str:
    """An ISO timestamp as ``2026-11-28 12:00 UTC`` (or as given, when it is not one)."""
    text = _text(value)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return text
    offset = at.utcoffset()
    if offset is None:
        return at.strftime("%Y-%m-%d %H:%M")
    if not offset:
        return at.strftime("%Y-%m-%d %H:%M UTC")
    return at.isoformat(sep=" ", timespec="minutes")


def request_link(public_url: str | None, request_id: str) -> str | None:
    """The request's page: ``public_url`` with ``{id}`` filled in, or ``<public_url>/requests/<id>``."""
    if not public_url:
        return None
    if "{id}" in public_url:
        return public_url.replace("{id}", request_id)
    return f"{public_url.rstrip('/')}/requests/{request_id}"


def message_id(idempotency_key: str, sender: str) -> str:
    """The same ``Message-ID`` for every resend of one message, so a receiver can drop the copies."""
    domain = bare_address(sender).rpartition("@")[2] or "civicswitch.invalid"
    local = re.sub(r"[^A-Za-z0-9_.+-]", "-", idempotency_key) or "message"
    return f"<{local}@{domain}>"


class Fields:
    """The readable pieces of one message's data."""

    def __init__(self, message: OutboundMessage, config: Mapping[str, Any]) -> None:
        envelope = message.envelope
        raw = envelope.get("data")
        data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        self.type = message.type
        self.data = data
        self.id = _text(data.get("service_request_id")) or _text(envelope.get("subject")) or str(message.request_id)
        self.service = _one_line(_text(data.get("service_name")) or _text(data.get("service_code")) or "service")
        self.status = _text(data.get("status"))
        self.agency = _text(data.get("agency"))
        self.transferred_to = _text(data.get("transferred_to"))
        address = _one_line(_text(data.get("address")))
        zipcode = _one_line(_text(data.get("zipcode")))
        self.address = f"{address}, {zipcode}" if address and zipcode else address or zipcode
        lat, long = data.get("lat"), data.get("long")
        located = isinstance(lat, int | float) and isinstance(long, int | float) and not isinstance(lat, bool)
        self.location = f"{lat:.6f}, {long:.6f}" if located else ""
        self.map_url = MAP_URL.format(lat=f"{lat:.6f}", long=f"{long:.6f}") if located else None
        self.link = request_link(config.get("public_url"), self.id)
        self.key = message.idempotency_key

    def where(self) -> str:
        return _one_line(_text(self.data.get("address"))) or self.location

    def subject(self, prefix: str) -> str:
        headline = _HEADLINES.get(self.type, "Request {id}").format(
            id=self.id, status=self.status or "updated", transferred_to=self.transferred_to or "another body"
        )
        if self.type == MessageType.CREATED and self.data.get("referred"):
            headline = f"Referred request {self.id}"
        text = f"{prefix} {headline}: {self.service}" if prefix else f"{headline}: {self.service}"
        where = self.where()
        if where:
            text += f" — {where}"
        text = _one_line(text)
        return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1].rstrip() + "…"

    def intro(self) -> str:
        intro = _INTROS.get(self.type, "Service request {id} changed.").format(
            id=self.id,
            agency=self.agency or "you",
            agency_old="you",
            status=self.status or "updated",
            transferred_to=self.transferred_to or "another body",
        )
        if self.type == MessageType.CREATED and self.data.get("referred"):
            intro = f"Service request {self.id} was referred to {self.agency or 'you'}."
        return intro

    def facts(self) -> list[tuple[str, str]]:
        """Label and value of each short field, in reading order (empty ones left out)."""
        status = self.status
        external = _text(self.data.get("external_status"))
        if external and external != status:
            status = f"{status} (your code: {external})" if status else external
        rows = [
            ("Request", self.id),
            ("Service", self.service),
            ("Status", status),
            ("Department", "" if self.agency == self.transferred_to else self.agency),
            ("Transferred to", self.transferred_to),
            ("Address", self.address),
            ("Location", self.location),
            ("Map", self.map_url or ""),
            ("Areas", _text(self.data.get("areas"))),
            ("Requested", _when(self.data.get("requested_datetime"))),
            ("Due", _when(self.data.get("expected_datetime"))),
            ("Photo", _text(self.data.get("media_url"))),
        ]
        return [(label, _one_line(value)) for label, value in rows if value]

    def texts(self) -> list[tuple[str, str]]:
        """Label and text of each free-text field (kept as written, line breaks and all)."""
        rows = [
            ("Description", _text(self.data.get("description"))),
            ("Note", _text(self.data.get("note"))),
            ("Status notes", _text(self.data.get("status_notes"))),
        ]
        return [(label, value) for label, value in rows if value]

    def attributes(self) -> list[tuple[str, str]]:
        raw = self.data.get("attributes")
        if not isinstance(raw, Mapping):
            return []
        return [(_one_line(str(k)), _one_line(_text(v))) for k, v in raw.items() if _text(v)]

    def contact(self) -> list[tuple[str, str]]:
        raw = self.data.get("contact")
        if not isinstance(raw, Mapping):
            return []
        name = _one_line(f"{_text(raw.get('first_name'))} {_text(raw.get('last_name'))}")
        rows = [("Name", name), ("Email", _text(raw.get("email"))), ("Phone", _text(raw.get("phone")))]
        return [(label, _one_line(value)) for label, value in rows if value]


def _table(rows: list[tuple[str, str]], indent: str = "") -> list[str]:
    width = max((len(label) for label, _ in rows), default=0) + 1
    return [f"{indent}{(label + ':').ljust(width)} {value}" for label, value in rows]


def plain_text(fields: Fields) -> str:
    lines = [fields.intro(), ""]
    lines += _table(fields.facts())
    for label, text in fields.texts():
        lines += ["", f"{label}:"] + ["  " + line if line.strip() else "" for line in text.splitlines()]
    if attributes := fields.attributes():
        lines += ["", "Details:", *_table(attributes, "  ")]
    if contact := fields.contact():
        lines += ["", "Contact (personal data: use only to handle this request):", *_table(contact, "  ")]
    if fields.link:
        lines += ["", f"Open the request: {fields.link}"]
    lines += ["", "-- ", NOT_READ, f"Reference: {fields.key} (a message with the same reference is a resend)."]
    return "\n".join(lines) + "\n"


def html_text(fields: Fields) -> str:
    esc = html.escape

    def table(rows: list[tuple[str, str]]) -> str:
        cells = "".join(
            f'<tr><th align="left" valign="top" style="padding-right:1em">{esc(label)}</th>'
            f"<td>{_html_value(value)}</td></tr>"
            for label, value in rows
        )
        return f"<table>{cells}</table>"

    parts = [f"<p>{esc(fields.intro())}</p>", table(fields.facts())]
    for label, text in fields.texts():
        parts.append(f'<h3>{esc(label)}</h3><p style="white-space:pre-wrap">{esc(text)}</p>')
    if attributes := fields.attributes():
        parts.append(f"<h3>Details</h3>{table(attributes)}")
    if contact := fields.contact():
        parts.append(f"<h3>Contact</h3><p><em>Personal data: use only to handle this request.</em></p>{table(contact)}")
    if fields.link:
        parts.append(f'<p><a href="{esc(fields.link)}">Open the request</a></p>')
    parts.append(
        f'<hr><p style="color:#555">{esc(NOT_READ)}<br>Reference: {esc(fields.key)} '
        "(a message with the same reference is a resend).</p>"
    )
    return '<!DOCTYPE html><html><body style="font-family:sans-serif">' + "".join(parts) + "</body></html>\n"


def _html_value(value: str) -> str:
    if re.fullmatch(r"https?://\S+", value):
        return f'<a href="{html.escape(value)}">{html.escape(value)}</a>'
    return html.escape(value)


def build_email(config: Mapping[str, Any], message: OutboundMessage, now: datetime) -> EmailMessage:
    """The email for one outbound message, with the connector's checked settings (a residents' connector: the
    resident's email, see ``residents.py``)."""
    if config.get("audience") == "residents":
        mid = message_id(message.idempotency_key, config["from"])
        return build_resident_email(config, message, now, message_id=mid)
    fields = Fields(message, config)
    email = EmailMessage(policy=POLICY)
    email["Subject"] = fields.subject(str(config.get("subject_prefix", "[311]")))
    email["From"] = config["from"]
    email["To"] = ", ".join(config["to"])
    email["Date"] = format_datetime(now)
    email["Message-ID"] = message_id(message.idempotency_key, config["from"])
    email["Auto-Submitted"] = "auto-generated"
    email["X-Auto-Response-Suppress"] = "All"
    email["X-Civicswitch-Idempotency-Key"] = message.idempotency_key
    email["X-Civicswitch-Request-Id"] = fields.id
    email["X-Civicswitch-Event-Type"] = str(message.envelope.get("type") or message.type)
    email.set_content(plain_text(fields))
    if config.get("html"):
        email.add_alternative(html_text(fields), subtype="html")
    return email
