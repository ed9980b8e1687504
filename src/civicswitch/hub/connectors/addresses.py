"""Where a connector may send: not to this machine or the networks behind it unless the operator says so.

A connector's URL naming a loopback, private, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT,
multicast, reserved or unspecified address would let whoever configures connectors make the worker reach
services that are not a department's (server-side request forgery). Such URLs are refused unless the connector's
config has ``allow_private: true`` (``civicswitch connectors add … --allow-private``):

- when the connector is added or loaded (:func:`check_url`): an IP address in the URL, or ``localhost``;
- at every send and poll (:class:`AddressGuard`): the host name is resolved and every address it resolves to is
  checked, so a name that resolves to ``127.0.0.1`` is caught too.

Replies are bounded as well: :func:`read_limited` stops reading past :data:`MAX_REPLY_BYTES`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from civicswitch.core.errors import Invalid

MAX_REPLY_BYTES = 1024 * 1024  # a department's answer is a few kilobytes; 1 MiB is plenty
ALLOW_HINT = "set allow_private on the connector (connectors add … --allow-private) if it really is on your network"

Resolver = Callable[[str, int], Awaitable[list[str]]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def not_public(address: Address) -> bool:
    """Loopback, private, link-local, shared (100.64/10), multicast, reserved, unspecified: anything not global."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def host_problem(host: str) -> str | None:
    """Why ``host`` (as written in a URL) is refused without a DNS lookup; None when it may be public."""
    name = host.strip().rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is this machine (loopback)"
    address = _literal(name)
    if address is not None and not_public(address):
        return f"{host} is a loopback, private or link-local address"
    return None


def allow_private_setting(config: Any, kind: str) -> bool:
    value = config.get("allow_private", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Invalid(f"{kind}: allow_private must be true or false, got {value!r}", field="allow_private")
    return value


def check_url(url: str, *, allow_private: bool, kind: str, setting: str) -> None:
    """Refuse (``Invalid``) a URL whose host is a non-public IP address or ``localhost``, unless allowed."""
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    problem = host_problem(host)
    if problem is not None:
        raise Invalid(f"{kind}: {setting} {url!r}: {problem}; {ALLOW_HINT}", field=setting)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class AddressGuard:
    """The send-time check. ``resolver`` None: no check (a test transport stands in for the network)."""

    def __init__(self, resolver: Resolver | None) -> None:
        self._resolver = resolver

    async def problem(self, url: str, *, allow_private: bool) -> str | None:
        """Why sending to ``url`` is refused now (None: go ahead). A name that does not resolve is left to the
        HTTP client, which reports it as a connection error."""
        if allow_private or self._resolver is None:
            return None
        parts = urlsplit(url)
        host = parts.hostname or ""
        static = host_problem(host)
        if static is not None:
            return f"refused: {static}; {ALLOW_HINT}"
        if _literal(host) is not None:
            return None
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            found = await self._resolver(host, port)
        except (OSError, ValueError, UnicodeError):
            return None
        for text in found:
            address = _literal(text)
            if address is not None and not_public(address):
                return f"refused: {host} resolves to {text}, a loopback, private or link-local address; {ALLOW_HINT}"
        return None


def default_guard(transport: httpx.AsyncBaseTransport | None, resolver: Resolver | None) -> AddressGuard:
    """The real resolver over the real network; none over a test transport unless one is given."""
    return AddressGuard(resolver if resolver is not None else (system_resolver if transport is None else None))


class ReplyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the reply is larger than {limit // 1024} KiB: not read (a department answers in a few KB)")


async def read_limited(response: httpx.Response, limit: int = MAX_REPLY_BYTES) -> httpx.Response:
    """The streamed ``response`` read whole into a new response, or :class:`ReplyTooLarge` past ``limit`` bytes
    (decoded; a ``Content-Length`` over the limit is refused before reading)."""
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ReplyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ReplyTooLarge(limit)
        chunks.append(chunk)
    headers = [
        (k, v)
        for k, v in response.headers.multi_items()
        if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks), request=response.request)


async def bounded_request(
    client: httpx.AsyncClient, method: str, url: str, *, limit: int = MAX_REPLY_BYTES, **kwargs: Any
) -> httpx.Response:
    """``client.request`` that reads at most ``limit`` bytes of the reply (:class:`ReplyTooLarge` past it)."""
    async with client.stream(method, url, **kwargs) as response:
        return await read_limited(response, limit)
