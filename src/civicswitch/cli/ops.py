"""Operations: migrate, serve, the demo, the delivery worker, backup."""

from __future__ import annotations

import errno
import logging
import socket
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console

from civicswitch.cli.common import (
    app,
    base_settings,
    err,
    fail,
    load_stored_settings,
    prepare_sqlite,
    safe_url,
    setup_logging,
)
from civicswitch.core import migrate as migrations
from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.core.errors import DomainError
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork


@app.command()
def migrate() -> None:
    """Create the configured database (CIVICSWITCH_DATABASE_URL) or upgrade it to the latest schema."""
    settings = base_settings()
    setup_logging(settings.log_level)
    prepare_sqlite(settings)
    migrations.upgrade(make_engine(settings.database_url))
    err.print(f"database at [bold]{safe_url(settings.database_url)}[/bold] is up to date", highlight=False)


def check_port(host: str, port: int, base: int | None = None) -> None:
    """Fail in one line when ``host:port`` cannot be listened on (most often: already in use). ``base``: the
    ``--port`` this one derives from (the demo's simulator takes ``--port`` + 1)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}: {exc.strerror}; give an address with --host")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as exc:
            chosen = port if base is None else base
            what = f"port {port} on {host}" + ("" if base is None else " (the department simulator's, --port + 1)")
            if exc.errno == errno.EADDRINUSE:
                fail(f"{what} is already in use: choose another with --port, e.g. --port {chosen + 10}")
            fail(f"cannot listen on {what}: {exc.strerror}")


def _serve(host: str, port: int, workers: int, settings: Settings, forwarded_allow_ips: str | None = None) -> None:
    """uvicorn with our bounds (header and body deadlines, header size, proxies) and logging in every worker."""
    from civicswitch.web import server

    server.run(settings, host=host, port=port, workers=workers, forwarded_allow_ips=forwarded_allow_ips)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8311,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Worker processes (on Linux each listens on its own SO_REUSEPORT socket: connections spread)"
        ),
    ] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Comma list of proxy addresses whose X-Forwarded-For/-Proto are honoured "
            "(default: CIVICSWITCH_FORWARDED_ALLOW_IPS; empty: none)"
        ),
    ] = None,
) -> None:
    """Run the HTTP server (Open311 under /open311/v2/) on the configured database, with its stored settings
    (read once at start: restart after `civicswitch settings set`). Every worker logs to stderr, one access line
    per request. The port is checked first, without SO_REUSEPORT, so that workers never join another program's
    (or another `serve`'s) socket on it."""
    settings = Settings()
    setup_logging(settings.log_level)
    check_port(host, port)
    if not settings.public_url and not settings.host_list():
        logging.getLogger("civicswitch.web").warning(
            "CIVICSWITCH_PUBLIC_URL is not set: links in replies use this server's own address; "
            "set it (and CIVICSWITCH_ALLOWED_HOSTS) before residents' apps use this server"
        )
    _serve(host, port, workers, settings, forwarded_allow_ips)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (the department simulator takes port + 1)")] = 8311,
    load_only: Annotated[bool, typer.Option("--load-only", help="Install the demo city, do not serve")] = False,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run a delivery worker in-process")] = False,
) -> None:
    """Create (or open) the database, load New York City's real 311 data the first time only, and serve it.

    Uses the same database as every other command (CIVICSWITCH_DATABASE_URL, default sqlite:///var/civicswitch.db).
    Later starts reload nothing: catalog, settings and connector changes made since are kept."""
    from civicswitch.demo.city import open_demo

    settings = base_settings()
    setup_logging(settings.log_level)
    if not load_only:
        check_port(host, port)
        check_port(host, port + 1, base=port)
    prepare_sqlite(settings)
    engine = make_engine(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_group_commit=settings.sqlite_group_commit,
    )
    migrations.upgrade(engine)
    path = settings.sqlite_path()
    folder = path.parent if path is not None else Path("var")
    simulator_url = f"http://{host}:{port + 1}/webhook"
    try:
        started = open_demo(
            SqlUnitOfWork(engine), SystemClock(), simulator_url=simulator_url, folder=folder / "civicswitch-demo-batch"
        )
    except DomainError as exc:
        fail(exc.description)
    settings = load_stored_settings(settings.database_url)  # this process's, for its worker thread too
    out = Console(soft_wrap=True, highlight=False)
    out.print(f"[bold]{settings.jurisdiction_name}[/bold] demo city in {safe_url(settings.database_url)}")
    out.print(f"  {started.services} request types, {started.bodies} bodies, {started.requests} requests")
    first = started.installed
    if first is not None:
        if first.layers_loaded:
            out.print(f"  boundary layers loaded: {', '.join(first.layers_loaded)}")
        out.print(f"  requests: {first.requests.inserted} imported now")
        if first.app_key:
            out.print(f"  demo app key (POST requests; shown once): [bold]{first.app_key}[/bold]")
        if first.backend_key:
            out.print(
                "  demo back-end key of DOT (POST servicerequestupdates on DOT's requests; shown once): "
                f"[bold]{first.backend_key}[/bold]"
            )
        if first.users:
            out.print("  staff accounts, one per role (sign in at /staff/login; one-time passwords, shown once):")
            for user in first.users:
                out.print(f"    {user.role:<10} {user.email:<36} {user.scope:<18} [bold]{user.password}[/bold]")
    else:
        out.print(
            f"  installed {started.installed_at}; not loaded again (your catalog, settings and connector changes "
            "are kept; `civicswitch apikey create` if you lost the demo keys)"
        )
    if started.note:
        out.print(f"  {started.note}")
    if started.connectors is not None:
        out.print(
            "  integrations: DSNY by webhook (department simulator on port "
            f"{port + 1}), DEP by CSV files in {started.connectors.batch_dirs[0].parent}, the others through the "
            "manual bridge"
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
    if started.webhook is not None and started.webhook.secret:
        _start_simulator(host, port + 1, started.webhook.secret, started.webhook.code, base)
    else:
        out.print("  department simulator: not started (DSNY's webhook connector no longer points at it)")
    try:
        _serve(host, port, 1, settings)
    finally:
        stop.set()


def _start_simulator(host: str, port: int, secret: str, connector: str, callback: str) -> None:
    """The demo's department simulator (DSNY's work-order system) in a thread: it takes the webhooks and answers
    with ACK, WIP and DONE updates a few seconds apart."""
    from civicswitch.simulator.app import SimulatorConfig, create_app

    config = SimulatorConfig(secret=secret, connector=connector, callback=callback, delay=5.0)
    server = uvicorn.Server(uvicorn.Config(create_app(config), host=host, port=port, log_level="warning"))
    threading.Thread(target=server.run, name="civicswitch-simulator", daemon=True).start()


def _run_worker(engine: Any, stop: threading.Event, batch: int = 50, once: bool = False, lease: float = 60.0) -> str:
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
        clock_skew=timedelta(seconds=Settings().clock_skew_seconds),
    )

    async def main() -> None:
        if once:
            while await worker.run_once():
                pass
            await worker.poll_due()
            return
        await worker.run(stop)

    asyncio.run(main())
    return worker.summary()


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
    setup_logging(settings.log_level)
    engine = make_engine(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_group_commit=settings.sqlite_group_commit,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err.print(f"worker on {safe_url(settings.database_url)}" + (" (once)" if once else " (Ctrl-C to stop)"))
    done = _run_worker(engine, stop, batch, once, lease)
    if once:
        print(done)


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (SQLite database file)", dir_okay=False)],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace FILE if it exists")] = False,
) -> None:
    """Copy the configured SQLite database to FILE while it is in use (SQLite's online backup: every committed
    request, WAL included). Restore: stop civicswitch, copy FILE over the database file (delete its -wal and -shm
    files), start again. PostgreSQL: use pg_dump."""
    from civicswitch.core.backup import BackupRefused, backup_sqlite

    settings = Settings()
    setup_logging(settings.log_level)
    engine = make_engine(settings.database_url)
    try:
        made = backup_sqlite(engine, file, overwrite=overwrite)
    except BackupRefused as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    copy = make_engine(f"sqlite:///{made.path}")
    revision = migrations.current(copy)
    copy.dispose()
    err.print(
        f"backed up {safe_url(settings.database_url)} to {made.path} ({made.bytes / 1e6:.1f} MB, schema {revision}, "
        "readable by you only)",
        highlight=False,
    )
