"""Standard Webhooks signatures (https://www.standardwebhooks.com), both ways, with the reference library's
``Webhook.sign``. Verification is ours only in that it takes time from the injected clock (the library reads the
system clock) and refuses replays; the signature itself is the library's."""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from standardwebhooks.webhooks import Webhook

from civicswitch.core.errors import Forbidden

TOLERANCE = timedelta(minutes=5)


def new_secret() -> str:
    """A fresh ``whsec_`` secret (24 random bytes, base64), the form Standard Webhooks libraries take."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def sign_headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=at, data=body)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature}


def verify(secret: str, headers: Mapping[str, str], body: str, now: datetime) -> str:
    """Check a signed inbound message; returns its webhook-id. Raises :class:`Forbidden` (403) naming what is
    wrong: a missing header, a stale or future timestamp (more than 5 minutes off), or no matching signature."""
    lower = {k.lower(): v for k, v in headers.items()}
    message_id, stamp, signatures = (lower.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (message_id and stamp and signatures):
        raise Forbidden("unsigned: webhook-id, webhook-timestamp and webhook-signature headers are required")
    try:
        sent = datetime.fromtimestamp(int(stamp), tz=now.tzinfo)
    except (ValueError, OverflowError, OSError):
        raise Forbidden(f"webhook-timestamp {stamp[:40]!r} is not a Unix time in seconds") from None
    if sent < now - TOLERANCE:
        raise Forbidden(f"stale message: signed at {sent.isoformat()}, more than 5 minutes ago")
    if sent > now + TOLERANCE:
        raise Forbidden(f"message from the future: signed at {sent.isoformat()}")
    expected = Webhook(secret).sign(msg_id=message_id, timestamp=sent, data=body).split(",", 1)[1]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return message_id
    raise Forbidden("bad signature: the body or headers were changed, or the secret is not this connector's")
