"""Rate limits (issue 8 §3): per API key for writes, per client address for writes without a key and for
anonymous reads. Over the limit → 429 with ``Retry-After``, in the URL's format (Open311 XML or JSON errors).

* A **write** is POST, PUT, PATCH or DELETE; a **read** is GET or HEAD. Anything else (OPTIONS) is not counted.
* The **key** is looked for in the ``X-Api-Key`` header, then the ``api_key`` query parameter, then, for a
  write, the ``api_key`` field of the body (url-encoded or multipart form, or a JSON object), within its first
  :data:`KEY_SCAN_BYTES`. A key that is not valid (unknown or revoked) counts as no key.
* A write with a valid key counts against that key: its own limit (``apikey limit``), else
  ``rate_limit_key_writes``; a key with no limit (``--no-limit``) is never counted. A read with a valid key is
  not limited. Without a valid key, writes count against ``rate_limit_address_writes`` and reads against
  ``rate_limit_address_reads`` for the client's address (an IPv6 address by its /64 network).
* Addresses in ``rate_limit_exempt`` are never limited.

Counting is a sliding-window counter (N a rolling minute): in each process for itself (``memory://``, the
default: :class:`LocalWindows`, the ``limits`` library's algorithm on a lighter store) or in Redis through the
``limits`` library (every process shares the counts). Which key
has which limit is cached for :data:`KEY_CACHE_SECONDS`, so a change with ``apikey limit`` takes effect within
that time and a request costs no database query. If Redis stops answering, each process counts in memory
for :data:`FALLBACK_SECONDS` and then tries Redis again; requests are never refused because Redis is down.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from http.cookies import CookieError, SimpleCookie
from typing import cast
from urllib.parse import parse_qsl

import orjson
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import SlidingWindowCounterSupport, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicswitch.people.clients import hash_key
from civicswitch.settings import Settings
from civicswitch.web import i18n
from civicswitch.web.errors import error_body

log = logging.getLogger("civicswitch.web.ratelimit")

KEY_CACHE_SECONDS = 5.0  # how long a key's limit (and whether the key is valid) is remembered per process
KEY_CACHE_SIZE = 10_000  # keys remembered at most; the cache starts over when full
KEY_SCAN_BYTES = 1024 * 1024  # how far into a write's body the api_key field is looked for
FALLBACK_SECONDS = 30.0  # after a Redis failure, count in memory for this long before trying Redis again
LOG_EVERY_SECONDS = 60.0  # one log line per limited client (bucket) and minute at most
SWEEP_SECONDS = 10.0  # how often expired in-memory counters are dropped

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_METHODS = frozenset({"GET", "HEAD"})


class Kind(StrEnum):
    WRITE = "write"
    READ = "read"
    OTHER = "other"


def classify(method: str) -> Kind:
    """Which limit a request's method falls under."""
    method = method.upper()
    if method in WRITE_METHODS:
        return Kind.WRITE
    if method in READ_METHODS:
        return Kind.READ
    return Kind.OTHER


KINDS = {m: classify(m) for m in (*WRITE_METHODS, *READ_METHODS)}  # the usual spellings, looked up directly
# The members as plain module names: ``Kind.READ`` is a class attribute lookup through the enum's metaclass
# (0.15 µs each on Python 3.11), and the middleware compares on every request.
_READ, _WRITE, _OTHER = Kind.READ, Kind.WRITE, Kind.OTHER


@dataclass(frozen=True, slots=True)
class KeyLimit:
    """What the limiter needs to know about a valid key."""

    client_id: int
    rate_limit: int | None  # per minute; None = the instance default, 0 = no limit


@dataclass(frozen=True, slots=True)
class Decision:
    """The bucket one request is counted in, and its size."""

    bucket: str  # e.g. "key:7", "addr-w:203.0.113.9"
    per_minute: int
    who: str  # for the error message: "this API key" / "this address"


