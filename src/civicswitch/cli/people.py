"""People: API keys (and, from here on, staff accounts)."""

from __future__ import annotations

from typing import Annotated

import typer

from civicswitch.cli.common import err, fail
from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.core.errors import DomainError
from civicswitch.people.auth import create_client, revoke_client, set_client_limit
from civicswitch.people.clients import Scope
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork

apikey = typer.Typer(help="Open311 API keys: one per client app or back end.", no_args_is_help=True)

LimitOption = Annotated[
    str | None,
    typer.Option("--limit", metavar="N/minute", help="Writes a minute this key may make (N/minute, N/second or N)"),
]
NoLimitOption = Annotated[bool, typer.Option("--no-limit", help="Never rate-limit this key (a trusted bulk client)")]


def parse_limit(text: str) -> int:
    """``N/minute``, ``N/min``, ``N/second`` (N×60 a minute) or ``N``: requests a minute, at least 1."""
    number, _, unit = text.strip().lower().partition("/")
    factor = {"": 1, "minute": 1, "min": 1, "m": 1, "second": 60, "sec": 60, "s": 60}.get(unit.strip())
    if factor is None or not number.strip().isascii() or not number.strip().isdigit():
        raise ValueError(f"--limit must look like 120/minute or 2/second, got {text!r}")
    per_minute = int(number) * factor
    if per_minute < 1:
        raise ValueError("--limit must be at least 1/minute; use --no-limit for a key that is never limited")
    if per_minute > 1_000_000:
        raise ValueError("--limit is at most 1000000/minute; use --no-limit for a key that is never limited")
    return per_minute


def _limit_from(limit: str | None, no_limit: bool) -> int | None:
    """The stored value: None for the default, 0 for no limit, else requests a minute."""
    if limit is not None and no_limit:
        fail("give either --limit or --no-limit, not both")
    if no_limit:
        return 0
    if limit is None:
        return None
    try:
        return parse_limit(limit)
    except ValueError as exc:
        fail(str(exc))
        raise  # fail() exits; this keeps the type checker informed


def describe_limit(rate_limit: int | None) -> str:
    if rate_limit is None:
        return "default"
    return "no limit" if rate_limit == 0 else f"{rate_limit}/minute"


@apikey.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="The client app or back end the key is for")],
    scope: Annotated[
        list[Scope] | None, typer.Option(help="What the key may do (repeat for several)", case_sensitive=False)
    ] = None,
    body: Annotated[
        str | None, typer.Option(help="An update key's body: it may change only requests this body owns")
    ] = None,
    limit: LimitOption = None,
    no_limit: NoLimitOption = False,
) -> None:
    """Create a key. The key is printed alone on the last line; only its hash is stored.

    Its writes are rate-limited by CIVICSWITCH_RATE_LIMIT_KEY_WRITES unless it gets --limit or --no-limit."""
    rate_limit = _limit_from(limit, no_limit)
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        client, key = create_client(
            SqlUnitOfWork(engine),
            SystemClock(),
            name,
            frozenset(scope or [Scope.SUBMIT]),
            body_code=body,
            rate_limit=rate_limit,
        )
    except DomainError as exc:
        fail(exc.description)
        return
    owner = f", body {client.body_code}" if client.body_code else ""
    err.print(
        f"created key {client.key_prefix}… for {client.name!r} (scopes: {', '.join(sorted(client.scopes))}{owner}; "
        f"rate limit: {describe_limit(client.rate_limit)})"
    )
    print(key)


@apikey.command("limit")
def apikey_limit(
    client_id: Annotated[int, typer.Argument(help="Client id from `apikey list`")],
    limit: LimitOption = None,
    no_limit: NoLimitOption = False,
    default: Annotated[
        bool, typer.Option("--default", help="Back to the instance default (CIVICSWITCH_RATE_LIMIT_KEY_WRITES)")
    ] = False,
) -> None:
    """Set a key's rate limit: --limit N/minute, --no-limit, or --default. Servers apply it within seconds."""
    if sum((limit is not None, no_limit, default)) != 1:
        fail("give exactly one of --limit N/minute, --no-limit or --default")
    rate_limit = None if default else _limit_from(limit, no_limit)
    engine = make_engine(Settings().database_url)
    done = set_client_limit(SqlUnitOfWork(engine), SystemClock(), client_id, rate_limit)
    if not done:
        fail(f"no client with id {client_id}")
    err.print(f"client {client_id}: rate limit set to {describe_limit(rate_limit)}")


@apikey.command("list")
def apikey_list() -> None:
    """List clients and their key prefixes (never the keys)."""
    engine = make_engine(Settings().database_url)
    with SqlUnitOfWork(engine, writing=False) as uow:
        clients = uow.clients.all()
    # Tab-separated, one header line: easy to read and to cut.
    print("id\tkey\tstate\tscopes\tbody\trate limit\tname")
    for c in clients:
        state = "revoked" if c.revoked_at else ("suspended" if c.suspended else "active")
        scopes = ",".join(sorted(c.scopes))
        body, limit = c.body_code or "-", describe_limit(c.rate_limit)
        print(f"{c.id}\t{c.key_prefix}…\t{state}\t{scopes}\t{body}\t{limit}\t{c.name}")


@apikey.command("revoke")
def apikey_revoke(client_id: Annotated[int, typer.Argument(help="Client id from `apikey list`")]) -> None:
    """Revoke a client's key at once."""
    engine = make_engine(Settings().database_url)
    done = revoke_client(SqlUnitOfWork(engine), SystemClock(), client_id)
    if not done:
        fail(f"no active client with id {client_id}")
    err.print(f"revoked client {client_id}")
