"""service translations: a service's name, description and group in other languages

One JSON column, ``services.translations`` (``{"es": {"name": "Bache", …}}``; null: none), which a catalog file
fills when it gives a text as ``{en: Pothole, es: Bache}`` (catalog/loader.py). The residents' pages show the
service in the resident's language; the Open311 API and the staff pages keep the English text.

Revision ID: 0022_service_translations
Revises: 0021_queue_search_areas
Create Date: 2026-12-07 11:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_service_translations"
down_revision: str | None = "0021_queue_search_areas"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN on both databases (no batch "recreate" on SQLite: service_requests' triggers are not touched)
    op.add_column("services", sa.Column("translations", sa.JSON(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE services DROP COLUMN translations")  # SQLite 3.35+: no table rebuild
    else:
        op.drop_column("services", "translations")
