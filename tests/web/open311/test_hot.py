"""GET one request answered before FastAPI (web/open311/hot.py), on SQLite and PostgreSQL, in both formats.

The hot path must answer exactly as the FastAPI route does (the same status, headers and bytes; 304 to a matching
If-None-Match), and leave everything else to the route: extensions, unknown ids, jurisdictions not served, NUL in
the URL, every error in the URL's format. The rate limiter, security headers and HEAD apply to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from open311_support import CONTENT_TYPES, GRAFFITI, POTHOLE, Open311, assert_error, items, url
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.requests.sql import SqlOpen311Reads
from civicswitch.settings import Settings
from civicswitch.web.app import create_app
from civicswitch.web.headers import SECURITY_HEADERS
from civicswitch.web.open311.hot import HotReads

CACHE_CONTROL = "public, no-cache"


@pytest.fixture
def hot_answers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids the hot path answered (its query found the request), in order."""
    answered: list[int] = []
    real = SqlOpen311Reads.view_with_validator

    def counting(self: SqlOpen311Reads, request_id: int) -> Any:
        found = real(self, request_id)
        if found is not None:
            answered.append(request_id)
        return found

    monkeypatch.setattr(SqlOpen311Reads, "view_with_validator", counting)
    return answered


def cold(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, the hot path passes every request to the FastAPI route."""

    async def pass_on(self: HotReads, scope: Any, send: Any, raw_id: str, fmt: str) -> bool:
        return False

    monkeypatch.setattr(HotReads, "_one", pass_on)


def comparable(headers: Any) -> list[tuple[str, str]]:
    return [(k.lower(), v) for k, v in headers.multi_items()]


def test_hot_one__any_format__same_status_headers_and_bytes_as_the_route(
    api: Open311, fmt: str, hot_answers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """[REQ-01][GEN-03] the hot answer is the route's: its headers in its order, and its bytes."""
    rid = api.create(
        POTHOLE, address_string="5th Ave & 42nd St", description='Deep "one" <b>\\</b> café', lat="40.712345678901234"
    )
    hot = api.client.get(url(f"requests/{rid}", fmt))
    assert hot_answers == [int(rid)]
    cold(monkeypatch)
    route = api.client.get(url(f"requests/{rid}", fmt))
    assert hot_answers == [int(rid)]  # the second answer came from the route
    assert hot.status_code == route.status_code == 200
    assert hot.content == route.content
    assert [r["service_request_id"] for r in items(hot, fmt)] == [rid]
    assert comparable(hot.headers) == comparable(route.headers)
    assert hot.headers["content-type"] == CONTENT_TYPES[fmt]
    assert hot.headers["cache-control"] == CACHE_CONTROL
    assert hot.headers["content-length"] == str(len(hot.content))
    for name, value in SECURITY_HEADERS:
        assert hot.headers[name.decode()] == value.decode()


def test_hot_one__same_item_as_the_list(api: Open311, fmt: str, hot_answers: list[int]) -> None:
    """[REQ-01] the hot answer and GET requests agree on every field."""
    rid = api.create(GRAFFITI, media_url="https://example.org/a.jpg")
    api.create(POTHOLE)
    listed = next(r for r in items(api.client.get(url("requests", fmt)), fmt) if r["service_request_id"] == rid)
    assert items(api.client.get(url(f"requests/{rid}", fmt)), fmt) == [listed]
    assert hot_answers == [int(rid)]


def test_hot_one__matching_if_none_match__304_with_validators(
    api: Open311, fmt: str, hot_answers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that has the request gets 304 from the hot path: no body, the same ETag and Cache-Control; a
    weak or listed tag and ``*`` match too, another tag does not. The route's ETag is the same."""
    rid = api.create(GRAFFITI)
    first = api.client.get(url(f"requests/{rid}", fmt))
    etag = first.headers["etag"]
    for wanted in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = api.client.get(url(f"requests/{rid}", fmt), headers={"if-none-match": wanted})
        assert again.status_code == 304, wanted
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == CACHE_CONTROL
        assert "content-length" not in again.headers
        assert again.headers["x-content-type-options"] == "nosniff"
    other = api.client.get(url(f"requests/{rid}", fmt), headers={"if-none-match": '"other"'})
    assert other.status_code == 200 and other.headers["etag"] == etag
    assert len(hot_answers) == 6
    cold(monkeypatch)
    route = api.client.get(url(f"requests/{rid}", fmt), headers={"if-none-match": etag})
    assert route.status_code == 304 and comparable(route.headers) == comparable(again.headers)


def test_hot_one__request_changed__new_etag_and_200(api: Open311, hot_answers: list[int]) -> None:
    rid = api.create(POTHOLE)
    first = api.client.get(url(f"requests/{rid}", "json"))
    assert api.post_update(rid, "u-1", "closed").status_code == 200
    again = api.client.get(url(f"requests/{rid}", "json"), headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 200
    assert again.headers["etag"] != first.headers["etag"]
    assert again.json()[0]["status"] == "closed"


def test_hot_one__head__headers_without_body(api: Open311, fmt: str, hot_answers: list[int]) -> None:
    rid = api.create(GRAFFITI)
    got = api.client.get(url(f"requests/{rid}", fmt))
    head = api.client.head(url(f"requests/{rid}", fmt))
    assert head.status_code == 200 and head.content == b""
    assert comparable(head.headers) == comparable(got.headers)
    assert hot_answers == [int(rid), int(rid)]


@pytest.mark.parametrize("query", [{"api_key": "anything"}, {"jurisdiction_id": ""}, {"extensions": "false"}])
def test_hot_one__tolerated_params__answered_hot(api: Open311, hot_answers: list[int], query: dict[str, str]) -> None:
    """[KEY-03][JUR-03] parameters that change nothing in the answer keep it on the hot path."""
    rid = api.create(GRAFFITI)
    response = api.client.get(url(f"requests/{rid}", "json"), params=query)
    assert response.status_code == 200 and response.json()[0]["service_request_id"] == rid
    assert hot_answers == [int(rid)]


def test_hot_one__extensions__answered_by_the_route(api: Open311, fmt: str, hot_answers: list[int]) -> None:
    """[EXT-01] extensions=true (notes, extended attributes) is the route's."""
    rid = api.create(POTHOLE)
    extended = api.client.get(url(f"requests/{rid}", fmt), params={"extensions": "true"})
    assert extended.status_code == 200 and "extended_attributes" in items(extended, fmt)[0]
    assert hot_answers == []


def test_hot_one__unknown_format__route_answers_404(api: Open311, hot_answers: list[int]) -> None:
    rid = api.create(POTHOLE)
    assert "extension" in assert_error(api.client.get(url(f"requests/{rid}", "yaml")), "json", 404)
    assert hot_answers == []


@pytest.mark.parametrize("request_id", ["999999", "abc", "0", "1.5", "99999999999999999999", "%20"])
def test_hot_one__unknown_or_bad_id__route_answers_404_in_format(
    api: Open311, fmt: str, hot_answers: list[int], request_id: str
) -> None:
    """[REQ-02][ERR-01] no request: the route's 404, an error list in the URL's format."""
    api.create(GRAFFITI)
    description = assert_error(api.client.get(url(f"requests/{request_id}", fmt)), fmt, 404)
    assert "service_request_id" in description
    assert hot_answers == []


def test_hot_one__nul_in_query__route_answers_400(api: Open311, fmt: str, hot_answers: list[int]) -> None:
    """[GEN-03] NUL in a query value: the route's 400, in the URL's format."""
    rid = api.create(GRAFFITI)
    response = api.client.get(url(f"requests/{rid}", fmt) + "?api_key=a%00b")
    assert "NUL" in assert_error(response, fmt, 400)
    assert hot_answers == []


def test_hot_one__post__route_answers_405(api: Open311, hot_answers: list[int]) -> None:
    rid = api.create(GRAFFITI)
    response = api.client.post(url(f"requests/{rid}", "json"))
    assert_error(response, "json", 405)
    assert hot_answers == []


def test_hot_one__jurisdiction_not_served__route_answers_404(
    api: Open311, strict_client: TestClient, fmt: str, hot_answers: list[int]
) -> None:
    """[JUR-02] a strict server: another jurisdiction_id is the route's 404; its own one is answered hot."""
    rid = api.create(GRAFFITI)
    refused = strict_client.get(url(f"requests/{rid}", fmt), params={"jurisdiction_id": "elsewhere.gov"})
    assert "jurisdiction_id" in assert_error(refused, fmt, 404)
    assert hot_answers == []
    own = strict_client.get(url(f"requests/{rid}", "json"), params={"jurisdiction_id": "city.example.gov"})
    assert own.status_code == 200 and hot_answers == [int(rid)]


@pytest.fixture
def limited_client(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings(database_url="sqlite:///unused.db", rate_limit_enabled=True, rate_limit_address_reads=2)
    with TestClient(create_app(settings, engine=engine, clock=clock), raise_server_exceptions=False) as c:
        yield c


def test_hot_one__over_the_read_limit__429_before_the_hot_path(
    api: Open311, limited_client: TestClient, hot_answers: list[int]
) -> None:
    """The rate limiter counts hot answers: the third read from the address in a minute is refused."""
    rid = api.create(GRAFFITI)
    answers = [limited_client.get(url(f"requests/{rid}", "json")) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[2].headers["retry-after"]
    assert hot_answers == [int(rid), int(rid)]


def test_hot_one__public_url__links_from_it(engine: Engine, clock: FixedClock, api: Open311) -> None:
    """Own media links start with public_url, as the route makes them."""
    settings = Settings(database_url="sqlite:///unused.db", public_url="https://311.example.gov")
    rid = api.create(GRAFFITI, media_url="https://example.org/a.jpg")
    with TestClient(create_app(settings, engine=engine, clock=clock)) as c:
        item = c.get(url(f"requests/{rid}", "json")).json()[0]
    assert item["media_url"] == "https://example.org/a.jpg"


# -- GET requests.json ---------------------------------------------------------------------------------------
@pytest.fixture
def hot_lists(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the hot path answered each list request it saw."""
    answered: list[bool] = []
    real = HotReads._list

    async def spying(self: HotReads, scope: Any, send: Any) -> bool:
        done = await real(self, scope, send)
        answered.append(done)
        return done

    monkeypatch.setattr(HotReads, "_list", spying)
    return answered


def cold_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    async def pass_on(self: HotReads, scope: Any, send: Any) -> bool:
        return False

    monkeypatch.setattr(HotReads, "_list", pass_on)


LIST_QUERIES: list[dict[str, str]] = [
    {},
    {"service_code": "pothole", "status": "open"},
    {"status": "closed"},
    {"page_size": "1", "page": "2"},
    {"start_date": "2026-11-01T00:00:00Z", "end_date": "2026-11-30T00:00:00Z", "api_key": "x", "jurisdiction_id": ""},
]


@pytest.mark.parametrize("query", LIST_QUERIES, ids=[f"q{i}" for i in range(len(LIST_QUERIES))])
def test_hot_list__json__same_status_headers_and_bytes_as_the_route(
    api: Open311, hot_lists: list[bool], monkeypatch: pytest.MonkeyPatch, query: dict[str, str]
) -> None:
    """[REQS-01][PAGE-01] the hot list is the route's: its headers in its order, and its bytes."""
    for fields in (POTHOLE, GRAFFITI, POTHOLE):
        api.create(fields)
    hot = api.client.get(url("requests", "json"), params=query)
    assert hot_lists == [True]
    cold_lists(monkeypatch)
    route = api.client.get(url("requests", "json"), params=query)
    assert hot.status_code == route.status_code == 200
    assert hot.content == route.content
    assert comparable(hot.headers) == comparable(route.headers)
    assert hot.headers["content-type"] == CONTENT_TYPES["json"]


def test_hot_list__matching_if_none_match__304_as_the_route(
    api: Open311, hot_lists: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.create(POTHOLE)
    first = api.client.get(url("requests", "json"))
    etag = first.headers["etag"]
    again = api.client.get(url("requests", "json"), headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = api.client.get(url("requests", "json"), headers={"if-none-match": '"other"'})
    assert other.status_code == 200 and other.content == first.content and other.headers["etag"] == etag
    assert hot_lists == [True, True, True]
    cold_lists(monkeypatch)
    route = api.client.get(url("requests", "json"), headers={"if-none-match": etag})
    assert route.status_code == 304 and comparable(route.headers) == comparable(again.headers)


def test_hot_list__changed__new_etag(api: Open311, hot_lists: list[bool]) -> None:
    rid = api.create(POTHOLE)
    first = api.client.get(url("requests", "json"))
    assert api.post_update(rid, "u-1", "closed").status_code == 200
    again = api.client.get(url("requests", "json"), headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 200 and again.headers["etag"] != first.headers["etag"]


@pytest.mark.parametrize(
    ("query", "status"),
    [({"start_date": "not a date"}, 400), ({"page_size": "1_0"}, 400), ({"status": "a\x00b"}, 400)],
)
def test_hot_list__refused_parameter__route_answers_in_format(
    api: Open311, hot_lists: list[bool], query: dict[str, str], status: int
) -> None:
    """[ERR-01] a parameter the route refuses: the route's error list, in JSON."""
    api.create(POTHOLE)
    assert_error(api.client.get(url("requests", "json"), params=query), "json", status)
    assert hot_lists == [False]


def test_hot_list__xml_or_extensions__answered_by_the_route(api: Open311, hot_lists: list[bool]) -> None:
    api.create(POTHOLE)
    xml = api.client.get(url("requests", "xml"))
    assert xml.status_code == 200 and xml.headers["content-type"] == CONTENT_TYPES["xml"]
    extended = api.client.get(url("requests", "json"), params={"extensions": "true"})
    assert extended.status_code == 200 and "extended_attributes" in extended.json()[0]
    assert hot_lists == [False]  # the XML path is not the list's: only the JSON one was seen


def test_hot_list__jurisdiction_not_served__route_answers_404(
    api: Open311, strict_client: TestClient, hot_lists: list[bool]
) -> None:
    api.create(POTHOLE)
    refused = strict_client.get(url("requests", "json"), params={"jurisdiction_id": "elsewhere.gov"})
    assert "jurisdiction_id" in assert_error(refused, "json", 404)
    assert strict_client.get(url("requests", "json"), params={"jurisdiction_id": "city.example.gov"}).status_code == 200
    assert hot_lists == [False, True]
