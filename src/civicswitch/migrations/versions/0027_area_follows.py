"""area follows: residents following an area (or one service in it) by email; mail about an area, not a request

``area_follows``: one row per address, area (layer and key) and service (null: all), with how often the resident
wants to hear (every change, daily or weekly digest), when they confirmed (nothing is sent before) and stopped,
and the digest's times (``told_until``, ``due_at``).

``deliveries.request_id`` becomes nullable: the confirmation of an area follow and a digest of an area's changes
are mail about no single request. On PostgreSQL a plain ``ALTER COLUMN … DROP NOT NULL``; on SQLite the table is
copied once (Alembic's batch mode: SQLite cannot change a column's nullability in place), its indexes made again as
they were. No trigger is defined on ``deliveries``, and no table refers to it.

Revision ID: 0027_area_follows
Revises: 0026_fix_answers
Create Date: 2026-12-07 20:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_area_follows"
down_revision: str | None = "0026_fix_answers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WAITING = "state IN ('pending', 'retrying')"


def upgrade() -> None:
    op.create_table(
        "area_follows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("address_digest", sa.String(32), nullable=False),
        sa.Column("layer", sa.String(64), nullable=False),
        sa.Column("area_key", sa.String(100), nullable=False),
        sa.Column("service_code", sa.String(64), nullable=True),
        sa.Column("cadence", sa.String(12), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("told_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_area_follows_area", "area_follows", ["layer", "area_key", "cadence"])
    op.create_index("ix_area_follows_due", "area_follows", ["due_at"])
    op.create_index("ix_area_follows_address", "area_follows", ["address_digest"])
    _request_optional(True)


def _request_optional(optional: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("deliveries", "request_id", existing_type=sa.Integer(), nullable=optional)
        return
    with op.batch_alter_table("deliveries", recreate="always") as batch:
        batch.alter_column("request_id", existing_type=sa.Integer(), nullable=optional)
    # the partial index of the rows waiting to be sent, as migration 0004 made it (reflection may lose its WHERE)
    op.drop_index("ix_deliveries_waiting", table_name="deliveries")
    op.create_index("ix_deliveries_waiting", "deliveries", ["next_attempt_at", "id"],
                    sqlite_where=sa.text(_WAITING), postgresql_where=sa.text(_WAITING))  # fmt: skip


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE request_id IS NULL")  # mail about areas: nothing to keep it for
    _request_optional(False)
    op.drop_table("area_follows")
