"""The integration hub: connectors, deliveries, the manual bridge."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from civicswitch.cli.common import err, fail, open_uow
from civicswitch.core.clock import SystemClock
from civicswitch.core.errors import DomainError

connectors_app = typer.Typer(help="Connectors: how each body's own system is reached.", no_args_is_help=True)
deliveries_app = typer.Typer(help="The outbox: deliveries, dead letters, replay.", no_args_is_help=True)
manual_app = typer.Typer(
    help="The manual bridge: requests a person re-keys into a body's system.", no_args_is_help=True
)


@connectors_app.command("add")
def connectors_add(
    kind: Annotated[str, typer.Argument(help="webhook, open311, batch, email, nats or manual")],
    body: Annotated[str, typer.Option(help="The body (department, partner, external government) it serves")],
    code: Annotated[str, typer.Option(help="A short name, e.g. dot-webhook")],
    setting: Annotated[
        list[str] | None, typer.Option("--set", help="KEY=VALUE (JSON values allowed), repeatable")
    ] = None,
    status_map: Annotated[Path | None, typer.Option(help="JSON file with inbound/outbound status maps")] = None,
    secret_env: Annotated[
        str | None, typer.Option(help="Take the secret (password, API key) from this variable")
    ] = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            help="Let a webhook or Open311 connector reach a loopback, private or link-local address "
            "(refused by default; stored in its config as allow_private)",
        ),
    ] = False,
) -> None:
    """Add (or update) a connector. A new webhook connector gets a signing secret, shown once."""
    import json

    from civicswitch.hub.handlers import add_connector

    config: dict[str, Any] = {}
    for item in setting or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--set takes KEY=VALUE, got {item!r}")
            return
        try:
            config[key.strip()] = json.loads(value)
        except ValueError:
            config[key.strip()] = value
    if allow_private:
        config["allow_private"] = True
    secret = os.environ.get(secret_env) if secret_env else None
    if secret_env and not secret:
        fail(f"environment variable {secret_env} is not set")
        return
    try:
        smap = json.loads(status_map.read_text(encoding="utf-8")) if status_map else None
        made = add_connector(
            open_uow(), SystemClock(), code=code, kind=kind, body=body, config=config, status_map=smap, secret=secret
        )
    except (DomainError, ValueError) as exc:
        fail(getattr(exc, "description", str(exc)))
        return
    err.print(f"connector {made.connector.code} ({made.connector.kind}) serves {made.connector.body_code}")
    if made.secret:
        err.print("signing secret (Standard Webhooks; shown once, give it to the department):")
        print(made.secret)
    if made.api_key:
        err.print("API key for its back end (servicerequestupdates; shown once):")
        print(made.api_key)


@connectors_app.command("list")
def connectors_list() -> None:
    """Every connector and its settings (never its secret)."""
    import json

    from civicswitch.hub.handlers import connector_documents

    print("code\tkind\tbody\tstate\tconfig")
    for doc in connector_documents(open_uow(writing=False)):
        state = "enabled" if doc["enabled"] else "DISABLED"
        print(f"{doc['code']}\t{doc['kind']}\t{doc['body']}\t{state}\t{json.dumps(doc['config'], sort_keys=True)}")


@connectors_app.command("health")
def connectors_health(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Per connector: messages by state, oldest open, latency, last success and error; alerts first."""
    import json

    from civicswitch.hub.handlers import health

    found = health(open_uow(writing=False), SystemClock())
    if as_json:
        print(json.dumps(found, indent=1))
        return
    out = Console(soft_wrap=True)
    for h in sorted(found, key=lambda h: h["status"] != "alert"):
        c = h["counts"]
        p50 = "-" if h["latency_p50_s"] is None else f"{h['latency_p50_s']:.2f}s"
        out.print(
            f"{h['status'].upper():8} {h['connector']:20} {h['body']:12} pending {c['pending']} in flight "
            f"{c['in_flight']} retrying {c['retrying']} delivered {c['delivered']} dead {c['dead']} p50 {p50}"
            + (f"  ({'; '.join(h['problems'])})" if h["problems"] else ""),
            highlight=False,
        )


@connectors_app.command("enable")
def connectors_enable(code: str) -> None:
    """Resume a connector (e.g. after its endpoint answered 410 Gone and was fixed)."""
    from civicswitch.hub.handlers import set_enabled

    try:
        set_enabled(open_uow(), code, True, clock=SystemClock())
    except DomainError as exc:
        fail(exc.description)
        return
    err.print(f"connector {code} enabled")


