"""Inbound mail: every message the listener or an operator's import received (migration 0025)."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, String, Table, Text

from civicswitch.core.db import UTCDateTime, metadata

inbound_mail = Table(
    "inbound_mail",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("sender", String(320), nullable=False),  # lower-cased
    Column("subject", String(500), nullable=False),
    Column("message_id", String(255), nullable=False, unique=True),  # the same message twice is handled once
    Column("state", String(20), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("request_id", Integer, nullable=True),  # the request filed or replied to (no foreign key: kept as said)
    Column("size", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("raw", LargeBinary, nullable=True),  # the message as received, until it is handled
    Column("handled_at", UTCDateTime, nullable=True),
    Column("handled_by", String(300), nullable=True),
    Index("ix_inbound_mail_state", "state", "received_at", "id"),
    Index("ix_inbound_mail_sender", "sender", "received_at"),
)
