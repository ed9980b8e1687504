"""Install the demo city: catalog, historical requests and a demo app key. Safe to run again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from civicswitch.catalog.handlers import load_layer
from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import Clock
from civicswitch.hub.model import Connector
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.requests.importer import ImportResult, import_requests, rows_from_bytes
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
    return DemoInstall(bodies, services, result, app_key, backend_key, catalog["jurisdiction"], layers)


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
