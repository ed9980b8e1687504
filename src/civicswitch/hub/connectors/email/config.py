"""Email connector settings: checked and normalised once, when the connector is created or changed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from civicswitch.core.errors import Invalid

SETTINGS = (
    "to",
    "from",
    "smtp_host",
    "smtp_port",
    "starttls",
    "username",
    "timeout_s",
    "public_url",
    "subject_prefix",
    "html",
    "include_contact",
    "audience",
    "reply_to",
)
AUDIENCES = ("department", "residents")
MAX_RECIPIENTS = 20

# A plain ASCII addr-spec: local@domain.tld (no quoting, no comments, no IP literals), the form mail systems
# of public bodies use. Display names (``City 311 <noreply@city.gov>``) are taken in ``from`` and ``to``.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}|localhost"
_ADDRESS = re.compile(rf"(?:{_LOCAL})@(?:{_DOMAIN})")
_NAMED = re.compile(r"(.*?)\s*<([^<>]*)>")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")


def _fail(setting: str, text: str) -> Invalid:
    return Invalid(f"email: {setting} {text}", field=setting)


def _split(text: str) -> list[str]:
    """Split ``a@x.org, "Smith, J" <j@y.org>`` on the commas outside quotes and angle brackets."""
    parts: list[str] = []
    current: list[str] = []
    quoted = angled = False
    for char in text:
        if char == '"' and not angled:
            quoted = not quoted
        elif char == "<" and not quoted:
            angled = True
        elif char == ">" and not quoted:
            angled = False
        elif char == "," and not quoted and not angled:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def check_address(value: object, setting: str) -> str:
    """One address, optionally with a display name; returned as a header-ready ``Name <addr>`` or ``addr``."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(setting, "must be an email address such as dpw-311@city.gov")
    text = value.strip()
    bad = _fail(setting, f"is not a valid email address: {text[:80]!r}")
    if any(c in text for c in "\r\n\x00") or len(text) > 320:
        raise bad
    named = _NAMED.fullmatch(text)
    name, addr = (named.group(1).strip(), named.group(2).strip()) if named else ("", text)
    if not _ADDRESS.fullmatch(addr) or len(addr) > 254:
        raise bad
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:
        name = name[1:-1].replace('\\"', '"')
    elif any(c in name for c in '<>@,;:"'):
        raise bad
    name = " ".join(name.split())
    if not name:
        return addr
    if re.search(r'[][\\()<>@,:;".]', name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{addr}>"


def bare_address(address: str) -> str:
    """``City 311 <noreply@city.gov>`` → ``noreply@city.gov`` (for the SMTP envelope)."""
    named = _NAMED.fullmatch(address.strip())
    return named.group(2).strip() if named else address.strip()


def _addresses(value: object) -> list[str]:
    if isinstance(value, str):
        items: list[object] = list(_split(value))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise _fail("to", "must be an address or a list of addresses")
    if not items:
        raise _fail("to", "must name at least one address")
    if len(items) > MAX_RECIPIENTS:
        raise _fail("to", f"takes at most {MAX_RECIPIENTS} addresses")
    found: list[str] = []
    for item in items:
        address = check_address(item, "to")
        if address not in found:
            found.append(address)
    return found


def _bool(config: Mapping[str, Any], setting: str, default: bool) -> bool:
    value = config.get(setting, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(setting, f"must be true or false, got {value!r}")
    return value


def check_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise email settings (see the package docstring); raises :class:`Invalid` naming the
    setting."""
    unknown = set(config) - set(SETTINGS)
    if "allow_private" in unknown:
        raise Invalid(
            "email: --allow-private is for connectors that call a URL (webhook, open311); an email connector's "
            "smtp_host may be on a private network without it",
            field="allow_private",
        )
    if unknown:
        raise Invalid(f"email: unknown setting {', '.join(sorted(unknown))} (known: {', '.join(SETTINGS)})")
    audience = config.get("audience", "department")
    if audience not in AUDIENCES:
        raise _fail("audience", f"must be one of {', '.join(AUDIENCES)}, got {audience!r}")
    if audience == "residents":
        if config.get("to") not in (None, "", []):
            raise _fail("to", "must be left out: a residents' connector writes to each resident's own address")
        if config.get("include_contact"):
            raise _fail("include_contact", "does not apply to a residents' connector")
        to: list[str] = []
    else:
        to = _addresses(config.get("to"))
        if config.get("reply_to") not in (None, ""):
            raise _fail("reply_to", "is for a residents' connector (their replies come back through email in)")
    reply_to = check_address(config["reply_to"], "reply_to") if config.get("reply_to") not in (None, "") else None
    sender = check_address(config.get("from"), "from")

    host = config.get("smtp_host")
    if not isinstance(host, str) or not _HOST.fullmatch(host.strip()):
        raise _fail("smtp_host", f"must be a host name or IP address, got {host!r}")
    port = config.get("smtp_port", 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise _fail("smtp_port", f"must be a port number (1–65535), got {port!r}")
    starttls = _bool(config, "starttls", False)

    username = config.get("username")
    if username is not None:
        if not isinstance(username, str) or not username.strip() or any(c in username for c in "\r\n\x00"):
            raise _fail("username", "must be a non-empty text without line breaks (the password is the secret)")
        username = username.strip()

    timeout = config.get("timeout_s", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
        raise _fail("timeout_s", "must be a number of seconds above 0 and at most 300")

    public_url = config.get("public_url")
    if public_url is not None:
        parts = urlsplit(public_url) if isinstance(public_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or any(
            c in public_url for c in " \r\n\x00"
        ):  # fmt: skip
            raise _fail("public_url", f"must be an http(s) URL, got {str(public_url)[:100]!r}")
        if "{" in public_url.replace("{id}", ""):
            raise _fail("public_url", "may contain only the placeholder {id}")

    prefix = config.get("subject_prefix", "[311]")
    if not isinstance(prefix, str) or len(prefix) > 40 or any(c in prefix for c in "\r\n\x00"):
        raise _fail("subject_prefix", "must be a short text (at most 40 characters) without line breaks")

    return {
        "to": to,
        "from": sender,
        "smtp_host": host.strip(),
        "smtp_port": port,
        "starttls": starttls,
        "username": username,
        "timeout_s": float(timeout),
        "public_url": public_url,
        "subject_prefix": prefix.strip(),
        "html": _bool(config, "html", False),
        "include_contact": _bool(config, "include_contact", False),
        "audience": audience,
        **({"reply_to": reply_to} if reply_to else {}),  # a residents' connector's, when set
    }
