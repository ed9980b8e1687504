"""Helpers every command module shares: the instance (database and settings), logging, errors, safe URLs.

Every command uses one database, ``CIVICSWITCH_DATABASE_URL`` (default ``sqlite:///var/civicswitch.db``), and the
instance settings stored in it, overridden by environment variables. Before a command runs, the database is
checked (it must exist and be migrated; only ``migrate`` and ``demo`` create or upgrade it) and its stored
settings are loaded, so ``Settings()`` anywhere in the command sees them.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError
from typer.core import TyperGroup

from civicswitch.core import logs
from civicswitch.core import migrate as migrations
from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.core.db import safe_url as safe_url
from civicswitch.settings import SettingError, Settings, effective_settings, use_stored_settings
from civicswitch.storage.sql import SqlUnitOfWork

err = Console(stderr=True, soft_wrap=True)

#: Commands that create or upgrade the database themselves (every other one needs a migrated database).
CREATES_DATABASE = frozenset({"migrate", "demo"})
_ARGS = "civicswitch.args"


class InstanceGroup(TyperGroup):
    """The root command: remembers the arguments (so the instance check can let ``--help`` through) and turns a
    database error into one line instead of a traceback."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        ctx.meta[_ARGS] = list(args)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DBAPIError as exc:
            try:
                url = safe_url(Settings().database_url)
            except ValueError:
                url = "(CIVICSWITCH_DATABASE_URL)"
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
            hint = ""
            if any(s in reason for s in ("no such table", "does not exist", "no such column")):
                hint = " (is the database migrated? run `civicswitch migrate`)"
            fail(f"database {url}: {reason}{hint}")


app = typer.Typer(
    cls=InstanceGroup,
    help="Civic Switchboard: one 311 front door, every back office connected.",
    no_args_is_help=True,
)


def _asks_for_help(ctx: typer.Context, args: list[str]) -> bool:
    """Whether the command line only asks for help (no database needed)."""
    if any(a in ("--help", "-h") for a in args[1:]):
        return True
    group = ctx.command
    command = group.get_command(ctx, args[0]) if args and isinstance(group, TyperGroup) else None
    return isinstance(command, TyperGroup) and len(args) < 2


@app.callback()
def instance(ctx: typer.Context) -> None:
    """Check the database and load the instance settings stored in it, before any command that uses them."""
    use_stored_settings({})
    ctx.call_on_close(lambda: use_stored_settings({}))
    args: list[str] = ctx.meta.get(_ARGS, [])
    if ctx.resilient_parsing or ctx.invoked_subcommand in CREATES_DATABASE or _asks_for_help(ctx, args):
        return
    settings = base_settings()
    problem = migrations.database_problem(settings.database_url)
    if problem is not None:
        fail(problem)
    load_stored_settings(settings.database_url)


def base_settings() -> Settings:
    """The settings from the environment and this process's stored ones; an invalid value is one clear line."""
    try:
        return effective_settings()
    except SettingError as exc:
        fail(str(exc))


def load_stored_settings(database_url: str) -> Settings:
    """Read the settings stored in the database into this process; returns the settings in force."""
    from civicswitch.catalog.settings import stored_settings

    engine = make_engine(database_url)
    try:
        stored = stored_settings(SqlUnitOfWork(engine, writing=False))
    finally:
        engine.dispose()
    try:
        settings = effective_settings(stored)
    except SettingError as exc:
        fail(str(exc))
    use_stored_settings(stored)
    return settings


def setup_logging(level: str) -> None:
    """One line per record on stderr, control characters escaped (see :mod:`civicswitch.core.logs`)."""
    logging.basicConfig(level=level.upper(), format=logs.FORMAT)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per delivery is noise; failures are logged by us
    logs.install_escaping()


def prepare_sqlite(settings: Settings) -> None:
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code=2)


def open_uow(writing: bool = True) -> SqlUnitOfWork:
    settings = Settings()
    return SqlUnitOfWork(
        make_engine(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            sqlite_group_commit=settings.sqlite_group_commit,
        ),
        writing=writing,
        clock=SystemClock(),
    )
