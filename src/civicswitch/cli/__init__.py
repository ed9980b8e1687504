"""The ``civicswitch`` command: thin wrappers that build a command and call a use case, one module per domain."""

from __future__ import annotations

from civicswitch.cli import catalog, history, hub, mail, metrics, ops, people, requests, settings, users
from civicswitch.cli.common import app

app.add_typer(people.apikey, name="apikey")
app.add_typer(catalog.areas, name="areas")
app.add_typer(catalog.calendars, name="calendars")
app.add_typer(catalog.catalog, name="catalog")
app.add_typer(hub.connectors_app, name="connectors")
app.add_typer(hub.deliveries_app, name="deliveries")
app.add_typer(hub.manual_app, name="manual")
app.add_typer(mail.mail_app, name="mail")
app.add_typer(requests.requests_app, name="requests")
app.add_typer(catalog.routing, name="routing")
app.add_typer(users.users, name="users")
app.add_typer(users.audit_app, name="audit")
app.add_typer(settings.settings_app, name="settings")

__all__ = ["app", "history", "main", "metrics", "ops"]


def main() -> None:
    app()
