"""Writers in several processes at once, as ``serve --workers N`` (and ``worker``) run them: every request
filed through the POST use case is committed, and none fails with "database is locked".

On SQLite the children turn SQLite's busy handler off (``PRAGMA busy_timeout=0``), so a writer that met the
database lock instead of waiting its turn on the writer lock would fail at once: the test shows that writers
take turns on the writer lock, not by polling SQLite. On PostgreSQL the same load runs without any lock of ours.

Each child is this file run as a script: ``python test_concurrent_writers.py URL KEY THREADS EACH STRICT``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock, SystemClock
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.storage.sql import SqlUnitOfWork

pytestmark = pytest.mark.slow

PROCESSES, THREADS, EACH = 3, 4, 15


def file_requests(url: str, key: str, threads: int, each: int, strict: bool) -> dict[str, Any]:
    """The child: ``threads`` threads each file ``each`` requests, each through its own unit of work."""
    from civicswitch.core.db import make_engine

    engine = make_engine(url)
    if strict and engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout=0")

    ids: list[str] = []
    errors: list[str] = []
    guard = threading.Lock()

    def run(n: int) -> None:
        for i in range(each):
            cmd = SubmitRequest("graffiti", key, lat="40.7", long=f"-73.{n:02d}{i:03d}", description=f"t{n} n{i}")
            try:
                result = submit_request(SqlUnitOfWork(engine), SystemClock(), cmd)
            except Exception as exc:
                with guard:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with guard:
                ids.append(str(result.service_request_id))

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    engine.dispose()
    return {"ids": ids, "errors": errors}


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_writers_in_several_processes__every_request_committed_none_locked(
    database_url: str, engine: Engine, catalog_data: dict[str, Any]
) -> None:
    clock = FixedClock(SystemClock().now())
    load_catalog(SqlUnitOfWork(engine), catalog_data)
    _, key = create_client(SqlUnitOfWork(engine), clock, "Writers", frozenset({Scope.SUBMIT}))
    argv = [sys.executable, __file__, database_url, key, str(THREADS), str(EACH), "strict"]
    children = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    reports = []
    for child in children:
        out, _ = child.communicate(timeout=300)
        assert child.returncode == 0, out
        reports.append(json.loads(out.strip().splitlines()[-1]))

    errors = [e for r in reports for e in r["errors"]]
    assert errors == []
    ids = [i for r in reports for i in r["ids"]]
    assert len(ids) == len(set(ids)) == PROCESSES * THREADS * EACH
    with engine.connect() as conn:
        stored = {str(r[0]) for r in conn.execute(text("SELECT id FROM service_requests"))}
        submitted = conn.execute(text("SELECT count(*) FROM request_events WHERE kind = 'submitted'")).scalar_one()
    assert stored == set(ids)
    assert submitted == len(ids)


if __name__ == "__main__":
    url, key, threads, each, mode = sys.argv[1:6]
    print(json.dumps(file_requests(url, key, int(threads), int(each), mode == "strict")))
    sys.stdout.flush()
    raise SystemExit(0)
