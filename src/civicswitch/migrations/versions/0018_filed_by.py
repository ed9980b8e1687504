"""filed by: the requests a staff member filed on residents' behalf, newest or oldest first (a liaison's "Filed by
me" in the staff queue)

A partial index: only requests filed by staff (an agent or a liaison) have ``filed_by_user_id``, a small part of a
city's requests.

Revision ID: 0018_filed_by
Revises: 0017_agent_search
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_filed_by"
down_revision: str | None = "0017_agent_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_service_requests_filed_by"


def upgrade() -> None:
    filed = sa.text("filed_by_user_id IS NOT NULL")
    op.create_index(INDEX, "service_requests", ["filed_by_user_id", "requested_at", "id"], sqlite_where=filed,
                    postgresql_where=filed)  # fmt: skip


def downgrade() -> None:
    op.drop_index(INDEX, table_name="service_requests")
