"""GET Service List and GET Service Definition (checklist §2.1, §2.2)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from open311_support import CONTENT_TYPES, Validate, assert_error, items, parse_xml, url

SERVICE_KEYS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
ATTRIBUTE_KEYS = {"variable", "code", "datatype", "required", "datatype_description", "order", "description"}


def test_service_list__json__all_fields_valid_per_schema(client: TestClient, validate: Validate) -> None:
    """[SVC-01][GEN-05][GEN-06] an array of services with all 7 fields; codes are strings, metadata booleans."""
    body = items(client.get(url("services", "json")), "json", "services")
    validate(body, "services.json")
    by_code = {s["service_code"]: s for s in body}
    assert set(by_code) == {"pothole", "graffiti", "bulk-pickup", "tip"}
    for service in body:
        assert set(service) >= SERVICE_KEYS
        assert isinstance(service["group"], str)  # boston311 rejects a null group
        assert isinstance(service["metadata"], bool)
        assert service["description"]
    assert by_code["pothole"]["metadata"] is True
    assert by_code["graffiti"]["metadata"] is False
    assert by_code["pothole"]["keywords"] == "pothole, road"  # one comma-separated string
    assert {c: s["type"] for c, s in by_code.items()} == {
        "pothole": "realtime", "graffiti": "realtime", "bulk-pickup": "batch", "tip": "blackbox",
    }  # fmt: skip
    assert by_code["tip"]["group"] == ""


def test_service_list__xml__services_service_elements(client: TestClient) -> None:
    """[GEN-03][GEN-07][SVC-01] services/service with every field; booleans as true/false text."""
    services = items(client.get(url("services", "xml")), "xml", "services")
    by_code = {s["service_code"]: s for s in services}
    assert set(by_code) == {"pothole", "graffiti", "bulk-pickup", "tip"}
    for service in services:
        assert set(service) >= SERVICE_KEYS
    assert by_code["pothole"]["metadata"] == "true"
    assert by_code["graffiti"]["metadata"] == "false"
    assert by_code["bulk-pickup"]["type"] == "batch"
    assert by_code["pothole"]["keywords"] == "pothole, road"


@pytest.mark.parametrize("jurisdiction", ["", "test.example.gov", "undefined", "other.example.org"])
def test_service_list__jurisdiction_id_any_value__tolerated(client: TestClient, fmt: str, jurisdiction: str) -> None:
    """[JUR-01][JUR-03][JUR-04] single-jurisdiction mode ignores jurisdiction_id, empty or not."""
    response = client.get(url("services", fmt), params={"jurisdiction_id": jurisdiction})
    assert len(items(response, fmt, "services")) == 4


@pytest.mark.parametrize("api_key", ["", "not-a-key", "cs_whatever"])
def test_service_list__api_key_sent__tolerated(client: TestClient, fmt: str, api_key: str) -> None:
    """[KEY-03] GETs never fail because of an api_key (GeoReporter-iOS sends one)."""
    assert len(items(client.get(url("services", fmt), params={"api_key": api_key}), fmt, "services")) == 4


def test_service_definition__json__every_attribute_valid_per_schema(client: TestClient, validate: Validate) -> None:
    """[DEF-01][GEN-05][GEN-06] an object {service_code, attributes[]}; values only on list datatypes."""
    response = client.get(url("services/pothole", "json"))
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPES["json"]
    body = response.json()
    validate(body, "service-definition.json")
    assert body["service_code"] == "pothole"
    attributes = body["attributes"]
    assert [a["order"] for a in attributes] == sorted(a["order"] for a in attributes)
    assert [a["code"] for a in attributes] == ["size", "lanes", "depth", "seen", "landmark", "notes", "info"]
    assert {a["datatype"] for a in attributes} == {
        "string", "number", "datetime", "text", "singlevaluelist", "multivaluelist",
    }  # fmt: skip
    for attribute in attributes:
        assert set(attribute) >= ATTRIBUTE_KEYS
        assert isinstance(attribute["required"], bool) and isinstance(attribute["variable"], bool)
        assert isinstance(attribute["order"], int) and attribute["order"] >= 1
        assert ("values" in attribute) == (attribute["datatype"] in ("singlevaluelist", "multivaluelist"))
    size = attributes[0]
    assert size["required"] is True
    assert size["values"] == [{"key": "small", "name": "Smaller than a plate"}, {"key": "large", "name": "Larger"}]
    assert attributes[-1]["variable"] is False


def test_service_definition__xml__attributes_wrapper_and_values(client: TestClient) -> None:
    """[DEF-01][GEN-03] service_definition/attributes/attribute/values/value/{key,name}."""
    response = client.get(url("services/pothole", "xml"))
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPES["xml"]
    root = parse_xml(response)
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "pothole"
    attributes = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == ["size", "lanes", "depth", "seen", "landmark", "notes", "info"]
    for attribute in attributes:
        assert {c.tag for c in attribute} >= ATTRIBUTE_KEYS
        assert attribute.findtext("required") in ("true", "false")
        assert attribute.findtext("variable") in ("true", "false")
    values = attributes[0].findall("values/value")
    assert [(v.findtext("key"), v.findtext("name")) for v in values] == [
        ("small", "Smaller than a plate"), ("large", "Larger"),
    ]  # fmt: skip
    assert attributes[0].findtext("required") == "true"
    assert root.find("attribute") is None  # the pre-2011 unwrapped shape is not emitted


def test_service_definition__no_attributes__200_empty_list(client: TestClient, fmt: str) -> None:
    """[DEF-03] a metadata=false service still has a definition, with an empty attribute list."""
    response = client.get(url("services/graffiti", fmt))
    assert response.status_code == 200
    if fmt == "json":
        assert response.json() == {"service_code": "graffiti", "attributes": []}
    else:
        root = parse_xml(response)
        assert root.findtext("service_code") == "graffiti"
        assert root.find("attributes") is not None
        assert root.findall("attributes/attribute") == []


def test_service_definition__unknown_service__404_in_requested_format(client: TestClient, fmt: str) -> None:
    """[DEF-03][ERR-02] an unknown service_code is 404 with an error list."""
    description = assert_error(client.get(url("services/no-such-service", fmt)), fmt, 404)
    assert "no-such-service" in description


def test_service_definition__api_key_and_jurisdiction__tolerated(client: TestClient, fmt: str) -> None:
    """[KEY-03][JUR-01][JUR-03] extra GET parameters never fail the call."""
    response = client.get(url("services/pothole", fmt), params={"api_key": "x", "jurisdiction_id": ""})
    assert response.status_code == 200


def test_service_definition_alias__singular_service_path__same_document(client: TestClient, fmt: str) -> None:
    """[§6.10] ``service/{code}.{fmt}`` (the open311 1.1 client's URL) serves the definition too."""
    alias = client.get(url("service/pothole", fmt))
    assert alias.status_code == 200
    assert alias.headers["content-type"] == CONTENT_TYPES[fmt]
    assert alias.content == client.get(url("services/pothole", fmt)).content
    assert_error(client.get(url("service/no-such-service", fmt)), fmt, 404)


@pytest.mark.parametrize("path", ["services", "services/pothole", "service/pothole"])
@pytest.mark.parametrize("suffix", ["html", "csv", "XML"])
def test_services__unknown_format_suffix__404(client: TestClient, path: str, suffix: str) -> None:
    """[GEN-01] only .xml and .json are served."""
    assert_error(client.get(url(path, suffix)), "json", 404)
