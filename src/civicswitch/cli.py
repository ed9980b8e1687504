"""The ``civicswitch`` command: thin wrappers that build a command and call a use case."""

from __future__ import annotations

import logging
import math
import os
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console

from civicswitch.catalog.files import CatalogFormat
from civicswitch.core import migrate as migrations
from civicswitch.core.auth import create_client
from civicswitch.core.clients import Scope
from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.core.errors import DomainError
from civicswitch.core.sql import SqlUnitOfWork
from civicswitch.profiles import Profile
from civicswitch.settings import Settings

app = typer.Typer(help="Civic Switchboard: one 311 front door, every back office connected.", no_args_is_help=True)
apikey = typer.Typer(help="Open311 API keys: one per client app or back end.", no_args_is_help=True)
app.add_typer(apikey, name="apikey")
areas = typer.Typer(help="Area layers: boundaries used for routing and analytics.", no_args_is_help=True)
app.add_typer(areas, name="areas")
catalog = typer.Typer(help="The catalog file: bodies, services and routing rules.", no_args_is_help=True)
app.add_typer(catalog, name="catalog")
connectors_app = typer.Typer(help="Connectors: how each body's own system is reached.", no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")
deliveries_app = typer.Typer(help="The outbox: deliveries, dead letters, replay.", no_args_is_help=True)
app.add_typer(deliveries_app, name="deliveries")
manual_app = typer.Typer(
    help="The manual bridge: requests a person re-keys into a body's system.", no_args_is_help=True
)
app.add_typer(manual_app, name="manual")
requests_app = typer.Typer(help="Staff work on stored requests: duplicates, merges, changes.", no_args_is_help=True)
app.add_typer(requests_app, name="requests")
routing = typer.Typer(help="Routing rules: which body owns a service where.", no_args_is_help=True)
app.add_typer(routing, name="routing")
err = Console(stderr=True, soft_wrap=True)

DEMO_DATABASE = "sqlite:///var/civicswitch-demo.db"


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per delivery is noise; failures are logged by us


def _prepare_sqlite(settings: Settings) -> None:
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


@app.command()
def migrate() -> None:
    """Upgrade the configured database (CIVICSWITCH_DATABASE_URL) to the latest schema."""
    settings = Settings()
    _logging(settings.log_level)
    _prepare_sqlite(settings)
    migrations.upgrade(make_engine(settings.database_url))
    err.print(f"database at [bold]{_safe_url(settings.database_url)}[/bold] is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8311,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Run the HTTP server (Open311 under /open311/v2/)."""
    settings = Settings()
    _logging(settings.log_level)
    uvicorn.run(
        "civicswitch.web.asgi:app", host=host, port=port, workers=workers, log_level="warning", access_log=False
    )


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8311,
    load_only: Annotated[bool, typer.Option("--load-only", help="Install the demo city, do not serve")] = False,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run a delivery worker in-process")] = False,
) -> None:
    """Open (or create) the demo database, load New York City's real 311 data once, and serve it."""
    from civicswitch.demo.city import COVERAGE_LAYER, install

    os.environ.setdefault("CIVICSWITCH_DATABASE_URL", DEMO_DATABASE)
    settings = Settings()
    _logging(settings.log_level)
    _prepare_sqlite(settings)
    engine = make_engine(settings.database_url)
    migrations.upgrade(engine)
    result = install(SqlUnitOfWork(engine), SystemClock())
    jurisdiction = result.jurisdiction
    os.environ.setdefault("CIVICSWITCH_JURISDICTION_NAME", jurisdiction["name"])
    os.environ.setdefault("CIVICSWITCH_JURISDICTION_ID", jurisdiction["id"])
    os.environ.setdefault("CIVICSWITCH_TIMEZONE", jurisdiction.get("timezone", "UTC"))
    os.environ.setdefault("CIVICSWITCH_COVERAGE_LAYER", COVERAGE_LAYER)
    out = Console(soft_wrap=True)
    out.print(f"[bold]{jurisdiction['name']}[/bold] demo city in {_safe_url(settings.database_url)}")
    out.print(f"  {result.services} request types, {result.bodies} departments")
    if result.layers_loaded:
        out.print(f"  boundary layers loaded: {', '.join(result.layers_loaded)}")
    out.print(f"  requests: {result.requests.inserted} imported now, {result.requests.already_present} already there")
    if result.app_key:
        out.print(f"  demo app key (POST requests; shown once): [bold]{result.app_key}[/bold]")
    if result.backend_key:
        out.print(f"  demo back-end key (POST servicerequestupdates; shown once): [bold]{result.backend_key}[/bold]")
    from civicswitch.demo.city import install_connectors

    folder = (
        Path(settings.database_url.removeprefix("sqlite:///")).parent
        if settings.database_url.startswith("sqlite:///")
        else Path("var")
    )
    wired = install_connectors(
        SqlUnitOfWork(engine),
        SystemClock(),
        simulator_url=f"http://{host}:{port + 1}/webhook",
        folder=folder / "civicswitch-demo-batch",
    )
    out.print(
        "  integrations: DSNY by webhook (department simulator on port "
        f"{port + 1}), DEP by CSV files in {wired.batch_dirs[0].parent}, the others through the manual bridge"
    )
    base = f"http://{host}:{port}"
    out.print(f"\n  Home page:     {base}/")
    out.print(f"  Open311 API:   {base}/open311/v2/discovery.json")
    out.print(f"  Service list:  {base}/open311/v2/services.json")
    out.print(f"  API reference: {base}/docs\n")
    if load_only:
        return
    stop = threading.Event()
    if not no_worker:
        thread = threading.Thread(target=_run_worker, args=(engine, stop), name="civicswitch-worker", daemon=True)
        thread.start()
        out.print("  delivery worker: running in this process (--no-worker to leave it to `civicswitch worker`)")
    _start_simulator(host, port + 1, wired.webhook.secret or "", wired.webhook.code, base)
    try:
        uvicorn.run("civicswitch.web.asgi:app", host=host, port=port, log_level="warning")
    finally:
        stop.set()


def _start_simulator(host: str, port: int, secret: str, connector: str, callback: str) -> None:
    """The demo's department simulator (DSNY's work-order system) in a thread: it takes the webhooks and answers
    with ACK, WIP and DONE updates a few seconds apart."""
    from civicswitch.simulator.app import SimulatorConfig, create_app

    config = SimulatorConfig(secret=secret, connector=connector, callback=callback, delay=5.0)
    server = uvicorn.Server(uvicorn.Config(create_app(config), host=host, port=port, log_level="warning"))
    threading.Thread(target=server.run, name="civicswitch-simulator", daemon=True).start()


def _run_worker(engine: Any, stop: threading.Event, batch: int = 50, once: bool = False, lease: float = 60.0) -> None:
    import asyncio
    from datetime import timedelta

    from civicswitch.hub.connectors.registry import default_pollers, default_senders
    from civicswitch.hub.worker import Worker

    worker = Worker(
        lambda: SqlUnitOfWork(engine),
        SystemClock(),
        default_senders(),
        pollers=default_pollers(),
        batch=batch,
        lease=timedelta(seconds=lease),
    )

    async def main() -> None:
        if once:
            while await worker.run_once():
                pass
            await worker.poll_due()
            return
        await worker.run(stop)

    asyncio.run(main())


@app.command()
def worker(
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Messages claimed per round")] = 50,
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit")] = False,
    lease: Annotated[
        float, typer.Option(min=5, max=3600, help="Seconds a claimed message is reserved (longer than any send)")
    ] = 60.0,
) -> None:
    """Deliver the outbox: claim due messages, send them through their connectors, retry, dead-letter.

    Run as many as you like against PostgreSQL (they share the work); on SQLite one is enough."""
    import signal

    settings = Settings()
    _logging(settings.log_level)
    engine = make_engine(settings.database_url)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err.print(f"worker on {_safe_url(settings.database_url)} (Ctrl-C to stop)")
    _run_worker(engine, stop, batch, once, lease)


@apikey.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="The client app or back end the key is for")],
    scope: Annotated[
        list[Scope] | None, typer.Option(help="What the key may do (repeat for several)", case_sensitive=False)
    ] = None,
) -> None:
    """Create a key. The key is printed alone on the last line; only its hash is stored."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        client, key = create_client(SqlUnitOfWork(engine), SystemClock(), name, frozenset(scope or [Scope.SUBMIT]))
    except DomainError as exc:
        _fail(exc.description)
        return
    err.print(f"created key {client.key_prefix}… for {client.name!r} (scopes: {', '.join(sorted(client.scopes))})")
    print(key)


@apikey.command("list")
def apikey_list() -> None:
    """List clients and their key prefixes (never the keys)."""
    engine = make_engine(Settings().database_url)
    with SqlUnitOfWork(engine, writing=False) as uow:
        clients = uow.clients.all()
    out = Console(soft_wrap=True)
    for c in clients:
        state = "revoked" if c.revoked_at else "active"
        out.print(f"{c.id}\t{c.key_prefix}…\t{state}\t{','.join(sorted(c.scopes))}\t{c.name}")


@apikey.command("revoke")
def apikey_revoke(client_id: Annotated[int, typer.Argument(help="Client id from `apikey list`")]) -> None:
    """Revoke a client's key at once."""
    engine = make_engine(Settings().database_url)
    with SqlUnitOfWork(engine) as uow:
        done = uow.clients.revoke(client_id, SystemClock().now())
        uow.commit()
    if not done:
        _fail(f"no active client with id {client_id}")
    err.print(f"revoked client {client_id}")


