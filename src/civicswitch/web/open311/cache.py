"""Conditional GETs for the Open311 reads: validators, ``304 Not Modified``, and the catalog's rendered documents.

docs/open311.md#caching-and-conditional-gets states the rules for clients. In short:

* **Catalog documents** (discovery, the service list, service definitions) depend only on the catalog and on this
  process's settings. Each is rendered once per catalog version and kept in :class:`CatalogDocuments`. A request
  costs one primary-key read of the version (``CatalogStore.version``, bumped in the transaction of every catalog
  write), so the next request after a ``civicswitch catalog import`` in any process sees the new catalog. The ETag
  is a hash of the bytes, so every process serving the same catalog gives the same one. ``Last-Modified`` is
  explained at :meth:`CatalogDocuments.last_modified`.
* **Request lists and single requests**: the ETag is a hash of ``RequestStore.list_validator`` (one query, no
  rendering), checked before anything is rendered. The JSON lists a process rendered are kept in
  :class:`ListPages`, each with its ETag, and served again only while the validator, read again for every request,
  still gives that ETag. They carry no ``Last-Modified``: the newest
  ``updated_datetime`` of a list does not move on every change it shows (a back end may report an update dated in
  the past, a request may leave a page), so a date could answer 304 to a changed list.

``If-None-Match`` wins over ``If-Modified-Since`` (RFC 9110 §13.2.2). Every answer, 200 or 304, says
``Cache-Control: public, no-cache``: the documents are the same for every caller (an ``api_key`` changes nothing on a
GET), and any cache must ask again before reusing one, so nobody is served a catalog or a list that has changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from cachetools import LRUCache
from starlette.responses import Response

from civicswitch import __version__

CACHE_CONTROL = "public, no-cache"
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024  # the rendered catalog documents one process keeps, at most
VERSIONS_REMEMBERED = 16
ONE_SECOND = timedelta(seconds=1)
_ENTRY_OVERHEAD = 256  # bytes counted per document besides its body (key, ETag, object)


def etag_of(*parts: bytes) -> str:
    """A strong ETag: a hash of ``parts`` (each length-prefixed, so no two sequences of parts collide by joining)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return f'"{digest.hexdigest()}"'


def request_etag(validator: str, *variant: str) -> str:
    """The ETag of a request list or single request: what ``list_validator`` says of the rows, and how they are
    shown (format, extensions, the base of its links) and by which release of this code."""
    return etag_of(__version__.encode(), *(v.encode() for v in variant), validator.encode())


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> Rendered:
        return cls(body, content_type, etag_of(body))


class CatalogDocuments:
    """The catalog documents this process rendered, per catalog version, in an LRU bounded by bytes; and the
    ``Last-Modified`` of each catalog version it saw. Thread-safe (the routes run in Starlette's thread pool)."""

    def __init__(self, max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self._lock = threading.Lock()
        self._documents: LRUCache[tuple[int, Hashable], Rendered] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda r: len(r.body) + _ENTRY_OVERHEAD
        )
        self._modified: LRUCache[int, datetime] = LRUCache(maxsize=VERSIONS_REMEMBERED)
        self._latest_modified: datetime | None = None
        self._newest_version = -1

    def get(self, version: int, key: Hashable) -> Rendered | None:
        with self._lock:
            return self._documents.get((version, key))

    def put(self, version: int, key: Hashable, rendered: Rendered) -> Rendered:
        with self._lock:
            if version > self._newest_version:
                # A newer catalog: what was rendered from older ones is never asked for again (requests that read
                # an older version just before the change may still put theirs; the LRU drops them).
                self._newest_version = version
                for stale in [k for k in self._documents if k[0] != version]:
                    del self._documents[stale]
            with contextlib.suppress(ValueError):  # larger than the whole cache: served, not kept
                self._documents[(version, key)] = rendered
        return rendered

    def last_modified(self, version: int, seen: datetime) -> datetime:
        """When this process first saw ``version``: ``seen`` (a whole-second clock read taken *after* the version
        was read) plus one second, and always after every earlier value.

        The route sends it only once the clock read taken *before* the version was read has reached it, and
        answers ``If-Modified-Since`` only when it sends it. Then a ``Last-Modified`` a client holds is always
        earlier than that of any later catalog version, in this process or another (whose clock agrees): the
        client's value is at most the start of the request that read the old version, which began before the new
        version was committed, and the new version's value is after the first read that saw it. So two versions
        changed within the same second never share a date, and a client that sends only ``If-Modified-Since`` is
        never answered 304 for a catalog that changed. The cost: for a second or two after a change, answers carry
        no ``Last-Modified`` (the ETag works throughout)."""
        with self._lock:
            found = self._modified.get(version)
            if found is None:
                found = seen + ONE_SECOND
                if self._latest_modified is not None and found <= self._latest_modified:
                    found = self._latest_modified + ONE_SECOND
                self._modified[version] = self._latest_modified = found
            return found


