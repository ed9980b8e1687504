"""In-memory fakes of the agent console's stores (the same promises as ``sql.py``)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from civicswitch.agent import words
from civicswitch.agent.model import CallerPage, CallerRow, InfoCall, KnowledgeArticle, MatchedBy, TopicCount
from civicswitch.agent.ports import CallerQuery, digits_of
from civicswitch.core.errors import Conflict
from civicswitch.requests.model import Contact

if TYPE_CHECKING:
    from civicswitch.storage.memory import MemoryDatabase


@dataclass
class AgentData:
    articles: dict[int, KnowledgeArticle] = field(default_factory=dict)
    calls: list[InfoCall] = field(default_factory=list)
    next_article: int = 1


class MemoryKnowledgeStore:
    def __init__(self, data: AgentData) -> None:
        self._d = data

    def get(self, slug: str) -> KnowledgeArticle | None:
        return next((a for a in self._d.articles.values() if a.slug == slug), None)

    def save(self, article: KnowledgeArticle) -> KnowledgeArticle:
        other = self.get(article.slug)
        if other is not None and other.id != article.id:
            raise Conflict(f"knowledge article {article.slug!r} clashes with one already stored (slug)")
        article_id = article.id
        if article_id is None:
            article_id, self._d.next_article = self._d.next_article, self._d.next_article + 1
        saved = dataclasses.replace(article, id=article_id, services=tuple(sorted(set(article.services))))
        self._d.articles[article_id] = saved
        return saved

    def delete(self, slug: str) -> bool:
        found = self.get(slug)
        if found is None or found.id is None:
            return False
        del self._d.articles[found.id]
        return True

    def search(
        self, text: str | None = None, service_code: str | None = None, limit: int = 50
    ) -> list[KnowledgeArticle]:
        low = (text or "").strip().lower()
        found = [
            a
            for a in self._d.articles.values()
            if (not service_code or service_code in a.services)
            and (not low or low in a.title.lower() or low in a.body_markdown.lower())
        ]
        return sorted(found, key=lambda a: (a.title, a.id or 0))[:limit]


class MemoryCallStore:
    def __init__(self, data: AgentData) -> None:
        self._d = data

    def add(self, call: InfoCall) -> InfoCall:
        saved = dataclasses.replace(call, id=len(self._d.calls) + 1)
        self._d.calls.append(saved)
        return saved

    def topic_counts(self, since: datetime) -> list[TopicCount]:
        shown: dict[str, str] = {}
        counts: Counter[str] = Counter()
        for call in self._d.calls:
            if call.created_at >= since:
                key = call.topic.lower()
                shown[key] = min(shown.get(key, call.topic), call.topic)
                counts[key] += 1
        rows = [TopicCount(shown[key], n) for key, n in counts.items()]
        return sorted(rows, key=lambda t: (-t.calls, t.topic.lower()))


class MemoryCallerSearch:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def _row(self, request_id: int, **extra: object) -> CallerRow:
        r = self._db.requests[request_id]
        c = self._db.contacts.get(request_id) or Contact()
        return CallerRow(request_id, r.service_code, str(r.status), r.body_code, r.address, r.requested_at,
                         c.first_name, c.last_name, c.email, c.phone, **extra)  # type: ignore[arg-type]  # fmt: skip

    @staticmethod
    def _newest(rows: list[CallerRow]) -> list[CallerRow]:
        return sorted(rows, key=lambda r: (r.requested_at, r.request_id), reverse=True)

    def find(self, query: CallerQuery) -> CallerPage:
        hits: dict[int, set[MatchedBy]] = {}
        found = words.terms(query.words)
        for rid, r in self._db.requests.items():
            c = self._db.contacts.get(rid) or Contact()
            why = set()
            if query.request_id == rid:
                why.add(MatchedBy.REQUEST_ID)
            if c.phone and digits_of(c.phone) in query.phones:
                why.add(MatchedBy.PHONE)
            if query.email and c.email and c.email.lower() == query.email:
                why.add(MatchedBy.EMAIL)
            if found and words.matches(found, c.first_name, c.last_name):
                why.add(MatchedBy.NAME)
            if found and words.matches(found, r.address):
                why.add(MatchedBy.ADDRESS)
            if why:
                hits[rid] = why
        if query.reference:
            for (_, external_id), rid in self._db.hub.refs.items():
                if external_id == query.reference and rid in self._db.requests:
                    hits.setdefault(rid, set()).add(MatchedBy.REFERENCE)
        rows = self._newest([self._row(rid, matched_by=frozenset(why)) for rid, why in hits.items()])
        # As the SQL store counts: every match up to the page's reach, then "more".
        more = len(rows) >= query.reach
        window = rows[query.offset : query.offset + query.page_size]
        return CallerPage(window, query.reach - 1 if more else len(rows), query.page, query.page_size, more)

    def history(self, email: str | None, phones: tuple[str, ...], limit: int = 200) -> list[CallerRow]:
        if not email and not phones:
            return []

        def same(c: Contact) -> bool:
            return bool(
                (email and c.email and c.email.lower() == email.lower()) or (c.phone and digits_of(c.phone) in phones)
            )

        filed = {rid for rid, c in self._db.contacts.items() if rid in self._db.requests and same(c)}
        followed = {
            rid
            for rid, followers in self._db.followers.items()
            if rid in self._db.requests and rid not in filed and any(same(f.contact) for f in followers)
        }
        rows = [self._row(rid, following=rid in followed) for rid in filed | followed]
        return self._newest(rows)[:limit]
