"""mail in: every message residents send to the city's 311 address, and where it went

``inbound_mail``: one row per message received (by the SMTP listener or ``civicswitch mail import``), unique on its
``Message-ID`` (the same message delivered twice is handled once), with its state (filed, threaded, triage,
filed_from_triage, dismissed, ignored, rate_limited, or received while it is being handled), the reason, the request
it made or was added to, its size, the first part of its text, and the raw message until it is handled (the agent
console's triage queue shows its text and photos from it). Indexes: by state and time (the triage queue, oldest
first) and by sender and time (the per-sender daily limit). A new table: nothing else is touched.

Revision ID: 0025_mail_in
Revises: 0024_public_map
Create Date: 2026-12-07 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_mail_in"
down_revision: str | None = "0024_public_map"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("request_id", sa.Integer, nullable=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_mail"),
        sa.UniqueConstraint("message_id", name="uq_inbound_mail_message_id"),
    )
    op.create_index("ix_inbound_mail_state", "inbound_mail", ["state", "received_at", "id"])
    op.create_index("ix_inbound_mail_sender", "inbound_mail", ["sender", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_mail_sender", table_name="inbound_mail")
    op.drop_index("ix_inbound_mail_state", table_name="inbound_mail")
    op.drop_table("inbound_mail")
