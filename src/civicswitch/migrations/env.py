"""Alembic environment: the URL and the connection come from Civic Switchboard, never from a file."""

from __future__ import annotations

from alembic import context

from civicswitch.core.db import make_engine
from civicswitch.storage.schema import declared, metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, include_name=declared)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect().execution_options(writing=True) as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True, include_name=declared)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
