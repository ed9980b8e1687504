"""NATS connector settings: checked and normalised once, when the connector is created or changed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from civicswitch.core.errors import Invalid

SETTINGS = (
    "servers",
    "subject_prefix",
    "stream",
    "create_stream",
    "duplicate_window_s",
    "timeout_s",
    "user",
    "include_contact",
)
DEFAULT_SERVERS = ("nats://127.0.0.1:4222",)
DEFAULT_PREFIX = "civicswitch.requests"
# JetStream drops a message whose Nats-Msg-Id it has seen within the stream's duplicate window. The server's
# default is 2 minutes; a stream this connector creates keeps ids for a day, longer than the retry schedule.
DEFAULT_DUPLICATE_WINDOW_S = 86_400
_SCHEMES = ("nats", "tls", "ws", "wss")
_TOKEN = re.compile(r"[^\s.*>]+")
_STREAM = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _fail(setting: str, text: str) -> Invalid:
    return Invalid(f"nats: {setting} {text}", field=setting)


def _servers(value: object) -> list[str]:
    if value is None:
        return list(DEFAULT_SERVERS)
    if isinstance(value, str):
        items: list[object] = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise _fail("servers", "must be a server URL or a list of them (nats://host:4222)")
    if not items or len(items) > 16:
        raise _fail("servers", "must name 1–16 servers (nats://host:4222)")
    found: list[str] = []
    for item in items:
        url = item.strip() if isinstance(item, str) else ""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if parts is None or parts.scheme not in _SCHEMES or not parts.hostname or any(c.isspace() for c in url):
            raise _fail(
                "servers", f"must be nats://, tls://, ws:// or wss:// URLs with a host, got {str(item)[:100]!r}"
            )
        if parts.username or parts.password:
            raise _fail("servers", "must not hold credentials: set user and put the password (or token) in the secret")
        if port == 0:
            raise _fail("servers", f"has no valid port in {url!r}")
        if url not in found:
            found.append(url)
    return found


def subject_for(prefix: str, message_type: str) -> str:
    """``civicswitch.requests`` + ``created`` → ``civicswitch.requests.created``."""
    return f"{prefix}.{message_type}"


def check_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise NATS settings (see the package docstring); raises :class:`Invalid` naming the
    setting."""
    unknown = set(config) - set(SETTINGS)
    if unknown:
        raise Invalid(f"nats: unknown setting {', '.join(sorted(unknown))} (known: {', '.join(SETTINGS)})")
    servers = _servers(config.get("servers"))

    prefix = config.get("subject_prefix", DEFAULT_PREFIX)
    if not isinstance(prefix, str) or len(prefix) > 200 or not all(_TOKEN.fullmatch(t) for t in prefix.split(".")):
        raise _fail(
            "subject_prefix",
            f"must be dot-separated subject tokens without spaces or wildcards (e.g. {DEFAULT_PREFIX}), got {prefix!r}",
        )

    stream = config.get("stream")
    if stream is not None and (not isinstance(stream, str) or not _STREAM.fullmatch(stream)):
        raise _fail("stream", f"must be a stream name of letters, digits, '-' and '_' (at most 128), got {stream!r}")
    create = config.get("create_stream", False)
    if not isinstance(create, bool):
        raise _fail("create_stream", f"must be true or false, got {create!r}")
    if create and stream is None:
        raise _fail("create_stream", "needs the stream setting: the name of the stream to create")

    window = config.get("duplicate_window_s", DEFAULT_DUPLICATE_WINDOW_S)
    if isinstance(window, bool) or not isinstance(window, int | float) or not 1 <= window <= 7 * 86_400:
        raise _fail("duplicate_window_s", "must be a number of seconds from 1 to 604800 (a week)")

    timeout = config.get("timeout_s", 5)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 120:
        raise _fail("timeout_s", "must be a number of seconds above 0 and at most 120")

    user = config.get("user")
    if user is not None and (not isinstance(user, str) or not user.strip() or any(c.isspace() for c in user)):
        raise _fail("user", "must be a user name without spaces (the password is the connector's secret)")

    include_contact = config.get("include_contact", False)
    if not isinstance(include_contact, bool):
        raise _fail("include_contact", f"must be true or false, got {include_contact!r}")

    return {
        "servers": servers,
        "subject_prefix": prefix,
        "stream": stream,
        "create_stream": create,
        "duplicate_window_s": float(window),
        "timeout_s": float(timeout),
        "user": user,
        "include_contact": include_contact,
    }