@connectors_app.command("disable")
def connectors_disable(code: str, reason: Annotated[str, typer.Option()] = "disabled by an operator") -> None:
    """Pause a connector: its messages wait (they are not lost) until it is enabled again."""
    from civicswitch.hub.handlers import set_enabled

    try:
        set_enabled(open_uow(), code, False, reason, clock=SystemClock())
    except DomainError as exc:
        fail(exc.description)
        return
    err.print(f"connector {code} disabled")


@deliveries_app.command("list")
def deliveries_list(
    state: Annotated[str | None, typer.Option(help="pending, in_flight, retrying, delivered or dead")] = "dead",
    connector: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
) -> None:
    """Deliveries (dead letters by default), tab-separated."""
    from civicswitch.hub.handlers import deliveries

    try:
        rows = deliveries(open_uow(writing=False), state=state, connector=connector, manual=False, limit=limit)
    except DomainError as exc:
        fail(exc.description)
        return
    print("id\tconnector\trequest\ttype\tstate\tattempts\tlast_error")
    for r in rows:
        about = r.request_id if r.request_id is not None else "-"  # mail about an area (people/area_follows)
        print(f"{r.id}\t{r.connector_code}\t{about}\t{r.type}\t{r.state}\t{r.attempts}\t{r.last_error or ''}")


@deliveries_app.command("replay")
def deliveries_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="delivery ids (default: every dead one)")] = None,
    connector: Annotated[str | None, typer.Option(help="only this connector's")] = None,
) -> None:
    """Send dead deliveries again (same idempotency key, attempts reset)."""
    from civicswitch.hub.handlers import replay

    try:
        n = replay(open_uow(), SystemClock(), ids=ids or None, connector=connector)
    except DomainError as exc:
        fail(exc.description)
        return
    err.print(f"{n} dead deliveries queued again")


def _cell(value: object) -> str:
    """One tab-separated cell: no tabs or line breaks inside."""
    return " ".join(str("" if value is None else value).split())


@manual_app.command("list")
def manual_list(
    body: Annotated[str | None, typer.Option()] = None,
    done: Annotated[
        bool, typer.Option("--done", help="finished tasks: who, when, minutes, the department's ref")
    ] = False,
    withdrawn: Annotated[
        bool, typer.Option("--withdrawn", help="tasks taken out of the queue (transferred, merged, closed…) and why")
    ] = False,
) -> None:
    """The manual bridge queue: requests to re-key into a body's own system (tab-separated, with a header)."""
    from civicswitch.hub.handlers import deliveries

    if done and withdrawn:
        fail("give --done or --withdrawn, not both")
        return
    state = "delivered" if done else "withdrawn" if withdrawn else "pending"
    rows = deliveries(open_uow(writing=False), state=state, manual=True, body=body, limit=10000)
    if done:
        print("task\tbody\trequest\tdone_at\tby\tminutes\treference")
        for r in rows:
            at = r.delivered_at.isoformat(timespec="seconds") if r.delivered_at else ""
            minutes = "" if r.effort_minutes is None else f"{r.effort_minutes:g}"
            print("\t".join(map(_cell, (r.id, r.body_code, r.request_id, at, r.done_by, minutes, r.external_id))))
        return
    if withdrawn:
        print("task\tbody\trequest\tservice\twhy")
        for r in rows:
            data = r.payload.get("data", {})
            print("\t".join(map(_cell, (r.id, r.body_code, r.request_id, data.get("service_code"), r.last_error))))
        return
    print("task\tbody\trequest\tservice\taddress\tzipcode\tlat\tlong\tdescription")
    for r in rows:
        data = r.payload.get("data", {})
        text = " ".join(str(data.get("description") or "").split())[:80]
        cells = (r.id, r.body_code, r.request_id, data.get("service_code"), data.get("address"), data.get("zipcode"),
                 data.get("lat"), data.get("long"), text)  # fmt: skip
        print("\t".join(map(_cell, cells)))


@manual_app.command("done")
def manual_done(
    task: Annotated[int, typer.Argument(help="task id from `manual list`")],
    minutes: Annotated[float, typer.Option(help="how long re-keying it took")],
    by: Annotated[str, typer.Option(help="who did it")],
    external_id: Annotated[str | None, typer.Option(help="the id the department's system gave it")] = None,
) -> None:
    """Record that a person entered the request into the department's system, and the effort it took."""
    from civicswitch.hub.handlers import complete_manual

    try:
        rid = complete_manual(open_uow(), SystemClock(), task, external_id=external_id, minutes=minutes, by=by)
    except DomainError as exc:
        fail(exc.description)
        return
    err.print(f"task {task} done: request {rid}" + (f" is {external_id} there" if external_id else ""))
