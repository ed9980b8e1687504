"""Fixtures of the Open311 conformance suite: the format under test, the API helper and the official schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from open311_support import FORMATS, NOW, Open311, Validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.settings import Settings
from civicswitch.web.app import create_app

ROOT_CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"
SCHEMA_FILES = ("services.json", "service.json", "service-definition.json", "requests.json", "request.json")


def shared_data(config: pytest.Config, *parts: str) -> Path:
    """``shared_data()`` of tests/conftest.py (conftest modules are not importable by name, so ask pytest)."""
    root = config.pluginmanager.get_plugin(str(ROOT_CONFTEST))
    assert root is not None, f"{ROOT_CONFTEST} is not loaded"
    path: Path = root.shared_data(*parts)
    return path


@pytest.fixture(params=FORMATS)
def fmt(request: pytest.FixtureRequest) -> str:
    """Every endpoint is tested in both formats (GEN-01)."""
    return str(request.param)


@pytest.fixture
def api(client: TestClient, keys: dict[str, str], engine: Engine, clock: FixedClock) -> Open311:
    assert clock.now() == NOW, "open311_support.NOW must match the clock fixture"
    return Open311(client=client, keys=keys, engine=engine, clock=clock)


@pytest.fixture(scope="session")
def schema_registry(request: pytest.FixtureRequest) -> Registry[Any]:
    """The official GeoReport v2 JSON schemas (S11), which ``$ref`` each other by file name."""
    folder = shared_data(request.config, "open311-schemas")
    resources = []
    for name in SCHEMA_FILES:
        path = folder / name
        if not path.exists():
            pytest.skip(f"../shared/data/open311-schemas/{name} not present: schema validation skipped")
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((name, Resource.from_contents(contents, default_specification=DRAFT202012)))
    registry: Registry[Any] = Registry().with_resources(resources)
    return registry


@pytest.fixture
def validate(schema_registry: Registry[Any]) -> Validate:
    """``validate(payload, "requests.json")``: all schema errors at once, with their paths."""

    def check(payload: Any, schema: str) -> None:
        validator = Draft202012Validator(
            {"$ref": schema}, registry=schema_registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(payload)]
        assert not errors, f"{schema}: {errors}"

    return check


@pytest.fixture
def strict_client(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> Iterator[TestClient]:
    """A server that refuses every jurisdiction_id but its own (``jurisdiction_strict``), on the same database."""
    settings = Settings(
        database_url="sqlite:///unused.db", jurisdiction_id="city.example.gov", jurisdiction_strict=True
    )
    with TestClient(create_app(settings, engine=engine, clock=clock), raise_server_exceptions=False) as c:
        yield c
