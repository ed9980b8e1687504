"""Install the demo city: catalog, historical requests and a demo app key. Safe to run again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from civicswitch.catalog.handlers import load_layer
from civicswitch.catalog.loader import load_catalog
from civicswitch.core.auth import create_client
from civicswitch.core.clients import Scope
from civicswitch.core.clock import Clock
from civicswitch.core.ports import UnitOfWork
from civicswitch.requests.importer import ImportResult, import_requests, rows_from_bytes

DEMO_APP = "Demo app (created by civicswitch demo)"
DEMO_BACKEND = "Demo back end (created by civicswitch demo)"


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
        _, backend_key = create_client(uow, clock, DEMO_BACKEND, frozenset({Scope.UPDATE}))
    layers = install_geography(uow)
    return DemoInstall(bodies, services, result, app_key, backend_key, catalog["jurisdiction"], layers)
