"""staff work: a request's assignee (a colleague), its transfer count, and whether partners may close a service

Revision ID: 0009_staff_work
Revises: 0008_sla_calendars
Create Date: 2026-12-06 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_staff_work"
down_revision: str | None = "0008_sla_calendars"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Constant defaults: no table rewrite on SQLite or PostgreSQL, however many requests are stored.
    op.add_column("service_requests", sa.Column("assignee_user_id", sa.Integer(), nullable=True))
    op.add_column("service_requests", sa.Column("transfers", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_service_requests_assignee", "service_requests", ["assignee_user_id"], unique=False)
    op.create_index("ix_service_requests_transfers", "service_requests", ["transfers"], unique=False)
    op.add_column("services", sa.Column("partners_may_close", sa.Boolean(), server_default=sa.false(), nullable=False))
    # Requests transferred before the count existed: counted from their timelines (only those rows are written).
    op.execute(
        "UPDATE service_requests SET transfers = (SELECT COUNT(*) FROM request_events e"
        " WHERE e.request_id = service_requests.id AND e.kind = 'transferred')"
        " WHERE id IN (SELECT request_id FROM request_events WHERE kind = 'transferred')"
    )


def downgrade() -> None:
    # SQLite ≥ 3.35 drops a column in place once its index is gone (a batch rebuild would trip over the generated
    # public_status).
    op.drop_index("ix_service_requests_transfers", table_name="service_requests")
    op.drop_index("ix_service_requests_assignee", table_name="service_requests")
    op.execute("ALTER TABLE service_requests DROP COLUMN transfers")
    op.execute("ALTER TABLE service_requests DROP COLUMN assignee_user_id")
    op.execute("ALTER TABLE services DROP COLUMN partners_may_close")
