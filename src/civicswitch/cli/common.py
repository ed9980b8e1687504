"""Helpers every command module shares: logging, errors, the unit of work, safe URLs."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

from civicswitch.core import logs
from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork

app = typer.Typer(help="Civic Switchboard: one 311 front door, every back office connected.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)

DEMO_DATABASE = "sqlite:///var/civicswitch-demo.db"


def setup_logging(level: str) -> None:
    """One line per record on stderr, control characters escaped (see :mod:`civicswitch.core.logs`)."""
    logging.basicConfig(level=level.upper(), format=logs.FORMAT)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per delivery is noise; failures are logged by us
    logs.install_escaping()


def prepare_sqlite(settings: Settings) -> None:
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


def open_uow(writing: bool = True) -> SqlUnitOfWork:
    settings = Settings()
    return SqlUnitOfWork(
        make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous),
        writing=writing,
        clock=SystemClock(),
    )


def safe_url(url: str) -> str:
    """The URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url
