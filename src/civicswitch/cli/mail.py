"""Email in: the SMTP listener the city's mail relay hands residents' mail to, and importing messages by hand."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from civicswitch.cli.common import err, fail, open_uow, setup_logging
from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.settings import Settings

if TYPE_CHECKING:
    from civicswitch.hub.mailin.handlers import MailSettings

mail_app = typer.Typer(help="Email in: residents' mail to the city's 311 address.", no_args_is_help=True)


def mail_settings(settings: Settings) -> MailSettings:
    """The use cases' settings from the instance's: the daily limit, the photo limits, routing by place."""
    from civicswitch.hub.mailin.handlers import MailSettings
    from civicswitch.requests.handlers import Limits
    from civicswitch.routing.geography import load_index
    from civicswitch.routing.intake import geography_for
    from civicswitch.storage.sql import SqlUnitOfWork

    limits = Limits(settings.max_media_bytes, settings.media_types, timedelta(seconds=settings.clock_skew_seconds))
    geography = None
    if settings.coverage_layer:
        engine = make_engine(settings.database_url)
        try:
            geography = geography_for(load_index(SqlUnitOfWork(engine, writing=False)), settings.coverage_layer)
        finally:
            engine.dispose()
    return MailSettings(settings.mail_requests_per_day, limits, geography)


@mail_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (the relay's side of the network)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 2525,
    max_size: Annotated[
        int | None, typer.Option("--max-size", help="Largest message in bytes (default: the mail_max_bytes setting)")
    ] = None,
) -> None:
    """Listen for SMTP from the city's mail relay: each message is kept, then filed, threaded onto its request,
    put in the agent console's triage queue, or ignored (docs/residents.md, "Email in"). Messages a previous run
    left unhandled are handled first."""
    from civicswitch.cli.ops import check_port
    from civicswitch.hub.mailin.handlers import handle_pending
    from civicswitch.hub.mailin.smtp import MailHandler, MailListener

    settings = Settings()
    setup_logging(settings.log_level)
    check_port(host, port)
    chosen = mail_settings(settings)
    clock = SystemClock()
    pending = handle_pending(open_uow(), clock, chosen)
    if pending:
        err.print(f"{pending} message(s) left from the last run handled")
    handler = MailHandler(open_uow, clock, chosen, settings.mail_address)
    listener = MailListener(handler, host, port, max_size or settings.mail_max_bytes)
    listener.start()
    who = settings.mail_address or "any recipient"
    err.print(f"email in: listening on {host}:{port} for {who} (Ctrl-C to stop)", highlight=False)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        listener.stop()


@mail_app.command("import")
def import_mail(
    files: Annotated[list[Path], typer.Argument(help="Messages as .eml files (as a mail program saves them)")],
) -> None:
    """Take messages from files, as if the relay had handed them over (the same Message-ID twice is taken once)."""
    from civicswitch.hub.mailin.handlers import receive_mail

    settings = Settings()
    setup_logging(settings.log_level)
    chosen = mail_settings(settings)
    clock = SystemClock()
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            fail(f"{path}: {exc.strerror or exc}")
        if len(raw) > settings.mail_max_bytes:
            fail(f"{path}: {len(raw)} bytes; the largest message taken is {settings.mail_max_bytes} (mail_max_bytes)")
        received = receive_mail(open_uow(), clock, raw, chosen)
        record = received.record
        what = f"{record.state}" + (f" request {record.request_id}" if record.request_id else "")
        again = " (received before: not handled again)" if received.duplicate else ""
        print(f"{path}\tmail {record.id}\t{what}\t{record.reason}{again}")