@lru_cache(maxsize=65536)
def address_bucket(address: str) -> str:
    """The address a client is counted by: IPv6 by its /64 (one subscriber's prefix), IPv4 as is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


def decide(kind: Kind, key: KeyLimit | None, address: str, settings: Settings) -> Decision | None:
    """The bucket a request counts against, or None when it is not limited."""
    if kind is _OTHER:
        return None
    if key is not None:
        if kind is _READ:
            return None
        per_minute = settings.rate_limit_key_writes if key.rate_limit is None else key.rate_limit
        return Decision(f"key:{key.client_id}", per_minute, "this API key") if per_minute > 0 else None
    if kind is _WRITE:
        per_minute, tag = settings.rate_limit_address_writes, "addr-w"
    else:
        per_minute, tag = settings.rate_limit_address_reads, "addr-r"
    return Decision(f"{tag}:{address_bucket(address)}", per_minute, "this address") if per_minute > 0 else None


class Exempt:
    """Addresses and networks that are never limited."""

    def __init__(self, entries: tuple[str, ...]) -> None:
        self.networks = tuple(ipaddress.ip_network(e, strict=False) for e in entries)
        self.contains = lru_cache(maxsize=4096)(self._contains)

    def _contains(self, address: str) -> bool:
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks if net.version == ip.version)


class KeyCache:
    """Key → :class:`KeyLimit` (or None for a key that is not valid), remembered for ``ttl`` seconds."""

    def __init__(self, lookup: Callable[[str], KeyLimit | None], ttl: float = KEY_CACHE_SECONDS) -> None:
        self.lookup = lookup
        self.ttl = ttl
        self._items: dict[str, tuple[float, KeyLimit | None]] = {}

    def cached(self, key_hash: str) -> tuple[bool, KeyLimit | None]:
        hit = self._items.get(key_hash)
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def forget(self) -> None:
        self._items.clear()

    def load(self, key_hash: str) -> KeyLimit | None:
        """The database's answer (call it off the event loop), remembered."""
        found = self.lookup(key_hash)
        if len(self._items) >= KEY_CACHE_SIZE:
            self._items.clear()
        self._items[key_hash] = (time.monotonic() + self.ttl, found)
        return found


class LocalWindows:
    """Per-process sliding-window counters: the ``memory://`` storage, and the fallback while Redis is down.

    The algorithm is ``limits``' sliding-window counter exactly (a bucket's count in the current minute-long
    window plus its count in the previous one, weighted by how much of that window still overlaps the last
    60 s; a hit is allowed while ``floor(weighted) + 1 <= limit``), kept as one small list per bucket instead of
    ``limits``' ``MemoryStorage``: that storage looks up two keys with their expiries and a lock per hit and
    cost 3.9 µs a hit here, a tenth of a whole cached ``GET`` of one request (``bench/ratelimit.py``); this
    costs under 1 µs. Windows are counted on :func:`time.monotonic`. Called on the event loop's thread only.
    Buckets not hit for two windows are dropped by a sweep at most every :data:`SWEEP_SECONDS`."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self.buckets: dict[str, list[int]] = {}  # bucket → [window number, previous window's count, this one's]
        self._next_sweep = time.monotonic() + SWEEP_SECONDS

    def hit(self, bucket: str, limit: int) -> int:
        """0 if the hit is allowed (and counted), else the seconds until one would be (at least 1)."""
        now = time.monotonic()
        position = now / self.window
        number = int(position)
        state = self.buckets.get(bucket)
        if state is None:
            state = self.buckets[bucket] = [number, 0, 0]
            if now >= self._next_sweep:
                self._sweep(now, number)
        elif state[0] != number:
            state[1] = state[2] if state[0] == number - 1 else 0
            state[0], state[2] = number, 0
        previous, current = state[1], state[2]
        elapsed = position - number  # how far into this window, 0..1
        weighted = previous * (1.0 - elapsed) + current
        if weighted < limit:  # floor(weighted) + 1 <= limit
            state[2] = current + 1
            return 0
        return self._wait(previous, current, limit, elapsed)

    def _wait(self, previous: int, current: int, limit: int, elapsed: float) -> int:
        """Seconds until ``weighted < limit`` again, if nobody hits meanwhile."""
        if current < limit:  # the previous window's share has to fade: previous·(1 − e) < limit − current
            fraction = 1.0 - (limit - current) / previous
            seconds = (fraction - elapsed) * self.window
        else:  # wait for the next window, then for this window's count (its previous one then) to fade
            seconds = (1.0 - elapsed) * self.window + (1.0 - limit / current) * self.window
        return max(1, math.floor(seconds) + 1)  # strictly after: at the very instant the count equals the limit

    def count(self, bucket: str) -> float:
        """The weighted count a hit now would be judged by (for tests and diagnostics)."""
        position = time.monotonic() / self.window
        number = int(position)
        state = self.buckets.get(bucket)
        if state is None or state[0] < number - 1:
            return 0.0
        if state[0] == number - 1:
            return state[2] * (1.0 - (position - number))
        return state[1] * (1.0 - (position - number)) + state[2]

    def _sweep(self, now: float, number: int) -> None:
        self._next_sweep = now + SWEEP_SECONDS
        stale = [bucket for bucket, state in self.buckets.items() if state[0] < number - 1]
        for bucket in stale:
            del self.buckets[bucket]

    def check(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class _Entry:
    """One bucket's limit, as the storage is asked about it."""

    item: RateLimitItem
    bucket: str
    key: str  # the storage's key for the bucket (limits' RateLimitItem.key_for)
    expiry: int


