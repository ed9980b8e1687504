"""Install the demo city: catalog, historical requests and a demo app key. Safe to run again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

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


def catalog_document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (resources.files("civicswitch.demo") / "data" / "catalog.json").read_text("utf-8")
    )
    return data


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
    return DemoInstall(bodies, services, result, app_key, backend_key, catalog["jurisdiction"])
