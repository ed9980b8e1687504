"""Rendered request lists kept per process (web/open311/cache.py ``ListPages``, used by web/open311/hot.py), on
SQLite and PostgreSQL.

A URL asked again costs the list's validator, not a rendering, while the list is unchanged; and a kept page is
never served once anything it shows has changed, whoever wrote it: this process, another engine (another pool of
connections, as another worker has) or another OS process. The cache rules are in
docs/open311.md#caching-and-conditional-gets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from open311_support import GRAFFITI, POTHOLE, Open311, url
from sqlalchemy import Engine

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.db import make_engine
from civicswitch.requests.sql import SqlRequestStore
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from civicswitch.web.open311.cache import ListPages

OPEN = {"status": "open"}


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each rendering of a JSON list ("render") and each validator read ("validator"), in order."""
    calls: list[str] = []
    render: Callable[..., Any] = SqlRequestStore.open311_json_with_validator
    validator: Callable[..., Any] = SqlRequestStore.list_validator

    def rendering(self: SqlRequestStore, *args: Any) -> Any:
        calls.append("render")
        return render(self, *args)

    def validating(self: SqlRequestStore, *args: Any) -> Any:
        calls.append("validator")
        return validator(self, *args)

    monkeypatch.setattr(SqlRequestStore, "open311_json_with_validator", rendering)
    monkeypatch.setattr(SqlRequestStore, "list_validator", validating)
    return calls


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def elsewhere(api: Open311, engine: Engine, clock: FixedClock) -> Iterator[Open311]:
    """Another server on the same database: its own engine (its own connections) and its own kept pages."""
    other = make_engine(url_of(engine))
    settings = Settings(database_url="sqlite:///unused.db")
    with TestClient(create_app(settings, engine=other, clock=clock), raise_server_exceptions=False) as c:
        yield Open311(client=c, keys=api.keys, engine=other, clock=clock)
    other.dispose()


def get_list(api: Open311, query: dict[str, str] | None = None) -> Any:
    reply = api.client.get(url("requests", "json"), params=query or {})
    assert reply.status_code == 200, reply.text
    return reply


def test_list_cache__same_url_again__validator_only_same_bytes_and_headers(api: Open311, renders: list[str]) -> None:
    for fields in (POTHOLE, GRAFFITI, POTHOLE):
        api.create(fields)
    first = get_list(api, OPEN)
    assert renders == ["render"]
    again = get_list(api, OPEN)
    assert renders == ["render", "validator"]  # nothing rendered: the kept page
    assert again.content == first.content
    assert list(again.headers.multi_items()) == list(first.headers.multi_items())
    other = get_list(api, {"status": "open", "page_size": "2"})  # another URL: its own page
    assert renders[-1] == "render" and len(other.json()) == 2


def test_list_cache__if_none_match_other_tag__kept_page_with_its_etag(api: Open311, renders: list[str]) -> None:
    api.create(POTHOLE)
    first = get_list(api)
    again = api.client.get(url("requests", "json"), headers={"if-none-match": '"other"'})
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert renders == ["render", "validator"]


WRITES: dict[str, Callable[[Open311, str], None]] = {
    # the request on the page closes: it leaves the open list (and its status would change)
    "closed": lambda api, rid: _ok(api.post_update(rid, "u-close", "CLOSED", description="Filled")),
    # a note only: the request's revision moves, nothing the plain list shows changes
    "note": lambda api, rid: _ok(api.post_update(rid, "u-note", "UNCHANGED", description="Crew booked")),
    # a new request enters the list
    "new request": lambda api, rid: _created(api.create(GRAFFITI, description="A new one")),
}


def _ok(reply: Any) -> None:
    assert reply.status_code == 200, reply.text


def _created(rid: str) -> None:
    assert rid


@pytest.mark.parametrize("write", list(WRITES))
def test_list_cache__write_through_another_engine__next_read_is_the_new_list(
    api: Open311, elsewhere: Open311, renders: list[str], write: str
) -> None:
    """A write committed by another server (its own connections and its own kept pages): the very next read here
    answers what rendering now gives, with the new ETag; never the kept page."""
    rid = api.create(POTHOLE)
    api.create(GRAFFITI)
    before = get_list(api, OPEN)
    assert get_list(api, OPEN).content == before.content and renders[-1] == "validator"  # kept
    WRITES[write](elsewhere, rid)
    after = get_list(api, OPEN)
    fresh = get_list(elsewhere, OPEN)  # rendered there (a URL that server had not kept)
    assert after.content == fresh.content and after.headers["etag"] == fresh.headers["etag"]
    assert after.headers["etag"] != before.headers["etag"]
    if write == "closed":
        assert rid not in [r["service_request_id"] for r in after.json()]
    elif write == "new request":
        assert len(after.json()) == len(before.json()) + 1
    assert get_list(api, OPEN).content == after.content and renders[-1] == "validator"  # the new page is kept


