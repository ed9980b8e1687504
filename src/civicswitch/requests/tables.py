"""Service-request tables. Contact data lives apart from the public request row."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)

from civicswitch.core.db import UTCDateTime, metadata

service_requests = Table(
    "service_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("status", String(20), nullable=False),
    # The Open311 projection of status, kept by the database so list filters use one index range in order.
    Column(
        "public_status",
        String(6),
        Computed("CASE WHEN status = 'closed' THEN 'closed' ELSE 'open' END", persisted=True),
        nullable=False,
    ),
    Column("close_reason", String(20), nullable=True),
    Column("status_notes", Text, nullable=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("lat", Float, nullable=True),
    Column("long", Float, nullable=True),
    Column("address", Text, nullable=True),
    Column("address_id", String(100), nullable=True),
    Column("zipcode", String(20), nullable=True),
    Column("media_url", Text, nullable=True),
    Column("body_id", Integer, ForeignKey("bodies.id"), nullable=True),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("expected_at", UTCDateTime, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("channel", String(20), nullable=False),
    Column("client_id", Integer, ForeignKey("api_clients.id"), nullable=True),
    Column("device_id", String(200), nullable=True),
    Column("account_id", String(200), nullable=True),
    Column("token", String(64), nullable=True, unique=True),
    Column("source_ref", String(120), nullable=True, unique=True),
    Column("attributes", JSON, nullable=False),
    Column("areas", JSON, nullable=True),  # layer → area key where the request was routed
    # routing/grid.py's cell of (lat, long): the duplicate check's index. NULL without coordinates.
    Column("grid_cell", BigInteger, nullable=True),
    # The request this one was merged into (closed as a duplicate of).
    Column("parent_id", Integer, ForeignKey("service_requests.id"), nullable=True),
    # a partner organisation (a body of kind partner) the owner assigned the work to
    Column("assigned_org", String(64), nullable=True),
    # who filed it on a resident's behalf (an agent or liaison), and the consent they recorded
    Column("filed_by_user_id", Integer, nullable=True),
    Column("consent", Text, nullable=True),
    # the colleague working it (a staff account: a department user of the owning body, or an admin)
    Column("assignee_user_id", Integer, nullable=True),
    # how many times it moved to another body: the queue's "bounced" filter and the escalation query use the index
    Column("transfers", Integer, nullable=False, server_default="0"),
    # the resident's language (a code, e.g. "es"), for every message to them and in the departments' envelope;
    # null: the instance's own (an app through Open311, an import)
    Column("language", String(16), nullable=True),
    # Bumped by every write of the row (and of its timeline, which is written with it): what a public list shows
    # of a request changes only with its revision (or the catalog's version), so lists are validated by it.
    Column("revision", Integer, nullable=False, server_default="1"),
    Index("ix_service_requests_requested", "requested_at", "id"),
    Index("ix_service_requests_service_requested", "service_id", "requested_at", "id"),
    Index("ix_service_requests_public_requested", "public_status", "requested_at", "id"),
    Index("ix_service_requests_service_public_requested", "service_id", "public_status", "requested_at", "id"),
    Index("ix_service_requests_updated", "updated_at", "id"),
    Index("ix_service_requests_service_cell_requested", "service_id", "grid_cell", "requested_at"),
    Index("ix_service_requests_parent", "parent_id"),
    Index("ix_service_requests_assignee", "assignee_user_id"),
    Index("ix_service_requests_transfers", "transfers"),
    # the staff queue of a department: its open requests (a few statuses) in order, and its counts per status
    Index("ix_service_requests_body_status_requested", "body_id", "status", "requested_at", "id"),
    # its counts per status for one service (the page's service filter)
    Index("ix_service_requests_service_status_body", "service_id", "status", "body_id"),
)

# The staff queue's open requests (about a sixth of them in a city's history): partial indexes, in the orders the
# queue sorts by, by body and for every body. The queue's queries say ``status <> 'closed'`` to use them
# (requests/queue_sql.py). By due date, the queue reads those with one in order, then those without (by id).
_OPEN = text("status <> 'closed'")
Index("ix_service_requests_open_body_requested", service_requests.c.body_id, service_requests.c.requested_at,
      service_requests.c.id, sqlite_where=_OPEN, postgresql_where=_OPEN)  # fmt: skip
Index("ix_service_requests_open_body_due", service_requests.c.body_id, service_requests.c.expected_at,
      service_requests.c.id, sqlite_where=_OPEN, postgresql_where=_OPEN)  # fmt: skip
Index("ix_service_requests_open_due", service_requests.c.expected_at, service_requests.c.id, sqlite_where=_OPEN,
      postgresql_where=_OPEN)  # fmt: skip
Index("ix_service_requests_open_body_updated", service_requests.c.body_id, service_requests.c.updated_at,
      service_requests.c.id, sqlite_where=_OPEN, postgresql_where=_OPEN)  # fmt: skip
Index("ix_service_requests_open_updated", service_requests.c.updated_at, service_requests.c.id,
      sqlite_where=_OPEN, postgresql_where=_OPEN)  # fmt: skip
# A partner organisation's requests (a few of the city's) by status and filing time: its queue's counts and pages
# (migration 0020).
_ASSIGNED = text("assigned_org IS NOT NULL")
Index("ix_service_requests_org_status_requested", service_requests.c.assigned_org, service_requests.c.status,
      service_requests.c.requested_at, service_requests.c.id, sqlite_where=_ASSIGNED,
      postgresql_where=_ASSIGNED)  # fmt: skip
# A service's closed requests by closure time: the report page's "usually closed within" (requests/reporting.py;
# migration 0023). Closed requests only.
_CLOSED = text("closed_at IS NOT NULL")
Index("ix_service_requests_service_closed", service_requests.c.service_id, service_requests.c.closed_at,
      sqlite_where=_CLOSED, postgresql_where=_CLOSED)  # fmt: skip
# The public map (requests/public_map.py; migration 0024): the requests of a small box by their grid cells over the
# recent window, and one open status (a few of the window's requests) in filing order.
_LOCATED = text("grid_cell IS NOT NULL")
Index("ix_service_requests_cell_requested", service_requests.c.grid_cell, service_requests.c.requested_at,
      sqlite_where=_LOCATED, postgresql_where=_LOCATED)  # fmt: skip
Index("ix_service_requests_open_status_requested", service_requests.c.status, service_requests.c.requested_at,
      service_requests.c.id, sqlite_where=_OPEN, postgresql_where=_OPEN)  # fmt: skip
# The requests a staff member filed on residents' behalf (the queue's "Filed by me"; migration 0018): few of them.
_FILED = text("filed_by_user_id IS NOT NULL")
Index("ix_service_requests_filed_by", service_requests.c.filed_by_user_id, service_requests.c.requested_at,
      service_requests.c.id, sqlite_where=_FILED, postgresql_where=_FILED)  # fmt: skip

# Each request's areas (service_requests.areas: layer → area key) one row per layer, with the request's owner, status
# and filing time: the staff queue of a liaison (scoped to areas) and the queue's area filter read them by index, not by
# reading every request's JSON (migration 0019_request_areas). Kept by the database (triggers), so no writer of
# service_requests can forget them; never written by the application.
request_areas = Table(
    "request_areas",
    metadata,
    Column("request_id", Integer, ForeignKey("service_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("layer", String(64), primary_key=True),
    Column("area_key", String(100), nullable=False),
    Column("body_id", Integer, nullable=True),  # the request's owner (no foreign key: a copy of the request's)
    Column("status", String(20), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    # an area's counts per status, and its requests of one status (closed) in filing order
    # (the owner last: a department's requests among them, tested in the index)
    Index("ix_request_areas_area_status", "layer", "area_key", "status", "requested_at", "request_id", "body_id"),
    # a department's counts per status in an area (the queue's area filter), and its requests of a status in order
    Index("ix_request_areas_area_body", "layer", "area_key", "body_id", "status", "requested_at", "request_id"),
)
# an area's open requests in filing order (a liaison's queue as it opens; the status and owner to choose some)
Index("ix_request_areas_open", request_areas.c.layer, request_areas.c.area_key, request_areas.c.requested_at,
      request_areas.c.request_id, request_areas.c.status, request_areas.c.body_id, sqlite_where=_OPEN,
      postgresql_where=_OPEN)  # fmt: skip

request_contacts = Table(
    "request_contacts",
    metadata,
    Column("request_id", Integer, ForeignKey("service_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("first_name", String(200), nullable=True),
    Column("last_name", String(200), nullable=True),
    Column("email", String(320), nullable=True),
    Column("phone", String(50), nullable=True),
    # the filer asked for no more mail about this request (the link in every message; migration 0023)
    Column("stopped_at", UTCDateTime, nullable=True),
)

# People who asked to hear about a request other than its filer: those who chose "follow this one instead", and
# the filers and followers of requests merged into it. Personal data, like request_contacts.
request_followers = Table(
    "request_followers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", Integer, ForeignKey("service_requests.id", ondelete="CASCADE"), nullable=False),
    Column("first_name", String(200), nullable=True),
    Column("last_name", String(200), nullable=True),
    Column("email", String(320), nullable=True),
    Column("phone", String(50), nullable=True),
    Column("account_id", String(200), nullable=True),
    Column("via", String(20), nullable=False),  # follow | merge
    Column("from_request_id", Integer, nullable=True),  # the merged request they came from
    # an email follower receives nothing until the address confirms (a signed link); NULL: not yet
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("language", String(16), nullable=True),  # the page's language when they followed (0023)
    Column("stopped_at", UTCDateTime, nullable=True),  # asked for no more mail about this request (0023)
    Index("ix_request_followers_request", "request_id", "id"),
)

# Residents' answers to "Is it fixed?" after a closure, and their satisfaction rating (requests/answers.py;
# migration 0026). A filer's or follower's answer is keyed by the address digest (people/links.py), one per
# closure; a visitor's (no digest) is one row each.
request_answers = Table(
    "request_answers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", Integer, ForeignKey("service_requests.id", ondelete="CASCADE"), nullable=False),
    Column("closed_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime, nullable=False),
    Column("answer", String(12), nullable=False),  # fixed | not_fixed
    Column("answerer", String(10), nullable=False),  # filer | follower | visitor
    Column("outcome", String(12), nullable=False),  # recorded | reopened | new_request
    Column("address_digest", String(32), nullable=True),
    Column("new_request_id", Integer, ForeignKey("service_requests.id", ondelete="SET NULL"), nullable=True),
    Column("rating", SmallInteger, nullable=True),
    Column("rated_at", UTCDateTime, nullable=True),
    Column("language", String(16), nullable=True),
    CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="ck_request_answers_rating"),
    UniqueConstraint("request_id", "closed_at", "address_digest", name="uq_request_answers_person"),
    Index("ix_request_answers_at", "answered_at"),
)

request_events = Table(
    "request_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", Integer, ForeignKey("service_requests.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("status_from", String(20), nullable=True),
    Column("status_to", String(20), nullable=True),
    Column("close_reason", String(20), nullable=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("public", Boolean, nullable=False, server_default=true()),
    Column("client_id", Integer, ForeignKey("api_clients.id"), nullable=True),
    Column("external_id", String(200), nullable=True),
    Column("external_status", String(60), nullable=True),
    Column("media_url", Text, nullable=True),
    Column("data", JSON, nullable=False),
    Index("ix_request_events_request", "request_id", "id"),
    Index("ix_request_events_at", "at", "id"),
    UniqueConstraint("client_id", "external_id"),
)

media = Table(
    "media",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("request_id", Integer, ForeignKey("service_requests.id", ondelete="CASCADE"), nullable=True),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("filename", String(255), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# The outcome of a staff bulk action (one entry per request), kept a short while for the result page the action
# redirects to (requests/bulk.py): readable only by the account that ran it, by an unguessable token.
bulk_results = Table(
    "bulk_results",
    metadata,
    Column("token", String(43), primary_key=True),
    Column("user_id", Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False),
    Column("action", String(20), nullable=False),
    Column("items", JSON, nullable=False),  # [{"id": "123", "ok": true, "error": null, "status": "acknowledged"}]
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_bulk_results_expires", "expires_at"),
)
