"""The caller search's names and addresses: words, and the start of words, read from an index.

"Okafor" finds a filer named Okafor; "Okaf" finds Okafor too (every word of the search is the start of a word);
"grace okafor" finds a filer whose name has a word starting "grace" and one starting "okafor" (in any order);
"broad st" finds a request whose address has both. Case is ignored; punctuation separates words and is otherwise
ignored ("O'Brien" is "o" and "brien"). A one-letter word of the search is a whole word ("a" finds the word "a"
only). A part of a word that is not its start ("kafor") finds nothing: a contains-match cannot be read from an
index, and without one a search of a word nobody has reads every contact and every request.

The indexes (migration ``0017_agent_search``), kept in the writing transaction:

* SQLite: two contentless FTS5 tables (no copy of the text; no positions, no sizes; prefix indexes for the first
  2 to 6 characters of every word): :data:`NAME_FTS`, the words of each filer's first and last name (rowid: the
  request's number), and :data:`ADDRESS_FTS`, the words of each request's address (rowid: its number), each kept
  by triggers on its table.
* PostgreSQL: GIN indexes on :data:`PG_NAME_WORDS` (``request_contacts``) and :data:`PG_ADDRESS_WORDS`
  (``service_requests``), ``tsvector``\\ s of the ``simple`` configuration (no stemming, no stop words).

How a page reads them (``sql.py``): the index lists at most :data:`LIST_CAP` matches; when it has no more, those
are looked up by number and ordered; when it has more (a common word: sorting every match would be the cost), the
requests are walked newest first, each tested, until the page's ``reach`` are found (a common word is found
soon). On PostgreSQL an address search first tests the newest :data:`PG_WINDOW` requests (a word in a large part of
the addresses is found there, before its long list in the index is read). The in-memory store applies
:func:`matches` to the same words (:func:`terms`).
"""

from __future__ import annotations

from civicswitch.requests import search

NAME_FTS = "request_contact_words"
ADDRESS_FTS = "request_address_words"
PG_NAME_INDEX = "ix_request_contacts_name_words"
PG_ADDRESS_INDEX = "ix_service_requests_address_words"
# The indexes' expressions (migration 0017): a query must spell them exactly.
PG_NAME_WORDS = (
    "to_tsvector('simple'::regconfig, regexp_replace(coalesce(request_contacts.first_name, '') || ' ' || "
    "coalesce(request_contacts.last_name, ''), '[^[:alnum:]]+', ' ', 'g'))"
)
PG_ADDRESS_WORDS = (
    "to_tsvector('simple'::regconfig, regexp_replace(coalesce(service_requests.address, ''), "
    "'[^[:alnum:]]+', ' ', 'g'))"
)
# How many matches of one kind a page lists from an index before it walks the requests instead.
LIST_CAP = 2000
# PostgreSQL: up to this many matches of an address are hashed for the walk (read from the table once: a word in
# most addresses, "street", would read most of it); past it the walk tests each request's address.
PG_HASH_CAP = 20_000
# PostgreSQL: how many of the newest requests an address search tests before it reads the index (a common word is
# found among them; a rare one costs this short walk: 5 ms at 1,000,000 requests on the bench machine).
PG_WINDOW = 2000


def terms(text: str | None) -> list[str]:
    """The words of a search, lower case, each the start of a word (``okaf*``) but one-letter words (whole)."""
    found = (w.rstrip("*") for w in search.words(text))
    return list(dict.fromkeys(w + "*" if len(w) > 1 else w for w in found))


def matches(found: list[str], *texts: str | None) -> bool:
    """Whether every word of ``found`` starts a word of ``texts`` (a one-letter word: is one)."""
    return search.matches(found, *texts)


def fts_query(found: list[str]) -> str:
    """An FTS5 MATCH expression: every word (quoted: letters and digits only), as a prefix where it is one."""
    return " AND ".join(f'"{w[:-1]}" *' if w.endswith("*") else f'"{w}"' for w in found)


def pg_query(found: list[str]) -> str:
    """A ``tsquery`` (its text: cast it) of every word, as a prefix (``:*``) where it is one."""
    return " & ".join(f"'{w[:-1]}':*" if w.endswith("*") else f"'{w}'" for w in found)


def likes(found: list[str]) -> list[str]:
    """``ILIKE`` patterns every match also has (each word somewhere in the text): a cheap test before the exact one
    on a walk. Words are letters and digits only: nothing to escape."""
    return [f"%{w.rstrip('*')}%" for w in found]
