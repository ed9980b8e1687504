"""The agent console's stores on SQLite and PostgreSQL.

The caller search reads one statement per kind of match, each on an index — request number (the primary key), email
(``lower(email)``), phone (the digits-only expression), department reference (``external_refs.external_id``), the
words of filers' names and of addresses (migration ``0017_agent_search``: FTS5 tables on SQLite, GIN indexes on
PostgreSQL; agent/words.py) — and each bounded by its own LIMIT (the newest matches a page needs, and enough to
count to ``COUNT_CAP``); their rows (a few hundred at most) are merged by request, counted, ordered newest first and
paged here. Names and addresses match whole words or their starts, not any part of a word: the index lists a
word's matches up to ``words.LIST_CAP``; past that the requests are walked newest first, each tested, until the page
has enough, so neither a common word nor a word nobody has reads every request."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    Table,
    column,
    delete,
    func,
    insert,
    or_,
    select,
    table,
    text,
    update,
)

from civicswitch.agent import words
from civicswitch.agent.model import (
    CallChannel,
    CallerPage,
    CallerRow,
    InfoCall,
    KnowledgeArticle,
    MatchedBy,
    TopicCount,
)
from civicswitch.agent.ports import CallerQuery
from civicswitch.agent.tables import info_calls, knowledge_article_services, knowledge_articles, phone_digits
from civicswitch.catalog.tables import bodies, services
from civicswitch.core.db import unique_as_conflict
from civicswitch.hub.tables import external_refs
from civicswitch.requests.tables import request_contacts, request_followers, service_requests

ka, kas, calls = knowledge_articles, knowledge_article_services, info_calls
sr, rc, rf = service_requests, request_contacts, request_followers
_Hit = tuple[int, datetime]  # a request found: its number, when it was filed


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlKnowledgeStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _load(self, rows: Iterable[Row[Any]]) -> list[KnowledgeArticle]:
        found = list(rows)
        ids = [int(r.id) for r in found]
        codes: dict[int, list[str]] = {i: [] for i in ids}
        if ids:
            q = (
                select(kas.c.article_id, kas.c.service_code)
                .where(kas.c.article_id.in_(ids))
                .order_by(kas.c.service_code)
            )
            for article_id, code in self._conn.execute(q):
                codes[article_id].append(code)
        return [
            KnowledgeArticle(r.slug, r.title, r.body_markdown, tuple(codes[r.id]), r.updated_at, r.updated_by, r.id)
            for r in found
        ]

    def get(self, slug: str) -> KnowledgeArticle | None:
        found = self._load(self._conn.execute(select(ka).where(ka.c.slug == slug)))
        return found[0] if found else None

    def save(self, article: KnowledgeArticle) -> KnowledgeArticle:
        values = {
            "slug": article.slug,
            "title": article.title,
            "body_markdown": article.body_markdown,
            "updated_at": article.updated_at,
            "updated_by": article.updated_by,
        }
        with unique_as_conflict(f"knowledge article {article.slug!r}"):
            if article.id is None:
                new_id = self._conn.execute(insert(ka).values(**values).returning(ka.c.id)).scalar_one()
            else:
                new_id = article.id
                self._conn.execute(update(ka).where(ka.c.id == new_id).values(**values))
                self._conn.execute(delete(kas).where(kas.c.article_id == new_id))
        if article.services:
            rows = [{"article_id": new_id, "service_code": code} for code in sorted(set(article.services))]
            self._conn.execute(insert(kas), rows)
        saved = self.get(article.slug)
        assert saved is not None
        return saved

    def delete(self, slug: str) -> bool:
        found = self._conn.execute(select(ka.c.id).where(ka.c.slug == slug)).scalar_one_or_none()
        if found is None:
            return False
        self._conn.execute(delete(kas).where(kas.c.article_id == found))  # SQLite may not enforce the cascade
        self._conn.execute(delete(ka).where(ka.c.id == found))
        return True

    def search(
        self, text: str | None = None, service_code: str | None = None, limit: int = 50
    ) -> list[KnowledgeArticle]:
        q = select(ka)
        if service_code:
            q = q.where(ka.c.id.in_(select(kas.c.article_id).where(kas.c.service_code == service_code)))
        if text and text.strip():
            pattern = _like(text.strip())
            q = q.where(or_(ka.c.title.ilike(pattern, escape="\\"), ka.c.body_markdown.ilike(pattern, escape="\\")))
        return self._load(self._conn.execute(q.order_by(ka.c.title, ka.c.id).limit(limit)))


class SqlCallStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, call: InfoCall) -> InfoCall:
        new_id = self._conn.execute(
            insert(calls)
            .values(
                topic=call.topic,
                service_code=call.service_code,
                note=call.note,
                channel=str(call.channel),
                user_id=call.user_id,
                created_at=call.created_at,
            )
            .returning(calls.c.id)
        ).scalar_one()
        return InfoCall(
            call.topic, CallChannel(call.channel), call.created_at, call.service_code, call.note, call.user_id, new_id
        )

    def topic_counts(self, since: datetime) -> list[TopicCount]:
        key = func.lower(calls.c.topic)
        q = (
            select(func.min(calls.c.topic).label("topic"), func.count().label("n"))
            .where(calls.c.created_at >= since)
            .group_by(key)
            .order_by(func.count().desc(), key)
        )
        return [TopicCount(r.topic, int(r.n)) for r in self._conn.execute(q)]


class SqlCallerSearch:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _ids(self, q: Select[Any]) -> list[int]:
        return [int(i) for i in self._conn.execute(q).scalars()]

    def find(self, query: CallerQuery) -> CallerPage:
        """Each kind's newest ``reach`` matches (:meth:`_arms`), merged by request: newest first, counted, paged."""
        hits: dict[int, tuple[datetime, set[MatchedBy]]] = {}
        for why, found in self._arms(query):
            for rid, at in found:
                hits.setdefault(rid, (at, set()))[1].add(why)
        ordered = sorted(hits, key=lambda rid: (hits[rid][0], rid), reverse=True)
        page = ordered[query.offset : query.offset + query.page_size]
        rows = [_with(row, matched_by=frozenset(hits[row.request_id][1])) for row in self._rows(page)]
        total = len(ordered)
        more = total >= query.reach
        return CallerPage(rows, query.reach - 1 if more else total, query.page, query.page_size, more)

    def _arms(self, query: CallerQuery) -> list[tuple[MatchedBy, list[_Hit]]]:
        """One statement per kind of match: the ``query.reach`` newest requests it matches, (id, filed at). Each
        is bounded by its own LIMIT, so a page never reads more than its kinds' newest matches."""
        reach = query.reach
        newest = (sr.c.requested_at.desc(), sr.c.id.desc())
        arms: list[tuple[MatchedBy, list[_Hit]]] = []

        def arm(condition: ColumnElement[bool], why: MatchedBy) -> None:
            q = select(sr.c.id, sr.c.requested_at).where(condition).order_by(*newest).limit(reach)
            arms.append((why, self._hits(q)))

        def filed(condition: ColumnElement[bool]) -> ColumnElement[bool]:
            """Requests whose filer's contact matches: the contacts first (an index), then their requests by
            number, never the requests walked to find contacts."""
            return sr.c.id.in_(select(rc.c.request_id).where(condition))

        if query.request_id is not None:
            arm(sr.c.id == query.request_id, MatchedBy.REQUEST_ID)
        if query.phones:
            arm(filed(phone_digits(rc.c.phone).in_(query.phones)), MatchedBy.PHONE)
        if query.email:
            arm(filed(func.lower(rc.c.email) == query.email), MatchedBy.EMAIL)
        if query.reference:
            arm(sr.c.id.in_(select(external_refs.c.request_id).where(external_refs.c.external_id == query.reference)),
                MatchedBy.REFERENCE)  # fmt: skip
        found = words.terms(query.words)
        if found:
            arms.append((MatchedBy.NAME, self._by_words(found, reach, names=True)))
            arms.append((MatchedBy.ADDRESS, self._by_words(found, reach, names=False)))
        return arms

    def _by_words(self, found: list[str], reach: int, *, names: bool) -> list[_Hit]:
        """The ``reach`` newest requests whose filer's name (``names``) or address has every word of ``found``
        (agent/words.py): the index lists up to ``LIST_CAP`` of them; if that is all, they are looked up by number
        and ordered; if there are more, the requests are walked newest first, each tested, until ``reach`` are
        found (a common word: found soon; the walk never sorts every match)."""
        if self._conn.dialect.name != "sqlite":
            return self._pg_by_words(found, reach, names=names)
        fts = words.NAME_FTS if names else words.ADDRESS_FTS
        matching: Select[Any] = (
            select(column("rowid"))
            .select_from(table(fts))
            .where(text(f"{fts} MATCH :{fts}").bindparams(**{fts: words.fts_query(found)}))
        )
        listed = self._ids(matching.limit(words.LIST_CAP + 1))
        if len(listed) <= words.LIST_CAP:
            if not listed:
                return []
            rows = self._hits(select(sr.c.id, sr.c.requested_at).where(sr.c.id.in_(listed)))
            return sorted(rows, key=lambda hit: (hit[1], hit[0]), reverse=True)[:reach]
        # "+ 0": not the primary key's lookups of every match, but the walk in filing order, each request tested
        # against the matches, listed once
        walk = (
            select(sr.c.id, sr.c.requested_at)
            .where((sr.c.id + 0).in_(matching))
            .order_by(sr.c.requested_at.desc(), sr.c.id.desc())
            .limit(reach)
        )
        return self._hits(walk)

    def _pg_by_words(self, found: list[str], reach: int, *, names: bool) -> list[_Hit]:
        """PostgreSQL: one statement (:func:`_pg_words_statement`), the matches read from the GIN index once."""
        params: dict[str, Any] = {"words": words.pg_query(found), "reach": reach, "cap": words.LIST_CAP}
        params.update({f"like{i}": like for i, like in enumerate(words.likes(found))})
        if not names:
            # the newest requests first, a few: a word in many addresses ("avenue": 41 % of them) is found there
            # before the GIN index is read (its list of 413,607 requests: 56 ms to read); if ``reach`` are there,
            # they are the newest of all
            newest = self._conn.execute(text(_pg_newest_addresses(len(found))), {**params, "window": words.PG_WINDOW})
            hits = [(int(r.id), r.requested_at) for r in newest]
            if len(hits) >= reach:
                return hits
        rows = self._conn.execute(text(_pg_words_statement(names, len(found))), params)
        return sorted(((int(r.id), r.requested_at) for r in rows), key=lambda hit: (hit[1], hit[0]), reverse=True)

    def _hits(self, q: Select[Any]) -> list[_Hit]:
        return [(int(r.id), r.requested_at) for r in self._conn.execute(q)]

    def history(self, email: str | None, phones: tuple[str, ...], limit: int = 200) -> list[CallerRow]:
        if not email and not phones:
            return []

        def who(t: Table) -> ColumnElement[bool]:
            """The person's rows in request_contacts or request_followers (each condition on its index)."""
            conds: list[ColumnElement[bool]] = []
            if email:
                conds.append(func.lower(t.c.email) == email.lower())
            if phones:
                conds.append(phone_digits(t.c.phone).in_(phones))
            return or_(*conds)

        filed = set(self._ids(select(rc.c.request_id).where(who(rc)).limit(limit)))
        followed = set(self._ids(select(rf.c.request_id).where(who(rf)).limit(limit))) - filed
        rows = self._rows([*filed, *followed])
        return [_with(r, following=r.request_id in followed) for r in rows][:limit]

    def _rows(self, ids: list[int]) -> list[CallerRow]:
        if not ids:
            return []
        q = (
            select(
                sr.c.id,
                services.c.code.label("service_code"),
                sr.c.status,
                bodies.c.code.label("body_code"),
                sr.c.address,
                sr.c.requested_at,
                rc.c.first_name,
                rc.c.last_name,
                rc.c.email,
                rc.c.phone,
            )
            .join(services, services.c.id == sr.c.service_id)
            .outerjoin(bodies, bodies.c.id == sr.c.body_id)
            .outerjoin(rc, rc.c.request_id == sr.c.id)
            .where(sr.c.id.in_(ids))
            .order_by(sr.c.requested_at.desc(), sr.c.id.desc())
        )
        return [
            CallerRow(
                r.id,
                r.service_code,
                r.status,
                r.body_code,
                r.address,
                r.requested_at,
                r.first_name,
                r.last_name,
                r.email,
                r.phone,
            )
            for r in self._conn.execute(q)
        ]


