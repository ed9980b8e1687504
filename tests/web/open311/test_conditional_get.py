"""Conditional GETs (issue 9 §2): ETag, Last-Modified and 304, on SQLite and PostgreSQL.

The rules are in docs/open311.md#caching-and-conditional-gets.

Catalog documents are rendered once per catalog version and answered 304 while the catalog is unchanged, whoever
changed it; request lists and single requests carry an ETag of the data they show and answer 304 while it is
unchanged. Every endpoint in both formats [GEN-01], with the usual content types [GEN-02].
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from open311_support import CONTENT_TYPES, GRAFFITI, NOW, POTHOLE, Open311, assert_error, items, url
from sqlalchemy import Engine

from civicswitch.catalog.loader import load_catalog
from civicswitch.catalog.sql import SqlCatalogStore
from civicswitch.core.db import make_engine
from civicswitch.requests.sql import SqlRequestStore
from civicswitch.storage.sql import SqlUnitOfWork

CATALOG_PATHS = ("discovery", "services", "services/pothole", "service/pothole")
CACHE_CONTROL = "public, no-cache"
SECOND = timedelta(seconds=1)


def http_date(when: Any) -> str:
    return format_datetime(when, usegmt=True)


def revalidate(api: Open311, path: str, fmt: str, first: Any, **headers: str) -> Any:
    return api.client.get(url(path, fmt), headers={"if-none-match": first.headers["etag"], **headers})


def assert_not_modified(response: Any, etag: str) -> None:
    """304, no body, the same validators as the 200."""
    assert response.status_code == 304, (response.status_code, response.text[:200])
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == CACHE_CONTROL
    assert "content-length" not in response.headers or response.headers["content-length"] == "0"


def import_elsewhere(engine: Engine, document: dict[str, Any]) -> None:
    """A catalog write through an engine of its own (its own connections, as another process has)."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        load_catalog(SqlUnitOfWork(other), document)
    finally:
        other.dispose()


def renamed(catalog_data: dict[str, Any], name: str) -> dict[str, Any]:
    pothole = next(s for s in catalog_data["services"] if s["code"] == "pothole")
    pothole["name"] = name
    pothole["attributes"][0]["description"] = f"{name}: how big is it?"
    return catalog_data


# -- catalog documents --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", CATALOG_PATHS)
def test_catalog_document__if_none_match__304_without_body(api: Open311, fmt: str, path: str) -> None:
    """[GEN-01][GEN-02] discovery, the service list and a definition (both paths), in both formats."""
    first = api.client.get(url(path, fmt))
    assert first.status_code == 200
    assert first.headers["content-type"].split(";")[0] == CONTENT_TYPES[fmt].split(";")[0]
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10
    assert first.headers["cache-control"] == CACHE_CONTROL
    assert_not_modified(revalidate(api, path, fmt, first), etag)
    again = api.client.get(url(path, fmt))
    assert (again.status_code, again.content, again.headers["etag"]) == (200, first.content, etag)


@pytest.mark.parametrize(
    "header",
    ["W/{etag}", '"nope", {etag}', "*", " {etag} "],
    ids=["weak", "in-a-list", "star", "spaces"],
)
def test_catalog_document__if_none_match_forms__304(api: Open311, header: str) -> None:
    """RFC 9110 §13.1.2: weak comparison, a list of tags, and ``*``."""
    etag = api.client.get(url("services", "json")).headers["etag"]
    response = api.client.get(url("services", "json"), headers={"if-none-match": header.format(etag=etag)})
    assert_not_modified(response, etag)


def test_catalog_document__other_etag__200_with_body(api: Open311, fmt: str) -> None:
    first = api.client.get(url("services", fmt))
    other = api.client.get(url("services", fmt), headers={"if-none-match": '"something-else"'})
    assert (other.status_code, other.content) == (200, first.content)


def test_catalog_document__json_and_xml__different_etags(api: Open311) -> None:
    tags = {api.client.get(url(path, fmt)).headers["etag"] for path in CATALOG_PATHS[:3] for fmt in ("json", "xml")}
    assert len(tags) == 6


