"""Imports every table module so ``metadata`` holds the whole schema (for Alembic and tests), and names what the
migrations create outside it (:func:`declared`)."""

from civicswitch.agent import tables as agent_tables
from civicswitch.agent.words import ADDRESS_FTS, NAME_FTS, PG_ADDRESS_INDEX, PG_NAME_INDEX
from civicswitch.catalog import tables as catalog_tables
from civicswitch.core.db import metadata
from civicswitch.hub import tables as hub_tables
from civicswitch.hub.mailin import tables as mail_tables
from civicswitch.people import tables as people_tables
from civicswitch.people.area_follows import tables as area_follow_tables
from civicswitch.requests import tables as request_tables
from civicswitch.requests.search import FTS_TABLE, PG_INDEX, PG_OPEN_INDEX
from civicswitch.responses import tables as response_tables
from civicswitch.storage import tables as storage_tables


def declared(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether Alembic compares an object of the database with ``metadata`` (its ``include_name`` hook): all but the
    text search's indexes (migration 0014: an FTS5 table and its shadow tables on SQLite, a GIN index on PostgreSQL,
    and 0015's PostgreSQL-only partial index of open requests) and the agent search's (migration 0017: two FTS5
    tables on SQLite, two GIN indexes on PostgreSQL), which SQLAlchemy cannot declare for one database."""
    if type_ == "table" and name is not None and name.startswith((FTS_TABLE, NAME_FTS, ADDRESS_FTS)):
        return False
    return not (type_ == "index" and name in (PG_INDEX, PG_OPEN_INDEX, PG_NAME_INDEX, PG_ADDRESS_INDEX))


__all__ = [
    "agent_tables",
    "area_follow_tables",
    "catalog_tables",
    "declared",
    "hub_tables",
    "mail_tables",
    "metadata",
    "people_tables",
    "request_tables",
    "response_tables",
    "storage_tables",
]
