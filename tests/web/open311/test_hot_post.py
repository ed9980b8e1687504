"""POST requests.{json,xml} with a plain url-encoded body filed before FastAPI (web/open311/hot.py), on SQLite and
PostgreSQL, in both formats.

The hot path reads the form itself and hands it to the route's own code (``routes.file_request``): the answer must
be the route's (status, headers in order, bytes; errors in the URL's format, logged once), and every body it does
not plainly understand goes to the route with its bytes replayed. The body guard and rate limiter outside apply.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from open311_support import CONTENT_TYPES, GRAFFITI, POTHOLE, Open311, assert_error, items, row_counts, url
from starlette.datastructures import Headers
from starlette.formparsers import FormParser

from civicswitch.storage.sql import sqlite_writer_lock
from civicswitch.web.open311 import hot, routes
from civicswitch.web.open311.hot import plain_form

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def hot_forms(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each POST that reached the hot path's form reader: whether it filed it (True) or passed it on."""
    seen: list[bool] = []

    def spying(body: bytes) -> Any:
        found = plain_form(body)
        seen.append(found is not None)
        return found

    monkeypatch.setattr(hot, "plain_form", spying)
    return seen


def cold(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, the hot path passes every POST to the FastAPI route."""
    monkeypatch.setattr(hot, "plain_form", lambda body: None)


def comparable(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body with the new request's id (and so the length) taken out."""
    body = re.sub(rb"\d{1,12}", b"N", response.content)
    headers = [(k.lower(), v) for k, v in response.headers.multi_items() if k.lower() != "content-length"]
    return response.status_code, headers, body


def elsewhere(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The same fields 5 km north: not a duplicate of a request filed with ``fields``."""
    return [(k, str(float(v) + 0.05) if k == "lat" else v) for k, v in fields]


def post(api: Open311, fields: list[tuple[str, str]], fmt: str, **kwargs: Any) -> Any:
    return api.client.post(url("requests", fmt), content=urlencode(fields), headers=FORM, **kwargs)


def test_hot_create__plain_form__filed_with_the_routes_status_headers_and_bytes(
    api: Open311, fmt: str, hot_forms: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """[POST-01][GEN-03] the hot answer is the route's, and both store the request."""
    fields = [*POTHOLE.items(), ("description", 'Deep "one" <b> café & more'), ("api_key", api.keys["submit"])]
    before = row_counts(api.engine)["service_requests"]
    hot_answer = post(api, fields, fmt)
    assert hot_forms == [True]
    cold(monkeypatch)
    route_answer = post(api, elsewhere(fields), fmt)
    assert hot_answer.status_code == 200, hot_answer.text
    assert comparable(hot_answer) == comparable(route_answer)
    assert hot_answer.headers["content-type"] == CONTENT_TYPES[fmt]
    assert row_counts(api.engine)["service_requests"] == before + 2
    first, second = (items(r, fmt)[0]["service_request_id"] for r in (hot_answer, route_answer))
    stored = api.requests(service_request_id=f"{first},{second}")
    assert sorted(r["description"] for r in stored) == ['Deep "one" <b> café & more'] * 2


def test_hot_create__refused__same_error_as_the_route_logged_once(
    api: Open311, fmt: str, hot_forms: list[bool], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """[ERR-01][ERR-03][POST-02] an unknown service: the route's 400 in the URL's format, one log line, no row."""
    fields = [("service_code", "no-such-service"), ("lat", "40.7"), ("long", "-74.0"), ("api_key", api.keys["submit"])]
    before = row_counts(api.engine)["service_requests"]
    with caplog.at_level(logging.INFO, logger="civicswitch.web"):
        hot_answer = post(api, fields, fmt)
    hot_lines = [r for r in caplog.records if r.name == "civicswitch.web" and "-> " in r.getMessage()]
    assert hot_forms == [True]
    cold(monkeypatch)
    route_answer = post(api, fields, fmt)
    text = assert_error(hot_answer, fmt, hot_answer.status_code)
    assert hot_answer.status_code in (400, 404) and "no-such-service" in text
    assert comparable(hot_answer) == comparable(route_answer)
    assert (
        len(hot_lines) == 1 and f"POST {url('requests', fmt)} -> {hot_answer.status_code}" in hot_lines[0].getMessage()
    )
    assert row_counts(api.engine)["service_requests"] == before


@pytest.mark.parametrize("key", [None, "not-a-key"])
def test_hot_create__bad_key_and_bad_body__403_first(
    api: Open311, fmt: str, hot_forms: list[bool], key: str | None
) -> None:
    """[KEY-01] a missing or wrong key is a 403 before anything in the body is judged."""
    fields = [("service_code", "no-such-service")] + ([("api_key", key)] if key else [])
    answer = post(api, fields, fmt)
    assert hot_forms == [True]
    assert "api_key" in assert_error(answer, fmt, 403)


def test_hot_create__jurisdiction_not_served__404_in_format(
    api: Open311, strict_client: TestClient, fmt: str, hot_forms: list[bool]
) -> None:
    """[JUR-02] a strict server refuses another jurisdiction_id as the route does; its own one is filed."""
    before = row_counts(api.engine)["service_requests"]
    fields = [*GRAFFITI.items(), ("jurisdiction_id", "elsewhere.gov"), ("api_key", api.keys["submit"])]
    refused = strict_client.post(url("requests", fmt), content=urlencode(fields), headers=FORM)
    assert "elsewhere.gov" in assert_error(refused, fmt, 404)
    assert row_counts(api.engine)["service_requests"] == before
    fields[-2] = ("jurisdiction_id", "city.example.gov")
    own = strict_client.post(url("requests", fmt), content=urlencode(fields), headers=FORM)
    assert own.status_code == 200, own.text
    assert hot_forms == [True, True]


def test_hot_create__nul_in_a_field__400_in_format(api: Open311, fmt: str, hot_forms: list[bool]) -> None:
    """[GEN-03] a NUL in a field is a 400 (never a database error), with nothing stored."""
    before = row_counts(api.engine)["service_requests"]
    fields = [*GRAFFITI.items(), ("address_string", "5th\x00Ave"), ("api_key", api.keys["submit"])]
    answer = post(api, fields, fmt)
    assert hot_forms == [True]
    assert_error(answer, fmt, 400)
    assert row_counts(api.engine)["service_requests"] == before


@pytest.mark.parametrize(
    "body",
    [
        "service_code=graffiti;lat=40.7128;long=-74.006",  # ; separates fields for Starlette's parser
        "service_code=graffiti&lat=40.7128&long=-74.006&flag",  # a field without =
        "service_code=graffiti&&lat=40.7128&long=-74.006",  # an empty field
    ],
)
def test_hot_create__body_not_plain__the_route_reads_it(
    api: Open311, hot_forms: list[bool], monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    """A body the hot path does not plainly understand reaches the route whole (its bytes replayed)."""
    full = f"{body}&api_key={api.keys['submit']}"
    answer = api.client.post(url("requests", "json"), content=full, headers=FORM)
    assert hot_forms == [False]
    cold(monkeypatch)
    route_answer = api.client.post(url("requests", "json"), content=full.replace("40.7128", "40.7528"), headers=FORM)
    assert comparable(answer) == comparable(route_answer)


def test_hot_create__multipart_or_key_in_url__the_route_answers(api: Open311, hot_forms: list[bool]) -> None:
    """[POST-04] multipart (photos) and a key in the query string stay with the route."""
    multipart = api.post_request(GRAFFITI, files={"media": ("p.txt", b"not a photo", "text/plain")})
    in_url = api.client.post(
        url("requests", "json") + f"?api_key={api.keys['submit']}", content=urlencode(GRAFFITI), headers=FORM
    )
    assert hot_forms == []
    assert multipart.status_code in (200, 400, 415), multipart.text
    assert in_url.status_code == 200, in_url.text


def test_hot_create__body_over_the_limit__413_in_format(api: Open311, fmt: str, hot_forms: list[bool]) -> None:
    """[GEN-03] the body guard outside answers a body over the limit, in the URL's format; nothing is filed."""
    before = row_counts(api.engine)["service_requests"]
    big = urlencode([*GRAFFITI.items(), ("description", "x" * 13_000_000), ("api_key", api.keys["submit"])])
    answer = api.client.post(url("requests", fmt), content=big, headers=FORM)
    assert_error(answer, fmt, 413)
    assert row_counts(api.engine)["service_requests"] == before


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"a=1",
        b"a=",
        b"a=1&a=2&b=%20x+y%2B",
        b"attribute%5Bsize%5D=small&attribute[kind][]=a&attribute[kind][]=b",
        b"description=caf%C3%A9+%E2%82%AC&x=%ZZ&y=%",
        "description=café €".encode(),
        b"description=\xff\xfe&n=%FF",
        b"email=a%40b.example&phone=%2B1+555",
    ],
)
def test_plain_form__same_fields_as_starlettes_parser(body: bytes) -> None:
    """The hot path's reading of a url-encoded body is Starlette's, field for field."""

    async def starlette_fields() -> list[tuple[str, Any]]:
        async def stream() -> Any:
            yield body

        parser = FormParser(Headers({"content-type": "application/x-www-form-urlencoded"}), stream())
        return list((await parser.parse()).multi_items())

    assert plain_form(body) == asyncio.run(starlette_fields())


def test_hot_create__sqlite_writer_turn_busy__filed_from_the_thread_pool(
    api: Open311, hot_forms: list[bool], caplog: pytest.LogCaptureFixture
) -> None:
    """On SQLite the hot path files on the event loop but waits at most INLINE_TURN_S for the writer's turn; past
    it, nothing is written and the thread pool files the request, waiting its full time."""
    if api.engine.dialect.name != "sqlite":
        pytest.skip("the writer's turn is SQLite's")
    lock = sqlite_writer_lock(api.engine)
    held, done = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with lock:
            held.set()
            done.wait(30)  # let go once the request has been seen waiting for the pool

    holder = threading.Thread(target=slow_writer)
    holder.start()
    assert held.wait(30)
    before = row_counts(api.engine)["service_requests"]
    threading.Timer(routes.INLINE_TURN_S * 6, done.set).start()
    with caplog.at_level(logging.INFO, logger="civicswitch.web.open311.routes"):
        answer = post(api, [*GRAFFITI.items(), ("api_key", api.keys["submit"])], "json")
    holder.join(30)
    assert answer.status_code == 200, answer.text
    assert hot_forms == [True]
    assert row_counts(api.engine)["service_requests"] == before + 1
    assert any("filing in the thread pool" in r.getMessage() for r in caplog.records)
