"""response templates: named notes with placeholders, per service (by code) or for every service

Revision ID: 0013_response_templates
Revises: 0012_agent_console
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_response_templates"
down_revision: str | None = "0012_agent_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "response_templates",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("service_code", sa.String(100), nullable=True),
        sa.Column("public", sa.Boolean, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_response_templates"),
        sa.UniqueConstraint("name", name="uq_response_templates_name"),
    )
    op.create_index("ix_response_templates_service", "response_templates", ["service_code", "name"])


def downgrade() -> None:
    op.drop_index("ix_response_templates_service", table_name="response_templates")
    op.drop_table("response_templates")
