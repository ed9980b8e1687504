"""The staff queue in SQL: one query for the page, one for the counts per status; the scope is part of the WHERE.

At a city's size (1,000,000 requests; ``bench/staff_pages.py``) every query must be an index walk that stops early:

* bodies and services are matched by id (``body_id IN (SELECT id FROM bodies WHERE code IN …)``), so the
  ``body_id``-leading indexes apply, not a join that reads every request first;
* a filter without ``closed`` says so (``status <> 'closed'``): then the partial indexes of open requests
  (migration ``0011_queue_indexes``: by body and filing time, due date or last update) give the page in order;
* counts per status stop at the filter's ``count_cap`` + 1 each (the page shows "10,000+", or "1,000+" for a text
  search), so a department's 300,000 closed requests are not counted one by one on every page;
* a text search reads the words' index (``requests/search.py``), not each request's text. Both indexes hold each
  request's body and status with its words: a department's (or everyone's) counts per status are read from the
  index alone (on PostgreSQL, with each counted request's row: a GIN index answers no count by itself), and the
  page is either the few matching requests (SQLite: at most :data:`FEW`, read by id; PostgreSQL: at most
  :data:`PG_FEW`, read from the GIN index with their sort keys, sorted, then the page's rows alone by id) or, for
  a common word, the queue's ordered index read until the page is full, each request tested (SQLite: against the
  matches; PostgreSQL: its words, :data:`PG_WORDS`).

PostgreSQL, a search's page (:meth:`SqlQueueStore._few_statement`): at most :data:`PG_FEW` + 1 matches of the page's
statuses are read from the GIN index with their sort keys alone, sorted and paged in a subquery, and only the page's
rows are read and joined (its 50, not every match's row); more matches, and the queue is walked.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    cast,
    column,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.dialects.postgresql import TSQUERY

from civicswitch.catalog.tables import bodies, services
from civicswitch.requests.model import Status
from civicswitch.requests.queue import (
    QueueFilter,
    QueuePage,
    QueueRow,
    QueueScope,
    SlaFilter,
    Sort,
    snippet,
    total_of,
)
from civicswitch.requests.search import FTS_TABLE, PG_DOCUMENT, PG_WORDS, fts_query, matches, pg_query, words
from civicswitch.requests.tables import request_areas as ra
from civicswitch.requests.tables import service_requests as sr

FEW = 500  # SQLite: up to this many matches are read by id and sorted; more: the ordered index is walked
# SQLite: past this many matches, the walk tests each request's words (WORDS_FUNCTION) instead of looking it up in
# the list of matches (which SQLite builds first: 60,000 ids for a common word in a department's closed requests)
WALK_ABOVE = 5_000
# PostgreSQL: up to this many matches of the page's statuses are read from the GIN index (their ids and sort keys),
# sorted in Python, and the page's rows read by id; more: the ordered index is walked, testing each request's words
# (a common word fills the page early).
PG_FEW = 5_000
_FTS = table(FTS_TABLE, column("rowid"))
# SQLite: the test an ordered walk of the queue makes of each request it reads (a common word), in Python: the words
# of its description and address against the search's (requests/search.py matches(), the in-memory store's test).
# Registered on the connection by the store that walks (SqlQueueStore._walk_function).
WORDS_FUNCTION = "civicswitch_words_match"


@lru_cache(maxsize=64)
def _searched(found: str) -> list[str]:
    words_: list[str] = json.loads(found)
    return words_


def _words_match(found: str, description: str | None, address: str | None) -> int:
    """1 when every word of ``found`` (a JSON list, as :func:`words` made it) is in the description or address."""
    return 1 if matches(_searched(found), description, address) else 0


def _order(t: Any, sort: Sort) -> tuple[Any, ...]:
    """The ORDER BY of ``sort`` on the columns of ``t`` (a subquery of requests; ties by id)."""
    return {
        Sort.OLDEST: (t.c.requested_at.asc(), t.c.id.asc()),
        Sort.NEWEST: (t.c.requested_at.desc(), t.c.id.desc()),
        Sort.UPDATED: (t.c.updated_at.desc(), t.c.id.desc()),
        Sort.DUE: (t.c.expected_at.asc().nulls_last(), t.c.id.asc()),  # no due date last, by id
    }[sort]


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 18


def _tsmatch(document: str, query: str) -> ColumnElement[bool]:
    match: ColumnElement[bool] = literal_column(document).bool_op("@@")(cast(literal(query), TSQUERY))
    return match


def _area(layer: str, key: str) -> ColumnElement[bool]:
    """The request's own areas (its JSON) name this one: a test of each request read by another index."""
    found: ColumnElement[bool] = sr.c.areas[layer].as_string() == key
    return found