def test_catalog_document__head__headers_of_get_and_304(api: Open311, fmt: str) -> None:
    """HEAD is GET without the body: the same ETag and length; with If-None-Match, 304."""
    got = api.client.get(url("services", fmt))
    head = api.client.head(url("services", fmt))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["content-length"] == str(len(got.content))
    assert_not_modified(
        api.client.head(url("services", fmt), headers={"if-none-match": got.headers["etag"]}), got.headers["etag"]
    )


@pytest.mark.parametrize("path", ["services", "services/pothole"])
def test_catalog_document__import_by_another_engine__new_body_and_etag_at_once(
    api: Open311, fmt: str, path: str, catalog_data: dict[str, Any]
) -> None:
    """The next request after a catalog write in another process sees it: no stale document, no stale 304."""
    first = api.client.get(url(path, fmt))
    import_elsewhere(api.engine, renamed(catalog_data, "Road hole"))
    after = revalidate(api, path, fmt, first)
    assert after.status_code == 200
    assert after.headers["etag"] != first.headers["etag"]
    assert b"Road hole" in after.content and b"Road hole" not in first.content
    assert_not_modified(revalidate(api, path, fmt, after), after.headers["etag"])


def test_catalog_document__civicswitch_catalog_import_in_another_process__seen_next_request(
    api: Open311, database_url: str, catalog_data: dict[str, Any], tmp_path: Path
) -> None:
    """The real CLI in its own process, the server here: the very next request has the new service list."""
    first = api.client.get(url("services", "json"))
    catalog_data["services"].append({"code": "noise", "name": "Noise", "body": "DOT"})
    document = tmp_path / "catalog.json"
    document.write_text(json.dumps(catalog_data))
    cli = [sys.executable, "-c", "import sys; from civicswitch.cli import main; sys.argv[0] = 'civicswitch'; main()"]
    done = subprocess.run(
        [*cli, "catalog", "import", str(document)],
        env={**os.environ, "CIVICSWITCH_DATABASE_URL": database_url},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    after = revalidate(api, "services", "json", first)
    assert after.status_code == 200, after.status_code
    assert "noise" in [s["service_code"] for s in after.json()]


def test_catalog_document__rendered_once_per_catalog_version(
    api: Open311, monkeypatch: pytest.MonkeyPatch, catalog_data: dict[str, Any]
) -> None:
    calls: list[str] = []
    real: Callable[..., Any] = SqlCatalogStore.services

    def counted(self: SqlCatalogStore, **kwargs: Any) -> Any:
        calls.append("services")
        return real(self, **kwargs)

    monkeypatch.setattr(SqlCatalogStore, "services", counted)
    for _ in range(3):
        assert api.client.get(url("services", "json")).status_code == 200
    assert api.client.head(url("services", "json")).status_code == 200
    assert len(calls) == 1
    import_elsewhere(api.engine, renamed(catalog_data, "Road hole"))
    for _ in range(2):
        assert api.client.get(url("services", "json")).status_code == 200
    assert len(calls) == 2


def test_catalog_document__last_modified__sent_once_its_second_has_passed(api: Open311) -> None:
    """Last-Modified is one second after this process first saw the catalog version, sent once the clock is
    past it (so two versions never share a date); If-Modified-Since then answers 304."""
    first = api.client.get(url("services", "json"))
    assert "last-modified" not in first.headers  # the clock still reads NOW
    api.clock.advance(2 * SECOND)
    later = api.client.get(url("services", "json"))
    assert later.headers["last-modified"] == http_date(NOW + SECOND)
    assert later.headers["etag"] == first.headers["etag"]
    since = api.client.get(url("services", "json"), headers={"if-modified-since": http_date(NOW + SECOND)})
    assert since.status_code == 304 and since.headers["last-modified"] == http_date(NOW + SECOND)
    assert api.client.get(url("services", "json"), headers={"if-modified-since": http_date(NOW)}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"if-modified-since": "yesterday"},
        {"if-modified-since": http_date(NOW + timedelta(days=3))},  # after the server's time: not valid
        {"if-modified-since": http_date(NOW + 2 * SECOND), "if-none-match": '"other"'},  # If-None-Match wins
    ],
    ids=["not-a-date", "in-the-future", "if-none-match-wins"],
)
def test_catalog_document__if_modified_since_not_usable__200(api: Open311, headers: dict[str, str]) -> None:
    api.client.get(url("services", "json"))
    api.clock.advance(2 * SECOND)
    response = api.client.get(url("services", "json"), headers=headers)
    assert response.status_code == 200 and response.content


