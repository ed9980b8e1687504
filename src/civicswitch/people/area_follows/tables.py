"""The area follows' table (migration 0027)."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table

from civicswitch.core.db import UTCDateTime, metadata

area_follows = Table(
    "area_follows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(254), nullable=False),
    Column("address_digest", String(32), nullable=False),
    Column("layer", String(64), nullable=False),
    Column("area_key", String(100), nullable=False),
    Column("service_code", String(64), nullable=True),  # None: every service
    Column("cadence", String(12), nullable=False),
    Column("language", String(16), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("stopped_at", UTCDateTime, nullable=True),
    Column("told_until", UTCDateTime, nullable=True),
    Column("due_at", UTCDateTime, nullable=True),
    # the follows told of every change in an area (the outbox asks at each commit with changes residents hear of)
    Index("ix_area_follows_area", "layer", "area_key", "cadence"),
    Index("ix_area_follows_due", "due_at"),  # the digests due (the worker)
    Index("ix_area_follows_address", "address_digest"),
)
