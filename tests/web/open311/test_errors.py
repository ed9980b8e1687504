"""Errors (checklist §1.5): always an error list in the URL suffix's format, code = HTTP status."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from open311_support import POTHOLE, Open311, assert_error, parse_xml, url

WRONG_METHODS = [
    ("POST", "discovery"),
    ("POST", "services"),
    ("DELETE", "services/pothole"),
    ("PUT", "requests"),
    ("POST", "requests/1"),
    ("POST", "tokens/abc"),
    ("DELETE", "servicerequestupdates"),
]


@pytest.mark.parametrize(("method", "path"), WRONG_METHODS)
def test_error__wrong_method__405_in_requested_format(client: TestClient, fmt: str, method: str, path: str) -> None:
    """[ERR-01][ERR-03] 405 comes as an Open311 error list in the suffix's format, naming the method."""
    assert method in assert_error(client.request(method, url(path, fmt)), fmt, 405)


@pytest.mark.parametrize("path", ["nothing", "requests/1/extra", "services/pothole/attributes"])
def test_error__unknown_path__404_in_requested_format(client: TestClient, fmt: str, path: str) -> None:
    """[ERR-02][ERR-03] an unknown resource is 404 in the suffix's format."""
    assert_error(client.get(url(path, fmt)), fmt, 404)


def test_error__several_attribute_errors__one_error_each(api: Open311, fmt: str) -> None:
    """[ERR-01] the error body is a list: each wrong attribute is reported as its own error."""
    fields = {**POTHOLE, "attribute[size]": "huge", "attribute[depth]": "deep", "attribute[seen]": "someday"}
    before = api.counts()
    response = api.post_request(fields, fmt)
    assert_error(response, fmt, 400)
    if fmt == "json":
        descriptions = [e["description"] for e in response.json()]
    else:
        descriptions = [e.findtext("description") or "" for e in parse_xml(response)]
    assert len(descriptions) == 3
    assert [next(c for c in ("size", "depth", "seen") if c in d) for d in descriptions] == ["size", "depth", "seen"]
    assert api.counts() == before


def test_error__xml_description__escaped_and_well_formed(api: Open311) -> None:
    """[ERR-01][GEN-03] user input echoed in an error description is escaped in XML."""
    response = api.post_request({"service_code": '<x>&amp;"</x>', "lat": "1", "long": "2"}, "xml")
    assert '<x>&amp;"</x>' in assert_error(response, "xml", 404)


@pytest.mark.parametrize(
    ("path", "params"),
    [("requests", {"service_code": "a\x00b"}), ("requests", {"service_request_id": "1\x00"}),
     ("requests", {"status": "open\x00"}), ("requests", {"start_date": "2026-11-01\x00"}),
     ("services/pot%00hole", {}), ("service/pot%00hole", {}), ("requests/1%00", {}), ("tokens/t%00k", {}),
     ("servicerequestupdates", {"start_date": "\x00"})],
)  # fmt: skip
def test_error__nul_character_in_get__client_error_not_500(
    client: TestClient, fmt: str, path: str, params: dict[str, str]
) -> None:
    """[GEN-03][ERR-02] a NUL character (not valid text in UTF-8 documents or PostgreSQL) is refused with
    a 4xx in the suffix's format, never a 500."""
    response = client.get(url(path, fmt), params=params)
    assert response.status_code in (400, 404), response.text
    assert_error(response, fmt, response.status_code)
