"""public map: two indexes for the residents' map and its list (requests/public_map.py, RequestStore.map_requests)

``ix_service_requests_cell_requested`` (``grid_cell``, ``requested_at``; rows with a point): the map's requests in
a small box, read cell by cell over the recent window only (routing/grid.py's cells), not by walking every
request of the window to test its point. ``ix_service_requests_open_status_requested`` (``status``,
``requested_at``, ``id``; open requests only, as the queue's partial indexes): one open status (on hold,
reopened…) in filing order, not a walk of the whole window to find the few of them.

Measured at 1,000,000 requests (bench/README.md, "public map"): a 1 km box and a rare status each read about
250,000 rows of the 90-day window without them (200–300 ms on SQLite), a few hundred with them (a few ms). Built at
upgrade (filings wait while they are built: about 10 s on SQLite at 1,000,000 requests).

Revision ID: 0024_public_map
Revises: 0023_resident_language
Create Date: 2026-12-07 16:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_public_map"
down_revision: str | None = "0023_resident_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    located = sa.text("grid_cell IS NOT NULL")
    op.create_index("ix_service_requests_cell_requested", "service_requests", ["grid_cell", "requested_at"],
                    sqlite_where=located, postgresql_where=located)  # fmt: skip
    open_ = sa.text("status <> 'closed'")
    op.create_index("ix_service_requests_open_status_requested", "service_requests", ["status", "requested_at", "id"],
                    sqlite_where=open_, postgresql_where=open_)  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_service_requests_open_status_requested", table_name="service_requests")
    op.drop_index("ix_service_requests_cell_requested", table_name="service_requests")
