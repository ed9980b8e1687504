"""The demo city: catalog, boundaries, historical requests, two demo keys, one staff account per role, its instance
settings and connectors.

``open_demo`` installs it once per database (an ``installed`` marker is stored with the instance settings) and on
every later start changes nothing an operator may have edited since; ``install`` is the loader itself (safe to
run again)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from civicswitch.agent.handlers import SaveArticle, save_article
from civicswitch.catalog.handlers import load_layer
from civicswitch.catalog.loader import load_catalog
from civicswitch.catalog.settings import set_settings
from civicswitch.core.clock import Clock
from civicswitch.core.errors import Conflict
from civicswitch.core.timefmt import format_datetime
from civicswitch.hub.model import Connector
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.importer import ImportResult, import_requests, rows_from_bytes
from civicswitch.responses.handlers import SaveTemplate, save_template
from civicswitch.storage.ports import UnitOfWork

DEMO_APP = "Demo app (created by civicswitch demo)"
DEMO_BACKEND = "Demo back end (created by civicswitch demo)"
DEMO_BACKEND_BODY = "DOT"  # the demo back-end key updates the Department of Transportation's requests


@dataclass(frozen=True, slots=True)
class DemoInstall:
    bodies: int
    services: int
    requests: ImportResult
    app_key: str | None
    backend_key: str | None
    jurisdiction: dict[str, Any]
    layers_loaded: tuple[str, ...] = ()
    users: tuple[DemoUser, ...] = ()


@dataclass(frozen=True, slots=True)
class DemoUser:
    """A staff account the demo made, with its one-time password (shown once; changed at the first sign-in)."""

    email: str
    role: str
    scope: str
    password: str


def catalog_document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (resources.files("civicswitch.demo") / "data" / "catalog.json").read_text("utf-8")
    )
    return data


# Boundary layers of the demo city (built by scripts/build_demo_areas.py): name → (key property, name property)
DEMO_LAYERS = {
    "boroughs": ("name", "name"),
    "community_districts": ("code", "name"),
    "counties": ("geoid", "name"),
}
COVERAGE_LAYER = "boroughs"


def _data(*parts: str) -> bytes:
    return (resources.files("civicswitch.demo") / "data").joinpath(*parts).read_bytes()


def install_geography(uow: UnitOfWork) -> tuple[str, ...]:
    """Load the demo's boundary layers (those not loaded yet) and its external bodies and routing rules."""
    with uow:
        present = {layer.name for layer in uow.catalog.layers()}
    loaded = []
    for name, (key, label) in DEMO_LAYERS.items():
        if name not in present:
            load_layer(uow, name, _data("areas", f"{name}.geojson"), key_property=key, name_property=label)
            loaded.append(name)
    load_catalog(uow, json.loads(_data("routing.json")))
    return tuple(loaded)


def install(uow: UnitOfWork, clock: Clock) -> DemoInstall:
    catalog = catalog_document()
    bodies, services = load_catalog(uow, catalog)
    raw = (resources.files("civicswitch.demo") / "data" / "requests.csv.gz").read_bytes()
    result = import_requests(uow, rows_from_bytes(raw), source="nyc311")
    app_key = backend_key = None
    with uow:
        names = {c.name for c in uow.clients.all()}
    if DEMO_APP not in names:
        _, app_key = create_client(uow, clock, DEMO_APP, frozenset({Scope.SUBMIT}))
    if DEMO_BACKEND not in names:
        _, backend_key = create_client(uow, clock, DEMO_BACKEND, frozenset({Scope.UPDATE}), body_code=DEMO_BACKEND_BODY)
    layers = install_geography(uow)
    users = install_people(uow, clock)
    install_knowledge(uow, clock)
    install_templates(uow, clock)
    return DemoInstall(bodies, services, result, app_key, backend_key, catalog["jurisdiction"], layers, users)


def install_knowledge(uow: UnitOfWork, clock: Clock) -> tuple[str, ...]:
    """The demo's knowledge articles (``data/knowledge.json``) for the agent console; an article whose slug exists
    already is left alone (an admin may have edited it). Returns the slugs added."""
    document = json.loads(_data("knowledge.json"))
    with uow:
        known = {s.code for s in uow.catalog.services()}
        present = {a["slug"] for a in document["articles"] if uow.knowledge.get(a["slug"]) is not None}
    added = []
    for spec in document["articles"]:
        if spec["slug"] in present:
            continue
        services = tuple(code for code in spec["services"] if code in known)
        save_article(uow, clock, SaveArticle(OPERATOR, spec["slug"], spec["title"], spec["body"], services))
        added.append(spec["slug"])
    return tuple(added)


