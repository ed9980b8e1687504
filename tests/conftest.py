"""Shared fixtures. Storage and API tests run on SQLite always and on PostgreSQL when
``CIVICSWITCH_TEST_POSTGRES_URL`` names a server (``.ci/run`` sets it)."""

from __future__ import annotations

import copy
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.db import make_engine, metadata, normalize_url
from civicswitch.core.migrate import upgrade
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.settings import Settings, use_stored_settings
from civicswitch.storage.memory import MemoryUnitOfWork
from civicswitch.storage.ports import UnitOfWork
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app

# Rate limits are on by default; tests of other features (and the servers they start) run without them.
# tests/web/test_ratelimit.py turns them on explicitly.
os.environ.setdefault("CIVICSWITCH_RATE_LIMIT_ENABLED", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
POSTGRES_URL = os.environ.get("CIVICSWITCH_TEST_POSTGRES_URL", "")
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def shared_data(*parts: str) -> Path:
    """A file of ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared/data not present ({path}): real-data test skipped")
    return path


@pytest.fixture(autouse=True)
def _process_stored_settings() -> Iterator[None]:
    """No test sees the stored settings a command of another test loaded into this process."""
    use_stored_settings({})
    yield
    use_stored_settings({})


# -- databases ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database(worker_id: str) -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("CIVICSWITCH_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    name = f"civicswitch_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_database_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """An empty migrated database of ``kind`` ("sqlite" or "postgres") for one test."""
    if kind == "sqlite":
        path = tmp_path / "civicswitch.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    engine = make_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    yield fresh_database_url(request.param, request, tmp_path, sqlite_template)


# Every implementation of the storage ports: the in-memory fake and the SQL stores on each database.
STORES = ["memory", *BACKENDS]


@pytest.fixture(params=STORES)
def store_uow_factory(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Callable[[], UnitOfWork]]:
    """A factory of units of work over one fresh, empty store (port contract tests).

    Memory: one shared ``MemoryUnitOfWork`` (each ``with`` works on a snapshot). SQL: a new
    ``SqlUnitOfWork`` per call on a fresh migrated database.
    """
    if request.param == "memory":
        shared = MemoryUnitOfWork()
        yield lambda: shared
        return
    engine = make_engine(fresh_database_url(request.param, request, tmp_path, sqlite_template))
    yield lambda: SqlUnitOfWork(engine)
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


# -- a small catalog with every datatype and service type ------------------------------------------------
TEST_CATALOG: dict[str, Any] = {
    "jurisdiction": {"id": "test.example.gov", "name": "Testville", "timezone": "UTC"},
    "bodies": [
        {"code": "DOT", "name": "Department of Transportation", "kind": "department"},
        {"code": "DSNY", "name": "Department of Sanitation", "kind": "department"},
    ],
    "services": [
        {
            "code": "pothole",
            "name": "Pothole",
            "description": "A hole in the road.",
            "group": "Streets",
            "keywords": ["pothole", "road"],
            "type": "realtime",
            "body": "DOT",
            "sla_hours": 72,
            "attributes": [
                {
                    "code": "size",
                    "description": "How big is it?",
                    "datatype": "singlevaluelist",
                    "required": True,
                    "variable": True,
                    "order": 1,
                    "datatype_description": "Choose one",
                    "values": [{"key": "small", "name": "Smaller than a plate"}, {"key": "large", "name": "Larger"}],
                },
                {
                    "code": "lanes",
                    "description": "Which lanes?",
                    "datatype": "multivaluelist",
                    "required": False,
                    "variable": True,
                    "order": 2,
                    "values": [{"key": "left", "name": "Left"}, {"key": "right", "name": "Right"}],
                },
                {"code": "depth", "description": "Depth in cm", "datatype": "number", "required": False, "order": 3},
                {"code": "seen", "description": "When did you see it?", "datatype": "datetime", "order": 4},
                {"code": "landmark", "description": "Nearest landmark", "datatype": "string", "order": 5},
                {"code": "notes", "description": "Anything else", "datatype": "text", "order": 6},
                {
                    "code": "info",
                    "description": "Potholes are fixed within 3 days.",
                    "datatype": "string",
                    "variable": False,
                    "order": 7,
                },
            ],
        },
        {
            "code": "graffiti",
            "name": "Graffiti",
            "description": "Paint on a wall.",
            "group": "Sanitation",
            "keywords": [],
            "type": "realtime",
            "body": "DSNY",
            "sla_hours": None,
            "attributes": [],
        },
        {
            "code": "bulk-pickup",
            "name": "Bulk item pick-up",
            "description": "Book a pick-up.",
            "group": "Sanitation",
            "keywords": ["couch"],
            "type": "batch",
            "body": "DSNY",
            "sla_hours": 240,
            "attributes": [],
        },
        {
            "code": "tip",
            "name": "Anonymous tip",
            "description": "Tell us something.",
            "group": "",
            "keywords": [],
            "type": "blackbox",
            "body": None,
            "sla_hours": None,
            "attributes": [],
        },
    ],
}


@pytest.fixture
def catalog_data() -> dict[str, Any]:
    """TEST_CATALOG, for test modules (conftest modules are not importable by name)."""
    return copy.deepcopy(TEST_CATALOG)


@pytest.fixture
def uow_factory(engine: Engine) -> Any:
    return lambda: SqlUnitOfWork(engine)


@pytest.fixture
def loaded(engine: Engine, clock: FixedClock) -> dict[str, str]:
    """The test catalog plus a submit key, update keys of DOT's and DSNY's back ends, and an admin key."""
    load_catalog(SqlUnitOfWork(engine), TEST_CATALOG)
    _, submit = create_client(SqlUnitOfWork(engine), clock, "Test app", frozenset({Scope.SUBMIT}))
    _, update = create_client(SqlUnitOfWork(engine), clock, "DOT back end", frozenset({Scope.UPDATE}), body_code="DOT")
    _, dsny = create_client(SqlUnitOfWork(engine), clock, "DSNY back end", frozenset({Scope.UPDATE}), body_code="DSNY")
    _, admin = create_client(SqlUnitOfWork(engine), clock, "Test admin", frozenset({Scope.ADMIN}))
    return {"submit": submit, "update": update, "update_dsny": dsny, "admin": admin}


@pytest.fixture
def memory_uow(clock: FixedClock) -> MemoryUnitOfWork:
    return MemoryUnitOfWork()


@pytest.fixture
def app(engine: Engine, clock: FixedClock, loaded: dict[str, str]) -> FastAPI:
    settings = Settings(database_url="sqlite:///unused.db", max_body_bytes=2 * 1024 * 1024, max_media_bytes=256 * 1024)
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def keys(loaded: dict[str, str]) -> dict[str, str]:
    return loaded


@pytest.fixture
def shared_data_dir() -> Path:
    """../shared/data, or skip the test with the reason."""
    return shared_data()