def _with(row: CallerRow, **change: Any) -> CallerRow:
    return dataclasses.replace(row, **change)


def _pg_address_test(n_words: int) -> str:
    """Whether a request's address has every word (parameters ``like0`` … and ``words``): the cheap ILIKE first, the
    words computed only where it passes, in coalesce() (the planner then keeps the requests' order: see below)."""
    likes = " AND ".join(f"address ILIKE :like{i}" for i in range(n_words))
    return f"coalesce({likes} AND {words.PG_ADDRESS_WORDS} @@ CAST(:words AS tsquery), false)"


def _pg_newest_addresses(n_words: int) -> str:
    """The newest ``reach`` requests among the newest ``window`` whose address has every word."""
    newest = "ORDER BY requested_at DESC, id DESC"
    window = f"SELECT id, requested_at, address FROM service_requests {newest} LIMIT :window"  # noqa: S608
    test = _pg_address_test(n_words)
    return f"SELECT id, requested_at FROM ({window}) AS service_requests WHERE {test} {newest} LIMIT :reach"  # noqa: S608


def _pg_words_statement(names: bool, n_words: int) -> str:
    """The PostgreSQL statement of :meth:`SqlCallerSearch._by_words` (parameters ``words``, a tsquery's text,
    ``reach``, ``cap`` and, for addresses, ``like0`` … one per word). The matches are read from the GIN index once
    (``m``; for addresses at most ``words.PG_HASH_CAP``) and counted (``n``); one branch of the union runs, chosen
    by that count: up to ``cap``, the matches looked up by number and sorted; more, the requests walked newest first
    (their ordered index alone), each looked up in the matches, hashed; for an address word with more than
    ``PG_HASH_CAP`` matches, the walk tests each request's own address (a word in most addresses: found at once).
    In coalesce(), the planner guesses half the requests match (as for any expression it has no statistics on) and
    walks them in order; without it, it guesses a prefix rare and joins every request to the matches before sorting
    (measured: 205 ms for "grace* okafor*", a read of the whole index)."""
    # constants and parameters only, no input: S608 does not apply
    newest = "ORDER BY requested_at DESC, id DESC LIMIT :reach"
    test = f"{words.PG_NAME_WORDS if names else words.PG_ADDRESS_WORDS} @@ CAST(:words AS tsquery)"
    source, key = ("request_contacts", "request_id") if names else ("service_requests", "id")
    bound = "" if names else f" LIMIT {words.PG_HASH_CAP + 1}"
    hashed = "" if names else f" AND (SELECT c FROM n) <= {words.PG_HASH_CAP}"  # noqa: S608
    matches = f"SELECT {key} AS rid FROM {source} WHERE {test}{bound}"  # noqa: S608
    # OFFSET 0: the few matches by primary key, then sorted (never a walk of the ordered index for a few)
    few = ("SELECT id, requested_at FROM service_requests "
           "WHERE (SELECT c FROM n) <= :cap AND id = ANY(ARRAY(SELECT rid FROM m))")  # fmt: skip
    branches = [
        f"SELECT id, requested_at FROM ({few} OFFSET 0) AS few {newest}",  # noqa: S608
        f"SELECT id, requested_at FROM service_requests WHERE (SELECT c FROM n) > :cap{hashed} "  # noqa: S608
        f"AND coalesce(id + 0 IN (SELECT rid FROM m), false) {newest}",
    ]
    if not names:
        walk = f"(SELECT c FROM n) > {words.PG_HASH_CAP} AND {_pg_address_test(n_words)}"  # noqa: S608
        branches.append(f"SELECT id, requested_at FROM service_requests WHERE {walk} {newest}")  # noqa: S608
    union = " UNION ALL ".join(f"({branch})" for branch in branches)
    return f"WITH m AS MATERIALIZED ({matches}), n AS MATERIALIZED (SELECT count(*) AS c FROM m) {union}"  # noqa: S608
