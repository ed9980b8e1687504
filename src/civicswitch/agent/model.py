"""What the agent console keeps and shows: knowledge articles, information-only calls, caller-search rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from civicswitch.core.errors import Invalid

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_TITLE = 200
MAX_BODY = 20_000
MAX_TOPIC = 120
MAX_NOTE = 2000


class CallChannel(StrEnum):
    """How a caller reached the agent (the request's channel when the agent files for them)."""

    PHONE = "phone"
    WALK_IN = "walk_in"


@dataclass(frozen=True, slots=True)
class KnowledgeArticle:
    """What an agent reads out or follows: a title, a Markdown body (rendered safely), the services it is for."""

    slug: str
    title: str
    body_markdown: str
    services: tuple[str, ...]
    updated_at: datetime
    updated_by: str
    id: int | None = None

    def __post_init__(self) -> None:
        if not SLUG.fullmatch(self.slug) or len(self.slug) > 120:
            raise Invalid(
                f"slug {self.slug!r} must be lower-case letters and digits joined by single hyphens (at most 120)",
                field="slug",
            )
        if not self.title.strip() or len(self.title) > MAX_TITLE:
            raise Invalid(f"a title is required (at most {MAX_TITLE} characters)", field="title")
        if not self.body_markdown.strip() or len(self.body_markdown) > MAX_BODY:
            raise Invalid(f"the text is required (at most {MAX_BODY} characters)", field="body")


@dataclass(frozen=True, slots=True)
class InfoCall:
    """A contact that asked a question and filed nothing (most 311 contacts): counted per topic."""

    topic: str
    channel: CallChannel
    created_at: datetime
    service_code: str | None = None
    note: str = ""
    user_id: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class TopicCount:
    topic: str
    calls: int


class MatchedBy(StrEnum):
    REQUEST_ID = "request number"
    PHONE = "phone"
    EMAIL = "email"
    NAME = "name"
    ADDRESS = "address"
    REFERENCE = "department reference"


@dataclass(frozen=True, slots=True)
class CallerRow:
    """One request found by the caller search or in a caller's history, with its filer's contact data (which
    is why the search is audited)."""

    request_id: int
    service_code: str
    status: str
    body_code: str | None
    address: str | None
    requested_at: datetime
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    matched_by: frozenset[MatchedBy] = field(default_factory=frozenset)
    following: bool = False  # history: the caller follows it (did not file it)

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True, slots=True)
class CallerPage:
    """One page of the caller search. ``total`` counts the requests found up to where the search stopped
    counting; ``more``: there are more than ``total`` (the page says "more than N")."""

    rows: list[CallerRow]
    total: int
    page: int
    page_size: int
    more: bool = False

    @property
    def first(self) -> int:
        """The number of the page's first row (1-based; 0 when the page is empty)."""
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.page_size + len(self.rows)

    @property
    def has_next(self) -> bool:
        return self.more or self.page * self.page_size < self.total

    @property
    def has_previous(self) -> bool:
        return self.page > 1
