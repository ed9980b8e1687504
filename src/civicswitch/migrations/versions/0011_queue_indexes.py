"""queue indexes: a department's staff queue reads its requests by owner and status

Revision ID: 0011_queue_indexes
Revises: 0010_manual_claims
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

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


def downgrade() -> None:
    op.drop_index("ix_service_requests_body_status_requested", table_name="service_requests")
