"""Running the web app under uvicorn with the bounds a public server needs (``civicswitch serve`` and ``demo``).

What uvicorn offers, and what this adds (docs/configuration.md, "Slow clients"):

- ``timeout_keep_alive``: an idle kept-alive connection is closed (``CIVICSWITCH_KEEP_ALIVE_TIMEOUT_SECONDS``).
- Nothing bounds the time a client takes to send a request's headers: a new connection that sends nothing, or
  a header line every few seconds (slowloris), is held forever, and with httptools there is no limit on the
  size of the headers either. :class:`GuardedHttpToolsProtocol` closes a connection whose request line and
  headers are not complete within ``CIVICSWITCH_HEADER_TIMEOUT_SECONDS`` (408), or exceed
  ``CIVICSWITCH_MAX_HEADER_BYTES`` (431).
- Nothing bounds the time a client takes to send the body: :class:`civicswitch.web.errors.BodyLimit` answers 408
  when the whole body has not arrived within ``CIVICSWITCH_BODY_TIMEOUT_SECONDS`` of the headers.
- ``proxy_headers``/``forwarded_allow_ips``: ``X-Forwarded-For``/``-Proto`` are honoured only from the addresses
  in ``CIVICSWITCH_FORWARDED_ALLOW_IPS`` (uvicorn would otherwise trust 127.0.0.1, i.e. anyone on the machine).
- Worker processes (``--workers N``): uvicorn's supervisor binds one socket and every worker accepts from it, and
  whichever worker wakes first takes the whole burst of connections waiting there; kept alive, they stay on it
  (issue 9: one process served all 16 clients, the other idled). On Linux :func:`run` gives each worker its own
  ``SO_REUSEPORT`` socket on the address instead, and the kernel spreads new connections over them by a hash of
  the client's address and port (docs/deployment.md, "How connections reach the `--workers`").
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import sys
from collections.abc import Iterator
from typing import Any, cast

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from civicswitch.core.logs import logging_config
from civicswitch.settings import Settings

log = logging.getLogger(__name__)
APP = "civicswitch.web.asgi:app"

STATUS = {408: b"408 Request Timeout", 431: b"431 Request Header Fields Too Large"}


def _refusal(status: int, text: str) -> bytes:
    body = f'[{{"code":{status},"description":"{text}"}}]'.encode()
    return b"".join(
        [
            b"HTTP/1.1 " + STATUS[status] + b"\r\n",
            b"content-type: application/json; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline and a size limit on each request's line and headers.

    The deadline starts when the connection opens (a client that sends nothing is closed too) and again when a
    kept-alive connection's next request begins; it ends when the headers are complete. The values come from the
    uvicorn config (``civicswitch_header_timeout``, ``civicswitch_max_header_bytes``, set by :func:`config`)."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_timeout: float = getattr(config, "civicswitch_header_timeout", 10.0)
        self._max_header_bytes: int = getattr(config, "civicswitch_max_header_bytes", 64 * 1024)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self._header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _refuse(self, status: int, text: str) -> None:
        self._disarm()
        if not self.transport.is_closing():
            client = "%s:%d" % self.client if self.client else "a client"  # noqa: UP031 (uvicorn's own style)
            log.info("%s: %s -> %d", client, text, status)
            self.transport.write(_refusal(status, text))
            self.transport.close()

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        self._refuse(408, f"the request headers were not received within {self._header_timeout:g} s")

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # refused (408/431): what the client still sends is not parsed
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if not self.transport.is_closing():  # a callback failing after a refusal must not answer twice
            super().send_400_response(msg)

    def on_body(self, body: bytes) -> None:
        if not self.transport.is_closing():
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self.transport.is_closing():
            super().on_message_complete()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self._max_header_bytes:
            self._refuse(431, f"the request line and headers are larger than {self._max_header_bytes} bytes")

    def on_headers_complete(self) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        super().on_headers_complete()


def config(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int = 1,
    forwarded_allow_ips: str | None = None,
    app: Any = APP,
) -> uvicorn.Config:
    """The uvicorn configuration of ``civicswitch serve``: our protocol, timeouts, proxies and logging."""
    proxies = settings.proxy_list() if forwarded_allow_ips is None else _split(forwarded_allow_ips)
    made = uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=workers,
        http=GuardedHttpToolsProtocol,
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        server_header=False,
        log_config=logging_config(settings.log_level, access=settings.access_log),
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
    )
    made.civicswitch_header_timeout = settings.header_timeout_seconds  # type: ignore[attr-defined]
    made.civicswitch_max_header_bytes = settings.max_header_bytes  # type: ignore[attr-defined]
    return made


def run(settings: Settings, **options: Any) -> None:
    """Serve until stopped, with :func:`config`'s bounds (several worker processes when ``workers`` > 1), as
    :func:`uvicorn.run` does. Exits with status 3 when the server could not start (e.g. the port is taken).

    With workers, uvicorn's supervisor runs them: it restarts a worker that dies, stops them all on SIGINT/SIGTERM
    and exits when a worker fails to start. Where ``SO_REUSEPORT`` balances (Linux), each worker listens on its
    own socket (:class:`OwnSocket`) while this process holds the address (:func:`reserved`); elsewhere they share
    one socket, as uvicorn does, and a log line says so."""
    made = config(settings, **options)
    server = uvicorn.Server(made)
    try:
        if made.workers > 1:
            from uvicorn.supervisors import Multiprocess

            with reserved(made) as own:
                if own is None:
                    Multiprocess(made, sockets=[made.bind_socket()]).run()
                else:
                    Multiprocess(made, sockets=cast(list[socket.socket], [own])).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    if made.workers == 1 and not server.started:
        raise SystemExit(3)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn's Config.bind_socket chooses


def reuse_port_balances() -> bool:
    """Whether sockets bound with ``SO_REUSEPORT`` share the connections to their address: Linux (3.9+). Elsewhere
    (macOS, the BSDs) the option exists but does not spread connections over the sockets."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


