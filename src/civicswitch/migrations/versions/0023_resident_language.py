"""resident language: the language a request was reported in, and attribute texts in other languages

``service_requests.language`` (a code such as ``es``; null: the instance's own, as for every request before this
and every request from an app or an import): the residents' pages store the page's language with the report, the
departments' envelope carries it, and every message to the resident is written in it.
``service_attributes.translations`` (``{"es": {"description": …, "value:<key>": …}}``; null: none): a catalog
file's attribute texts in other languages, for the report form.

Both are ADD COLUMN on both databases: no batch "recreate" on SQLite, so service_requests' triggers (the search
index) are not touched, and no row is rewritten (PostgreSQL adds a nullable column without a table rewrite).

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

_COLUMNS = (("service_requests", "language"), ("service_attributes", "translations"))


def upgrade() -> None:
    op.add_column("service_requests", sa.Column("language", sa.String(16), nullable=True))
    op.add_column("service_attributes", sa.Column("translations", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table, column in reversed(_COLUMNS):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # SQLite 3.35+: no table rebuild
        else:
            op.drop_column(table, column)
