"""Imports every table module so ``metadata`` holds the whole schema (for Alembic and tests)."""

from civicswitch.agent import tables as agent_tables
from civicswitch.catalog import tables as catalog_tables
from civicswitch.core.db import metadata
from civicswitch.hub import tables as hub_tables
from civicswitch.people import tables as people_tables
from civicswitch.requests import tables as request_tables
from civicswitch.responses import tables as response_tables
from civicswitch.storage import tables as storage_tables

__all__ = [
    "agent_tables",
    "catalog_tables",
    "hub_tables",
    "metadata",
    "people_tables",
    "request_tables",
    "response_tables",
    "storage_tables",
]
