"""Publishes each message to JetStream over one kept-open NATS connection per server set, reopened after it
closes."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import nats
import nats.errors
import nats.js.errors
import orjson
from nats.aio.client import Client
from nats.js import JetStreamContext

from civicswitch.hub.connectors.nats.config import DEFAULT_DUPLICATE_WINDOW_S, DEFAULT_PREFIX, subject_for
from civicswitch.hub.model import Connector, OutboundMessage, Outcome, OutcomeKind

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json"
# After a failed connect, sends within this many seconds answer "retry" at once instead of each trying again.
CONNECT_BACKOFF_S = 1.0

_ConnKey = tuple[tuple[str, ...], str | None, str | None]


class _Unavailable(Exception):
    """No connection could be made (the detail says why)."""


@dataclass(eq=False)
class _Conn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    client: Client | None = None
    js: JetStreamContext | None = None
    failed_at: float | None = None
    failure: str = ""
    streams: set[tuple[str, str]] = field(default_factory=set)  # (stream, subject prefix) known to exist

    def live(self) -> JetStreamContext | None:
        if self.client is not None and self.js is not None and not self.client.is_closed:
            return self.js
        return None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class NatsSender:
    """Implements :class:`civicswitch.hub.connectors.Sender` for ``nats`` connectors."""

    def __init__(self, *, connect_backoff_s: float = CONNECT_BACKOFF_S) -> None:
        self._conns: dict[_ConnKey, _Conn] = {}
        self._backoff = connect_backoff_s

    async def send(self, connector: Connector, message: OutboundMessage) -> Outcome:
        config = connector.config
        try:
            prefix = str(config.get("subject_prefix") or DEFAULT_PREFIX)
            subject = subject_for(prefix, str(message.type))
            payload = orjson.dumps(dict(message.envelope))
            timeout = float(config.get("timeout_s", 5))
            stream: str | None = config.get("stream")
            key: _ConnKey = (tuple(config["servers"]), config.get("user"), connector.secret)
        except (KeyError, TypeError, ValueError) as exc:
            return Outcome(OutcomeKind.FAILED, f"nats: cannot build the message: {_describe(exc)}"[:500])
        conn = self._conns.get(key)
        if conn is None:
            conn = self._conns[key] = _Conn()
        try:
            js = await self._connect(conn, config, key, timeout)
            if stream and config.get("create_stream") and (stream, prefix) not in conn.streams:
                await self._ensure_stream(conn, js, stream, prefix, config)
            ack = await js.publish(
                subject,
                payload,
                timeout=timeout,
                stream=stream or None,
                headers={"Nats-Msg-Id": message.idempotency_key, "Content-Type": CONTENT_TYPE},
            )
        except _Unavailable as exc:
            return Outcome(OutcomeKind.RETRY, str(exc)[:500])
        except nats.js.errors.NoStreamResponseError:
            return Outcome(
                OutcomeKind.RETRY,
                f"nats: no JetStream stream takes subject {subject}"
                + (f" (create stream {stream} or set create_stream)" if stream else " (set stream and create_stream)"),
            )
        except nats.js.errors.APIError as exc:  # the server answered with an error (before or after storing)
            code = exc.code
            detail = f"nats: JetStream error {code} ({exc.err_code}): {exc.description}"[:500]
            if code is None or code >= 500 or code in (408, 429):
                return Outcome(OutcomeKind.RETRY, detail, code)
            return Outcome(OutcomeKind.FAILED, detail, code)
        except nats.errors.MaxPayloadError as exc:
            return Outcome(OutcomeKind.FAILED, f"nats: message too large for the server: {exc}"[:500])
        except (TimeoutError, nats.errors.TimeoutError):
            return Outcome(OutcomeKind.RETRY, f"nats: no acknowledgement on {subject} within {timeout:g}s")
        except (nats.errors.Error, OSError) as exc:
            return Outcome(OutcomeKind.RETRY, f"nats: {_describe(exc)}"[:500])
        detail = f"stream {ack.stream} seq {ack.seq}"
        if ack.duplicate:
            detail += " (duplicate: stored before)"
        return Outcome.delivered(detail)

    async def aclose(self) -> None:
        conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            async with conn.lock:
                client, conn.client, conn.js = conn.client, None, None
                if client is not None and not client.is_closed:
                    try:
                        await client.close()
                    except (TimeoutError, nats.errors.Error, OSError) as exc:  # pragma: no cover
                        log.debug("nats: closing a connection: %s", _describe(exc))

    async def _connect(self, conn: _Conn, config: Mapping[str, Any], key: _ConnKey, timeout: float) -> JetStreamContext:
        js = conn.live()
        if js is not None:
            return js
        async with conn.lock:
            js = conn.live()
            if js is not None:
                return js
            conn.client, conn.js = None, None
            conn.streams.clear()
            if conn.failed_at is not None and time.monotonic() - conn.failed_at < self._backoff:
                raise _Unavailable(conn.failure)
            servers, user, secret = key
            names = ", ".join(servers)

            async def on_error(exc: Exception) -> None:
                log.debug("nats: %s: %s", names, _describe(exc))

            async def on_disconnected() -> None:
                log.info("nats: disconnected from %s", names)

            async def on_closed() -> None:
                log.info("nats: connection to %s closed", names)

            try:
                client = await nats.connect(
                    list(servers),
                    name="civicswitch",
                    connect_timeout=max(1, math.ceil(timeout)),
                    # The client rides out a short break by itself; past that the connection closes and the next
                    # send opens a new one (meanwhile sends answer "retry").
                    allow_reconnect=True,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=1,
                    error_cb=on_error,
                    disconnected_cb=on_disconnected,
                    closed_cb=on_closed,
                    user=user if user and secret else None,
                    password=secret if user and secret else None,
                    token=secret if secret and not user else None,
                )
            except (TimeoutError, nats.errors.Error, OSError) as exc:
                conn.failed_at = time.monotonic()
                detail = "no server could be reached" if isinstance(exc, nats.errors.NoServersError) else ""
                conn.failure = f"nats: cannot connect to {names}: {detail or _describe(exc)}"[:500]
                raise _Unavailable(conn.failure) from exc
            conn.failed_at = None
            conn.client, conn.js = client, client.jetstream(timeout=timeout)
            return conn.js

    @staticmethod
    async def _ensure_stream(
        conn: _Conn, js: JetStreamContext, stream: str, prefix: str, config: Mapping[str, Any]
    ) -> None:
        """Create the stream (taking ``<prefix>.>``) unless it exists; an existing one is left as it is."""
        async with conn.lock:
            if (stream, prefix) in conn.streams:
                return
            try:
                await js.stream_info(stream)
            except nats.js.errors.NotFoundError:
                try:
                    await js.add_stream(
                        name=stream,
                        subjects=[f"{prefix}.>"],
                        duplicate_window=float(config.get("duplicate_window_s", DEFAULT_DUPLICATE_WINDOW_S)),
                    )
                    log.info("nats: created stream %s for %s.>", stream, prefix)
                except nats.js.errors.BadRequestError as refused:
                    try:  # another process may have created it meanwhile
                        await js.stream_info(stream)
                    except nats.js.errors.NotFoundError:
                        raise refused from None
            conn.streams.add((stream, prefix))
