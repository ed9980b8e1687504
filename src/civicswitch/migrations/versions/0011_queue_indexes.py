"""queue indexes: a department's staff queue reads its requests by owner and status

Revision ID: 0011_queue_indexes
Revises: 0010_manual_claims
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_queue_indexes"
down_revision: str | None = "0010_manual_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The body-scoped queue's page (an owner's open statuses, oldest first) and its counts per status (index only):
    # without it both walk every request of every body.
    op.create_index(
        "ix_service_requests_body_status_requested",
        "service_requests",
        ["body_id", "status", "requested_at", "id"],
        unique=False,
    )

    # Counts per status of one service in a body's queue: without it, each count walks every request of the service.
    op.create_index("ix_service_requests_service_status_body", "service_requests", ["service_id", "status", "body_id"])
    # The open requests' partial indexes (requests/tables.py): the queue's page in its sort order, read until full.
    open_ = sa.text("status <> 'closed'")
    for name, columns in OPEN_INDEXES.items():
        op.create_index(name, "service_requests", columns, sqlite_where=open_, postgresql_where=open_)


OPEN_INDEXES: dict[str, list[str]] = {
    "ix_service_requests_open_body_requested": ["body_id", "requested_at", "id"],
    "ix_service_requests_open_body_due": ["body_id", "expected_at", "id"],
    "ix_service_requests_open_due": ["expected_at", "id"],
    "ix_service_requests_open_body_updated": ["body_id", "updated_at", "id"],
    "ix_service_requests_open_updated": ["updated_at", "id"],
}


def downgrade() -> None:
    for name in OPEN_INDEXES:
        op.drop_index(name, table_name="service_requests")
    op.drop_index("ix_service_requests_service_status_body", table_name="service_requests")
    op.drop_index("ix_service_requests_body_status_requested", table_name="service_requests")