def _in_areas(areas: Iterable[tuple[str, str]], statuses: Sequence[str] | None) -> ColumnElement[bool]:
    """request_areas' rows of these areas (layer, key) and, when known, of these statuses (migration 0019: an index
    range per area and status, or the area's open requests)."""
    terms = [and_(ra.c.layer == layer, ra.c.area_key == key) for layer, key in sorted(areas)]
    where: list[ColumnElement[bool]] = [or_(*terms) if len(terms) > 1 else terms[0]]
    if statuses is not None:
        if len(statuses) > 1 and str(Status.CLOSED) not in statuses:
            where.append(ra.c.status != str(Status.CLOSED))  # the open requests' partial index
        where.append(ra.c.status == statuses[0] if len(statuses) == 1 else ra.c.status.in_(statuses))
    return and_(*where)


_JOINED = sr.join(services, services.c.id == sr.c.service_id).outerjoin(bodies, bodies.c.id == sr.c.body_id)


class SqlQueueStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._codes: dict[tuple[str, frozenset[str]], list[int]] = {}
        self._sqlite = conn.dialect.name == "sqlite"
        self._matched: dict[str, list[int] | None] = {}  # FTS expression → its few matches (None: more than FEW)
        self._pg_many: set[tuple[QueueScope, QueueFilter]] = set()  # searches with more than PG_FEW (PostgreSQL)
        self._many: dict[str, bool] = {}  # FTS expression → whether more than WALK_ABOVE requests match (SQLite)
        self._walk_ready = False  # SQLite: WORDS_FUNCTION registered on this connection
        self._areas_many: set[tuple[QueueScope, QueueFilter]] = set()  # pages of more than FEW in their areas

    def _ids(self, table: Table, codes: Iterable[str]) -> list[int]:
        """The ids of bodies or services by code (a few rows): the queries then name ids, so one body's queue walks
        its index in order (``body_id = ?``; an ``IN`` of a subquery could be several bodies, and is sorted)."""
        key = (table.name, frozenset(codes))
        found = self._codes.get(key)
        if found is None:
            found = self._codes[key] = sorted(
                self._conn.execute(select(table.c.id).where(table.c.code.in_(key[1]))).scalars()
            )
        return found

    @staticmethod
    def _one_of(column: ColumnElement[int], ids: list[int]) -> ColumnElement[bool]:
        if not ids:
            return false()
        return column == ids[0] if len(ids) == 1 else column.in_(ids)

    def _body_tags(self, scope: QueueScope, query: QueueFilter) -> list[int] | None:
        """The bodies the FTS index may narrow a search to (the scope's, and the body filter's), or None when the
        scope is not one of bodies (an organisation's, areas', or everything without a body filter)."""
        chosen = self._ids(bodies, {query.body_code}) if query.body_code else None
        if scope.everything:
            return chosen
        if scope.org or scope.areas:
            return None
        mine = self._ids(bodies, scope.bodies)
        return mine if chosen is None else [b for b in mine if b in chosen]

    def _area_tags(self, scope: QueueScope, query: QueueFilter) -> frozenset[tuple[str, str]] | None:
        """The areas the search documents may narrow a search to (they hold each request's areas with its status,
        migration 0021): a liaison's areas, or the area filter of everyone's queue, with no body filter. Else None
        (a scope of bodies is narrowed by its bodies, :meth:`_body_tags`; any other area is tested on each match).
        Never both: where there are areas, :meth:`_body_tags` is None (no body filter, no scope of bodies)."""
        if query.body_code:
            return None
        if scope.everything:
            return frozenset({query.area}) if query.area is not None else None
        if scope.areas and not scope.bodies and not scope.org and query.area is None:
            return scope.areas
        return None

    def _fts_ids(self, match: str) -> list[int] | None:
        """The requests matching an FTS5 expression when at most :data:`FEW` do, else None."""
        if match not in self._matched:
            statement = select(_FTS.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(match)).limit(FEW + 1)
            ids = list(self._conn.execute(statement).scalars())
            self._matched[match] = ids if len(ids) <= FEW else None
        return self._matched[match]

    def _text(
        self, scope: QueueScope, query: QueueFilter, statuses: list[str] | None, walk: bool = False
    ) -> tuple[ColumnElement[bool], bool]:
        """The search (a request number, or words: requests/search.py), and whether it names a few requests by
        id. PostgreSQL: the words in the scope's bodies (or any) and ``statuses`` (or any) of the indexed document,
        or, for a walk of an ordered index (``walk``), the request's words alone."""
        text = (query.text or "").strip()
        if _is_number(text):
            return sr.c.id == int(text), False  # a request number: that request (its row, by primary key)
        found = words(text)
        if not found:
            return false(), False
        if not self._sqlite:
            if walk:
                # each request the ordered walk reads: its words (scope and statuses are the other terms). In
                # coalesce(), the planner guesses half the requests match, as for any expression it has no
                # statistics on, and walks the ordered index (a test of "@@" it guesses rare: it sorts them all)
                return func.coalesce(_tsmatch(PG_WORDS, pg_query(found)), false()), False
            tags = self._body_tags(scope, query)
            if tags == []:
                return false(), False
            areas = self._area_tags(scope, query)
            return _tsmatch(PG_DOCUMENT, pg_query(found, bodies=tags, statuses=statuses, areas=areas)), False
        tags = self._body_tags(scope, query)
        if tags == []:
            return false(), False  # the body filter names none of the scope's bodies
        areas = self._area_tags(scope, query)
        if walk:  # a common word: each request the ordered walk reads is tested (its words), never the matches listed
            self._walk_function()
            test = func.civicswitch_words_match(literal(json.dumps(found)), sr.c.description,
                                                sr.c.address)  # fmt: skip
            return test == 1, False
        # The scope's matches first: when they are few (a rare word, or rare in this scope), the page and the
        # counts per status read them by id. Else those of the statuses asked: again by id when few, else tested
        # one by one while the queue's ordered index is read (a common word: the page fills early).
        expressions = [fts_query(found, bodies=tags, areas=areas)]
        if statuses is not None:
            expressions.append(fts_query(found, bodies=tags, statuses=statuses, areas=areas))
        for expression in expressions:
            few = self._fts_ids(expression)
            if few is not None:
                return (sr.c.id.in_(few), True) if few else (false(), False)
        matched = select(_FTS.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(expressions[-1]))
        if areas is not None and not self._fts_many(expressions[-1]):
            # an area's matches (of these statuses), listed from the index: up to WALK_ABOVE, looked up by id and
            # sorted (no index of the requests is in an area's order: a walk of the city's would test thousands
            # of other areas' requests for each one of this area's)
            return sr.c.id.in_(matched), True
        return sr.c.id.in_(matched), False

    def _walk_function(self) -> None:
        if not self._walk_ready:
            raw = self._conn.connection.dbapi_connection
            assert raw is not None
            raw.create_function(WORDS_FUNCTION, 3, _words_match, deterministic=True)
            self._walk_ready = True

    def _sqlite_walks(self, scope: QueueScope, query: QueueFilter) -> bool:
        """SQLite: whether a search's page walks the queue's ordered index testing each request's words (more than
        :data:`FEW` matches in the scope and in the page's statuses), rather than reading its few matches by id.
        Only where an index gives the page in order (closed requests: oldest or newest first), for a scope of bodies
        or everything (an organisation's or areas' requests are tested for their scope first, in SQL), and past
        :data:`WALK_ABOVE` matches (fewer: the walk tests each request against the list of matches, cheap to build)."""
        text = (query.text or "").strip()
        if not self._sqlite or not text or _is_number(text) or scope.org or scope.areas:
            return False
        found = words(text)
        tags = self._body_tags(scope, query)
        if not found or tags == []:
            return False
        if Status.CLOSED in query.statuses and query.sort not in (Sort.OLDEST, Sort.NEWEST):
            return False
        statuses = [str(s) for s in query.statuses]
        areas = self._area_tags(scope, query)
        expressions = (fts_query(found, bodies=tags, areas=areas),
                       fts_query(found, bodies=tags, statuses=statuses, areas=areas))  # fmt: skip
        return all(self._fts_ids(e) is None for e in expressions) and self._fts_many(expressions[-1])

    def _fts_many(self, match: str) -> bool:
        """Whether more than :data:`WALK_ABOVE` requests match an FTS5 expression (counted no further)."""
        if match not in self._many:
            found = select(_FTS.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(match)).limit(WALK_ABOVE + 1)
            n = self._conn.execute(select(func.count()).select_from(found.subquery())).scalar_one()
            self._many[match] = int(n) > WALK_ABOVE
        return self._many[match]

    def _indexed(self, query: QueueFilter, walk: bool) -> bool:
        """PostgreSQL, a search by words read from the GIN index (not walked): its document holds the body and
        status, so the terms on them are left out (else the planner intersects the GIN index's matches with a
        (body_id, status) index's hundreds of thousands of entries)."""
        text = (query.text or "").strip()
        return not self._sqlite and not walk and bool(text) and not _is_number(text) and bool(words(text))

    def _plain_search(self, scope: QueueScope, query: QueueFilter) -> list[str] | None:
        """SQLite: the words of a search whose counts the FTS index answers alone (a search by words with more than
        :data:`FEW` matches in a scope of bodies, areas (:meth:`_area_tags`) or everything, with no other filter
        but that of a body or of everyone's area), else None."""
        text = (query.text or "").strip()
        if not self._sqlite or not text or _is_number(text):
            return None
        others = (query.service_code, query.assignee, query.sla, query.filed_by)
        if any(x is not None for x in others) or query.unassigned or query.bounced:
            return None
        tags = self._body_tags(scope, query)
        areas = self._area_tags(scope, query)
        if areas is None and (query.area is not None or (not scope.everything and (scope.org or scope.areas))):
            return None
        found = words(text)
        if not found:
            return None
        if tags == [] or self._fts_ids(fts_query(found, bodies=tags, areas=areas)) is not None:
            return None  # nothing, or few: counted by id
        return found

    def _where(
        self, scope: QueueScope, query: QueueFilter, *, statuses: bool, status: Status | None = None, walk: bool = False
    ) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        # the page's statuses, which request_areas is read for (the counts read it alone: counts_statement)
        in_statuses = [str(s) for s in query.statuses] if statuses else None
        walk_areas = (scope, query) in self._areas_many
        # request_areas when the areas say which requests (with statuses and owners at most); with another filter
        # (a search, a service, an assignee …), that filter's index finds the requests and each one's own areas
        # are tested (request_areas would be read whole first: 262,000 rows for a borough's closed requests)
        by_area = self._area_source(scope, query) is not None
        # PostgreSQL's indexed document names the scope's bodies (and the body filter's), or its areas (or the area
        # filter's), and the statuses asked
        area_tags = self._area_tags(scope, query)
        implied = self._indexed(query, walk) and (self._body_tags(scope, query) is not None or area_tags is not None)
        implied_statuses = self._indexed(query, walk) and statuses
        if implied_statuses:
            statuses = False
        if not scope.everything and not implied:
            reach: list[ColumnElement[bool]] = []
            if scope.bodies:
                reach.append(self._one_of(sr.c.body_id, self._ids(bodies, scope.bodies)))
            if scope.org:
                reach.append(sr.c.assigned_org == scope.org)
            if scope.areas and by_area:
                reach.append(self._member(scope.areas, in_statuses, walk_areas))
            elif scope.areas:
                reach.extend(self._own_area(layer, key, walk) for layer, key in sorted(scope.areas))
            where.append(or_(*reach) if reach else false())
        if statuses:
            chosen = [str(s) for s in query.statuses]
            if Status.CLOSED in query.statuses:
                where.append(sr.c.status.in_(chosen))
            elif query.service_code and not self._sqlite:
                # PostgreSQL, one service: the statuses as they are, so the planner, which knows how many there
                # are, can read them from the (service_id, status, body_id) index and sort them (a department's
                # busiest service: 1,063 open of 119,084; the open requests' index ANDed with the service's, which
                # it picks otherwise, reads both whole: 24 ms, against 2-5 ms)
                where.append(sr.c.status.in_(chosen))
            else:
                # The open requests' partial indexes apply, and give the page in order. The statuses are then a
                # filter on the walk ("status || ''": without statistics, SQLite would rather search the
                # (body, status) index by each status and sort everything it finds).
                where.append(sr.c.status != str(Status.CLOSED))
                where.append(sr.c.status.concat("").in_(chosen))
        if query.service_code:
            where.append(self._one_of(sr.c.service_id, self._ids(services, {query.service_code})))
        if query.body_code and not implied:
            where.append(self._one_of(sr.c.body_id, self._ids(bodies, {query.body_code})))
        if query.area is not None and not (implied and area_tags is not None):
            if by_area:
                where.append(self._member({query.area}, in_statuses, walk_areas))
            else:
                where.append(self._own_area(*query.area, walk))
        if query.assignee is not None:
            where.append(sr.c.assignee_user_id == query.assignee)
        if query.unassigned:
            # Not "IS NULL", which SQLite would answer from the assignee index: nearly every request has none.
            where.append(func.coalesce(sr.c.assignee_user_id, 0) == 0)
        if query.bounced:
            where.append(sr.c.transfers >= 1)
        if query.filed_by is not None:  # the partial index of requests filed by staff (migration 0018)
            where.append(sr.c.filed_by_user_id == query.filed_by)
        if query.sla is not None:
            now = query.now
            assert now is not None
            where.append(sr.c.status.notin_([str(Status.ON_HOLD), str(Status.CLOSED)]))
            if query.sla is SlaFilter.OVERDUE:
                where.append(sr.c.expected_at < now)
            else:
                where.append(sr.c.expected_at.between(now, now + query.due_soon))
        if (query.text or "").strip():
            asked: list[str] | None = [str(s) for s in query.statuses] if statuses or implied_statuses else None
            if status is not None:
                asked = [str(status)]
            searched, by_id = self._text(scope, query, asked, walk)
            if by_id and self._sqlite:
                # a few requests by id: SQLite is told the other terms keep nearly every row ("likely"), so it
                # looks the few up rather than walking a body's index in order, testing each of its requests
                where = [func.likely(term) for term in where]
            where.append(searched)
        return where

    def _member(
        self, areas: Iterable[tuple[str, str]], statuses: Sequence[str] | None, walk: bool
    ) -> ColumnElement[bool]:
        """Requests in one of ``areas`` (request_areas, of ``statuses`` when known): looked up by id when they are
        few, or, for a page with more than :data:`FEW` (``walk``), a test of each request read while the queue's
        ordered index is walked ("+ 0": not by id; the area's ids are read once, into a hashed list)."""
        listed = select(ra.c.request_id).where(_in_areas(areas, statuses))
        if not walk:
            return sr.c.id.in_(listed)
        tested = (sr.c.id + 0).in_(listed)
        # PostgreSQL: in coalesce(), the planner guesses half the requests match and walks the index in order (a
        # plain IN is a join it may prefer to make first, sorting the area's thousands of requests)
        return tested if self._sqlite else func.coalesce(tested, false())

    def _own_area(self, layer: str, key: str, walk: bool) -> ColumnElement[bool]:
        """The request's own areas name this one. PostgreSQL, in a walk of the queue's ordered index (a common word):
        in coalesce(), which the planner guesses half the requests pass, as the walk's words test (else it guesses
        a borough's requests rare, reads every open request and sorts: 700 ms for "loud" in Brooklyn's)."""
        found = _area(layer, key)
        return func.coalesce(found, false()) if walk and not self._sqlite else found

    def _area_source(
        self, scope: QueueScope, query: QueueFilter
    ) -> tuple[frozenset[tuple[str, str]], list[int] | None] | None:
        """When request_areas alone holds the requests meant, (their areas, their owners' ids or None for any): a
        liaison's areas, or the area filter of a department's or everyone's queue, and at most an owner filter
        besides (the statuses are request_areas' too). Else None: request_areas narrows a query of the requests."""
        if (query.text or "").strip() or query.unassigned or query.bounced or scope.org:
            return None
        if any(x is not None for x in (query.service_code, query.assignee, query.sla, query.filed_by)):
            return None
        owners: list[int] | None = None
        if scope.everything or (scope.bodies and not scope.areas):
            if query.area is None:
                return None
            areas = frozenset({query.area})
            if not scope.everything:
                owners = self._ids(bodies, scope.bodies)
        elif scope.areas and not scope.bodies and query.area is None:
            areas = scope.areas
        else:
            return None
        if query.body_code:
            chosen = self._ids(bodies, {query.body_code})
            owners = chosen if owners is None else [b for b in owners if b in chosen]
        return areas, owners

    def _pg_few(self, scope: QueueScope, query: QueueFilter) -> bool:
        """PostgreSQL, a search by words: whether its page is read from at most :data:`PG_FEW` matches (else walked)."""
        return self._indexed(query, walk=False) and (scope, query) not in self._pg_many

    def _page_where(self, scope: QueueScope, query: QueueFilter) -> list[ColumnElement[bool]]:
        """The page's terms. PostgreSQL, a search by words with more than :data:`PG_FEW` matches in the page's
        statuses: the queue's ordered index is walked, each request's words tested (an index in the page's order
        exists for every open status, and for closed oldest or newest first; else the planner sorts what the GIN
        index finds)."""
        where = self._where(scope, query, statuses=True)
        if self._sqlite_walks(scope, query):
            return self._where(scope, query, statuses=True, walk=True)
        if not self._indexed(query, walk=False):
            return where
        if Status.CLOSED in query.statuses and query.sort not in (Sort.OLDEST, Sort.NEWEST):
            return where
        return self._where(scope, query, statuses=True, walk=True)

    def _few_statement(self, scope: QueueScope, query: QueueFilter) -> Select[Any]:
        """PostgreSQL, a search by words: the page's rows among the first :data:`PG_FEW` + 1 matches of the page's
        statuses, read from the GIN index with their sort keys alone (a LIMIT in a subquery: never a plan that walks
        the queue computing each request's document, which the planner may prefer for words it guesses common),
        sorted and paged there; only the page's rows are then read and joined. Each row carries how many matches
        were read (``matched``): more than PG_FEW, and the page is not all of them (walk instead)."""
        found = (
            select(sr.c.id, sr.c.requested_at, sr.c.updated_at, sr.c.expected_at)
            .where(and_(true(), *self._where(scope, query, statuses=True)))
            .limit(PG_FEW + 1)
            .subquery("matched")
        )
        chosen = (
            select(found, func.count().over().label("matched"))
            .order_by(*_order(found, query.sort))
            .limit(query.page_size)
            .offset((query.page - 1) * query.page_size)
            .subquery("chosen")
        )
        rows = self._rows([], _order(chosen, query.sort), query.page_size, 0, chosen)
        return rows.add_columns(chosen.c.matched)

    def _area_ordered(
        self, scope: QueueScope, query: QueueFilter
    ) -> tuple[frozenset[tuple[str, str]], list[int] | None] | None:
        """The area source (:meth:`_area_source`) when the page is read from request_areas in its order: one area,
        nothing else narrowing it but owners (a liaison's queue, a department's in one area), oldest or newest
        first, and one status or only open ones (an index of either in filing order, holding the owner: migration
        0019); else None."""
        statuses = set(query.statuses)
        source = self._area_source(scope, query)
        ordered = (
            source is not None
            and len(source[0]) == 1
            and query.sort in (Sort.OLDEST, Sort.NEWEST)
            and (len(statuses) == 1 or Status.CLOSED not in statuses)
        )
        return source if ordered else None

    def _area_page(
        self, query: QueueFilter, source: tuple[frozenset[tuple[str, str]], list[int] | None]
    ) -> Select[Any]:
        """The page's requests read from the area's index in filing order (its 50, at any page), then their rows
        by id: never every request of a borough hashed to test the queue's walk against (262,000 closed ones)."""
        statuses = [str(s) for s in query.statuses]
        newest = query.sort is Sort.NEWEST
        order = (ra.c.requested_at.desc(), ra.c.request_id.desc()) if newest else (ra.c.requested_at, ra.c.request_id)
        owners = source[1]
        ids = (
            select(ra.c.request_id.label("id"))
            .where(_in_areas(source[0], statuses), true() if owners is None else self._one_of(ra.c.body_id, owners))
            .order_by(*order)
            .limit(query.page_size)
            .offset((query.page - 1) * query.page_size)
            .subquery("in_area")
        )
        return self._rows([], _order(sr, query.sort), query.page_size, 0, ids)

    def page_statement(self, scope: QueueScope, query: QueueFilter) -> Select[Any]:
        """The page's rows (a test reads its plan). By due date, this is the part with a due date: see
        :meth:`_due_page` for the rest (not for PostgreSQL's few matches of a search, :meth:`_few_statement`)."""
        source = self._area_ordered(scope, query)
        if source is not None:
            return self._area_page(query, source)
        if self._pg_few(scope, query):
            return self._few_statement(scope, query)
        order = {
            Sort.OLDEST: (sr.c.requested_at.asc(), sr.c.id.asc()),
            Sort.NEWEST: (sr.c.requested_at.desc(), sr.c.id.desc()),
            Sort.UPDATED: (sr.c.updated_at.desc(), sr.c.id.desc()),
            Sort.DUE: (sr.c.expected_at.asc(), sr.c.id.asc()),
        }[query.sort]
        where = self._page_where(scope, query)
        if query.sort is Sort.DUE:
            where.append(sr.c.expected_at.is_not(None))
        return self._rows(where, order, query.page_size, (query.page - 1) * query.page_size)

    @staticmethod
    def _rows(
        where: list[ColumnElement[bool]], order: tuple[Any, ...], limit: int, offset: int, ids: Any = None
    ) -> Select[Any]:
        """The queue's columns of the rows ``where`` says (or those of the subquery ``ids``, joined by id)."""
        joined = _JOINED if ids is None else ids.join(_JOINED, sr.c.id == ids.c.id)
        return (
            select(
                sr.c.id,
                services.c.code,
                services.c.name,
                sr.c.status,
                bodies.c.code.label("body_code"),
                sr.c.address,
                func.substr(sr.c.description, 1, 400).label("description"),
                sr.c.requested_at,
                sr.c.updated_at,
                sr.c.expected_at,
                sr.c.assigned_org,
                sr.c.assignee_user_id,
                sr.c.transfers,
                sr.c.closed_at,
            )
            .select_from(joined)
            .where(and_(true(), *where))
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        )

    def _due_page(self, scope: QueueScope, query: QueueFilter, first: list[Any]) -> list[Any]:
        """By due date, those without one come last (by id): two index walks, since SQLite's indexes keep NULL
        first and an index on an expression is not reflected (migrations are checked against the tables)."""
        if len(first) == query.page_size:
            return first
        offset = (query.page - 1) * query.page_size
        where = self._page_where(scope, query)
        dated = 0
        if offset:
            shown = select(sr.c.id).where(and_(sr.c.expected_at.is_not(None), *where)).limit(offset).subquery()
            dated = int(self._conn.execute(select(func.count()).select_from(shown)).scalar_one())
        undated = self._rows([*where, sr.c.expected_at.is_(None)], (sr.c.id.asc(),),
                             query.page_size - len(first), max(0, offset - dated))  # fmt: skip
        return first + list(self._conn.execute(undated))

    def counts_statement(
        self, scope: QueueScope, query: QueueFilter, statuses: Sequence[Status] = tuple(Status)
    ) -> Select[Any]:
        """The counts of ``statuses`` (every status by default: the filter's other criteria applied), each stopping
        at ``count_cap + 1``: one capped count per status, read from the (body_id, status, …) index for a
        department."""
        plain = self._plain_search(scope, query)
        in_areas = self._area_source(scope, query)
        cap = query.count_cap
        parts = []
        for status in statuses:
            if plain is not None:  # SQLite: the FTS index alone (its scope column holds body, status and areas)
                tags = self._body_tags(scope, query)
                areas = self._area_tags(scope, query)
                match = fts_query(plain, bodies=tags, statuses=[str(status)], areas=areas)
                found = select(_FTS.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(match))
            elif in_areas is not None:  # request_areas' (area, status) or (area, owner, status) index alone
                areas, owners = in_areas
                found = select(ra.c.request_id).where(_in_areas(areas, [str(status)]))
                if owners is not None:
                    found = found.where(self._one_of(ra.c.body_id, owners))
                if len(areas) > 1:
                    found = found.distinct()  # a request in two of the areas (of two layers) once
            elif self._indexed(query, walk=False):  # PostgreSQL: the document names the status (and the bodies)
                found = select(sr.c.id).where(and_(true(), *self._where(scope, query, statuses=False, status=status)))
            else:
                where = self._where(scope, query, statuses=False, status=status)
                found = select(sr.c.id).where(and_(sr.c.status == str(status), *where))
            capped = found.limit(cap + 1).subquery(f"capped_{status}")
            parts.append(select(literal(str(status)).label("status"), select(func.count()).select_from(capped)
                                .scalar_subquery().label("n")))  # fmt: skip
        return parts[0].union_all(*parts[1:]) if len(parts) > 1 else parts[0]  # type: ignore[return-value]

    def _estimate(self, scope: QueueScope, query: QueueFilter) -> int:
        """PostgreSQL: the planner's estimate of a search's matches in the page's statuses (from the statistics of
        the GIN index's expression: its most common words; planning only, nothing read)."""
        found = select(sr.c.id).where(and_(true(), *self._where(scope, query, statuses=True)))
        sql = str(found.compile(dialect=self._conn.dialect, compile_kwargs={"literal_binds": True}))
        plan = self._conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql).scalar_one()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return int(plan[0]["Plan"]["Plan Rows"])

    def _guessed_many(self, scope: QueueScope, query: QueueFilter, counts: dict[Status, int]) -> bool:
        """PostgreSQL, a search whose count of some of the page's statuses stopped at the cap: whether the planner
        guesses more than PG_FEW matches (with a margin: its guess of a word it has no statistics on is an upper
        bound, at most half its rarest common word). Only the capped statuses are guessed; the others were counted
        (an estimate of all of them adds each status's guess: 3,150 each for a word out of the statistics, 15,750
        for "pothole" in the five open statuses, where 1,223 match)."""
        capped = tuple(s for s in query.statuses if counts.get(s, 0) > query.count_cap)
        if not capped:
            return False
        counted = sum(counts.get(s, 0) for s in query.statuses if s not in capped)
        return counted + self._estimate(scope, dataclasses.replace(query, statuses=capped)) > 3 * PG_FEW

    def _page(self, scope: QueueScope, query: QueueFilter, counts: dict[Status, int]) -> list[Any]:
        if not self._sqlite:
            # a page of 50 rows is no work to share between processes: on a few shared cores, starting workers
            # costs more than the walk (a department's common word: 20 ms with two workers, 5 ms without)
            self._conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        many = sum(counts.get(s, 0) for s in query.statuses) > FEW
        if many and self._area_source(scope, query) is not None:
            self._areas_many.add((scope, query))  # many requests in the area(s): walk the queue's order
        if self._pg_few(scope, query):
            chosen = [counts.get(s, 0) for s in query.statuses]
            if not any(chosen):
                return []
            # more than PG_FEW: known from the counts, or, when a status's count stopped at the cap, guessed by the
            # planner (reading PG_FEW matches to learn there are more costs as much as the walk)
            if sum(chosen) > PG_FEW or self._guessed_many(scope, query, counts):
                self._pg_many.add((scope, query))
        if self._pg_few(scope, query):
            rows = list(self._conn.execute(self.page_statement(scope, query)))
            offset = (query.page - 1) * query.page_size
            if (rows and rows[0].matched <= PG_FEW) or (not rows and offset <= PG_FEW):
                return rows  # all of them were read (no row: none at this offset)
            self._pg_many.add((scope, query))
        rows = list(self._conn.execute(self.page_statement(scope, query)))
        return self._due_page(scope, query, rows) if query.sort is Sort.DUE else rows

    def queue(self, scope: QueueScope, query: QueueFilter) -> QueuePage:
        # the counts first: how many requests a search's page has to choose from decides its plan (PostgreSQL)
        counts = {Status(status): n for status, n in self._conn.execute(self.counts_statement(scope, query)) if n}
        total, more = total_of(counts, query.statuses, query.count_cap)
        rows = [
            QueueRow(
                id=r.id,
                service_code=r.code,
                service_name=r.name,
                status=Status(r.status),
                body_code=r.body_code,
                address=r.address,
                description=snippet(r.description or ""),
                requested_at=r.requested_at,
                updated_at=r.updated_at,
                expected_at=r.expected_at,
                assigned_org=r.assigned_org,
                assignee_user_id=r.assignee_user_id,
                transfers=r.transfers,
                closed_at=r.closed_at,
            )
            for r in self._page(scope, query, counts)
        ]
        return QueuePage(rows, total, counts, query.page, query.page_size, more, query.count_cap)
