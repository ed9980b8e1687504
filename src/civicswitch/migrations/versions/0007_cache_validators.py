"""cache validators: a catalog version bumped by every catalog write, a revision on each request row

Revision ID: 0007_cache_validators
Revises: 0006
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_cache_validators"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_version")),
    )
    # A constant default: no table rewrite on SQLite or PostgreSQL, however many requests are stored.
    op.add_column("service_requests", sa.Column("revision", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    # SQLite ≥ 3.35 drops the column in place (a batch rebuild would trip over the generated public_status).
    op.execute("ALTER TABLE service_requests DROP COLUMN revision")
    op.drop_table("catalog_version")