@areas.command("load")
def areas_load(
    layer: Annotated[str, typer.Argument(help="Layer name, e.g. boroughs (a-z, 0-9, _ and -)")],
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection (WGS84)", exists=True, dir_okay=False)],
    key: Annotated[str, typer.Option("--key", help="Feature property holding each area's key")],
    name: Annotated[str | None, typer.Option("--name", help="Feature property holding its display name")] = None,
    valid_from: Annotated[
        str | None, typer.Option("--valid-from", help="Date this version takes effect (keeps the previous one)")
    ] = None,
) -> None:
    """Load (or replace) a layer. Invalid geometries are repaired; the layer loads whole or not at all."""
    from civicswitch.catalog.handlers import load_layer
    from civicswitch.core.timefmt import parse_datetime

    settings = Settings()
    _logging(settings.log_level)
    try:
        since = parse_datetime(valid_from) if valid_from else None
        loaded = load_layer(
            SqlUnitOfWork(make_engine(settings.database_url)),
            layer,
            file.read_bytes(),
            key_property=key,
            name_property=name,
            valid_from=since,
        )
    except ValueError as exc:
        _fail(f"--valid-from: {exc}")
        return
    except DomainError as exc:
        _fail(exc.description)
        return
    since_text = f", valid from {loaded.valid_from:%Y-%m-%d}" if loaded.valid_from else ""
    err.print(f"layer {loaded.layer}: {loaded.areas} areas loaded ({loaded.repaired} repaired){since_text}")


