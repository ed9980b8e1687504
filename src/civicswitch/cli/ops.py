"""Operations: migrate, serve, the demo, the delivery worker."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console

from civicswitch.cli.common import DEMO_DATABASE, app, err, prepare_sqlite, safe_url, setup_logging
from civicswitch.core import migrate as migrations
from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork


@app.command()
def migrate() -> None:
    """Upgrade the configured database (CIVICSWITCH_DATABASE_URL) to the latest schema."""
    settings = Settings()
    setup_logging(settings.log_level)
    prepare_sqlite(settings)
    migrations.upgrade(make_engine(settings.database_url))
    err.print(f"database at [bold]{safe_url(settings.database_url)}[/bold] is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8311,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Comma list of proxy addresses whose X-Forwarded-For/-Proto are honoured "
            "(default: CIVICSWITCH_FORWARDED_ALLOW_IPS; empty: none)"
        ),
    ] = None,
) -> None:
    """Run the HTTP server (Open311 under /open311/v2/)."""
    from civicswitch.web import server

    settings = Settings()
    setup_logging(settings.log_level)
    if not settings.public_url and not settings.host_list():
        logging.getLogger("civicswitch.web").warning(
            "CIVICSWITCH_PUBLIC_URL is not set: links in replies use this server's own address; "
            "set it (and CIVICSWITCH_ALLOWED_HOSTS) before residents' apps use this server"
        )
    server.run(settings, host=host, port=port, workers=workers, forwarded_allow_ips=forwarded_allow_ips)


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
    setup_logging(settings.log_level)
    prepare_sqlite(settings)
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    migrations.upgrade(engine)
    result = install(SqlUnitOfWork(engine), SystemClock())
    jurisdiction = result.jurisdiction
    os.environ.setdefault("CIVICSWITCH_JURISDICTION_NAME", jurisdiction["name"])
    os.environ.setdefault("CIVICSWITCH_JURISDICTION_ID", jurisdiction["id"])
    os.environ.setdefault("CIVICSWITCH_TIMEZONE", jurisdiction.get("timezone", "UTC"))
    os.environ.setdefault("CIVICSWITCH_COVERAGE_LAYER", COVERAGE_LAYER)
    out = Console(soft_wrap=True)
    out.print(f"[bold]{jurisdiction['name']}[/bold] demo city in {safe_url(settings.database_url)}")
    out.print(f"  {result.services} request types, {result.bodies} departments")
    if result.layers_loaded:
        out.print(f"  boundary layers loaded: {', '.join(result.layers_loaded)}")
    out.print(f"  requests: {result.requests.inserted} imported now, {result.requests.already_present} already there")
    if result.app_key:
        out.print(f"  demo app key (POST requests; shown once): [bold]{result.app_key}[/bold]")
    if result.backend_key:
        out.print(
            "  demo back-end key of DOT (POST servicerequestupdates on DOT's requests; shown once): "
            f"[bold]{result.backend_key}[/bold]"
        )
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
        from civicswitch.web import server

        server.run(Settings(), host=host, port=port)
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
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err.print(f"worker on {safe_url(settings.database_url)}" + (" (once)" if once else " (Ctrl-C to stop)"))
    done = _run_worker(engine, stop, batch, once, lease)
    if once:
        print(done)
