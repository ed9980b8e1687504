"""The staff queue's text search: whole words of a request's description and address, or the start of words.

"loud music" finds a request whose description or address has the word "loud" and the word "music" (in any
order, case ignored); "pot*" finds words that start with "pot" ("pothole", "potholes"). Punctuation separates
words and is otherwise ignored ("50% wall_" is "50" and "wall"); a search with no word in it finds nothing.
A request number (digits only) finds that request instead (``queue_sql.py``, ``queue_memory.py``).

Whole words are the default because they are what an index answers in time on a city's worth of requests: a word
is one list of requests in the index, read only as far as a page needs, while a prefix is the union of the lists
of every word it starts (materialised at each use: "resid*" is every request with "residential").

The databases index the words, so a search reads the matching requests, not every request of the queue:

* SQLite (migration ``0014_queue_search``): the FTS5 table :data:`FTS_TABLE` (no copy of the text, words and their
  column only, prefix indexes for prefixes of 2 and 3 characters), kept by triggers on ``service_requests`` in the
  writing transaction. Its ``scope`` column holds the request's body (``b12``, ``b0`` for none), its status
  (``snew``, ``sinprogress`` …) and, since migration ``0021_queue_search_areas``, each of its areas with its status
  (:func:`area_token`), so a department's or an area's matches (per status) are found in the index alone.
* PostgreSQL (migration ``0015_queue_search_pg``): a GIN index on :data:`PG_DOCUMENT`, the ``tsvector`` the
  function :data:`PG_FUNCTION` makes of the words (the ``simple`` configuration: no stemming, no stop words). It
  holds each word ``w`` as ``w``, ``#b12/in_progress/w`` (its body and status), ``#sin_progress/w`` (its status)
  and, since migration ``0021_queue_search_areas``, ``#a<area>/in_progress/w`` for each of its areas (``<area>``:
  :func:`area_hex` of its layer and key, so no key can be mistaken for another or need quoting),
  so a department's, an area's (a liaison's) or everyone's matches of one status are one list of the index
  (:func:`pg_query`), as long as the matches themselves: counting them per status never reads the requests of the
  other statuses, bodies or areas. A status change or a transfer is a new row version, indexed anew in the same
  transaction. The document is costly to compute row by row, so no page computes it: a page of a few matches reads
  their ids from the index, a page of many walks the queue in order testing :data:`PG_WORDS` (the words alone; for
  everyone's open requests by filing time, the partial index :data:`PG_OPEN_INDEX`). A word over 1,000 bytes
  (letters or digits without a break) is indexed without its scope (an entry is at most 2,047 bytes, and to_tsvector
  drops longer words anyway), so a search for it finds it only where the queue is walked.

The in-memory store applies :func:`matches` to the same words (:func:`words`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from civicswitch.requests.model import Status

FTS_TABLE = "service_request_words"
PG_INDEX = "ix_service_requests_scoped_words"  # migration 0021 (0015's was "ix_service_requests_search", 0014's
#                                               "ix_service_requests_words")
PG_OPEN_INDEX = "ix_service_requests_open_requested"  # 0015: everyone's open requests by filing time (PostgreSQL)
MAX_WORDS = 12  # more words narrow nothing a clerk needs, and each is a list the index merges

# PostgreSQL: the function of migration 0021 (the words of letters and digits, as SQLite's unicode61 tokenizer and
# words() see them, each also prefixed with its scopes: pg_query()) and the document its GIN index holds. The query
# must spell the index's expression exactly.
PG_FUNCTION = "request_search_document"
PG_DOCUMENT = (
    f"{PG_FUNCTION}(service_requests.description || ' ' || coalesce(service_requests.address, ''), "
    "service_requests.body_id, service_requests.status, service_requests.areas)"
)
# The words alone (no index): what an ordered walk of the queue tests on each request it reads.
PG_WORDS = (
    "to_tsvector('simple'::regconfig, regexp_replace(service_requests.description || ' ' || "
    "coalesce(service_requests.address, ''), '[^[:alnum:]]+', ' ', 'g'))"
)

_WORD = re.compile(r"[^\W_]+")
_SEARCHED = re.compile(r"([^\W_]+)(\*?)")


def words(text: str | None) -> list[str]:
    """The words of a search (lower case, in order, each once; at most :data:`MAX_WORDS`), a prefix ending in
    ``*`` (a prefix of one character is a whole word: it would be most of the index)."""
    found = (w + ("*" if star and len(w) > 1 else "") for w, star in _SEARCHED.findall((text or "").lower()))
    return list(dict.fromkeys(found))[:MAX_WORDS]


def matches(found: list[str], *texts: str | None) -> bool:
    """Whether every word of ``found`` is a word of ``texts`` (a prefix: starts one)."""
    if not found:
        return False
    have = set(_WORD.findall(" ".join(t or "" for t in texts).lower()))
    return all(any(h.startswith(w[:-1]) for h in have) if w.endswith("*") else w in have for w in found)


def status_token(status: str) -> str:
    """A status as the FTS ``scope`` column holds it (``in_progress`` → ``sinprogress``)."""
    return "s" + status.replace("_", "")


def area_hex(layer: str, key: str) -> str:
    """An area as both indexes name it: the hex of the UTF-8 of ``layer=key`` (letters and digits only, whatever
    the key holds: spaces, quotes, slashes, letters beyond ASCII)."""
    return f"{layer}={key}".encode().hex()


def area_token(layer: str, key: str, status: str) -> str:
    """An area and a status as the FTS ``scope`` column holds them: ``a``, :func:`area_hex`, then the status token
    (``s…``, never a hex digit)."""
    return "a" + area_hex(layer, key) + status_token(status)


Areas = Iterable[tuple[str, str]]


def fts_query(
    found: list[str],
    *,
    bodies: list[int] | None = None,
    statuses: list[str] | None = None,
    areas: Areas | None = None,
) -> str:
    """An FTS5 MATCH expression: every word of ``found`` in ``words``, and, when given, one of ``bodies``, one of
    ``areas`` (layer, key) in one of ``statuses`` (else of any) or else one of ``statuses`` in ``scope``. Words are
    quoted: letters and digits only, and a prefix's ``*``."""
    parts = [f'words : "{w[:-1]}" *' if w.endswith("*") else f'words : "{w}"' for w in found]
    if areas is not None:
        chosen = statuses if statuses is not None else [str(s) for s in Status]
        tokens = [area_token(layer, key, s) for layer, key in sorted(set(areas)) for s in chosen]
        parts.append("scope : (" + " OR ".join(tokens) + ")")
        statuses = None
    if bodies is not None:
        parts.append("scope : (" + " OR ".join(f"b{b}" for b in bodies) + ")")
    if statuses is not None:
        parts.append("scope : (" + " OR ".join(status_token(s) for s in statuses) + ")")
    return " AND ".join(parts)


