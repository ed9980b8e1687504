"""People: API keys (and, from here on, staff accounts)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from civicswitch.cli.common import err, fail
from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.core.errors import DomainError
from civicswitch.people.auth import create_client, revoke_client
from civicswitch.people.clients import Scope
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork

apikey = typer.Typer(help="Open311 API keys: one per client app or back end.", no_args_is_help=True)


@apikey.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="The client app or back end the key is for")],
    scope: Annotated[
        list[Scope] | None, typer.Option(help="What the key may do (repeat for several)", case_sensitive=False)
    ] = None,
    body: Annotated[
        str | None, typer.Option(help="An update key's body: it may change only requests this body owns")
    ] = None,
) -> None:
    """Create a key. The key is printed alone on the last line; only its hash is stored."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        client, key = create_client(
            SqlUnitOfWork(engine), SystemClock(), name, frozenset(scope or [Scope.SUBMIT]), body_code=body
        )
    except DomainError as exc:
        fail(exc.description)
        return
    owner = f", body {client.body_code}" if client.body_code else ""
    err.print(
        f"created key {client.key_prefix}… for {client.name!r} (scopes: {', '.join(sorted(client.scopes))}{owner})"
    )
    print(key)


@apikey.command("list")
def apikey_list() -> None:
    """List clients and their key prefixes (never the keys)."""
    engine = make_engine(Settings().database_url)
    with SqlUnitOfWork(engine, writing=False) as uow:
        clients = uow.clients.all()
    out = Console(soft_wrap=True)
    out.print("id\tprefix\tstate\tscopes\tbody\tname")
    for c in clients:
        state = "revoked" if c.revoked_at else ("suspended" if c.suspended else "active")
        out.print(f"{c.id}\t{c.key_prefix}…\t{state}\t{','.join(sorted(c.scopes))}\t{c.body_code or '-'}\t{c.name}")


@apikey.command("revoke")
def apikey_revoke(client_id: Annotated[int, typer.Argument(help="Client id from `apikey list`")]) -> None:
    """Revoke a client's key at once."""
    engine = make_engine(Settings().database_url)
    done = revoke_client(SqlUnitOfWork(engine), SystemClock(), client_id)
    if not done:
        fail(f"no active client with id {client_id}")
    err.print(f"revoked client {client_id}")
