"""Webhook connector: each message is POSTed as a CloudEvent (structured JSON), signed with Standard Webhooks.

Settings: ``url`` (http or https), ``timeout_s`` (default 10), ``include_contact`` (default false: the filer's
contact data is sent only when the body needs it and this is set), ``allow_private`` (default false: a URL on a
loopback, private or link-local address is refused, when the connector is saved and after DNS resolution at every
send; see :mod:`civicswitch.hub.connectors.addresses`). The signing secret is the connector's. A reply larger
than 1 MiB is not read: the message fails (dead-lettered, replayable).
Replies: 2xx delivered (a JSON reply's ``external_id`` or ``id`` is kept as the body system's id); 408, 429, 5xx,
timeouts and connection errors are retried (``Retry-After`` honoured); 410 Gone disables the connector; other 4xx
fail the message for good (dead-lettered, visible, replayable).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors.addresses import (
    ReplyTooLarge,
    Resolver,
    allow_private_setting,
    bounded_request,
    check_url,
    default_guard,
)
from civicswitch.hub.model import Connector, ConnectorKind, OutboundMessage, Outcome, OutcomeKind
from civicswitch.hub.signing import sign_headers

KIND = ConnectorKind.WEBHOOK
CONTENT_TYPE = "application/cloudevents+json"


def check_config(config: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(config) - {"url", "timeout_s", "include_contact", "allow_private"}
    if unknown:
        raise Invalid(
            f"webhook: unknown setting {', '.join(sorted(unknown))} (url, timeout_s, include_contact, allow_private)"
        )
    url = str(config.get("url") or "").strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError:
        raise Invalid(f"webhook: url is not a URL: {url[:100]!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"webhook: url must be an http(s) URL, got {url[:100]!r}")
    allow_private = allow_private_setting(config, "webhook")
    check_url(url, allow_private=allow_private, kind="webhook", setting="url")
    timeout = config.get("timeout_s", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 30:
        # at most half the worker's default lease (60 s), so a slow send is never claimed twice while in flight
        raise Invalid("webhook: timeout_s must be a number of seconds above 0 and at most 30")
    checked: dict[str, Any] = {
        "url": url,
        "timeout_s": float(timeout),
        "include_contact": bool(config.get("include_contact", False)),
    }
    if allow_private:
        checked["allow_private"] = True
    return checked


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def _external_id(response: httpx.Response) -> str | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        data = response.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason: no id, still delivered
        return None
    if isinstance(data, dict):
        found = data.get("external_id") or data.get("id")
        if isinstance(found, str | int) and not isinstance(found, bool):
            text = str(found).strip()
            if text and len(text) <= 200 and text.isprintable():  # no NUL, control or lone surrogate characters
                return text
    return None


class WebhookSender:
    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Any = None,
        max_in_flight: int = 8,
        resolver: Resolver | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(transport=transport, follow_redirects=False)
        self._guard = default_guard(transport, resolver)
        self._now = now or (lambda: datetime.now(UTC))
        # A worker hands over a whole batch at once; a few connections kept busy beat fifty opened at once
        # (httpcore checks every pooled connection per request): measured 661 → 802 deliveries/s, bench/delivery.py.
        self._slots = asyncio.Semaphore(max_in_flight)

    async def send(self, connector: Connector, message: OutboundMessage) -> Outcome:
        config = connector.config
        if not connector.secret:
            return Outcome(OutcomeKind.FAILED, "connector has no signing secret")
        body = orjson.dumps(message.envelope).decode("utf-8")
        headers = {
            "content-type": CONTENT_TYPE,
            "user-agent": "civicswitch-webhook/1",
            **sign_headers(connector.secret, message.idempotency_key, self._now(), body),
        }
        limit = float(config.get("timeout_s", 10))
        refused = await self._guard.problem(config["url"], allow_private=bool(config.get("allow_private")))
        if refused is not None:
            return Outcome(OutcomeKind.FAILED, refused[:500])
        try:
            async with self._slots, asyncio.timeout(limit):  # the whole exchange (a trickling reply is cut off)
                response = await bounded_request(
                    self._client, "POST", config["url"], content=body.encode(), headers=headers, timeout=limit
                )
        except (httpx.TimeoutException, TimeoutError):
            return Outcome(OutcomeKind.RETRY, f"timed out after {limit:g} s")
        except ReplyTooLarge as exc:
            return Outcome(OutcomeKind.FAILED, f"HTTP reply from {config['url']}: {exc}"[:500])
        except httpx.HTTPError as exc:
            return Outcome(OutcomeKind.RETRY, f"{type(exc).__name__}: {exc}"[:500])
        code = response.status_code
        text = response.text[:300].strip()
        if 200 <= code < 300:
            return Outcome.delivered(f"HTTP {code}", status_code=code, external_id=_external_id(response))
        if code == 410:
            return Outcome(OutcomeKind.GONE, f"HTTP 410 Gone: {text}", code)
        if code in (408, 425, 429) or code >= 500:
            wait = retry_after(response.headers.get("retry-after"), self._now())
            return Outcome(OutcomeKind.RETRY, f"HTTP {code}: {text}", code, wait)
        return Outcome(OutcomeKind.FAILED, f"HTTP {code}: {text}", code)

    async def aclose(self) -> None:
        await self._client.aclose()
