"""A raw RFC 5322 message read into what email-in needs (:class:`InboundMail`), and what kind of mail it is.

Read with the standard library (``email`` with ``policy.default``): the sender (``From``, else the envelope's), the
subject, the text (the ``text/plain`` part, else the HTML part as plain text — nothing of it is ever rendered as
HTML), the attachments, and the threading headers (``Message-ID``, ``In-Reply-To``, ``References``).

:func:`automatic_reason` tells an auto-reply or a bounce (RFC 3834 ``Auto-Submitted``, the ``X-Autoreply`` /
``X-Autorespond`` family, ``Precedence: bulk|junk|list|auto_reply``, an empty or MAILER-DAEMON / postmaster return
path, a ``multipart/report`` delivery or read report). An "Out of office" subject alone proves nothing (a resident
may write one): it counts only together with one of those headers' weaker signs (``X-Auto-Response-Suppress``, a
``List-Id``)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.errors import HeaderParseError
from email.message import EmailMessage, Message
from email.policy import default
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

MAX_TEXT = 100_000  # characters of a message's text read at all (a reply is cut to its new part after)
MAX_ATTACHMENTS = 20
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,250})>")


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str | None
    content_type: str  # as the message declares it (the photo checks sniff the bytes: requests/media.py)
    data: bytes


@dataclass(frozen=True, slots=True)
class InboundMail:
    """One message as email-in reads it. ``sender`` is the bare address, lower-cased domain; ``name`` its display
    name. ``message_id`` is the message's own, or one made from its bytes (so the same bytes are handled once)."""

    sender: str
    name: str
    subject: str
    text: str
    message_id: str
    in_reply_to: tuple[str, ...] = ()  # In-Reply-To then References, newest first, without the angle brackets
    recipients: tuple[str, ...] = ()  # To and Cc addresses
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    automatic: str | None = None  # why it is an auto-reply or a bounce (None: a person wrote it)
    language: str | None = None  # Content-Language, when the message says


