"""Agent-console tables: knowledge articles (and the services each belongs to) and information-only calls.

Also the indexes the caller search uses on other domains' personal-data tables: the contact and follower
emails (case-folded) and phone numbers (digits only), and the departments' references."""

from __future__ import annotations

from sqlalchemy import Column, ColumnElement, ForeignKey, Index, Integer, String, Table, Text, func, literal

from civicswitch.core.db import UTCDateTime, metadata
from civicswitch.hub.tables import external_refs
from civicswitch.requests.tables import request_contacts, request_followers

knowledge_articles = Table(
    "knowledge_articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(120), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("body_markdown", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(300), nullable=False),
)

# Which services an article belongs to (by service code: the catalog may be reloaded, the article stays).
knowledge_article_services = Table(
    "knowledge_article_services",
    metadata,
    Column("article_id", Integer, ForeignKey("knowledge_articles.id", ondelete="CASCADE"), primary_key=True),
    Column("service_code", String(100), primary_key=True),
    Index("ix_knowledge_article_services_service", "service_code", "article_id"),
)

info_calls = Table(
    "info_calls",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("topic", String(120), nullable=False),
    Column("service_code", String(100), nullable=True),
    Column("note", Text, nullable=False, server_default=""),
    Column("channel", String(20), nullable=False),  # phone | walk_in
    Column("user_id", Integer, nullable=True),  # the agent who took it (None: the operator at the CLI)
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_info_calls_created", "created_at", "id"),
)

PHONE_PUNCTUATION = (" ", "-", "(", ")", ".", "+", "/")


def phone_digits(column: ColumnElement[str]) -> ColumnElement[str]:
    """A stored phone number without its punctuation, in SQL (the same on SQLite and PostgreSQL, so one
    expression index serves the search on both): ``+1 (555) 010-0100`` → ``15550100100``."""
    expr: ColumnElement[str] = column
    for char in PHONE_PUNCTUATION:  # rendered into the statement, not sent as parameters: only then does a
        # statement's expression equal the index's (SQLite and PostgreSQL match index expressions by their text)
        expr = func.replace(expr, literal(char, literal_execute=True), literal("", literal_execute=True))
    return expr


Index("ix_request_contacts_email_lower", func.lower(request_contacts.c.email))
Index("ix_request_contacts_phone_digits", phone_digits(request_contacts.c.phone))
Index("ix_request_followers_email_lower", func.lower(request_followers.c.email))
Index("ix_request_followers_phone_digits", phone_digits(request_followers.c.phone))
Index("ix_external_refs_external_id", external_refs.c.external_id)
