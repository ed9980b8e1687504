"""Tables of the core: API clients and their keys."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Integer, String, Table

from civicswitch.core.db import UTCDateTime, metadata

api_clients = Table(
    "api_clients",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_prefix", String(12), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)