@areas.command("list")
def areas_list() -> None:
    """Layers and their current areas."""
    with SqlUnitOfWork(make_engine(Settings().database_url), writing=False) as uow:
        layers = uow.catalog.layers()
        stored = uow.catalog.areas()
    out = Console()
    for layer in layers:
        mine = [a for a in stored if a.layer == layer.name]
        current = [a for a in mine if a.valid_to is None]
        out.print(f"{layer.name}\t{len(current)} areas\t{len(mine) - len(current)} retired\tkey={layer.key_property}")


@areas.command("locate")
def areas_locate(
    file: Annotated[Path | None, typer.Argument(help="CSV with lat and long columns (default: stdin)")] = None,
    layer: Annotated[list[str] | None, typer.Option("--layer", help="Only these layers (repeat)")] = None,
) -> None:
    """Add one column per layer (the area key, empty where none) to CSV rows that have lat/long columns."""
    import csv
    import sys

    from civicswitch.routing.geography import load_index

    index = load_index(SqlUnitOfWork(make_engine(Settings().database_url), writing=False))
    handle = file.open(newline="", encoding="utf-8") if file else sys.stdin
    try:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        if "lat" not in fields or "long" not in fields:
            _fail("the CSV needs lat and long columns")
        rows = list(reader)
    finally:
        if file:
            handle.close()
    lats: list[float] = []
    longs: list[float] = []
    for line, row in enumerate(rows, start=2):
        try:
            lats.append(float(row["lat"]) if row["lat"] else math.nan)
            longs.append(float(row["long"]) if row["long"] else math.nan)
        except ValueError:
            _fail(f"line {line}: lat/long must be decimal numbers, got {row['lat']!r}, {row['long']!r}")
    try:
        found = index.locate_keys(lats, longs, layer or None)
    except DomainError as exc:
        _fail(exc.description)
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=[*fields, *[n for n in found if n not in fields]])
    writer.writeheader()
    for i, row in enumerate(rows):
        writer.writerow({**row, **{name: keys[i] for name, keys in found.items()}})


