"""GET Service Request (checklist §2.6)."""

from __future__ import annotations

import pytest
from open311_support import GRAFFITI, POTHOLE, REQUEST_KEYS, Open311, Validate, assert_error, items, parse_xml, url


def test_get_request__json__one_element_list_valid_per_schema(api: Open311, validate: Validate) -> None:
    """[REQ-01][REQS-04] the same wrapper and fields as the list: a JSON array of exactly one request."""
    rid = api.create(POTHOLE, address_string="5th Ave & 42nd St", description="Deep one")
    response = api.client.get(url(f"requests/{rid}", "json"))
    body = items(response, "json")
    validate(body, "requests.json")
    assert len(body) == 1
    item = body[0]
    assert set(REQUEST_KEYS) <= set(item)
    assert item["service_request_id"] == rid
    assert item["service_code"] == "pothole"
    assert item["address"] == "5th Ave & 42nd St"
    assert item["description"] == "Deep one"
    assert item["status"] == "open"
    assert item["media_url"] is None


def test_get_request__xml__service_requests_with_one_request(api: Open311) -> None:
    """[REQ-01][GEN-03] XML ``<service_requests><request>…`` with every standard element; text is escaped."""
    rid = api.create(GRAFFITI, address_string="5th Ave & 42nd St", description="<b>not html</b> & more")
    response = api.client.get(url(f"requests/{rid}", "xml"))
    root = parse_xml(response)
    assert root.tag == "service_requests"
    requests = root.findall("request")
    assert len(requests) == 1 and len(root) == 1
    assert {c.tag for c in requests[0]} >= set(REQUEST_KEYS)
    assert requests[0].findtext("service_request_id") == rid
    assert requests[0].findtext("address") == "5th Ave & 42nd St"
    assert requests[0].findtext("description") == "<b>not html</b> & more"


def test_get_request__any_request__same_item_as_in_the_list(api: Open311, fmt: str) -> None:
    """[REQ-01] GET requests/{id} and GET requests agree on every field."""
    rid = api.create(POTHOLE)
    api.create(GRAFFITI)
    listed = next(r for r in api.requests(fmt) if r["service_request_id"] == rid)
    assert api.request(rid, fmt) == listed


@pytest.mark.parametrize(
    "request_id",
    ["999999", "14-01100669", "abc", "0", "-1", "1.5", "²", "١", "99999999999999999999", "999999999999999999",
     "2147483648", "%20"],
)  # fmt: skip
def test_get_request__unknown_or_non_numeric_id__404_in_requested_format(
    api: Open311, fmt: str, request_id: str
) -> None:
    """[REQ-01][REQ-02][ERR-02] an id that does not exist, whatever its shape (Chicago's ``14-01100669``,
    non-ASCII digits, ids beyond the integer range), is 404 with an error list naming it — never 500."""
    api.create(GRAFFITI)
    description = assert_error(api.client.get(url(f"requests/{request_id}", fmt)), fmt, 404)
    assert "service_request_id" in description


@pytest.mark.parametrize(
    "params",
    [{"api_key": "anything"}, {"jurisdiction_id": ""}, {"jurisdiction_id": "undefined"}, {"extensions": ""}],
)
def test_get_request__extra_params__tolerated(api: Open311, fmt: str, params: dict[str, str]) -> None:
    """[KEY-03][JUR-01][JUR-03][JUR-04] api_key and jurisdiction_id never fail a GET."""
    rid = api.create(GRAFFITI)
    assert api.request(rid, fmt, **params)["service_request_id"] == rid


def test_get_request__extensions_true__extended_attributes_and_notes(api: Open311, fmt: str) -> None:
    """[EXT-01] extensions=true on the single-request route adds extended_attributes and notes."""
    rid = api.create(POTHOLE, **{"attribute[lanes][]": "left"})
    plain = api.request(rid, fmt)
    assert "extended_attributes" not in plain and "notes" not in plain
    extended = api.request(rid, fmt, extensions="true")
    assert extended["extended_attributes"]["channel"] == "open311"
    if fmt == "json":
        assert extended["extended_attributes"]["attributes"] == {"size": "small", "lanes": ["left"]}
        assert [n["type"] for n in extended["notes"]] == ["submitted"]
    else:
        assert extended["extended_attributes"]["attributes"]["size"] == "small"
        assert extended["notes"]["note"]["type"] == "submitted"


def test_get_request__batch_request__readable_by_id_token_only_with_extensions(api: Open311, fmt: str) -> None:
    """[TOK-01][EXT-01] a batch request, once it has an id, is read like any other: the 17 standard keys,
    and its token only among the extended attributes."""
    token = items(api.post_request({**GRAFFITI, "service_code": "bulk-pickup"}), "json")[0]["token"]
    rid = items(api.client.get(url(f"tokens/{token}", "json")), "json")[0]["service_request_id"]
    got = api.request(rid, fmt)
    assert got["service_code"] == "bulk-pickup"
    assert "token" not in got
    assert api.request(rid, fmt, extensions="true")["extended_attributes"]["token"] == token


def test_get_request__unknown_format_suffix__404(api: Open311) -> None:
    """[GEN-01] ``requests/{id}.html`` is 404 in the default (JSON) error format."""
    rid = api.create(GRAFFITI)
    assert_error(api.client.get(url(f"requests/{rid}", "html")), "json", 404)
