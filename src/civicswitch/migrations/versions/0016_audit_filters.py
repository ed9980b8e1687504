"""audit filters: the audit log's filters by action and by who read an index; bulk results kept for their page

- ``ix_audit_log_action`` (action, id): the log filtered by action, newest or oldest first, without walking it.
- ``ix_audit_log_principal`` (principal, id) stays; on PostgreSQL it is made again with ``varchar_pattern_ops``, so
  the "who" filter (a label or a prefix such as ``staff:3``: people/sql.py) reads a range of it whatever the
  database's collation. SQLite compares text byte by byte already.
- ``bulk_results``: the per-request outcome of a staff bulk action, kept a short while for the result page the
  action redirects to (requests/bulk.py).

Indexes only on the audit log: no row of it is written, changed or removed (it stays append-only).

Revision ID: 0016_audit_filters
Revises: 0015_queue_search_pg
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_audit_filters"
down_revision: str | None = "0015_queue_search_pg"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_log_action", "audit_log", ["action", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_audit_log_principal", table_name="audit_log")
        op.create_index("ix_audit_log_principal", "audit_log", ["principal", "id"], unique=False,
                        postgresql_ops={"principal": "varchar_pattern_ops"})  # fmt: skip
    op.create_table(
        "bulk_results",
        sa.Column("token", sa.String(length=43), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_bulk_results_user_id_staff_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_bulk_results")),
    )
    op.create_index("ix_bulk_results_expires", "bulk_results", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bulk_results_expires", table_name="bulk_results")
    op.drop_table("bulk_results")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_audit_log_principal", table_name="audit_log")
        op.create_index("ix_audit_log_principal", "audit_log", ["principal", "id"], unique=False)
    op.drop_index("ix_audit_log_action", table_name="audit_log")
