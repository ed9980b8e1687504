"""agent search: the words of filers' names and of requests' addresses, indexed for the agent console's search

SQLite: two contentless FTS5 tables kept by triggers (``request_contact_words`` on request_contacts,
``request_address_words`` on service_requests); PostgreSQL: a GIN index on the words of each (a ``tsvector``).
Both are filled from the stored rows by one statement each. agent/words.py says how the search reads them.

Revision ID: 0017_agent_search
Revises: 0016_audit_filters
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017_agent_search"
down_revision: str | None = "0016_audit_filters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# agent/words.py: NAME_FTS, ADDRESS_FTS, PG_NAME_INDEX, PG_ADDRESS_INDEX, PG_NAME_WORDS, PG_ADDRESS_WORDS (the same
# names and expressions; this file stays as landed)
NAME_FTS = "request_contact_words"
ADDRESS_FTS = "request_address_words"
PG_NAME_INDEX = "ix_request_contacts_name_words"
PG_ADDRESS_INDEX = "ix_service_requests_address_words"
NAME_TRIGGERS = ("request_contacts_words_insert", "request_contacts_words_delete", "request_contacts_words_update")
ADDRESS_TRIGGERS = ("service_requests_address_insert", "service_requests_address_delete",
                    "service_requests_address_update")  # fmt: skip


def _name(row: str) -> str:
    return f"coalesce({row}.first_name, '') || ' ' || coalesce({row}.last_name, '')"


def _address(row: str) -> str:
    return f"coalesce({row}.address, '')"


# (fts table, source table, its rowid column, the text indexed of a row, its columns, its triggers)
_SQLITE = (
    (NAME_FTS, "request_contacts", "request_id", _name, ("first_name", "last_name"), NAME_TRIGGERS),
    (ADDRESS_FTS, "service_requests", "id", _address, ("address",), ADDRESS_TRIGGERS),
)


def _sqlite_upgrade() -> None:
    for fts, source, key, words, columns, triggers in _SQLITE:
        # contentless (content=''): the text stays in its table; detail=column, columnsize=0: which rows have
        # which words, nothing else (no phrases, no ranking); prefix indexes for prefixes of 2 to 6 characters, so
        # the start of a word is one list of the index (measured on the bench's 333,333 names: "grace* okafor*"
        # 1-2 ms, against 8 ms with prefixes of 2 and 3 only and 21-31 ms with detail=none, which merges prefixes
        # slowly)
        op.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5(words, content='', columnsize=0, detail=column, "
            "prefix='2 3 4 5 6', tokenize='unicode61 remove_diacritics 0')"
        )
        # constants only, no input: S608 does not apply
        insert = f"INSERT INTO {fts}(rowid, words) VALUES (new.{key}, {words('new')});"  # noqa: S608
        delete = f"INSERT INTO {fts}({fts}, rowid, words) VALUES ('delete', old.{key}, {words('old')});"  # noqa: S608
        changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in (key, *columns))
        op.execute(f"CREATE TRIGGER {triggers[0]} AFTER INSERT ON {source} BEGIN {insert} END")
        op.execute(f"CREATE TRIGGER {triggers[1]} AFTER DELETE ON {source} BEGIN {delete} END")
        op.execute(
            f"CREATE TRIGGER {triggers[2]} AFTER UPDATE OF {', '.join((key, *columns))} ON {source} "
            f"WHEN {changed} BEGIN {delete} {insert} END"
        )
        op.execute(f"INSERT INTO {fts}(rowid, words) SELECT {key}, {words(source)} FROM {source}")  # noqa: S608
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('optimize')")  # noqa: S608


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
        return
    op.execute(
        f"CREATE INDEX {PG_NAME_INDEX} ON request_contacts USING gin (to_tsvector('simple'::regconfig, "
        "regexp_replace(coalesce(first_name, '') || ' ' || coalesce(last_name, ''), '[^[:alnum:]]+', ' ', 'g')))"
    )
    op.execute(
        f"CREATE INDEX {PG_ADDRESS_INDEX} ON service_requests USING gin (to_tsvector('simple'::regconfig, "
        "regexp_replace(coalesce(address, ''), '[^[:alnum:]]+', ' ', 'g')))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for fts, _, _, _, _, triggers in _SQLITE:
            for trigger in triggers:
                op.execute(f"DROP TRIGGER {trigger}")
            op.execute(f"DROP TABLE {fts}")
        return
    op.execute(f"DROP INDEX {PG_ADDRESS_INDEX}")
    op.execute(f"DROP INDEX {PG_NAME_INDEX}")
