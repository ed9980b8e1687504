"""Hub tables: connectors, the outbox (deliveries), external references, seen inbound message ids, poll cursors."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)

from civicswitch.core.db import UTCDateTime, metadata

connectors = Table(
    "connectors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("body_id", Integer, ForeignKey("bodies.id"), nullable=False),
    Column("config", JSON, nullable=False),
    Column("secret", Text, nullable=True),
    Column("status_map", JSON, nullable=False),
    Column("retry_schedule", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("disabled_reason", Text, nullable=True),
    # The API client the connector acts as inbound: its updates are deduplicated on (client_id, update id) like
    # any back end's, and are not echoed back to the same connector.
    Column("client_id", Integer, ForeignKey("api_clients.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_connectors_body", "body_id"),
)

# The outbox. A row is written in the same transaction as the change it announces; workers claim due rows.
# connector_id NULL: the body has no connector and the row is a task in the manual bridge queue.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("connector_id", Integer, ForeignKey("connectors.id"), nullable=True),
    Column("body_id", Integer, ForeignKey("bodies.id"), nullable=False),
    # None: mail about an area, not one request (an area follow's confirmation, a digest: people/area_follows)
    Column("request_id", Integer, ForeignKey("service_requests.id", ondelete="CASCADE"), nullable=True),
    Column("type", String(30), nullable=False),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("payload", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(100), nullable=True),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),  # a manual bridge task: when a person claimed it
    Column("last_error", Text, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("external_id", String(200), nullable=True),
    Column("effort_minutes", Float, nullable=True),  # manual bridge: the minutes a person spent re-keying it
    Column("done_by", String(200), nullable=True),
    Index("ix_deliveries_due", "state", "next_attempt_at", "id"),
    # The claim's scan: only rows waiting to be sent, in due order (a backlog of delivered rows costs nothing).
    Index(
        "ix_deliveries_waiting",
        "next_attempt_at",
        "id",
        postgresql_where=text("state IN ('pending', 'retrying')"),
        sqlite_where=text("state IN ('pending', 'retrying')"),
    ),
    Index("ix_deliveries_order", "request_id", "connector_id", "id"),
    Index("ix_deliveries_connector_state", "connector_id", "state"),
    Index("ix_deliveries_body_state", "body_id", "state"),
)

external_refs = Table(
    "external_refs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", Integer, ForeignKey("service_requests.id", ondelete="CASCADE"), nullable=False),
    Column("connector_id", Integer, ForeignKey("connectors.id"), nullable=True),
    Column("body_id", Integer, ForeignKey("bodies.id"), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("body_id", "external_id"),
    Index("ix_external_refs_request", "request_id"),
)

inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("connector_id", Integer, ForeignKey("connectors.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("connector_id", "message_id"),
)

poll_cursors = Table(
    "poll_cursors",
    metadata,
    Column("connector_id", Integer, ForeignKey("connectors.id", ondelete="CASCADE"), primary_key=True),
    Column("cursor", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# What went wrong on a connector's inbound side (failed polls, quarantined rows), for its health. Failed polls are
# cleared by the next good poll; rows older than a week are pruned when new ones are written.
connector_problems = Table(
    "connector_problems",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("connector_id", Integer, ForeignKey("connectors.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=False),
    Column("file", String(300), nullable=True),
    Column("line", Integer, nullable=True),
    Index("ix_connector_problems_connector_kind_at", "connector_id", "kind", "at"),
)
