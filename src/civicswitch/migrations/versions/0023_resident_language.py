"""resident language: the language a request was reported in, attribute texts in other languages, and what
residents may do with each service's requests

``service_requests.language`` (a code such as ``es``; null: the instance's own, as for every request before this
and every request from an app or an import): the residents' pages store the page's language with the report, the
departments' envelope carries it, and every message to the resident is written in it.
``service_attributes.translations`` (``{"es": {"description": …, "value:<key>": …}}``; null: none): a catalog
file's attribute texts in other languages, for the report form. ``services.residents`` (null: the defaults): the
catalog file's ``residents`` object (catalog/model.py ResidentSettings: anonymous reports, the reopen window, the
public map's point). ``request_followers.language`` (the page's language when they followed) and ``stopped_at`` on
followers and filers (``request_contacts``): asked for no more mail about the request (the link in every message).

Every one is ADD COLUMN on both databases: no batch "recreate" on SQLite, so service_requests' triggers (the search
index) are not touched, and no row is rewritten (PostgreSQL adds a nullable column without a table rewrite). One
index: ``ix_service_requests_service_closed`` (a service's closed requests by closure time, for the report page's
"usually closed within"), built at upgrade (filings wait while it is built).

Revision ID: 0023_resident_language
Revises: 0022_service_translations
Create Date: 2026-12-07 13:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_resident_language"
down_revision: str | None = "0022_service_translations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("service_requests", "language"), ("service_attributes", "translations"), ("services", "residents"),
    ("request_followers", "language"), ("request_followers", "stopped_at"), ("request_contacts", "stopped_at"),
)  # fmt: skip


def upgrade() -> None:
    op.add_column("service_requests", sa.Column("language", sa.String(16), nullable=True))
    op.add_column("service_attributes", sa.Column("translations", sa.JSON(), nullable=True))
    op.add_column("services", sa.Column("residents", sa.JSON(), nullable=True))
    op.add_column("request_followers", sa.Column("language", sa.String(16), nullable=True))
    op.add_column("request_followers", sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("request_contacts", sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True))
    closed = sa.text("closed_at IS NOT NULL")
    op.create_index("ix_service_requests_service_closed", "service_requests", ["service_id", "closed_at"],
                    sqlite_where=closed, postgresql_where=closed)  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_service_requests_service_closed", table_name="service_requests")
    for table, column in reversed(_COLUMNS):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # SQLite 3.35+: no table rebuild
        else:
            op.drop_column(table, column)
