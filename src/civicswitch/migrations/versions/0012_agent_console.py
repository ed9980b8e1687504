"""agent console: knowledge articles (with their services), information-only calls, and the caller search's
indexes (contact and follower email case-folded and phone digits-only, departments' references)

Revision ID: 0012_agent_console
Revises: 0011_queue_indexes
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_agent_console"
down_revision: str | None = "0011_queue_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# agent/tables.py phone_digits(): the same expression, so the search's statements use these indexes
_PUNCTUATION = (" ", "-", "(", ")", ".", "+", "/")


def _digits(column: str) -> str:
    expr = column
    for char in _PUNCTUATION:
        expr = f"replace({expr}, '{char}', '')"
    return expr


def upgrade() -> None:
    op.create_table(
        "knowledge_articles",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("slug", sa.String(120), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body_markdown", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_articles"),
        sa.UniqueConstraint("slug", name="uq_knowledge_articles_slug"),
    )
    op.create_table(
        "knowledge_article_services",
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("service_code", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("article_id", "service_code", name="pk_knowledge_article_services"),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name="fk_knowledge_article_services_article_id_knowledge_articles",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_knowledge_article_services_service", "knowledge_article_services",
                    ["service_code", "article_id"])  # fmt: skip
    op.create_table(
        "info_calls",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("topic", sa.String(120), nullable=False),
        sa.Column("service_code", sa.String(100), nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_info_calls"),
    )
    op.create_index("ix_info_calls_created", "info_calls", ["created_at", "id"])
    for table in ("request_contacts", "request_followers"):
        op.create_index(f"ix_{table}_email_lower", table, [sa.text("lower(email)")])
        op.create_index(f"ix_{table}_phone_digits", table, [sa.text(_digits("phone"))])
    op.create_index("ix_external_refs_external_id", "external_refs", ["external_id"])


def downgrade() -> None:
    op.drop_index("ix_external_refs_external_id", table_name="external_refs")
    for table in ("request_contacts", "request_followers"):
        op.drop_index(f"ix_{table}_phone_digits", table_name=table)
        op.drop_index(f"ix_{table}_email_lower", table_name=table)
    op.drop_index("ix_info_calls_created", table_name="info_calls")
    op.drop_table("info_calls")
    op.drop_index("ix_knowledge_article_services_service", table_name="knowledge_article_services")
    op.drop_table("knowledge_article_services")
    op.drop_table("knowledge_articles")