@catalog.command("import")
def catalog_import(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Catalog file: .json, .yaml or .yml (bodies, services, routing_rules)", exists=True, dir_okay=False
        ),
    ] = None,
    profile: Annotated[
        Profile | None, typer.Option("--profile", help="Load a shipped city profile instead of a file")
    ] = None,
) -> None:
    """Load a catalog file or profile: bodies and services are upserted; routing_rules, when present, replace the
    rules."""
    from civicswitch.catalog.files import read_catalog_document
    from civicswitch.catalog.loader import load_catalog
    from civicswitch.profiles import layer_command, profile_document

    if file is not None and profile is not None:
        _fail("give a catalog file or --profile, not both")
        return
    try:
        if profile is not None:
            document = profile_document(profile)
        elif file is not None:
            document = read_catalog_document(file)
        else:
            _fail("give a catalog file (.json, .yaml, .yml) or --profile boston|chicago|nyc")
            return
    except DomainError as exc:
        _fail(exc.description)
        return
    try:
        if "connectors" in document:
            from civicswitch.hub.handlers import check_connector_documents

            with _uow(writing=False) as uow:
                known = {b.code for b in uow.catalog.bodies()}
            check_connector_documents(
                document["connectors"], known | {b.get("code") for b in document.get("bodies", [])}
            )
        bodies_n, services_n = load_catalog(SqlUnitOfWork(make_engine(Settings().database_url)), document)
    except DomainError as exc:
        layers = document.get("layers") if profile is not None else None
        hint = "".join(f"\n  {layer_command(layer)}" for layer in layers or ())
        _fail(exc.description + (f"\nits layers, to load first (DATA = ../shared/data):{hint}" if hint else ""))
        return
    rules = len(document.get("routing_rules") or []) if "routing_rules" in document else "unchanged"
    err.print(f"catalog loaded: {bodies_n} bodies, {services_n} services, routing rules: {rules}")
    if "connectors" in document:
        from civicswitch.hub.handlers import load_connectors

        made = load_connectors(_uow(), SystemClock(), document["connectors"])
        err.print(f"connectors loaded: {len(made)}")
        for m in made:
            if m.secret:
                err.print(f"  {m.connector.code}: new signing secret (shown once): {m.secret}", highlight=False)
    if profile is not None:
        err.print(f"{profile} routes and reports by these layers (DATA = ../shared/data):")
        for layer in document["layers"]:
            err.print(f"  {layer_command(layer)}", highlight=False)


@catalog.command("export")
def catalog_export(
    fmt: Annotated[CatalogFormat, typer.Option("--format", help="json or yaml")] = CatalogFormat.JSON,
) -> None:
    """Print the catalog (bodies, services, routing rules) as JSON or YAML, for version control."""
    from civicswitch.catalog.files import dump_catalog_document
    from civicswitch.catalog.loader import export_catalog
    from civicswitch.hub.handlers import connector_documents

    document = export_catalog(SqlUnitOfWork(make_engine(Settings().database_url), writing=False))
    document["connectors"] = connector_documents(_uow(writing=False))  # settings only: secrets are never exported
    print(dump_catalog_document(document, fmt), end="")


@routing.command("list")
def routing_list() -> None:
    """The routing rules, strongest first."""
    with SqlUnitOfWork(make_engine(Settings().database_url), writing=False) as uow:
        rules = uow.catalog.rules()
    out = Console(soft_wrap=True)
    for rule in sorted(rules, key=lambda r: r.rank, reverse=True):
        out.print(rule.describe())