class _Text(HTMLParser):
    """HTML to plain text: the text only, a line break for each block, nothing of scripts and styles."""

    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table",
                        "ul", "ol", "pre", "hr", "section", "article", "header", "footer"})  # fmt: skip
    HIDDEN = frozenset({"script", "style", "head", "title", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        elif tag == "blockquote":
            self._quote += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "blockquote":
            self._quote = max(0, self._quote - 1)
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        text = " ".join(data.split())
        if text:
            self.parts.append(("> " if self._quote else "") + text + " ")


def html_to_text(page: str) -> str:
    """The words of an HTML part, as lines of plain text (quoted blocks kept as ``>`` lines)."""
    parser = _Text()
    parser.feed(page[: MAX_TEXT * 4])
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()  # character references were converted as read


# "On Mon, 7 Dec 2026 at 10:00, City 311 <311@city.gov> wrote:" and its Spanish forms, perhaps over two lines
_WROTE = re.compile(
    r"^\s*(on|el|em|le)\b.{0,300}?\b(wrote|escribi[oó]|escreveu|a [ée]crit)\s*:\s*$", re.IGNORECASE | re.DOTALL
)
_FORWARD = re.compile(
    r"^\s*(-{2,}\s*(original message|mensaje original|forwarded message|mensaje reenviado)\s*-{2,}"
    r"|_{10,}|from:\s.*|de:\s.*)\s*$",
    re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """The new part of a reply: quoted text ("On … wrote:" and what follows, ``>`` lines) and signatures cut, by
    ``mail-parser-reply`` (English and Spanish headers), then the forms it misses (a Gmail header in Spanish)."""
    text = text[:MAX_TEXT]
    try:
        reply = EmailReplyParser(languages=["en", "es"]).parse_reply(text)
    except (re.error, RecursionError, IndexError):  # pragma: no cover - a library's surprise: keep the whole text
        reply = None
    kept: list[str] = []
    lines = (reply if reply is not None else text).splitlines()
    for index, line in enumerate(lines):
        two = line + " " + lines[index + 1] if index + 1 < len(lines) else line
        if _WROTE.match(line) or (_WROTE.match(two) and not line.rstrip().endswith(":")) or _FORWARD.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def _automatic(msg: Message, envelope_sender: str | None, subject: str) -> str | None:
    def header(name: str) -> str:
        return " ".join(str(msg.get(name, "") or "").split()).lower()

    auto = header("auto-submitted")
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply"):
        if msg.get(name) is not None:
            return f"{name}: {header(name) or 'set'}"
    precedence = header("precedence")
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    if msg.get_content_type() == "multipart/report":
        kind = str(msg.get_param("report-type") or "report").lower()
        return f"a {kind} (multipart/report)"
    paths = [envelope_sender] if envelope_sender is not None else []
    paths += [str(v) for v in msg.get_all("return-path", [])]
    for path in paths:
        bare = path.strip().strip("<>").strip().lower()
        if not bare:
            return "an empty return path (a bounce)"
        local = bare.partition("@")[0]
        if local in ("mailer-daemon", "postmaster"):
            return f"a return path of {local} (a bounce)"
    sender = parseaddr(str(msg.get("from", "")))[1].lower().partition("@")[0]
    if sender in ("mailer-daemon", "postmaster"):
        return f"from {sender} (a bounce)"
    weak = msg.get("x-auto-response-suppress") is not None or msg.get("list-id") is not None
    if weak and re.search(r"out of (the )?office|auto(matic)?[ -]?reply|fuera de la oficina|respuesta autom",
                          subject, re.IGNORECASE):  # fmt: skip
        return f"an automatic reply (subject {subject[:80]!r})"
    return None


def _header_text(msg: Message, name: str) -> str:
    try:
        return " ".join(str(msg.get(name, "") or "").split())
    except (HeaderParseError, ValueError, IndexError):  # a header the parser cannot decode: as written
        raw = msg.get_all(name, failobj=[]) or [""]
        return " ".join(str(raw[0]).split())


def _ids(value: str) -> list[str]:
    return _MESSAGE_ID.findall(value)


def _body(msg: EmailMessage) -> str:
    """The text/plain part's text, else (none, or an empty one) the HTML part's as plain text."""
    for kind in ("plain", "html"):
        try:
            part = msg.get_body(preferencelist=(kind,))
        except (KeyError, LookupError):  # pragma: no cover - a broken structure: no text
            part = None
        text = _part_text(part) if isinstance(part, EmailMessage) else ""
        if text.strip():
            return text
    return ""


def _part_text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    content = content[: MAX_TEXT * 4]
    text = html_to_text(content) if part.get_content_type() == "text/html" else content
    return text.replace("\r\n", "\n")[:MAX_TEXT]


def _attachments(msg: EmailMessage) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for part in msg.iter_attachments() if msg.is_multipart() else ():
        found.extend(_walk_attachment(part))
    # inline images of an HTML message (multipart/related) are photos too
    for part in msg.walk():
        if part.get_content_maintype() == "image" and part.get("content-id") and not part.get_filename():
            data = part.get_payload(decode=True)
            if isinstance(data, bytes) and all(a.data != data for a in found):
                found.append(Attachment(None, part.get_content_type(), data))
    return tuple(found[:MAX_ATTACHMENTS])


def _walk_attachment(part: Message) -> list[Attachment]:
    if part.is_multipart():
        return [a for sub in part.get_payload() if isinstance(sub, Message) for a in _walk_attachment(sub)]
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or not data:
        return []
    filename = part.get_filename()
    return [Attachment(filename[:255] if filename else None, part.get_content_type(), data)]


def _address(value: str) -> tuple[str, str]:
    name, address = parseaddr(value)
    address = address.strip()
    if "@" in address:
        local, _, domain = address.rpartition("@")
        address = f"{local}@{domain.lower()}"
    return " ".join(name.split()), address


def made_message_id(raw: bytes) -> str:
    """The id of a message that has none: from its bytes, so a second delivery of the same bytes is the same."""
    return f"sha256.{hashlib.sha256(raw).hexdigest()[:40]}@civicswitch.invalid"


def parse_mail(raw: bytes, envelope_sender: str | None = None) -> InboundMail:
    """Read a raw message. Never raises for a malformed message: what cannot be read is left empty."""
    msg = message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    subject = _header_text(msg, "subject")[:500]
    name, sender = _address(_header_text(msg, "from"))
    if not sender and envelope_sender:
        sender = envelope_sender.strip().strip("<>")
    own = _ids(_header_text(msg, "message-id"))
    threads = [*reversed(_ids(_header_text(msg, "in-reply-to")))]
    for ref in reversed(_ids(_header_text(msg, "references"))):
        if ref not in threads:
            threads.append(ref)
    recipients = tuple(
        a.lower() for _, a in getaddresses([_header_text(msg, "to"), _header_text(msg, "cc")]) if "@" in a
    )
    language = _header_text(msg, "content-language").split(",")[0].strip() or None
    return InboundMail(
        sender=sender[:320],
        name=name[:200],
        subject=subject,
        text=_body(msg),
        message_id=own[0] if own else made_message_id(raw),
        in_reply_to=tuple(threads[:50]),
        recipients=recipients[:50],
        attachments=_attachments(msg),
        automatic=_automatic(msg, envelope_sender, subject),
        language=language[:16] if language else None,
    )


def split_name(name: str) -> tuple[str | None, str | None]:
    """A display name as first and last name (``"Ana María Ruiz"`` → ``("Ana María", "Ruiz")``)."""
    parts = name.replace('"', "").split()
    if not parts:
        return None, None
    if len(parts) == 1:
        return parts[0][:200], None
    return " ".join(parts[:-1])[:200], parts[-1][:200]


__all__ = ["Attachment", "InboundMail", "html_to_text", "parse_mail", "split_name", "strip_quoted"]
