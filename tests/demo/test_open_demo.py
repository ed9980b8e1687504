"""The demo city is installed once per database: it stores its instance settings, and a restart reloads nothing,
keeping every catalog, setting and connector change an operator made since."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from civicswitch.catalog.loader import load_catalog
from civicswitch.catalog.settings import set_settings, stored_settings
from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import Conflict
from civicswitch.demo.city import COVERAGE_LAYER, MARKER, WEBHOOK, catalog_document, open_demo
from civicswitch.hub.handlers import set_enabled
from civicswitch.storage.sql import SqlUnitOfWork

SIM = "http://127.0.0.1:8312/webhook"


def test_open_demo__restart__reloads_nothing_and_keeps_the_operators_edits(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    first = open_demo(SqlUnitOfWork(engine), clock, simulator_url=SIM, folder=tmp_path)
    assert first.first and first.installed is not None and first.installed.app_key
    assert stored_settings(SqlUnitOfWork(engine)) == {
        "jurisdiction_name": "New York City",
        "jurisdiction_id": catalog_document()["jurisdiction"]["id"],
        "timezone": "America/New_York",
        "coverage_layer": COVERAGE_LAYER,
        MARKER: {"state": "installed", "at": first.installed_at, "simulator_url": SIM},
    }
    # the operator edits a service, a setting and a connector
    with SqlUnitOfWork(engine) as uow:
        bike = uow.catalog.service("abandoned-bike")
        assert bike is not None
    with SqlUnitOfWork(engine) as uow:
        uow.catalog.add_service(replace(bike, name="Bicycle (edited)"))
        uow.commit()
    set_settings(SqlUnitOfWork(engine), clock, {"jurisdiction_name": "NYC (edited)"})
    set_enabled(SqlUnitOfWork(engine), WEBHOOK, False)

    again = open_demo(SqlUnitOfWork(engine), clock, simulator_url=SIM, folder=tmp_path)

    assert not again.first and again.installed is None and again.installed_at == first.installed_at
    assert again.webhook is None  # disabled by the operator: the simulator is not started for it
    assert again.requests == first.requests
    with SqlUnitOfWork(engine) as uow:
        kept = uow.catalog.service("abandoned-bike")
        assert kept is not None and kept.name == "Bicycle (edited)"
        assert uow.settings.all()["jurisdiction_name"] == "NYC (edited)"
        hook = uow.hub.connector(WEBHOOK)
        assert hook is not None and not hook.enabled
        assert len([c for c in uow.clients.all() if c.name.startswith("Demo")]) == 2


def test_open_demo__restart_on_another_port__webhook_follows_the_simulator_unless_repointed(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    open_demo(SqlUnitOfWork(engine), clock, simulator_url=SIM, folder=tmp_path)
    moved = open_demo(SqlUnitOfWork(engine), clock, simulator_url="http://127.0.0.1:9002/webhook", folder=tmp_path)
    assert moved.webhook is not None and moved.webhook.config["url"] == "http://127.0.0.1:9002/webhook"
    assert moved.webhook.secret  # kept: the simulator signs with it
    with SqlUnitOfWork(engine) as uow:
        hook = uow.hub.connector(WEBHOOK)
    assert hook is not None
    from civicswitch.hub.handlers import add_connector

    add_connector(  # the operator points DSNY at its real system
        SqlUnitOfWork(engine), clock, code=WEBHOOK, kind="webhook", body="DSNY",
        config={**hook.config, "url": "https://dsny.example.gov/hook"}, status_map=hook.status_map.document(),
    )  # fmt: skip
    kept = open_demo(SqlUnitOfWork(engine), clock, simulator_url="http://127.0.0.1:9004/webhook", folder=tmp_path)
    assert kept.webhook is None
    with SqlUnitOfWork(engine) as uow:
        hook = uow.hub.connector(WEBHOOK)
        assert hook is not None and hook.config["url"] == "https://dsny.example.gov/hook"


def test_open_demo__database_with_another_catalog__refused_and_nothing_loaded(
    engine: Engine, clock: FixedClock, tmp_path: Path, catalog_data: dict[str, object]
) -> None:
    load_catalog(SqlUnitOfWork(engine), catalog_data)
    with pytest.raises(Conflict, match=r"already holds a catalog .* that the demo did not load"):
        open_demo(SqlUnitOfWork(engine), clock, simulator_url=SIM, folder=tmp_path)
    with SqlUnitOfWork(engine) as uow:
        assert uow.requests.count() == 0 and uow.settings.all() == {}
