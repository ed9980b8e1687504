"""Response templates: a named note with placeholders, for one service (by code) or all of them (NULL)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from civicswitch.core.db import UTCDateTime, metadata

response_templates = Table(
    "response_templates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    # by service code (the catalog may be reloaded, the template stays); NULL: every service
    Column("service_code", String(100), nullable=True),
    Column("public", Boolean, nullable=False),
    Column("body", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(300), nullable=False),
    Index("ix_response_templates_service", "service_code", "name"),
)
