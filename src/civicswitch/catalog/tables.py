"""Catalog tables."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

from civicswitch.core.db import UTCDateTime, metadata

bodies = Table(
    "bodies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False, server_default="department"),
    Column("translations", JSON, nullable=True),  # the name in other languages (0026; null: none)
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
    # The SLA target: sla_amount of sla_unit (hours, calendar_days, business_days) on the calendar coded sla_calendar
    # (a code, not a key: calendars are never renamed or deleted, and the store checks it exists). sla_hours is
    # the amount when the unit is hours (as before 0008), else null.
    Column("sla_hours", Float, nullable=True),
    Column("sla_amount", Float, nullable=True),
    Column("sla_unit", String(20), nullable=True),
    Column("sla_calendar", String(64), nullable=True),
    # The Open311 service_notice derived from the target, kept so lists can be rendered inside the database.
    Column("service_notice", Text, nullable=True),
    Column("active", Boolean, nullable=False, server_default=true()),
    # The service's duplicate policy (DuplicatePolicy.document()); NULL means the defaults.
    Column("duplicates", JSON, nullable=True),
    # a partner organisation's "work complete" closes the request (else it goes back to the owner to confirm)
    Column("partners_may_close", Boolean, nullable=False, server_default=false()),
    # {"es": {"name": …, "description": …, "group": …}}: the service's texts in other languages (migration 0022)
    Column("translations", JSON, nullable=True),
    # ResidentSettings.document(): anonymous reports, the reopen window, the public map's point (0023; null: defaults)
    Column("residents", JSON, nullable=True),
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
    # {"es": {"description": …, "datatype_description": …, "value:<key>": …}}: its texts in other languages (0023)
    Column("translations", JSON, nullable=True),
    UniqueConstraint("service_id", "code"),
)

# SLA calendars: when work happens, for due dates in business days (catalog/calendars.py).
calendars = Table(
    "calendars",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("timezone", String(64), nullable=True),  # null: the instance's timezone setting
    Column("workdays", JSON, nullable=False),  # [0..6], 0 = Monday
    Column("opens", String(5), nullable=True),  # "08:00"; null with closes: all day
    Column("closes", String(5), nullable=True),
)

calendar_holidays = Table(
    "calendar_holidays",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("calendar_id", Integer, ForeignKey("calendars.id", ondelete="CASCADE"), nullable=False),
    Column("day", Date, nullable=False),
    Column("name", String(200), nullable=False),
    UniqueConstraint("calendar_id", "day"),
)

area_layers = Table(
    "area_layers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("key_property", String(100), nullable=False),
    Column("name_property", String(100), nullable=True),
)

areas = Table(
    "areas",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("layer_id", Integer, ForeignKey("area_layers.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    # A version of the area is in force from valid_from (inclusive) to valid_to (exclusive); open ends are null.
    Column("valid_from", UTCDateTime, nullable=True),
    Column("valid_to", UTCDateTime, nullable=True),
    Column("geometry", LargeBinary, nullable=False),  # WKB, WGS84 lon/lat, made valid at load
    Column("repaired", Boolean, nullable=False, server_default=false()),
    Index("ix_areas_layer_key", "layer_id", "key", "valid_from"),
)

routing_rules = Table(
    "routing_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body_id", Integer, ForeignKey("bodies.id"), nullable=False),
    Column("layer_id", Integer, ForeignKey("area_layers.id"), nullable=False),
    Column("area_key", String(100), nullable=True),  # null: any area of the layer
    Column("service_id", Integer, ForeignKey("services.id"), nullable=True),  # null: every service
    Column("priority", Integer, nullable=False, server_default="0"),
)

# One row (id 1) whose version is bumped in the same transaction as every catalog write (bodies, services and
# their attributes, area layers, routing rules), so a process caching what it renders from the catalog can check
# with one primary-key read that it is current (web/open311/cache.py). No row yet means version 0 (a catalog never
# written). Restoring an older backup moves it back: restart the web processes after a restore.
catalog_version = Table(
    "catalog_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)
