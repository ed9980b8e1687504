"""Catalog tables."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

from civicswitch.core.db import metadata

bodies = Table(
    "bodies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False, server_default="department"),
)

services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(100), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("group", String(120), nullable=False, server_default=""),
    Column("keywords", JSON, nullable=False),
    Column("type", String(10), nullable=False, server_default="realtime"),
    Column("body_id", Integer, ForeignKey("bodies.id"), nullable=True),
    Column("sla_hours", Float, nullable=True),
    # The Open311 service_notice derived from sla_hours, kept so lists can be rendered inside the database.
    Column("service_notice", Text, nullable=True),
    Column("active", Boolean, nullable=False, server_default=true()),
)

service_attributes = Table(
    "service_attributes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("service_id", Integer, ForeignKey("services.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("code", String(100), nullable=False),
    Column("datatype", String(20), nullable=False),
    Column("required", Boolean, nullable=False),
    Column("variable", Boolean, nullable=False),
    Column("order", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("datatype_description", Text, nullable=False, server_default=""),
    Column("values", JSON, nullable=False),
    UniqueConstraint("service_id", "code"),
)