def test_list_cache__service_renamed_elsewhere__next_read_shows_the_new_name(
    api: Open311, renders: list[str], catalog_data: dict[str, Any]
) -> None:
    api.create(POTHOLE)
    before = get_list(api)
    assert get_list(api).content == before.content
    pothole = next(s for s in catalog_data["services"] if s["code"] == "pothole")
    pothole["name"] = "Road hole"
    other = make_engine(url_of(api.engine))
    try:
        load_catalog(SqlUnitOfWork(other), catalog_data)
    finally:
        other.dispose()
    after = get_list(api)
    assert [r["service_name"] for r in after.json()] == ["Road hole"]
    assert after.headers["etag"] != before.headers["etag"]


def test_list_cache__write_by_another_process__next_read_is_the_new_list(
    api: Open311, database_url: str, renders: list[str]
) -> None:
    """The strongest case: another OS process commits (an update from a back end, through its own server) while
    this one keeps the page."""
    rid = api.create(POTHOLE)
    before = get_list(api, OPEN)
    assert get_list(api, OPEN).content == before.content and renders[-1] == "validator"
    script = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from civicswitch.settings import Settings\n"
        "from civicswitch.web.app import create_app\n"
        "url, rid, key = sys.argv[1:4]\n"
        "with TestClient(create_app(Settings(database_url=url))) as c:\n"
        "    form = {'service_request_id': rid, 'update_id': 'u-proc', 'status': 'CLOSED',\n"
        "            'updated_datetime': '2026-11-28T12:00:00Z', 'description': 'Filled', 'api_key': key}\n"
        "    reply = c.post('/open311/v2/servicerequestupdates.json', data=form)\n"
        "    assert reply.status_code == 200, reply.text\n"
    )
    key = api.keys[api.owner_key(rid)]
    done = subprocess.run(
        [sys.executable, "-c", script, database_url, rid, key],
        env={**os.environ, "CIVICSWITCH_DATABASE_URL": database_url, "CIVICSWITCH_ACCESS_LOG": "false"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    after = get_list(api, OPEN)
    assert after.json() == [] and after.headers["etag"] != before.headers["etag"]
    closed = get_list(api, {"status": "closed"}).json()
    assert [(r["service_request_id"], r["status"]) for r in closed] == [(rid, "closed")]


def test_list_cache__budget_zero__every_read_renders(engine: Engine, clock: FixedClock, api: Open311) -> None:
    api.create(POTHOLE)
    settings = Settings(database_url="sqlite:///unused.db", list_cache_bytes=0)
    with TestClient(create_app(settings, engine=engine, clock=clock)) as c:
        first, again = (c.get(url("requests", "json")) for _ in range(2))
    assert first.content == again.content and first.headers["etag"] == again.headers["etag"]


# -- ListPages: bounded in bytes -----------------------------------------------------------------------------
def test_list_pages__over_the_budget__least_recently_used_dropped() -> None:
    pages = ListPages(max_bytes=3000)
    for name in ("a", "b", "c"):
        pages.put(name, f'"{name}"', b"x" * 700)
    assert pages.get("a") is not None  # a is now the most recently used
    pages.put("d", '"d"', b"x" * 700)
    assert pages.get("b") is None
    assert {k for k in "acd" if pages.get(k) is not None} == {"a", "c", "d"}
    assert pages.size <= 3000 and len(pages) == 3


def test_list_pages__page_larger_than_the_budget__served_not_kept_nor_an_older_one() -> None:
    pages = ListPages(max_bytes=1000)
    pages.put("a", '"1"', b"x" * 100)
    pages.put("a", '"2"', b"x" * 5000)
    assert pages.get("a") is None and pages.size == 0


def test_list_pages__budget_zero__keeps_nothing() -> None:
    pages = ListPages(max_bytes=0)
    pages.put("a", '"1"', b"x")
    assert pages.get("a") is None and len(pages) == 0


def test_list_pages__same_key_again__replaced() -> None:
    pages = ListPages(max_bytes=10_000)
    pages.put("a", '"1"', b"old")
    pages.put("a", '"2"', b"new")
    found = pages.get("a")
    assert found is not None and (found.etag, found.body) == ('"2"', b"new") and len(pages) == 1
