"""connector problems: failed polls and quarantined inbound rows, for connector health

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connector_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("file", sa.String(length=300), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f("fk_connector_problems_connector_id_connectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_problems")),
    )
    op.create_index(
        "ix_connector_problems_connector_kind_at", "connector_problems", ["connector_id", "kind", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_connector_problems_connector_kind_at", table_name="connector_problems")
    op.drop_table("connector_problems")