def pg_query(
    found: list[str],
    *,
    bodies: list[int] | None = None,
    statuses: list[str] | None = None,
    areas: Areas | None = None,
) -> str:
    """A ``tsquery`` (its text: cast it) of ``found`` (its prefixes as ``:*``) on :data:`PG_DOCUMENT`: when
    ``bodies`` are given, among those of these bodies (and of ``statuses``, else of any status); else, when
    ``areas`` (layer, key) are given, among those in these areas (and of ``statuses``, else of any); else, when
    ``statuses`` are given, among those of these statuses; else the words alone."""
    if bodies is not None or areas is not None:
        chosen = statuses if statuses is not None else [str(s) for s in Status]
        if bodies is not None:
            scopes = [f"#b{b}/{s}/" for b in bodies for s in chosen]
        else:
            assert areas is not None
            scopes = [f"#a{area_hex(layer, key)}/{s}/" for layer, key in sorted(set(areas)) for s in chosen]
    elif statuses is not None:
        scopes = [f"#s{s}/" for s in statuses]
    else:
        scopes = [""]
    if not scopes:
        return ""
    each = [" & ".join(f"'{scope}{w[:-1]}':*" if w.endswith("*") else f"'{scope}{w}'" for w in found)
            for scope in scopes]  # fmt: skip
    return each[0] if len(each) == 1 else " | ".join(f"({e})" for e in each)
