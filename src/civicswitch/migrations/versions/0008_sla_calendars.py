"""SLA calendars: calendars with holidays, and a service's target in hours, calendar days or business days

Revision ID: 0008_sla_calendars
Revises: 0007_cache_validators
Create Date: 2026-12-06 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_sla_calendars"
down_revision: str | None = "0007_cache_validators"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("workdays", sa.JSON(), nullable=False),
        sa.Column("opens", sa.String(length=5), nullable=True),
        sa.Column("closes", sa.String(length=5), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendars")),
        sa.UniqueConstraint("code", name=op.f("uq_calendars_code")),
    )
    op.create_table(
        "calendar_holidays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name=op.f("fk_calendar_holidays_calendar_id_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_holidays")),
        sa.UniqueConstraint("calendar_id", "day", name=op.f("uq_calendar_holidays_calendar_id_day")),
    )
    # Nullable columns without a default: no table rewrite on SQLite or PostgreSQL.
    op.add_column("services", sa.Column("sla_amount", sa.Float(), nullable=True))
    op.add_column("services", sa.Column("sla_unit", sa.String(length=20), nullable=True))
    op.add_column("services", sa.Column("sla_calendar", sa.String(length=64), nullable=True))
    # Every target stored so far was in hours.
    op.execute("UPDATE services SET sla_amount = sla_hours, sla_unit = 'hours' WHERE sla_hours IS NOT NULL")


def downgrade() -> None:
    # Targets in days have no hours equivalent: before 0008 such a service has no target (sla_hours stays null).
    op.execute("ALTER TABLE services DROP COLUMN sla_calendar")
    op.execute("ALTER TABLE services DROP COLUMN sla_unit")
    op.execute("ALTER TABLE services DROP COLUMN sla_amount")
    op.drop_table("calendar_holidays")
    op.drop_table("calendars")