@contextlib.contextmanager
def reserved(made: uvicorn.Config) -> Iterator[OwnSocket | None]:
    """Hold ``made``'s address for the workers' own sockets while they run: a socket bound with ``SO_REUSEPORT``
    that never listens, so it takes no connection, and the :class:`OwnSocket` each worker binds. ``None`` (and a
    log line) where the workers must share one socket instead.

    Only sockets with ``SO_REUSEPORT`` of the same user can bind beside the reserved one; a program or another
    ``serve`` already listening was refused before (``civicswitch serve`` checks the port without
    ``SO_REUSEPORT``), and one started later is refused too: the reserved socket has no ``SO_REUSEADDR``, so even a
    bind with ``SO_REUSEADDR`` fails on it."""
    holder = _hold(made) if reuse_port_balances() else None
    if holder is None:
        if not reuse_port_balances():
            log.warning(
                "SO_REUSEPORT does not balance connections on %s: the %d worker processes share one listening "
                "socket, and a burst of new connections may all go to one of them",
                sys.platform,
                made.workers,
            )
        yield None
        return
    with holder:
        host, port = made.host, holder.getsockname()[1]  # --port 0: the one the kernel chose, for every worker
        log.info(
            "Listening on http://%s:%d: %d worker processes, each with its own SO_REUSEPORT socket (the kernel "
            "spreads new connections over them)",
            f"[{host}]" if ":" in host else host,
            port,
            made.workers,
        )
        yield OwnSocket(holder.family, (host, port))


def _hold(made: uvicorn.Config) -> socket.socket | None:
    """The reserved socket of :func:`reserved`; ``None`` (and a log line) if this kernel refuses ``SO_REUSEPORT``.
    Exits with status 3, as uvicorn does, when the address cannot be bound."""
    holder = socket.socket(_family(made.host), socket.SOCK_STREAM)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError as exc:
        holder.close()
        log.warning("SO_REUSEPORT is refused (%s): the %d worker processes share one socket", exc, made.workers)
        return None
    try:
        try:
            holder.bind((made.host, made.port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            # Nothing listens there (the port was checked), but connections of a server that did not set
            # SO_REUSEPORT (e.g. `serve` with one worker) may still be in TIME_WAIT: bind as servers do. Until the
            # workers listen, a bind with SO_REUSEADDR would then succeed beside it (another `serve`'s check).
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            holder.bind((made.host, made.port))
    except OSError as exc:
        holder.close()
        log.error("cannot listen on %s:%d: %s", made.host, made.port, exc.strerror)
        raise SystemExit(STARTUP_FAILURE) from None
    return holder


class OwnSocket:
    """The listening socket uvicorn's supervisor hands each worker process it starts or restarts, made in that
    worker: uvicorn pickles the sockets it passes to a worker (``spawn``), and this one unpickles as a new socket
    bound there with ``SO_REUSEPORT`` to the server's address. The worker listens on it, with its own queue of
    connections; when it exits, its socket closes with it."""

    def __init__(self, family: socket.AddressFamily, address: tuple[str, int]) -> None:
        self.family = family
        self.address = address

    def __reduce__(self) -> tuple[Any, tuple[socket.AddressFamily, tuple[str, int]]]:
        return (bind_own_socket, (self.family, self.address))


def bind_own_socket(family: socket.AddressFamily, address: tuple[str, int]) -> socket.socket:
    """A socket bound to ``address`` with ``SO_REUSEPORT`` (and ``SO_REUSEADDR``, as uvicorn binds), not listening
    yet: uvicorn listens on it once the application has started. Run in a worker process (:class:`OwnSocket`)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        # Logging is not configured yet in the worker; the supervisor stops the server on this exit status.
        print(f"cannot listen on {address[0]}:{address[1]}: {exc.strerror}", file=sys.stderr, flush=True)
        raise SystemExit(STARTUP_FAILURE) from None
    return sock


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
