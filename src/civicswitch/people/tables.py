"""Tables of people: API clients and their keys, staff accounts, the audit log."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Table, Text, false

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
    # the body an `update` key (or a connector's own key) belongs to: it may change only that body's requests
    Column("body_code", String(64), nullable=True),
    # requests per minute for this key: NULL = the instance default, 0 = no limit
    Column("rate_limit", Integer, nullable=True),
    # set while the key may not act (its connector is disabled); clearing it restores the key
    Column("suspended", Text, nullable=True),
)

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # stored lower-case
    Column("name", String(200), nullable=False, server_default=""),
    Column("role", String(20), nullable=False),
    Column("bodies", JSON, nullable=False),  # body codes (role department)
    Column("areas", JSON, nullable=False),  # "layer:key" (role liaison)
    Column("org", String(64), nullable=True),  # a partner body's code (role partner)
    Column("password_hash", Text, nullable=False),
    Column("must_change_password", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    Column("password_changed_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
)

# Append-only; each row carries the hash of the previous one (people/audit.py), so an edit or a gap shows.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("principal", String(300), nullable=False),  # e.g. "staff:3 ana@city.gov", "client:7 connector:dsny"
    Column("action", String(60), nullable=False),
    Column("object_type", String(40), nullable=False),
    Column("object_id", String(100), nullable=True),
    Column("reason", Text, nullable=True),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_audit_log_object", "object_type", "object_id", "id"),  # the "request" filter
    # the "who" filter reads a range of it (people/sql.py); on PostgreSQL with the pattern operator class, so the
    # range is byte order whatever the database's collation
    Index("ix_audit_log_principal", "principal", "id", postgresql_ops={"principal": "varchar_pattern_ops"}),
    Index("ix_audit_log_action", "action", "id"),  # the "action" filter
)
