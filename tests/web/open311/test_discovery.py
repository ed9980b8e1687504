"""Service discovery (checklist §2.7)."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from open311_support import assert_error, parse_xml, url

ENDPOINT_KEYS = {"specification", "url", "changeset", "type", "formats"}


def test_discovery__json__all_fields_exact_content_type(client: TestClient) -> None:
    """[DISC-01][GEN-05] a JSON object with endpoints[] and formats[], Content-Type exactly application/json."""
    response = client.get(url("discovery", "json"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict)
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    assert all(isinstance(body[k], str) and body[k] for k in ("changeset", "contact", "key_service"))
    datetime.fromisoformat(body["changeset"].replace("Z", "+00:00"))  # [DISC-01] ISO 8601, not "2011-02-03 14:18"
    assert isinstance(body["endpoints"], list) and body["endpoints"]
    endpoint = body["endpoints"][0]
    assert set(endpoint) >= ENDPOINT_KEYS
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["type"] in ("production", "test")
    assert endpoint["formats"] == ["text/xml", "application/json"]


def test_discovery__xml__standard_elements_exact_content_type(client: TestClient) -> None:
    """[DISC-01][GEN-03] discovery/endpoints/endpoint/formats/format, Content-Type exactly text/xml."""
    response = client.get(url("discovery", "xml"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml"
    root = parse_xml(response)
    assert root.tag == "discovery"
    for name in ("changeset", "contact", "key_service"):
        assert root.findtext(name)
    endpoints = root.findall("endpoints/endpoint")
    assert len(endpoints) == 1
    endpoint = endpoints[0]
    assert {c.tag for c in endpoint} >= ENDPOINT_KEYS
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"


def test_discovery__unknown_format_suffix__404(client: TestClient) -> None:
    """[GEN-01] only .xml and .json exist; anything else is 404 with an error list."""
    response = client.get(url("discovery", "yaml"))
    assert_error(response, "json", 404)