class Counter:
    """Counts hits per bucket: in this process (:class:`LocalWindows`) for ``memory://``, else in the
    configured shared ``limits`` storage (Redis), with a per-process fallback while it does not answer."""

    def __init__(self, storage_uri: str, prefix: str) -> None:
        self.uri = storage_uri
        self.shared = not storage_uri.startswith("memory://")
        self.local = LocalWindows()
        self.storage: Storage | None = None
        self.limiter: SlidingWindowCounterRateLimiter | None = None
        if self.shared:
            # A limiter must not hold up requests: short timeouts, then the in-memory fallback.
            storage = storage_from_string(storage_uri, wrap_exceptions=True, key_prefix=prefix, socket_timeout=0.5,
                                          socket_connect_timeout=0.5)  # fmt: skip
            assert isinstance(storage, Storage)  # a synchronous storage: the scheme has no "async+"
            self.storage = storage
            self.limiter = SlidingWindowCounterRateLimiter(storage)
        self._down_until = 0.0
        self._items: dict[int, RateLimitItem] = {}
        self._entries: dict[tuple[str, int], _Entry] = {}
        self._lock = threading.Lock()

    def item(self, per_minute: int) -> RateLimitItem:
        found = self._items.get(per_minute)
        if found is None:
            found = self._items[per_minute] = RateLimitItemPerMinute(per_minute)
        return found

    def _entry(self, bucket: str, per_minute: int) -> _Entry:
        item = self.item(per_minute)
        if len(self._entries) >= KEY_CACHE_SIZE:
            self._entries.clear()
        entry = self._entries[bucket, per_minute] = _Entry(item, bucket, item.key_for(bucket), item.get_expiry())
        return entry

    def hit(self, bucket: str, per_minute: int) -> int:
        """0 if the hit is allowed, else the seconds until the next one is (at least 1)."""
        limiter = self.limiter
        if limiter is None or time.monotonic() < self._down_until:
            return self.local.hit(bucket, per_minute)
        entry = self._entries.get((bucket, per_minute)) or self._entry(bucket, per_minute)
        try:
            return self._hit(limiter, entry)
        except Exception as exc:  # limits wraps every storage error in StorageError; be safe with the rest too
            with self._lock:
                self._down_until = time.monotonic() + FALLBACK_SECONDS
            log.warning(
                "rate-limit storage %s failed (%s: %s): counting in this process for %.0f s",
                _redact(self.uri), type(exc).__name__, exc, FALLBACK_SECONDS,
            )  # fmt: skip
            return self.local.hit(bucket, per_minute)

    @staticmethod
    def _hit(limiter: SlidingWindowCounterRateLimiter, entry: _Entry) -> int:
        # SlidingWindowCounterRateLimiter.hit, with the storage key made once per bucket rather than on every hit.
        storage = cast(SlidingWindowCounterSupport, limiter.storage)
        if storage.acquire_sliding_window_entry(entry.key, entry.item.amount, entry.expiry):
            return 0
        reset = limiter.get_window_stats(entry.item, entry.bucket).reset_time
        return max(1, math.ceil(reset - time.time()))

    def check(self) -> bool:
        """Whether the storage answers (Redis: a PING; in this process: always)."""
        return True if self.storage is None else bool(self.storage.check())


