"""duplicate detection: grid cell and parent on requests, followers, per-service duplicate policy

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# routing/grid.py: cell = row * 180000 + column, row = floor((lat + 90) / 0.002), column = floor((long + 180) / 0.002),
# clamped to the grid. Both operands are non-negative, so SQLite's CAST (which truncates) is the floor.
_SQLITE_CELL = (
    "min(CAST((lat + 90.0) / 0.002 AS INTEGER), 89999) * 180000 + min(CAST((long + 180.0) / 0.002 AS INTEGER), 179999)"
)
_POSTGRES_CELL = (
    "LEAST(floor((lat + 90.0) / 0.002), 89999)::bigint * 180000 + LEAST(floor((long + 180.0) / 0.002), 179999)::bigint"
)


def upgrade() -> None:
    op.add_column("services", sa.Column("duplicates", sa.JSON(), nullable=True))
    op.add_column("service_requests", sa.Column("grid_cell", sa.BigInteger(), nullable=True))
    fk = "fk_service_requests_parent_id_service_requests"
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # SQLite cannot ALTER constraints, but ADD COLUMN may carry a REFERENCES clause (no table rebuild).
        op.execute(
            f"ALTER TABLE service_requests ADD COLUMN parent_id INTEGER CONSTRAINT {fk} REFERENCES service_requests (id)"
        )
    else:
        op.add_column("service_requests", sa.Column("parent_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(fk), "service_requests", "service_requests", ["parent_id"], ["id"])
    cell = _SQLITE_CELL if sqlite else _POSTGRES_CELL
    # A constant expression chosen by dialect, no input: not an injection vector.
    op.execute(f"UPDATE service_requests SET grid_cell = {cell} WHERE lat IS NOT NULL AND long IS NOT NULL")  # noqa: S608
    op.create_index(
        "ix_service_requests_service_cell_requested", "service_requests", ["service_id", "grid_cell", "requested_at"]
    )
    op.create_index("ix_service_requests_parent", "service_requests", ["parent_id"])
    op.create_table(
        "request_followers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("account_id", sa.String(length=200), nullable=True),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("from_request_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_requests.id"],
            name=op.f("fk_request_followers_request_id_service_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_followers")),
    )
    op.create_index("ix_request_followers_request", "request_followers", ["request_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_request_followers_request", table_name="request_followers")
    op.drop_table("request_followers")
    op.drop_index("ix_service_requests_parent", table_name="service_requests")
    op.drop_index("ix_service_requests_service_cell_requested", table_name="service_requests")
    # SQLite ≥ 3.35 drops these columns in place (a batch rebuild would trip over the generated public_status).
    for table, column in (
        ("service_requests", "parent_id"),
        ("service_requests", "grid_cell"),
        ("services", "duplicates"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
