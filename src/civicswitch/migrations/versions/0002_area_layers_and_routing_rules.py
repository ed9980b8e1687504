"""area layers and routing rules

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 15:07:03.391465
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "area_layers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_property", sa.String(length=100), nullable=False),
        sa.Column("name_property", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_area_layers")),
        sa.UniqueConstraint("name", name=op.f("uq_area_layers_name")),
    )
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("geometry", sa.LargeBinary(), nullable=False),
        sa.Column("repaired", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["layer_id"], ["area_layers.id"], name=op.f("fk_areas_layer_id_area_layers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_areas")),
    )
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.create_index("ix_areas_layer_key", ["layer_id", "key", "valid_from"], unique=False)

    op.create_table(
        "routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body_id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("area_key", sa.String(length=100), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["body_id"], ["bodies.id"], name=op.f("fk_routing_rules_body_id_bodies")),
        sa.ForeignKeyConstraint(["layer_id"], ["area_layers.id"], name=op.f("fk_routing_rules_layer_id_area_layers")),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], name=op.f("fk_routing_rules_service_id_services")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
    )
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("areas", sa.JSON(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_column("areas")

    op.drop_table("routing_rules")
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.drop_index("ix_areas_layer_key")

    op.drop_table("areas")
    op.drop_table("area_layers")