def install_templates(uow: UnitOfWork, clock: Clock) -> tuple[str, ...]:
    """The demo's response templates (``data/templates.json``) for the request page's note form; a template whose
    name is stored already is left alone (an admin may have edited it), one for a service not in the catalog is
    skipped. Returns the names added."""
    document = json.loads(_data("templates.json"))
    with uow:
        known = {s.code for s in uow.catalog.services()}
        present = {t.name for t in uow.templates.all()}
    added = []
    for spec in document["templates"]:
        service = spec["service"] or ""
        if spec["name"] in present or (service and service not in known):
            continue
        save_template(uow, clock, SaveTemplate(OPERATOR, spec["name"], spec["body"], spec["visibility"], service))
        added.append(spec["name"])
    return tuple(added)


def install_people(uow: UnitOfWork, clock: Clock) -> tuple[DemoUser, ...]:
    """The demo's partner organisation and one staff account per role (``data/people.json``), so that a newcomer can
    sign in as each; accounts whose email exists already are left alone. Needs the boundary layers (the liaison's
    area) and the catalog's bodies."""
    people = json.loads(_data("people.json"))
    load_catalog(uow, {"bodies": people["bodies"], "services": []})
    with uow:
        present = {u.email for u in uow.users.all()}
    made = []
    for spec in people["users"]:
        if spec["email"] in present:
            continue
        cmd = AddUser(
            email=spec["email"],
            role=spec["role"],
            bodies=tuple(spec.get("bodies", ())),
            areas=tuple(spec.get("areas", ())),
            org=spec.get("org"),
            name=spec.get("name", ""),
        )
        added = add_user(uow, clock, cmd)
        assert added.password is not None  # a one-time password: none was given
        scope = ", ".join([*cmd.bodies, *cmd.areas, *([cmd.org] if cmd.org else [])]) or "all"
        made.append(DemoUser(added.user.email, str(added.user.role), scope, added.password))
    return tuple(made)


# How the demo's agencies are connected (issue 4): sanitation by webhook to the department simulator, environmental
# protection by batch files, every other agency through the manual bridge.
DEMO_STATUS_MAP = {
    "inbound": {"ACK": "acknowledged", "WIP": "in_progress", "DONE": "closed/fixed"},
    "outbound": {"new": "NEW", "acknowledged": "ACK", "in_progress": "WIP", "closed": "DONE"},
}


@dataclass(frozen=True, slots=True)
class DemoConnectors:
    webhook: Connector
    batch: Connector
    batch_dirs: tuple[Path, Path]  # (drop folder for the department, folder it answers in)


def install_connectors(uow: UnitOfWork, clock: Clock, *, simulator_url: str, folder: Path) -> DemoConnectors:
    """Connect DSNY by webhook to ``simulator_url`` and DEP by CSV files under ``folder`` (created). Run again, it
    only updates the webhook URL (the signing secret stays)."""
    from civicswitch.hub.handlers import add_connector

    out_dir, in_dir = folder / "dep" / "to-dep", folder / "dep" / "from-dep"
    for d in (out_dir, in_dir):
        d.mkdir(parents=True, exist_ok=True)
        for part in (folder, folder / "dep", d):
            part.chmod(0o750)  # residents' reports: owner and group only
    webhook = add_connector(
        uow,
        clock,
        code="dsny-webhook",
        kind="webhook",
        body="DSNY",
        config={"url": simulator_url, "timeout_s": 5, "allow_private": True},  # the simulator runs on this machine
        status_map=DEMO_STATUS_MAP,
    ).connector
    batch = add_connector(
        uow,
        clock,
        code="dep-files",
        kind="batch",
        body="DEP",
        config={
            "outbox_dir": str(out_dir.resolve()),
            "inbox_dir": str(in_dir.resolve()),
            "flush_every_s": 60,
            "poll_every_s": 30,
            "timezone": "America/New_York",
        },
        status_map={"inbound": {"Completed": "closed/fixed", "In Progress": "in_progress", "Assigned": "acknowledged"}},
    ).connector
    return DemoConnectors(webhook, batch, (out_dir, in_dir))


# -- once per database ----------------------------------------------------------------------------------------
#: Stored with the instance settings (not a setting): {"state": "installing"|"installed", "at": ..., "simulator_url":
#: the webhook URL the demo gave DSNY's connector}.
MARKER = "demo_installed"
WEBHOOK = "dsny-webhook"