def _redact(uri: str) -> str:
    """A storage URI without its password, for logs."""
    scheme, sep, rest = uri.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if "@" in rest else uri


class RateLimiter:
    """The limiter of one application: settings, exempt list, key cache and counter."""

    def __init__(self, settings: Settings, lookup: Callable[[str], KeyLimit | None]) -> None:
        self.settings = settings
        self.exempt = Exempt(settings.rate_limit_exempt)
        self.keys = KeyCache(lookup)
        self.counter = Counter(settings.rate_limit_storage, settings.rate_limit_prefix)
        self._logged: dict[str, float] = {}
        # Requests without a valid key: the same few addresses again and again, each with the same decision.
        # Plain dicts by address, one per kind: hashing a ``Kind`` (an enum) costs more than the lookup.
        self._address_decisions: dict[Kind, dict[str, Decision | None]] = {_WRITE: {}, _READ: {}}

    def address_decision(self, kind: Kind, address: str) -> Decision | None:
        """The bucket of a request without a valid key (remembered per address)."""
        known = self._address_decisions[kind]
        try:
            return known[address]
        except KeyError:
            if len(known) >= KEY_CACHE_SIZE:
                known.clear()
            found = known[address] = decide(kind, None, address, self.settings)
            return found

    async def key_limit(self, api_key: str | None) -> KeyLimit | None:
        if not api_key or not api_key.strip():
            return None
        key_hash = hash_key(api_key.strip())
        known, found = self.keys.cached(key_hash)
        if known:
            return found
        return await run_in_threadpool(self.keys.load, key_hash)

    def should_log(self, bucket: str) -> bool:
        now = time.monotonic()
        if self._logged.get(bucket, 0.0) > now:
            return False
        if len(self._logged) >= KEY_CACHE_SIZE:
            self._logged.clear()
        self._logged[bucket] = now + LOG_EVERY_SECONDS
        return True


# -- where the key is -----------------------------------------------------------------------------------
# The residents' pages (web/residents.py, web/report.py, web/public.py): a person is told in words, in their
# language, not in an API's error format.
RESIDENT_PAGES = ("/report", "/requests", "/follow/")


def resident_page(scope: Scope, retry_after: int) -> bytes:
    """The 429 page of a resident page, in the page's language (``?lang=``, the cookie, ``Accept-Language``)."""
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    cookies = SimpleCookie()
    with contextlib.suppress(CookieError):  # a cookie header we cannot read: as if there were none
        cookies.load(_header(scope, b"cookie") or "")
    kept = cookies.get(i18n.COOKIE)
    lang = i18n.negotiate(query.get("lang"), kept.value if kept else None, _header(scope, b"accept-language"))
    html = i18n.environment(lang).get_template("resident_rate_limited.html").render(lang=lang, seconds=retry_after)
    return html.encode()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def key_from_url(scope: Scope) -> str | None:
    """The key from the ``X-Api-Key`` header or the ``api_key`` query parameter."""
    header = _header(scope, b"x-api-key")
    if header and header.strip():
        return header
    query: bytes = scope.get("query_string", b"")
    if b"api_key=" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=False):
            if name == "api_key" and value.strip():
                return value
    return None


