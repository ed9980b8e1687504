"""fix answers: residents' answers to "Is it fixed?" after a closure, and their satisfaction rating; body names in
other languages

``request_answers``: one row per filer or follower (by the digest of their address, people/links.py) per closure
of a request, changed when they answer again, and one per visitor's answer on the request's page. ``answer``
(fixed | not_fixed), who answered, what came of it (recorded, the request reopened, a new linked request and its
number), the rating (1–5) once given. The reopen rate and satisfaction figures are counted from it.

``bodies.translations`` (``{"es": {"name": …}}``; null: none): a body's name in other languages, from a catalog
file's ``name: {en: …, es: …}``, for the residents' pages and mail.

A new table and one empty column (a plain ``ADD COLUMN``): nothing existing is rewritten, on either database.

Revision ID: 0026_fix_answers
Revises: 0025_mail_in
Create Date: 2026-12-07 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_fix_answers"
down_revision: str | None = "0025_mail_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("service_requests.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.String(12), nullable=False),
        sa.Column("answerer", sa.String(10), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("address_digest", sa.String(32), nullable=True),
        sa.Column("new_request_id", sa.Integer(), sa.ForeignKey("service_requests.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="ck_request_answers_rating"),
        sa.UniqueConstraint("request_id", "closed_at", "address_digest", name="uq_request_answers_person"),
    )  # fmt: skip
    op.create_index("ix_request_answers_at", "request_answers", ["answered_at"])
    op.add_column("bodies", sa.Column("translations", sa.JSON(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE bodies DROP COLUMN translations")  # SQLite 3.35+: no table rebuild
    else:
        op.drop_column("bodies", "translations")
    op.drop_index("ix_request_answers_at", table_name="request_answers")
    op.drop_table("request_answers")
