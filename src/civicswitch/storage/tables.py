"""Instance-wide tables: the settings an operator stores in the database (``civicswitch settings``)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, String, Table

from civicswitch.core.db import UTCDateTime, metadata

instance_settings = Table(
    "instance_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
