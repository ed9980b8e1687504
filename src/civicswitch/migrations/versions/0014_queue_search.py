"""queue search: the words of requests' descriptions and addresses, indexed for the staff queue's text search

SQLite: an FTS5 table (no copy of the text) kept by triggers on service_requests; PostgreSQL: a GIN index on the
words as a tsvector. Both are filled from the stored requests by one statement. requests/search.py says how the
queue reads them.

Revision ID: 0014_queue_search
Revises: 0012_agent_console
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_queue_search"
down_revision: str | None = "0013_response_templates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# requests/search.py: FTS_TABLE, status_token(), PG_DOCUMENT (the same expressions; this file stays as landed)
TABLE = "service_request_words"
PG_INDEX = "ix_service_requests_words"
TRIGGERS = ("service_requests_words_insert", "service_requests_words_delete", "service_requests_words_update")


def _values(row: str) -> str:
    return (f"{row}.id, {row}.description || ' ' || coalesce({row}.address, ''), "
            f"'b' || coalesce({row}.body_id, 0) || ' s' || replace({row}.status, '_', '')")  # fmt: skip


def _sqlite_upgrade() -> None:
    # contentless (content=''): the text stays in service_requests only; columnsize=0: no sizes (nothing is
    # ranked); detail=column: which words are in which column, no positions (no phrase search); prefix indexes for
    # prefixes of 2 and 3 characters.
    op.execute(
        f"CREATE VIRTUAL TABLE {TABLE} USING fts5(words, scope, content='', columnsize=0, detail=column, "
        "prefix='2 3', tokenize='unicode61 remove_diacritics 0')"
    )
    # constants only, no input: S608 does not apply
    insert = f"INSERT INTO {TABLE}(rowid, words, scope) VALUES ({_values('new')});"  # noqa: S608
    delete = f"INSERT INTO {TABLE}({TABLE}, rowid, words, scope) VALUES ('delete', {_values('old')});"  # noqa: S608
    op.execute(f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON service_requests BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER {TRIGGERS[1]} AFTER DELETE ON service_requests BEGIN {delete} END")
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in ("id", "description", "address", "body_id", "status"))
    op.execute(
        f"CREATE TRIGGER {TRIGGERS[2]} AFTER UPDATE OF id, description, address, body_id, status "
        f"ON service_requests WHEN {changed} BEGIN {delete} {insert} END"
    )
    # the stored requests, in one statement; then merged into one segment, so later writes merge small ones only
    op.execute(f"INSERT INTO {TABLE}(rowid, words, scope) SELECT {_values('service_requests')} FROM service_requests")  # noqa: S608
    op.execute(f"INSERT INTO {TABLE}({TABLE}) VALUES ('optimize')")  # noqa: S608


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
        return
    op.execute(
        f"CREATE INDEX {PG_INDEX} ON service_requests USING gin (to_tsvector('simple'::regconfig, "
        "regexp_replace(description || ' ' || coalesce(address, ''), '[^[:alnum:]]+', ' ', 'g')))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute(f"DROP TABLE {TABLE}")
        return
    op.execute(f"DROP INDEX {PG_INDEX}")