@dataclass(frozen=True, slots=True)
class Page:
    etag: str
    body: bytes


class ListPages:
    """The request lists this process rendered, each under the URL's query it answered (and the base of its links),
    with the ETag it was served with; least recently used dropped first when their bytes pass ``max_bytes``
    (``CIVICSWITCH_LIST_CACHE_BYTES``; 0: nothing is kept). Thread-safe (lists are read in Starlette's thread pool).

    A kept page is only ever served after the list's validator has been read again, in the same request, and gives
    the page's ETag (web/open311/hot.py): the ETag covers every row of the page, by id and revision in the page's
    order, the catalog version, the format and the base of the links, so the page is what rendering it now would
    give, whichever process wrote since. A page is kept with the ETag computed from the same statement that rendered
    it (``open311_json_with_validator``), never from an earlier read."""

    def __init__(self, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self.max_bytes = max_bytes
        self._pages: LRUCache[Hashable, Page] = LRUCache(
            maxsize=max(max_bytes, 1), getsizeof=lambda p: len(p.body) + len(p.etag) + _ENTRY_OVERHEAD
        )

    def get(self, key: Hashable) -> Page | None:
        if not self.max_bytes:
            return None
        with self._lock:
            return self._pages.get(key)

    def put(self, key: Hashable, etag: str, body: bytes) -> None:
        if not self.max_bytes:
            return
        with self._lock:
            try:
                self._pages[key] = Page(etag, body)
            except ValueError:  # larger than the whole cache: served, not kept (nor an older page of its URL)
                self._pages.pop(key, None)

    @property
    def size(self) -> int:
        """The bytes kept now (bodies, ETags and a fixed overhead per page)."""
        with self._lock:
            return int(self._pages.currsize)

    def __len__(self) -> int:
        with self._lock:
            return len(self._pages)


def validators(etag: str, last_modified: datetime | None = None) -> dict[str, str]:
    """The headers every answer of a cacheable read carries, 200 and 304 alike."""
    headers = {"etag": etag, "cache-control": CACHE_CONTROL}
    if last_modified is not None:
        headers["last-modified"] = format_datetime(last_modified, usegmt=True)
    return headers


def not_modified(
    request_headers: Mapping[str, str], etag: str, last_modified: datetime | None = None, now: datetime | None = None
) -> bool:
    """Whether a GET or HEAD may be answered 304 (RFC 9110 §13.1.2, §13.1.3, §13.2.2).

    ``If-None-Match`` compares weakly (a ``W/`` prefix is ignored) and ``*`` matches; when it is present,
    ``If-Modified-Since`` is not looked at. ``If-Modified-Since`` counts only with a ``last_modified`` and when it
    is a valid HTTP date that is not after ``now``."""
    wanted = request_headers.get("if-none-match")
    if wanted is not None:
        tags = [tag.strip() for tag in wanted.split(",")]
        return "*" in tags or etag in (tag.removeprefix("W/") for tag in tags)
    since_text = request_headers.get("if-modified-since")
    if since_text is None or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(since_text)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:  # "-0000" zone: UTC by RFC 5322
        since = since.replace(tzinfo=last_modified.tzinfo)
    if now is not None and since > now:
        return False
    return last_modified <= since


def not_modified_response(headers: dict[str, str]) -> Response:
    """``304`` with the validators and no body (Starlette sends no Content-Length for a 304)."""
    return Response(status_code=304, headers=headers)