def test_catalog_document__changed_within_the_same_second__if_modified_since_answers_200(
    api: Open311, catalog_data: dict[str, Any]
) -> None:
    """A client holding the old version's date is never told 304 for the new one, however soon it changed."""
    api.client.get(url("services", "json"))
    api.clock.advance(2 * SECOND)
    old = api.client.get(url("services", "json")).headers["last-modified"]
    import_elsewhere(api.engine, renamed(catalog_data, "Road hole"))
    same_second = api.client.get(url("services", "json"), headers={"if-modified-since": old})
    assert same_second.status_code == 200 and b"Road hole" in same_second.content
    assert "last-modified" not in same_second.headers  # not before its second has passed
    api.clock.advance(2 * SECOND)
    later = api.client.get(url("services", "json"), headers={"if-modified-since": old})
    assert later.status_code == 200
    assert parsedate_to_datetime(later.headers["last-modified"]) > parsedate_to_datetime(old)


def test_catalog_document__unknown_service__404_in_format_even_with_a_star(api: Open311, fmt: str) -> None:
    """[DEF-03][ERR-01][ERR-03] errors keep their format and carry no validator."""
    response = api.client.get(url("services/nope", fmt), headers={"if-none-match": "*"})
    assert_error(response, fmt, 404)
    assert "etag" not in response.headers


def test_catalog_document__jurisdiction_and_key__same_document(api: Open311) -> None:
    """[JUR-01][KEY-03] jurisdiction_id and api_key change nothing, so the ETag is the same and 304 holds."""
    etag = api.client.get(url("services", "json")).headers["etag"]
    response = api.client.get(
        url("services", "json"), params={"jurisdiction_id": "test.example.gov", "api_key": "x"},
        headers={"if-none-match": etag},
    )  # fmt: skip
    assert_not_modified(response, etag)


