"""request areas: each request's areas (``service_requests.areas``, layer → area key) as rows, kept by the database

A liaison's queue (a scope of areas) and the queue's area filter read ``request_areas`` by index instead of each
request's JSON: a borough's counts per status were read from every request of the city (1,000,000 at the bench's
size). One row per (request, layer), with the request's owner, status and filing time, so that an area's counts per
status (of one department, or all), and its requests of a status or its open ones in filing order, are index ranges.

Triggers keep the rows whatever writes ``service_requests`` (the application, the importer, a bulk load, SQL by
hand):

* SQLite: row triggers on insert, on a change of ``areas``, on a change of ``status``, ``body_id`` or
  ``requested_at``, and on
  delete (SQLite may not enforce the foreign key's cascade).
* PostgreSQL: statement triggers with transition tables (a bulk insert or COPY of 50,000 requests is one INSERT …
  SELECT, not 50,000 function calls); a delete cascades by the foreign key.

Filled from the stored requests by one statement.

Revision ID: 0019_request_areas
Revises: 0018_filed_by
Create Date: 2026-12-07 07:30:00
"""

# Every statement here is built from this file's constants, never from input: S608 does not apply.
# ruff: noqa: S608
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_request_areas"
down_revision: str | None = "0018_filed_by"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "request_areas"
SQLITE_TRIGGERS = ("request_areas_insert", "request_areas_move", "request_areas_status", "request_areas_delete")
PG_FUNCTIONS = ("request_areas_inserted", "request_areas_updated")
PG_TRIGGERS = ("request_areas_insert", "request_areas_update")
COLUMNS = "request_id, layer, area_key, body_id, status, requested_at"


def _sqlite_rows(row: str) -> str:
    """The rows of one request (``new``) for INSERT … SELECT."""
    return (
        f"SELECT {row}.id, e.key, e.value, {row}.body_id, {row}.status, {row}.requested_at "
        f"FROM json_each({row}.areas) AS e "
        "WHERE e.value IS NOT NULL AND e.type = 'text'"
    )


_PG_ROWS = (
    "SELECT n.id, e.key, e.value, n.body_id, n.status, n.requested_at FROM {source} "
    "CROSS JOIN LATERAL json_each_text(CASE WHEN json_typeof(n.areas) = 'object' THEN n.areas END) AS e "
    "WHERE e.value IS NOT NULL"
)


def _create_table() -> None:
    op.create_table(
        TABLE,
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("layer", sa.String(length=64), nullable=False),
        sa.Column("area_key", sa.String(length=100), nullable=False),
        sa.Column("body_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["service_requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("request_id", "layer"),
    )
    op.create_index("ix_request_areas_area_status", TABLE, ["layer", "area_key", "status", "requested_at",
                                                            "request_id", "body_id"])  # fmt: skip
    op.create_index("ix_request_areas_area_body", TABLE, ["layer", "area_key", "body_id", "status", "requested_at",
                                                          "request_id"])  # fmt: skip
    open_ = sa.text("status <> 'closed'")
    op.create_index("ix_request_areas_open", TABLE, ["layer", "area_key", "requested_at", "request_id", "status",
                                                     "body_id"], sqlite_where=open_, postgresql_where=open_)  # fmt: skip


def _sqlite_upgrade() -> None:
    insert, move, status, delete = SQLITE_TRIGGERS
    rows = _sqlite_rows("new")
    op.execute(
        f"CREATE TRIGGER {insert} AFTER INSERT ON service_requests WHEN json_type(new.areas) = 'object' "
        f"BEGIN INSERT INTO {TABLE} ({COLUMNS}) {rows}; END"
    )
    op.execute(
        f"CREATE TRIGGER {move} AFTER UPDATE OF areas ON service_requests WHEN old.areas IS NOT new.areas "
        f"BEGIN DELETE FROM {TABLE} WHERE request_id = old.id; "
        f"INSERT INTO {TABLE} ({COLUMNS}) {rows} AND json_type(new.areas) = 'object'; END"
    )
    op.execute(
        f"CREATE TRIGGER {status} AFTER UPDATE OF status, body_id, requested_at ON service_requests "
        "WHEN (old.status IS NOT new.status OR old.body_id IS NOT new.body_id "
        "OR old.requested_at IS NOT new.requested_at) AND old.areas IS new.areas "
        f"BEGIN UPDATE {TABLE} SET status = new.status, body_id = new.body_id, requested_at = new.requested_at "
        "WHERE request_id = new.id; END"
    )
    op.execute(
        f"CREATE TRIGGER {delete} AFTER DELETE ON service_requests "
        f"BEGIN DELETE FROM {TABLE} WHERE request_id = old.id; END"
    )
    op.execute(
        f"INSERT INTO {TABLE} ({COLUMNS}) SELECT r.id, e.key, e.value, r.body_id, r.status, r.requested_at "
        "FROM service_requests AS r, json_each(r.areas) AS e "
        "WHERE json_type(r.areas) = 'object' AND e.value IS NOT NULL AND e.type = 'text'"
    )


def _pg_upgrade() -> None:
    inserted, updated = PG_FUNCTIONS
    insert_trigger, update_trigger = PG_TRIGGERS
    new_rows = _PG_ROWS.format(source="new_rows AS n")
    op.execute(
        f"CREATE FUNCTION {inserted}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO {TABLE} ({COLUMNS}) {new_rows}; RETURN NULL; END $$"
    )
    # one UPDATE statement's rows: a changed owner, status or filing time is copied; changed areas are replaced
    moved = _PG_ROWS.format(source="new_rows AS n JOIN old_rows AS o ON o.id = n.id") + (
        " AND n.areas::text IS DISTINCT FROM o.areas::text"
    )
    op.execute(
        f"CREATE FUNCTION {updated}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"UPDATE {TABLE} AS a SET status = n.status, body_id = n.body_id, requested_at = n.requested_at "
        "FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id "
        "WHERE a.request_id = n.id AND (n.status IS DISTINCT FROM o.status OR n.body_id IS DISTINCT FROM o.body_id "
        "OR n.requested_at IS DISTINCT FROM o.requested_at); "
        f"DELETE FROM {TABLE} AS a USING new_rows AS n JOIN old_rows AS o ON o.id = n.id "
        "WHERE a.request_id = n.id AND n.areas::text IS DISTINCT FROM o.areas::text; "
        f"INSERT INTO {TABLE} ({COLUMNS}) {moved}; "
        "RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {insert_trigger} AFTER INSERT ON service_requests REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {inserted}()"
    )
    op.execute(
        f"CREATE TRIGGER {update_trigger} AFTER UPDATE ON service_requests "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {updated}()"
    )
    op.execute(f"INSERT INTO {TABLE} ({COLUMNS}) {_PG_ROWS.format(source='service_requests AS n')}")


def upgrade() -> None:
    _create_table()
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _pg_upgrade()
    # the planner's statistics of the rows just filled (an area's size decides how its queue is read), without
    # waiting for autovacuum; SQLite keeps them only where ANALYZE has run before (sqlite_stat1)
    op.execute(f"ANALYZE {TABLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger}")
    else:
        for trigger in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger} ON service_requests")
        for function in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_index("ix_request_areas_open", table_name=TABLE)
    op.drop_index("ix_request_areas_area_body", table_name=TABLE)
    op.drop_index("ix_request_areas_area_status", table_name=TABLE)
    op.drop_table(TABLE)
