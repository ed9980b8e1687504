"""Schema migrations (Alembic) run from code: ``civicswitch migrate`` and the tests use the same path."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from civicswitch.core.db import make_engine, safe_url, sqlite_file

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.connect().execution_options(writing=True) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.connect().execution_options(writing=True) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
        conn.commit()


def head() -> str:
    """The schema revision this version of the code needs."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None
    return found


def current(engine: Engine) -> str | None:
    """The database's schema revision (None when it was never migrated). Reads only."""
    chatty = logging.getLogger("alembic.runtime.migration")  # says which dialect at INFO: noise for a check
    quiet, chatty.disabled = chatty.disabled, True
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        chatty.disabled = quiet


def known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def database_problem(url: str) -> str | None:
    """Why the database at ``url`` cannot be used as it is (in one line, with what to run), or None when it is
    migrated to :func:`head`. Never creates a database file."""
    where = safe_url(url)
    path = sqlite_file(url)
    if path is not None and not Path(path).is_file():
        return (
            f"there is no database at {where} ({path} does not exist): run `civicswitch migrate` to create it "
            "(or `civicswitch demo` for the demo city), or point CIVICSWITCH_DATABASE_URL at your database"
        )
    engine = make_engine(url)
    try:
        found = current(engine)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        return f"cannot open the database at {where}: {reason}"
    finally:
        engine.dispose()
    needed = head()
    if found is None:
        return f"the database at {where} has no schema yet: run `civicswitch migrate`"
    if found == needed:
        return None
    if not known(found):
        return (
            f"the database at {where} has schema {found}, which this version of civicswitch does not know "
            f"(it needs {needed}): a newer version migrated it; upgrade civicswitch"
        )
    return f"the database at {where} has schema {found}; this version needs {needed}: run `civicswitch migrate`"
