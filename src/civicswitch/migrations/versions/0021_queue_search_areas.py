"""queue search by area: each request's words also indexed with each of its areas and its status

A liaison's search (a scope of areas) read every match of the city: "loud" in one community district (6,610 open
requests of the bench's 1,000,000) read the city's 40,000 "loud" requests to test each one's areas, 164-246 ms a
page. The search documents now hold, beside the body and the status, each area of the request with its status, so
an area's matches of one status are one list of the index, as long as the matches themselves:

* SQLite: the FTS table's ``scope`` column gains a token per area, ``a`` + the hex of ``layer=key`` + the status
  token (requests/search.py ``area_token``: any key is then one token); its triggers are made again (a change of
  ``areas`` now rewrites the request's entry) and its entries written anew from the stored requests.
* PostgreSQL: ``request_search_document`` gains a fourth argument, the areas (JSON), and holds each word ``w`` also
  as ``#a<hex of layer=key>/<status>/w`` (requests/search.py ``area_hex``: no key needs quoting or can be mistaken
  for another); a new GIN index on it replaces 0015's, and 0015's function of three arguments is dropped.

An area is one of the request's areas as migration 0019's ``request_areas`` counts them (an object's values that
are text, not null). requests/search.py says how the queue reads them.

Revision ID: 0021_queue_search_areas
Revises: 0020_partner_queue
Create Date: 2026-12-07 10:30:00
"""

# Every statement here is built from this file's constants, never from input: S608 does not apply.
# ruff: noqa: S608
from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module

from alembic import op

revision: str = "0021_queue_search_areas"
down_revision: str | None = "0020_partner_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# requests/search.py: FTS_TABLE, area_token(), PG_FUNCTION, PG_INDEX, PG_DOCUMENT (the same expressions; this file
# stays as landed)
TABLE = "service_request_words"
TRIGGERS = ("service_requests_words_insert", "service_requests_words_delete", "service_requests_words_update")
FUNCTION = "request_search_document"
INDEX = "ix_service_requests_scoped_words"
OLD_INDEX = "ix_service_requests_search"  # 0015's


def _scope(row: str, areas: bool) -> str:
    """The ``scope`` column of a request (0014's: body and status; with ``areas``, each area with its status)."""
    status = f"replace({row}.status, '_', '')"
    scope = f"'b' || coalesce({row}.body_id, 0) || ' s' || {status}"
    if not areas:
        return scope
    tokens = (
        f"SELECT group_concat('a' || lower(hex(e.key || '=' || e.value)) || 's' || {status}, ' ') "
        f"FROM json_each(CASE WHEN json_type({row}.areas) = 'object' THEN {row}.areas END) AS e "
        "WHERE e.value IS NOT NULL AND e.type = 'text'"
    )
    return f"{scope} || coalesce(' ' || ({tokens}), '')"


def _values(row: str, areas: bool) -> str:
    return f"{row}.id, {row}.description || ' ' || coalesce({row}.address, ''), {_scope(row, areas)}"


def _sqlite_index(areas: bool) -> None:
    """0014's triggers made again (with ``areas``: the areas in the scope, and a change of areas rewrites the
    entry), and the entries of every stored request written anew."""
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger}")
    insert = f"INSERT INTO {TABLE}(rowid, words, scope) VALUES ({_values('new', areas)});"
    delete = f"INSERT INTO {TABLE}({TABLE}, rowid, words, scope) VALUES ('delete', {_values('old', areas)});"
    columns = ["id", "description", "address", "body_id", "status", *(["areas"] if areas else [])]
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in columns)
    op.execute(f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON service_requests BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER {TRIGGERS[1]} AFTER DELETE ON service_requests BEGIN {delete} END")
    op.execute(
        f"CREATE TRIGGER {TRIGGERS[2]} AFTER UPDATE OF {', '.join(columns)} ON service_requests "
        f"WHEN {changed} BEGIN {delete} {insert} END"
    )
    # a contentless table's entries cannot be read back: all of them are deleted and written again, in one
    # statement, then merged into one segment
    op.execute(f"INSERT INTO {TABLE}({TABLE}) VALUES ('delete-all')")
    op.execute(
        f"INSERT INTO {TABLE}(rowid, words, scope) SELECT {_values('service_requests', areas)} FROM service_requests"
    )
    op.execute(f"INSERT INTO {TABLE}({TABLE}) VALUES ('optimize')")


# 0015's document (words, body, status), with each area's prefix besides. Everything is named from pg_catalog, so
# the index never depends on a search_path. A prefix over 1,000 bytes (an area key that long) is not indexed.
_CREATE_FUNCTION = """
CREATE FUNCTION request_search_document(words text, body_id integer, status text, areas json) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL UNSAFE AS $$
SELECT d.v OPERATOR(pg_catalog.||) pg_catalog.array_to_tsvector(ARRAY(
    SELECT p OPERATOR(pg_catalog.||) w
    FROM pg_catalog.unnest(pg_catalog.tsvector_to_array(d.v)) AS w,
         pg_catalog.unnest(ARRAY[
             '#b' OPERATOR(pg_catalog.||) coalesce(body_id, 0)::text OPERATOR(pg_catalog.||) '/'
                 OPERATOR(pg_catalog.||) status OPERATOR(pg_catalog.||) '/',
             '#s' OPERATOR(pg_catalog.||) status OPERATOR(pg_catalog.||) '/'] OPERATOR(pg_catalog.||) ARRAY(
             SELECT '#a' OPERATOR(pg_catalog.||) pg_catalog.encode(pg_catalog.convert_to(
                     e.key OPERATOR(pg_catalog.||) '=' OPERATOR(pg_catalog.||) e.value, 'UTF8'), 'hex')
                 OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) status OPERATOR(pg_catalog.||) '/'
             FROM pg_catalog.json_each_text(CASE WHEN pg_catalog.json_typeof(areas) OPERATOR(pg_catalog.=) 'object'
                                                 THEN areas END) AS e
             WHERE e.value IS NOT NULL)) AS p
    WHERE pg_catalog.octet_length(w) OPERATOR(pg_catalog.<=) 1000
      AND pg_catalog.octet_length(p) OPERATOR(pg_catalog.<=) 1000))
FROM (SELECT pg_catalog.to_tsvector('pg_catalog.simple'::pg_catalog.regconfig,
        pg_catalog.regexp_replace(words, '[^[:alnum:]]+', ' ', 'g')) AS v) AS d
$$
"""

_WORDS = "description || ' ' || coalesce(address, '')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_index(areas=True)
        return
    op.execute(_CREATE_FUNCTION)
    op.execute(f"CREATE INDEX {INDEX} ON service_requests USING gin ({FUNCTION}({_WORDS}, body_id, status, areas))")
    op.execute(f"DROP INDEX {OLD_INDEX}")
    op.execute(f"DROP FUNCTION {FUNCTION}(text, integer, text)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_index(areas=False)
        return
    # 0015's function, as that revision creates it (imported here: loading the revisions imports nothing more)
    op.execute(import_module("civicswitch.migrations.versions.0015_queue_search_pg")._CREATE_FUNCTION)
    op.execute(f"CREATE INDEX {OLD_INDEX} ON service_requests USING gin ({FUNCTION}({_WORDS}, body_id, status))")
    op.execute(f"DROP INDEX {INDEX}")
    op.execute(f"DROP FUNCTION {FUNCTION}(text, integer, text, json)")
