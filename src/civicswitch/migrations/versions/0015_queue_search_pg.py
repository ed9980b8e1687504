"""queue search on PostgreSQL: each word also indexed with the request's body and status, so counts read one word

The GIN index of 0014 held the words alone: a department's count per status read every request with the word
(22,000 for "pothole" at 1,000,000 requests) or intersected it with the (body_id, status) index (312,000 entries
for a department's closed requests). This one holds, for each word ``w`` of a request, ``w`` itself,
``#b<body>/<status>/w`` and ``#s<status>/w``: a count per status of a department's (or everyone's) matches reads
the list of one such entry, as long as the matches it counts. The function ``request_search_document`` spells the
document. It is PARALLEL UNSAFE so that no statement naming it plans parallel workers: a search's statements are
capped reads of the index, done before workers would have started. A search with many matches walks the queue in
order instead: for everyone's open requests by filing time, a new partial index (SQLite's planner is not given it:
its queue plans are tested as they are). SQLite is otherwise unchanged (its FTS5 table already holds body and
status, migration 0014). requests/search.py says how the queue reads it.

Revision ID: 0015_queue_search_pg
Revises: 0014_queue_search
Create Date: 2026-12-07 01:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015_queue_search_pg"
down_revision: str | None = "0014_queue_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# requests/search.py: PG_FUNCTION, PG_INDEX, PG_DOCUMENT (the same expressions; this file stays as landed)
FUNCTION = "request_search_document"  # _CREATE_FUNCTION spells it too
INDEX = "ix_service_requests_search"
OLD_INDEX = "ix_service_requests_words"  # 0014's
OPEN_REQUESTED = "ix_service_requests_open_requested"  # requests/search.py: PG_OPEN_INDEX

# The words as 0014 indexed them (letters and digits, lower case; words over 1,000 bytes are only indexed alone:
# an entry is at most 2,047 bytes), then each with its scope's prefixes. Everything is named from pg_catalog, so
# the index never depends on a search_path.
_CREATE_FUNCTION = """
CREATE FUNCTION request_search_document(words text, body_id integer, status text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL UNSAFE AS $$
SELECT d.v OPERATOR(pg_catalog.||) pg_catalog.array_to_tsvector(ARRAY(
    SELECT p OPERATOR(pg_catalog.||) w
    FROM pg_catalog.unnest(pg_catalog.tsvector_to_array(d.v)) AS w,
         pg_catalog.unnest(ARRAY[
             '#b' OPERATOR(pg_catalog.||) coalesce(body_id, 0)::text OPERATOR(pg_catalog.||) '/'
                 OPERATOR(pg_catalog.||) status OPERATOR(pg_catalog.||) '/',
             '#s' OPERATOR(pg_catalog.||) status OPERATOR(pg_catalog.||) '/']) AS p
    WHERE pg_catalog.octet_length(w) OPERATOR(pg_catalog.<=) 1000))
FROM (SELECT pg_catalog.to_tsvector('pg_catalog.simple'::pg_catalog.regconfig,
        pg_catalog.regexp_replace(words, '[^[:alnum:]]+', ' ', 'g')) AS v) AS d
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(_CREATE_FUNCTION)
    op.execute(
        f"CREATE INDEX {INDEX} ON service_requests USING gin ("
        f"{FUNCTION}(description || ' ' || coalesce(address, ''), body_id, status))"
    )
    op.execute(f"DROP INDEX {OLD_INDEX}")
    # everyone's open requests in filing order (an admin's queue, oldest or newest first): a search with many
    # matches walks them, not every request ever filed (a sixth are open)
    op.execute(f"CREATE INDEX {OPEN_REQUESTED} ON service_requests (requested_at, id) WHERE status <> 'closed'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(
        f"CREATE INDEX {OLD_INDEX} ON service_requests USING gin (to_tsvector('simple'::regconfig, "
        "regexp_replace(description || ' ' || coalesce(address, ''), '[^[:alnum:]]+', ' ', 'g')))"
    )
    op.execute(f"DROP INDEX {OPEN_REQUESTED}")
    op.execute(f"DROP INDEX {INDEX}")
    op.execute(f"DROP FUNCTION {FUNCTION}(text, integer, text)")