class _MultipartKey:
    """Streams a multipart body looking for the ``api_key`` field."""

    def __init__(self, boundary: bytes) -> None:
        self.found: str | None = None
        self._field = b""
        self._value = b""
        self._name: bytes | None = None
        self._data = bytearray()
        self._in_key = False
        self.broken = False
        self.parser = MultipartParser(
            boundary,
            {
                "on_header_field": lambda d, s, e: self._add("_field", d[s:e]),
                "on_header_value": lambda d, s, e: self._add("_value", d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def _add(self, attr: str, chunk: bytes) -> None:
        setattr(self, attr, getattr(self, attr) + chunk)

    def _header_end(self) -> None:
        if self._field.lower() == b"content-disposition":
            self._name = parse_options_header(self._value)[1].get(b"name")
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        self._in_key = self._name == b"api_key"
        self._name = None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_key and len(self._data) < 1024:
            self._data += data[start:end]

    def _part_end(self) -> None:
        if self._in_key and self.found is None:
            self.found = self._data.decode("utf-8", "replace").strip() or None
        self._in_key = False
        self._data.clear()

    def feed(self, chunk: bytes) -> bool:
        """True when done: the key was found, or the body is not multipart after all."""
        if self.found is None and not self.broken:
            try:
                self.parser.write(chunk)
            except Exception:  # python-multipart raises several kinds; the application will judge the body
                self.broken = True
        return self.found is not None or self.broken


def _key_in(media: str, body: bytes, complete: bool) -> str | None:
    """The ``api_key`` of a url-encoded or JSON body (whole, or the complete fields of its start)."""
    if media == "application/x-www-form-urlencoded":
        if b"api_key=" not in body:
            return None
        text = body.decode("utf-8", "replace")
        for name, value in parse_qsl(text if complete else text.rsplit("&", 1)[0]):
            if name == "api_key" and value.strip():
                return value
        return None
    if media == "application/json" and complete and b'"api_key"' in body:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        found = document.get("api_key") if isinstance(document, dict) else None
        return found if isinstance(found, str) and found.strip() else None
    return None


async def key_from_body(scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
    """The ``api_key`` field of a write's body, and a ``receive`` that hands the app the whole body again.

    Reads at most :data:`KEY_SCAN_BYTES` ahead of the application (a multipart body only until the field is
    found); whatever was read is replayed first."""
    ctype = _header(scope, b"content-type") or ""
    media, options = parse_options_header(ctype)
    media_type = media.decode("latin-1").lower()
    multipart: _MultipartKey | None = None
    if media_type == "multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            return None, receive
        multipart = _MultipartKey(boundary)
    elif media_type not in ("application/x-www-form-urlencoded", "application/json"):
        return None, receive
    messages: list[Message] = []
    body = bytearray()
    size = 0
    complete = False
    # Errors from ``receive`` (a body over the size limit) propagate: the body limit outside answers them.
    while size < KEY_SCAN_BYTES:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if multipart is not None:
            if multipart.feed(chunk):
                break
        else:
            body += chunk
        if not message.get("more_body", False):
            complete = True
            break
    key = multipart.found if multipart is not None else _key_in(media_type, bytes(body), complete)
    return key, replay(messages, receive)


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out ``messages`` (a body read ahead) first, then what ``receive`` gives."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


# -- the middleware -------------------------------------------------------------------------------------
def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimit:
    """ASGI middleware: counts each request against its bucket and answers 429 over the limit."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        kind = KINDS.get(method) or classify(method)
        limiter = self.limiter
        address = client_address(scope)
        if kind is _OTHER or (limiter.exempt.networks and limiter.exempt.contains(address)):
            await self.app(scope, receive, send)
            return
        api_key = key_from_url(scope)
        if api_key is None and kind is _WRITE:
            api_key, receive = await key_from_body(scope, receive)
        if api_key is None:
            decision = limiter.address_decision(kind, address)
        else:
            key = await limiter.key_limit(api_key)
            decision = (
                limiter.address_decision(kind, address) if key is None else decide(kind, key, address, limiter.settings)
            )
        if decision is None:
            await self.app(scope, receive, send)
            return
        retry_after = limiter.counter.hit(decision.bucket, decision.per_minute)
        if not retry_after:
            await self.app(scope, receive, send)
            return
        await self._refuse(scope, send, decision, retry_after, address)

    async def _refuse(self, scope: Scope, send: Send, decision: Decision, retry_after: int, address: str) -> None:
        path: str = scope["path"]
        if self.limiter.should_log(decision.bucket):
            log.warning(
                "rate limit: %s %r from %s over %d a minute (%s); answering 429 for %d s",
                scope["method"], path, address, decision.per_minute, decision.bucket, retry_after,
            )  # fmt: skip
        description = (
            f"too many requests: {decision.who} may make {decision.per_minute} "
            f"{'writes' if decision.bucket.startswith(('key:', 'addr-w:')) else 'reads'} a minute; "
            f"try again in {retry_after} s"
        )
        if path.startswith(RESIDENT_PAGES):
            body, media = resident_page(scope, retry_after), "text/html; charset=utf-8"
        else:
            body, media = error_body(path, [(429, description)])
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", media.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
