"""People: staff accounts (``users``) and the audit log (``audit``). The CLI acts as the operator (admin)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from civicswitch.cli.common import err, fail, open_uow
from civicswitch.core.clock import SystemClock
from civicswitch.core.errors import DomainError
from civicswitch.people.handlers import (
    AddUser,
    add_user,
    audit_entries,
    disable_user,
    list_users,
    reset_password,
    verify_audit,
)

users = typer.Typer(
    help="Staff accounts: who signs in to the staff pages, with which role and scope.", no_args_is_help=True
)
audit_app = typer.Typer(help="The audit log: who did what, and every read of contact data.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input instead of making one")
]


def _password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        fail("no password on standard input")
    return value


@users.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="The person's work email (their sign-in name)")],
    role: Annotated[str, typer.Option(help="admin, agent, department, partner, liaison or executive")],
    body: Annotated[list[str] | None, typer.Option(help="A body they work for (role department; repeat)")] = None,
    area: Annotated[list[str] | None, typer.Option(help="LAYER:KEY they cover (role liaison; repeat)")] = None,
    org: Annotated[str | None, typer.Option(help="Their partner organisation's body code (role partner)")] = None,
    name: Annotated[str, typer.Option(help="Their name, as colleagues see it")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a staff account. Without --password-stdin a one-time password is printed alone on the last line; it
    must be changed at the first sign-in."""
    cmd = AddUser(email, role, body or (), area or (), org, name, _password(password_stdin))
    try:
        made = add_user(open_uow(), SystemClock(), cmd)
    except DomainError as exc:
        fail(exc.description)
        return
    u = made.user
    err.print(f"added {u.email} as {u.role}{_scope(u.bodies, u.areas, u.org)}")
    if made.password:
        print(made.password)


def _scope(bodies: frozenset[str], areas: frozenset[tuple[str, str]], org: str | None) -> str:
    parts = [*(f"body {b}" for b in sorted(bodies)), *(f"area {a}:{k}" for a, k in sorted(areas))]
    if org:
        parts.append(f"org {org}")
    return f" ({', '.join(parts)})" if parts else ""


@users.command("list")
def users_list() -> None:
    """Every staff account, its role, scope and state (never passwords)."""
    try:
        found = list_users(open_uow(writing=False))
    except DomainError as exc:
        fail(exc.description)
        return
    out = Console(soft_wrap=True)
    out.print("id\temail\trole\tscope\tstate\tname")
    for u in found:
        state = "disabled" if u.disabled_at else ("must change password" if u.must_change_password else "active")
        out.print(
            f"{u.id}\t{u.email}\t{u.role}\t{_scope(u.bodies, u.areas, u.org).strip(' ()') or '-'}\t{state}\t{u.name}"
        )


@users.command("disable")
def users_disable(
    email: str, reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log)")] = None
) -> None:
    """Disable an account at once: it cannot sign in, and its sessions stop working."""
    try:
        user = disable_user(open_uow(), SystemClock(), email, reason=reason)
    except DomainError as exc:
        fail(exc.description)
        return
    err.print(f"disabled {user.email}")


@users.command("reset-password")
def users_reset_password(email: str, password_stdin: PasswordStdin = False) -> None:
    """Set a new password and end the account's sessions. Without --password-stdin a one-time password is
    printed alone on the last line."""
    try:
        made = reset_password(open_uow(), SystemClock(), email, _password(password_stdin))
    except DomainError as exc:
        fail(exc.description)
        return
    err.print(f"password reset for {made.user.email}")
    if made.password:
        print(made.password)


@audit_app.command("list")
def audit_list(
    who: Annotated[str | None, typer.Option("--who", help="e.g. staff:3, client:7, or a full principal")] = None,
    request: Annotated[str | None, typer.Option("--request", help="A service_request_id")] = None,
    after: Annotated[int, typer.Option(help="Only entries after this id")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line")] = False,
) -> None:
    """Audit entries, oldest first."""
    try:
        found = audit_entries(open_uow(writing=False), principal=who, request_id=request, after_id=after, limit=limit)
    except DomainError as exc:
        fail(exc.description)
        return
    out = Console(soft_wrap=True, highlight=False)
    if not as_json:
        out.print("id\tat\twho\taction\tobject\treason")
    for e in found:
        if as_json:
            print(json.dumps({"id": e.id, "at": e.at.isoformat(), "principal": e.principal, "action": e.action,
                              "object_type": e.object_type, "object_id": e.object_id, "reason": e.reason,
                              "detail": dict(e.detail), "hash": e.hash}))  # fmt: skip
        else:
            obj = f"{e.object_type}:{e.object_id}" if e.object_id else e.object_type
            out.print(
                f"{e.id}\t{e.at.isoformat(timespec='seconds')}\t{e.principal}\t{e.action}\t{obj}\t{e.reason or ''}"
            )


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the hash chain: any edited, removed or inserted entry is named. Exit 1 if the chain is broken. Note
    the head hash it prints: a later run that ends on an older head means entries were cut off the end."""
    check = verify_audit(open_uow(writing=False))
    for p in check.problems:
        err.print(f"[red]entry {p.entry_id}:[/red] {p.what}")
    if check.problems:
        err.print(f"audit log BROKEN: {len(check.problems)} problem(s) in {check.entries} entries")
        raise typer.Exit(code=1)
    err.print(f"audit log intact: {check.entries} entries")
    print(f"head {check.head}")
