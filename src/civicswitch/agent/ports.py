"""The agent console's store ports: knowledge articles, information-only calls, and the caller search (a read
model over requests, their filers' contacts, followers and the departments' references). Each has an SQL
implementation (``sql.py``) and an in-memory fake (``memory.py``); ``tests/agent/test_agent_store_contract.py``
holds both to the same promises."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from civicswitch.agent.model import CallerPage, CallerRow, InfoCall, KnowledgeArticle, TopicCount
from civicswitch.agent.tables import PHONE_PUNCTUATION
from civicswitch.core.errors import Invalid

MIN_PHONE_DIGITS = 7
_PHONE_TEXT = re.compile(r"[0-9 ()+./-]+")
MAX_REQUEST_ID = 2**31 - 1
PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
# The search counts what it finds up to here (then "more than N"): an exact count of a common street name or last
# name would read every one of its matches (agent/words.py: past a few thousand, the requests are walked instead).
COUNT_CAP = 200
MAX_PAGE = 400  # 10,000 rows at the default size: past that, the search is too broad to page through


def digits_of(phone: str | None) -> str:
    """A phone number without its punctuation (as ``tables.phone_digits`` does in SQL)."""
    text = phone or ""
    for char in PHONE_PUNCTUATION:
        text = text.replace(char, "")
    return text


def phone_forms(digits: str) -> tuple[str, ...]:
    """The stored forms one number may have: with and without the North American country code 1."""
    if len(digits) == 11 and digits.startswith("1"):
        return (digits, digits[1:])
    if len(digits) == 10:
        return (digits, "1" + digits)
    return (digits,)


@dataclass(frozen=True, slots=True)
class CallerQuery:
    """What one search box's text can name. Each part set is looked up on its own (all of them: a number may be
    a request id, a phone number and a department's reference at once) and the results are merged."""

    text: str
    request_id: int | None = None
    phones: tuple[str, ...] = ()  # digit strings (phone_forms)
    email: str | None = None  # case-folded
    reference: str | None = None
    words: str | None = None  # in names and addresses: whole words or their starts (agent/words.py)
    page: int = 1
    page_size: int = PAGE_SIZE

    def __post_init__(self) -> None:
        if not 1 <= self.page <= MAX_PAGE:
            raise Invalid(f"page must be between 1 and {MAX_PAGE}", field="page")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise Invalid(f"page_size must be between 1 and {MAX_PAGE_SIZE}", field="page_size")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def reach(self) -> int:
        """How many of the newest matches of each kind a page needs: those up to its last row, and enough to
        count to :data:`COUNT_CAP`; one more tells whether there are more."""
        return max(COUNT_CAP, self.offset + self.page_size) + 1

    @classmethod
    def parse(cls, text: str, page: int = 1, page_size: int = PAGE_SIZE) -> CallerQuery:
        text = " ".join(text.split())
        bare = text.removeprefix("#")
        request_id = int(bare) if bare.isascii() and bare.isdigit() and len(bare) <= 10 else None
        if request_id is not None and not 1 <= request_id <= MAX_REQUEST_ID:
            request_id = None
        digits = digits_of(text)
        phones = (
            phone_forms(digits)
            if _PHONE_TEXT.fullmatch(text) and digits.isdigit() and len(digits) >= MIN_PHONE_DIGITS
            else ()
        )
        email = text.lower() if "@" in text and " " not in text else None
        words = text if email is None and any(c.isalpha() for c in text) and len(text) >= 2 else None
        return cls(text, request_id, phones, email, text or None, words, page, page_size)


class KnowledgeStore(Protocol):
    def get(self, slug: str) -> KnowledgeArticle | None: ...
    def save(self, article: KnowledgeArticle) -> KnowledgeArticle:
        """Insert (no id) or replace (with id) an article and its services; a slug already used by another
        article is a Conflict."""
        ...

    def delete(self, slug: str) -> bool:
        """Remove an article and its services; False when there was none."""
        ...

    def search(
        self, text: str | None = None, service_code: str | None = None, limit: int = 50
    ) -> list[KnowledgeArticle]:
        """Articles whose title or text contains ``text`` (case-folded) and that belong to ``service_code``,
        by title."""
        ...


class CallStore(Protocol):
    def add(self, call: InfoCall) -> InfoCall: ...
    def topic_counts(self, since: datetime) -> list[TopicCount]:
        """Calls at or after ``since`` per topic (case-folded, the first spelling shown), most first."""
        ...


class CallerSearch(Protocol):
    def find(self, query: CallerQuery) -> CallerPage:
        """One page of the requests the query names, newest first (ties: the higher number first), each with
        why it matched and its filer's contact data; with how many were found, counted up to
        ``query.reach - 1`` (``more`` past it)."""
        ...

    def history(self, email: str | None, phones: tuple[str, ...], limit: int = 200) -> list[CallerRow]:
        """Every request, of every department, filed or followed by this email (lower-cased) or phone number
        (digit forms), newest first."""
        ...