# -- request lists and single requests ---------------------------------------------------------------------
def test_request_list__if_none_match__304_without_rendering(
    api: Open311, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[REQS-01] a list the client has is answered from the validator alone: no list query is run."""
    api.create(GRAFFITI)
    api.create(POTHOLE)
    first = api.client.get(url("requests", fmt))
    assert len(items(first, fmt)) == 2
    assert first.headers["cache-control"] == CACHE_CONTROL and "last-modified" not in first.headers

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a 304 renders nothing")

    monkeypatch.setattr(SqlRequestStore, "find", refuse)
    monkeypatch.setattr(SqlRequestStore, "find_open311_json", refuse)
    assert_not_modified(revalidate(api, "requests", fmt, first), first.headers["etag"])


def test_request_list__new_request__new_etag(api: Open311, fmt: str) -> None:
    api.create(GRAFFITI)
    first = api.client.get(url("requests", fmt))
    api.create(POTHOLE)
    after = revalidate(api, "requests", fmt, first)
    assert after.status_code == 200 and len(items(after, fmt)) == 2
    assert_not_modified(revalidate(api, "requests", fmt, after), after.headers["etag"])


def test_request_list__status_update__new_etag(api: Open311, fmt: str) -> None:
    rid = api.create(GRAFFITI)
    first = api.client.get(url("requests", fmt))
    assert api.post_update(rid, "u1", "INVESTIGATING").status_code == 200
    after = revalidate(api, "requests", fmt, first)
    assert after.status_code == 200 and after.headers["etag"] != first.headers["etag"]


def test_request_list__empty__etag_and_304(api: Open311, fmt: str) -> None:
    """[REQS-03] an empty list is a list like any other."""
    first = api.client.get(url("requests", fmt))
    assert items(first, fmt) == []
    assert_not_modified(revalidate(api, "requests", fmt, first), first.headers["etag"])


def test_request_list__variants__each_its_own_etag(api: Open311) -> None:
    """Format, extensions and filters each give a different document, so a different ETag."""
    api.create(GRAFFITI)
    api.create(POTHOLE)
    tags = {
        api.client.get(url("requests", fmt), params=params).headers["etag"]
        for fmt in ("json", "xml")
        for params in ({}, {"extensions": "true"}, {"service_code": "pothole"})
    }
    assert len(tags) == 6


def test_request_list__catalog_renamed__new_etag(api: Open311, fmt: str, catalog_data: dict[str, Any]) -> None:
    """The service name a request shows comes from the catalog."""
    api.create(POTHOLE)
    first = api.client.get(url("requests", fmt))
    import_elsewhere(api.engine, renamed(catalog_data, "Road hole"))
    after = revalidate(api, "requests", fmt, first)
    assert after.status_code == 200 and b"Road hole" in after.content


def test_request_list__head__304(api: Open311, fmt: str) -> None:
    api.create(GRAFFITI)
    first = api.client.get(url("requests", fmt))
    head = api.client.head(url("requests", fmt))
    assert head.status_code == 200 and head.headers["etag"] == first.headers["etag"] and head.content == b""
    assert_not_modified(
        api.client.head(url("requests", fmt), headers={"if-none-match": first.headers["etag"]}),
        first.headers["etag"],
    )


def test_single_request__if_none_match__304(api: Open311, fmt: str) -> None:
    """[REQ-01] one request, both formats, with and without extensions."""
    rid = api.create(GRAFFITI)
    for params in ({}, {"extensions": "true"}):
        first = api.client.get(url(f"requests/{rid}", fmt), params=params)
        assert first.status_code == 200 and first.headers["cache-control"] == CACHE_CONTROL
        response = api.client.get(
            url(f"requests/{rid}", fmt), params=params, headers={"if-none-match": first.headers["etag"]}
        )
        assert_not_modified(response, first.headers["etag"])


def test_single_request__note_dated_in_the_past__new_etag(api: Open311, fmt: str) -> None:
    """A back end's update dated before the last one leaves updated_datetime as it was; the request changed."""
    rid = api.create(GRAFFITI)
    api.clock.advance(timedelta(hours=2))
    assert api.post_update(rid, "u1", "INVESTIGATING").status_code == 200
    first = api.client.get(url(f"requests/{rid}", fmt), params={"extensions": "true"})
    earlier = (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.post_update(rid, "u2", "OPEN", updated_datetime=earlier, description="Crew booked").status_code == 200
    after = api.client.get(
        url(f"requests/{rid}", fmt), params={"extensions": "true"}, headers={"if-none-match": first.headers["etag"]}
    )
    assert after.status_code == 200 and b"Crew booked" in after.content
    assert items(after, fmt)[0]["updated_datetime"] == items(first, fmt)[0]["updated_datetime"]


def test_single_request__photo_added__new_etag(api: Open311, fmt: str) -> None:
    rid = api.create(GRAFFITI)
    first = api.client.get(url(f"requests/{rid}", fmt), params={"extensions": "true"})
    reply = api.post_update(rid, "u1", "OPEN", media_url="https://example.org/after.jpg", description="Photo")
    assert reply.status_code == 200, reply.text
    after = api.client.get(
        url(f"requests/{rid}", fmt), params={"extensions": "true"}, headers={"if-none-match": first.headers["etag"]}
    )
    assert after.status_code == 200 and b"https://example.org/after.jpg" in after.content


def test_single_request__unknown_id__404_in_format_even_with_a_star(api: Open311, fmt: str) -> None:
    """[REQ-01][ERR-03] no request, no 304."""
    api.create(GRAFFITI)
    response = api.client.get(url("requests/999999", fmt), headers={"if-none-match": "*"})
    assert_error(response, fmt, 404)
    assert "etag" not in response.headers