@routing.command("explain")
def routing_explain(
    service: Annotated[str, typer.Option(help="Service code")],
    lat: Annotated[float, typer.Option(help="WGS84 latitude")],
    long: Annotated[float, typer.Option(help="WGS84 longitude")],
) -> None:
    """Which body a request for SERVICE at LAT/LONG goes to, and the rule that decides."""
    from civicswitch.routing.geography import load_index
    from civicswitch.routing.rules import decide

    engine = make_engine(Settings().database_url)
    index = load_index(SqlUnitOfWork(engine, writing=False))
    with SqlUnitOfWork(engine, writing=False) as uow:
        known = uow.catalog.service(service)
        rules = uow.catalog.rules()
    if known is None:
        _fail(f"unknown service {service!r}")
        return
    areas_here = {name: None if hit is None else hit.key for name, hit in index.locate(lat, long).items()}
    decision = decide(service, areas_here, rules)
    out = Console(soft_wrap=True)
    out.print("areas: " + (", ".join(f"{k}={v}" for k, v in areas_here.items() if v) or "none"))
    if decision.rule is not None:
        out.print(f"body: {decision.body} (rule: {decision.rule.describe()})")
    else:
        out.print(f"body: {known.body_code or 'none'} (no rule matches: the service's default owner)")


@requests_app.command("duplicates")
def requests_duplicates(
    request_id: Annotated[str, typer.Argument(help="service_request_id")],
    limit: Annotated[int, typer.Option(min=1, max=50)] = 5,
) -> None:
    """The stored requests REQUEST_ID likely duplicates, best first (same service, nearby, recent)."""
    from civicswitch.requests.staff import duplicates_of

    try:
        found = duplicates_of(
            SqlUnitOfWork(make_engine(Settings().database_url), writing=False), SystemClock(), request_id, limit=limit
        )
    except DomainError as exc:
        _fail(exc.description)
        return
    if not found:
        err.print(f"no likely duplicates of request {request_id}")
    print("service_request_id\tscore\tdistance_m\tage_days\tstatus\tdescription")  # tab-separated, for scripts
    for m in found:
        r = m.request
        text = " ".join(r.description.split())[:80]
        print(f"{r.id}\t{m.score:.3f}\t{m.distance_m:.0f}\t{m.age_days:.1f}\t{r.status}\t{text}")


@requests_app.command("merge")
def requests_merge(
    child: Annotated[str, typer.Argument(help="the duplicate: it is closed as duplicate")],
    into: Annotated[str, typer.Option("--into", help="the request to keep")],
) -> None:
    """Merge CHILD into another request: CHILD closes as duplicate; its followers and notes move over."""
    from civicswitch.requests.commands import MergeRequests
    from civicswitch.requests.staff import merge_requests

    try:
        result = merge_requests(
            SqlUnitOfWork(make_engine(Settings().database_url)),
            SystemClock(),
            MergeRequests(None, child, into, operator=True),
        )
    except DomainError as exc:
        _fail(exc.description)
        return
    err.print(
        f"request {result.child_id} merged into {result.parent_id}: "
        f"{result.followers_moved} follower(s) and {result.notes_carried} note(s) carried"
    )


@requests_app.command("change")
def requests_change(
    request_id: Annotated[str, typer.Argument(help="service_request_id")],
    service: Annotated[str | None, typer.Option(help="new service code")] = None,
    lat: Annotated[float | None, typer.Option(help="new WGS84 latitude")] = None,
    long: Annotated[float | None, typer.Option(help="new WGS84 longitude")] = None,
    note: Annotated[str, typer.Option(help="why (shown on a transfer)")] = "",
) -> None:
    """Change a request's service and/or location; the routing rules run again (a new owner is a transfer)."""
    from civicswitch.requests.commands import ChangeRequest
    from civicswitch.requests.staff import change_request
    from civicswitch.routing.geography import load_index
    from civicswitch.routing.intake import Geography

    settings = Settings()
    engine = make_engine(settings.database_url)
    geography = None
    if settings.coverage_layer:
        index = load_index(SqlUnitOfWork(engine, writing=False))
        if settings.coverage_layer in index.layers:
            geography = Geography(index, settings.coverage_layer)
        else:
            err.print(f"coverage layer {settings.coverage_layer!r} is not loaded: not routing by location")
    cmd = ChangeRequest(
        None,
        request_id,
        service_code=service,
        lat=None if lat is None else repr(lat),
        long=None if long is None else repr(long),
        note=note,
        operator=True,
    )
    try:
        result = change_request(SqlUnitOfWork(engine), SystemClock(), cmd, geography)
    except DomainError as exc:
        _fail(exc.description)
        return
    what = "transferred to" if result.transferred else "owner unchanged:"
    err.print(
        f"request {result.service_request_id} {what} {result.body or 'no owner'}"
        + (" (referred: outside the jurisdiction)" if result.referred else "")
    )


