"""The demo city routes by location: in the city to the owning agency, in Nassau or Westchester a referral."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.demo.city import COVERAGE_LAYER, install
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app


@pytest.fixture
def demo(engine: Engine, clock: FixedClock) -> Iterator[tuple[TestClient, str]]:
    result = install(SqlUnitOfWork(engine), clock)
    assert result.app_key is not None
    settings = Settings(database_url="sqlite:///unused.db", coverage_layer=COVERAGE_LAYER)
    with TestClient(create_app(settings, engine=engine, clock=clock), raise_server_exceptions=False) as client:
        yield client, result.app_key


# One install for the three places (a demo install is the slowest step: 15,000 requests), each checked in turn.
PLACES = [
    (40.7062, -73.6187, "Nassau County Department of Public Works", "closed", "This location is in Nassau County"),
    (40.9312, -73.8988, "Westchester County Department of Public Works", "closed", "in Westchester County"),
    (40.7359, -73.9911, "Department of Sanitation", "open", "Target response time"),
]


def test_demo__dead_animal_report__routed_or_referred_by_location(demo: tuple[TestClient, str]) -> None:
    client, key = demo
    for lat, long, agency, status, notice in PLACES:
        data: dict[str, Any] = {"api_key": key, "service_code": "dead-animal", "lat": lat, "long": long}
        reply = client.post("/open311/v2/requests.json", data=data)
        assert reply.status_code == 200, reply.text
        assert notice in reply.json()[0]["service_notice"], (lat, long)
        rid = reply.json()[0]["service_request_id"]
        shown = client.get(f"/open311/v2/requests/{rid}.json?extensions=true").json()[0]
        assert (shown["agency_responsible"], shown["status"]) == (agency, status), (lat, long)


def test_demo__install_twice__layers_and_rules_once(engine: Engine, clock: FixedClock) -> None:
    first = install(SqlUnitOfWork(engine), clock)
    second = install(SqlUnitOfWork(engine), clock)
    assert first.layers_loaded == ("boroughs", "community_districts", "counties") and second.layers_loaded == ()
    with SqlUnitOfWork(engine, writing=False) as uow:
        assert len(uow.catalog.rules()) == 2
        assert len([a for a in uow.catalog.areas() if a.layer == "boroughs"]) == 5


def test_demo_connectors__installed_twice__secret_kept_and_url_updated(engine: Engine, tmp_path: Path) -> None:
    from civicswitch.catalog.loader import load_catalog
    from civicswitch.core.clock import SystemClock
    from civicswitch.demo.city import catalog_document, install_connectors

    load_catalog(SqlUnitOfWork(engine), catalog_document())
    first = install_connectors(
        SqlUnitOfWork(engine), SystemClock(), simulator_url="http://127.0.0.1:1/webhook", folder=tmp_path
    )
    again = install_connectors(
        SqlUnitOfWork(engine), SystemClock(), simulator_url="http://127.0.0.1:2/webhook", folder=tmp_path
    )
    assert first.webhook.secret and again.webhook.secret == first.webhook.secret
    assert again.webhook.config["url"] == "http://127.0.0.1:2/webhook" and again.batch.body_code == "DEP"
    assert all(d.is_dir() for d in again.batch_dirs)