def demo_settings(jurisdiction: dict[str, Any]) -> dict[str, Any]:
    """The instance settings the demo city stores on its first start."""
    return {
        "jurisdiction_name": jurisdiction["name"],
        "jurisdiction_id": jurisdiction["id"],
        "timezone": jurisdiction.get("timezone", "UTC"),
        "coverage_layer": COVERAGE_LAYER,
    }


@dataclass(frozen=True, slots=True)
class DemoStart:
    first: bool  # loaded now (else found installed: nothing reloaded)
    installed_at: str
    bodies: int
    services: int
    requests: int
    webhook: Connector | None  # DSNY's connector when it still points at the demo's simulator
    installed: DemoInstall | None = None
    connectors: DemoConnectors | None = None
    note: str = ""


def _marker(uow: UnitOfWork) -> dict[str, Any] | None:
    with uow:
        value = uow.settings.all().get(MARKER)
    return dict(value) if isinstance(value, dict) else None


def _mark(uow: UnitOfWork, clock: Clock, value: dict[str, Any]) -> None:
    with uow:
        uow.settings.set(MARKER, value, clock.now())
        uow.commit()


def open_demo(uow: UnitOfWork, clock: Clock, *, simulator_url: str, folder: Path) -> DemoStart:
    """Install the demo city in this database the first time (catalog, requests, keys, boundaries, instance
    settings, connectors), then never again: a later start keeps every catalog, setting and connector edit and
    only points DSNY's webhook at the simulator's new address when it still points at the old one. A database
    holding another catalog is refused (the demo would mix New York City into it)."""
    marker = _marker(uow)
    with uow:
        services = uow.catalog.services(include_inactive=True)
        clients = {c.name for c in uow.clients.all()}
        webhook = uow.hub.connector(WEBHOOK)
    if marker is None and services and DEMO_APP in clients:
        # Installed by an earlier version (which kept no marker): adopt it as it is.
        _store_missing_settings(uow, clock)
        marker = {"state": "installed", "at": format_datetime(clock.now()), "simulator_url": _url(webhook)}
        _mark(uow, clock, marker)
    if marker is None and services:
        raise Conflict(
            f"this database already holds a catalog ({len(services)} services) that the demo did not load; "
            "the demo would mix New York City into it. Give the demo its own database, e.g. "
            "CIVICSWITCH_DATABASE_URL=sqlite:///var/demo.db civicswitch demo"
        )
    if marker is None or marker.get("state") != "installed":
        started = format_datetime(clock.now())
        _mark(uow, clock, {"state": "installing", "at": started})
        loaded = install(uow, clock)
        wired = install_connectors(uow, clock, simulator_url=simulator_url, folder=folder)
        _store_missing_settings(uow, clock)
        _mark(uow, clock, {"state": "installed", "at": started, "simulator_url": simulator_url})
        return DemoStart(
            True, started, loaded.bodies, loaded.services, loaded.requests.inserted + loaded.requests.already_present,
            wired.webhook, loaded, wired,
        )  # fmt: skip
    note = ""
    if webhook is not None and _url(webhook) == marker.get("simulator_url") and _url(webhook) != simulator_url:
        webhook = _repoint(uow, clock, webhook, simulator_url)
        _mark(uow, clock, {**marker, "simulator_url": simulator_url})
        note = f"DSNY's webhook now points at the simulator on {simulator_url}"
    with uow:
        bodies, total = len(uow.catalog.bodies()), uow.requests.count()
    ours = webhook is not None and webhook.enabled and _url(webhook) == simulator_url
    return DemoStart(
        False, str(marker.get("at", "")), bodies, len(services), total, webhook if ours else None, note=note
    )


def _url(connector: Connector | None) -> str | None:
    return None if connector is None else connector.config.get("url")


def _repoint(uow: UnitOfWork, clock: Clock, webhook: Connector, url: str) -> Connector:
    from civicswitch.hub.handlers import add_connector

    return add_connector(
        uow,
        clock,
        code=webhook.code,
        kind=str(webhook.kind),
        body=webhook.body_code,
        config={**webhook.config, "url": url},
        status_map=webhook.status_map.document(),
        retry_schedule=list(webhook.retry_schedule),
        enabled=webhook.enabled,
    ).connector


def _store_missing_settings(uow: UnitOfWork, clock: Clock) -> None:
    """The demo's instance settings, except those already stored (an operator's choice stays)."""
    with uow:
        stored = uow.settings.all()
    missing = {k: v for k, v in demo_settings(catalog_document()["jurisdiction"]).items() if k not in stored}
    if missing:
        set_settings(uow, clock, missing)