def _uow(writing: bool = True) -> SqlUnitOfWork:
    return SqlUnitOfWork(make_engine(Settings().database_url), writing=writing)


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
) -> None:
    """Add (or update) a connector. A new webhook connector gets a signing secret, shown once."""
    import json

    from civicswitch.hub.handlers import add_connector

    config: dict[str, Any] = {}
    for item in setting or []:
        key, sep, value = item.partition("=")
        if not sep:
            _fail(f"--set takes KEY=VALUE, got {item!r}")
            return
        try:
            config[key.strip()] = json.loads(value)
        except ValueError:
            config[key.strip()] = value
    secret = os.environ.get(secret_env) if secret_env else None
    if secret_env and not secret:
        _fail(f"environment variable {secret_env} is not set")
        return
    try:
        smap = json.loads(status_map.read_text(encoding="utf-8")) if status_map else None
        made = add_connector(
            _uow(), SystemClock(), code=code, kind=kind, body=body, config=config, status_map=smap, secret=secret
        )
    except (DomainError, ValueError) as exc:
        _fail(getattr(exc, "description", str(exc)))
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

    for doc in connector_documents(_uow(writing=False)):
        state = "enabled" if doc["enabled"] else "DISABLED"
        print(f"{doc['code']}\t{doc['kind']}\t{doc['body']}\t{state}\t{json.dumps(doc['config'], sort_keys=True)}")


@connectors_app.command("health")
def connectors_health(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Per connector: messages by state, oldest open, latency, last success and error; alerts first."""
    import json

    from civicswitch.hub.handlers import health

    found = health(_uow(writing=False), SystemClock())
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
        set_enabled(_uow(), code, True)
    except DomainError as exc:
        _fail(exc.description)
        return
    err.print(f"connector {code} enabled")


@connectors_app.command("disable")
def connectors_disable(code: str, reason: Annotated[str, typer.Option()] = "disabled by an operator") -> None:
    """Pause a connector: its messages wait (they are not lost) until it is enabled again."""
    from civicswitch.hub.handlers import set_enabled

    try:
        set_enabled(_uow(), code, False, reason)
    except DomainError as exc:
        _fail(exc.description)
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
        rows = deliveries(_uow(writing=False), state=state, connector=connector, manual=False, limit=limit)
    except DomainError as exc:
        _fail(exc.description)
        return
    print("id\tconnector\trequest\ttype\tstate\tattempts\tlast_error")
    for r in rows:
        print(f"{r.id}\t{r.connector_code}\t{r.request_id}\t{r.type}\t{r.state}\t{r.attempts}\t{r.last_error or ''}")


@deliveries_app.command("replay")
def deliveries_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="delivery ids (default: every dead one)")] = None,
    connector: Annotated[str | None, typer.Option(help="only this connector's")] = None,
) -> None:
    """Send dead deliveries again (same idempotency key, attempts reset)."""
    from civicswitch.hub.handlers import replay

    try:
        n = replay(_uow(), SystemClock(), ids=ids or None, connector=connector)
    except DomainError as exc:
        _fail(exc.description)
        return
    err.print(f"{n} dead deliveries queued again")


@manual_app.command("list")
def manual_list(
    body: Annotated[str | None, typer.Option()] = None,
    done: Annotated[bool, typer.Option("--done", help="show finished tasks")] = False,
) -> None:
    """The manual bridge queue: requests to re-key into a body's own system."""
    from civicswitch.hub.handlers import deliveries

    rows = deliveries(
        _uow(writing=False), state="delivered" if done else "pending", manual=True, body=body, limit=10000
    )
    print("task\tbody\trequest\tservice\taddress\tdescription")
    for r in rows:
        data = r.payload.get("data", {})
        text = " ".join(str(data.get("description") or "").split())[:80]
        print(f"{r.id}\t{r.body_code}\t{r.request_id}\t{data.get('service_code')}\t{data.get('address') or ''}\t{text}")


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
        rid = complete_manual(_uow(), SystemClock(), task, external_id=external_id, minutes=minutes, by=by)
    except DomainError as exc:
        _fail(exc.description)
        return
    err.print(f"task {task} done: request {rid}" + (f" is {external_id} there" if external_id else ""))


def _safe_url(url: str) -> str:
    """The URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


def main() -> None:
    app()
