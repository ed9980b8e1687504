"""POST Service Request (checklist §2.3): validation, compatibility forms, reply shape, no partial write."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from open311_support import CONTACT, GRAFFITI, POTHOLE, Open311, assert_error, items, url
from sqlalchemy import text

A4000 = "x" * 4000

# (case id, form fields, HTTP status, checklist ids, a word the error description must contain)
REJECTED: list[tuple[str, dict[str, str], int, str, str]] = [
    ("missing_service_code", {"lat": "40.7", "long": "-74.0"}, 400, "POST-01", "service_code"),
    ("empty_service_code", {"service_code": "", "lat": "40.7", "long": "-74.0"}, 400, "POST-01 JUR-03", "service_code"),
    ("unknown_service", {"service_code": "no-such", "lat": "40.7", "long": "-74.0"}, 404, "POST-01 ERR-02", "no-such"),
    ("missing_location", {"service_code": "graffiti"}, 400, "POST-01", "location"),
    (
        "empty_location",
        {"service_code": "graffiti", "lat": "", "long": "", "address_string": " "},
        400,
        "POST-01 JUR-03",
        "location",
    ),
    ("lat_without_long", {"service_code": "graffiti", "lat": "40.7"}, 400, "POST-01", "long"),
    (
        "long_without_lat",
        {"service_code": "graffiti", "long": "-74.0", "address_string": "1 Main St"},
        400,
        "POST-01",
        "lat",
    ),
    ("non_numeric_lat", {"service_code": "graffiti", "lat": "forty", "long": "-74.0"}, 400, "POST-01", "lat"),
    ("non_numeric_long", {"service_code": "graffiti", "lat": "40.7", "long": "west"}, 400, "POST-01", "long"),
    ("lat_out_of_range", {"service_code": "graffiti", "lat": "91", "long": "-74.0"}, 400, "POST-01", "lat"),
    ("lat_not_finite", {"service_code": "graffiti", "lat": "nan", "long": "-74.0"}, 400, "POST-01", "lat"),
    ("bad_singlevaluelist_value", {**POTHOLE, "attribute[size]": "huge"}, 400, "POST-01", "size"),
    ("two_singlevaluelist_values", {**POTHOLE, "attribute[size][]": "large"}, 400, "POST-01", "size"),
    (
        "missing_required_attribute",
        {k: v for k, v in POTHOLE.items() if k != "attribute[size]"},
        400,
        "POST-01",
        "size",
    ),
    ("empty_required_attribute", {**POTHOLE, "attribute[size]": ""}, 400, "POST-01 JUR-03", "size"),
    ("bad_multivaluelist_value", {**POTHOLE, "attribute[lanes][]": "middle"}, 400, "POST-01", "lanes"),
    ("non_numeric_number_attribute", {**POTHOLE, "attribute[depth]": "deep"}, 400, "POST-01", "depth"),
    ("garbage_datetime_attribute", {**POTHOLE, "attribute[seen]": "last tuesday"}, 400, "POST-01 DT-03", "seen"),
    ("description_over_4000", {**GRAFFITI, "description": A4000 + "y"}, 400, "POST-01", "4000"),
    ("media_url_not_http", {**GRAFFITI, "media_url": "javascript:alert(1)"}, 400, "POST-04", "media_url"),
    ("nul_in_description", {**GRAFFITI, "description": "before\x00after"}, 400, "GEN-03", "description"),
    ("nul_in_contact", {**GRAFFITI, "email": "jane\x00@example.org"}, 400, "GEN-03", "email"),
    ("nul_in_service_code", {**GRAFFITI, "service_code": "graffiti\x00"}, 400, "GEN-03", "service_code"),
    ("phone_too_long", {**GRAFFITI, "phone": "5" * 51}, 400, "POST-01", "phone"),
    ("address_id_too_long", {"service_code": "graffiti", "address_id": "A" * 101}, 400, "POST-01", "address_id"),
]


@pytest.mark.parametrize(
    ("case", "fields", "status", "ids", "word"), REJECTED, ids=[f"{c[0]}-{c[3].replace(' ', '-')}" for c in REJECTED]
)
def test_post_request__invalid_input__error_in_requested_format_and_nothing_written(
    api: Open311, fmt: str, case: str, fields: dict[str, str], status: int, ids: str, word: str
) -> None:
    """[POST-01][ERR-01][ERR-02] each invalid POST is refused with its status, in the suffix's format,
    with a description naming the problem; no row is written (ids per case in REJECTED)."""
    api.create(**CONTACT)  # something to compare against, contact row included
    before = api.counts()
    description = assert_error(api.post_request(fields, fmt), fmt, status)
    assert word in description, description
    assert api.counts() == before


@pytest.mark.parametrize(
    ("key", "extra", "word"),
    [
        (None, {}, "api_key"),
        (None, {"api_key": ""}, "api_key"),
        (None, {"api_key": "cs_not-a-real-key"}, "api_key"),
        ("update", {}, "api_key"),
    ],
    ids=["missing", "empty", "invalid", "update_scope_only"],
)
def test_post_request__missing_or_invalid_key__403_and_nothing_written(
    api: Open311, fmt: str, key: str | None, extra: dict[str, str], word: str
) -> None:
    """[KEY-01][ERR-03] a missing, empty, unknown or wrongly-scoped api_key is 403 with the reason."""
    before = api.counts()
    description = assert_error(api.post_request({**GRAFFITI, **extra, **CONTACT}, fmt, key=key), fmt, 403)
    assert word in description
    assert api.counts() == before


def test_post_request__valid_key_in_query_string__accepted(api: Open311, fmt: str) -> None:
    """[KEY-02] open311 1.1 and node-open311 send api_key in the query string of the POST."""
    response = api.client.post(url("requests", fmt), params={"api_key": api.keys["submit"]}, data=GRAFFITI)
    created = items(response, fmt)
    assert created[0]["service_request_id"]


def test_post_request__invalid_key_in_query_string__403(api: Open311, fmt: str) -> None:
    """[KEY-01][KEY-02] a key from the query string is checked like one from the body."""
    before = api.counts()
    response = api.client.post(url("requests", fmt), params={"api_key": "cs_wrong"}, data=GRAFFITI)
    assert_error(response, fmt, 403)
    assert api.counts() == before


def test_post_request__realtime__200_with_id_and_no_token(api: Open311, fmt: str) -> None:
    """[POST-06][GEN-05][GEN-06] 200, a one-element list whose service_request_id is a string, no token."""
    created = items(api.post_request(GRAFFITI, fmt), fmt)
    assert len(created) == 1
    item = created[0]
    assert isinstance(item["service_request_id"], str) and item["service_request_id"].isdigit()
    assert "token" not in item
    assert api.request(item["service_request_id"])["service_code"] == "graffiti"


def test_post_request__sla_service__service_notice_returned(api: Open311, fmt: str) -> None:
    """[§2.3] the optional service_notice carries the expected action (pothole has a 72 h target)."""
    item = items(api.post_request(POTHOLE, fmt), fmt)[0]
    assert item["service_notice"] and "3 days" in item["service_notice"]


def test_post_request__batch_service__token_and_no_id(api: Open311, fmt: str) -> None:
    """[TOK-01][§2.3] a batch service answers with a token, and MUST NOT also send service_request_id."""
    item = items(api.post_request({**GRAFFITI, "service_code": "bulk-pickup"}, fmt), fmt)[0]
    assert item["token"]
    assert "service_request_id" not in item


def test_post_request__blackbox_service__neither_id_nor_token(api: Open311, fmt: str) -> None:
    """[POST-07] a blackbox service promises no id: one request element without id or token."""
    before = api.counts()
    created = items(api.post_request({**GRAFFITI, "service_code": "tip"}, fmt), fmt)
    assert len(created) == 1
    assert "service_request_id" not in created[0]
    assert "token" not in created[0]
    assert api.counts()["service_requests"] == before["service_requests"] + 1


@pytest.mark.parametrize(
    "location",
    [
        {"lat": "40.7128", "long": "-74.006"},
        {"address_string": "1 Centre St, New York, NY"},
        {"address_id": "ADDR-1001"},
        {"lat": "", "long": "", "address_string": "1 Centre St"},
    ],
    ids=["lat_long", "address_string", "address_id", "empty_lat_long_with_address"],
)
def test_post_request__any_one_location__accepted(api: Open311, fmt: str, location: dict[str, str]) -> None:
    """[POST-01][JUR-03] lat+long, address_string or address_id is enough; empty lat/long count as absent."""
    created = items(api.post_request({"service_code": "graffiti", **location}, fmt), fmt)
    got = api.request(created[0]["service_request_id"])
    if "address_string" in location:
        assert got["address"] == location["address_string"]
    if "address_id" in location:
        assert got["address_id"] == "ADDR-1001"
    if location.get("lat"):
        assert got["lat"] == pytest.approx(40.7128)
        assert got["long"] == pytest.approx(-74.006)


def test_post_request__description_of_exactly_4000__accepted(api: Open311) -> None:
    """[POST-01] the limit is 4,000 characters inclusive."""
    rid = api.create(description=A4000)
    assert api.request(rid)["description"] == A4000


@pytest.mark.parametrize("jurisdiction", ["", "test.example.gov", "undefined"])
def test_post_request__jurisdiction_id_in_body__tolerated(api: Open311, fmt: str, jurisdiction: str) -> None:
    """[JUR-01][JUR-03][JUR-04] jurisdiction_id (empty, ours, or node-open311's 'undefined') is accepted."""
    created = items(api.post_request({**GRAFFITI, "jurisdiction_id": jurisdiction}, fmt), fmt)
    assert created[0]["service_request_id"]


def test_post_request__spec_example_body__accepted(api: Open311, fmt: str) -> None:
    """[§2.3] the spec's example body, with every optional field, is accepted."""
    fields = [
        ("jurisdiction_id", "city.gov"), ("service_code", "pothole"), ("lat", "37.76524078"),
        ("long", "-122.4212043"), ("address_string", "1234 5th street"), ("email", "smit222@sfgov.edu"),
        ("device_id", "tt222111"), ("account_id", "123456"), ("first_name", "john"), ("last_name", "smith"),
        ("phone", "111111111"), ("description", "A large sinkhole is destroying the street"),
        ("media_url", "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"),
        ("attribute[WHISPAWN]", "123456"), ("attribute[WHISDORN]", "COISL001"), ("attribute[size]", "large"),
    ]  # fmt: skip
    item = items(api.post_request(fields, fmt), fmt)[0]
    got = api.request(item["service_request_id"])
    assert got["media_url"] == "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"
    assert got["lat"] == pytest.approx(37.76524078)


def stored_attributes(api: Open311, rid: str) -> dict[str, Any]:
    attributes: dict[str, Any] = api.request(rid, extensions="true")["extended_attributes"]["attributes"]
    return attributes


@pytest.mark.parametrize(
    "lanes",
    [
        [("attribute[lanes][]", "left"), ("attribute[lanes][]", "right")],
        [("attribute[lanes]", "left"), ("attribute[lanes]", "right")],
        [("attribute[lanes]", "left"), ("attribute[lanes][]", "right")],
    ],
    ids=["brackets", "repeated_key", "mixed"],
)
def test_post_request__multivaluelist_forms__all_values_kept(
    api: Open311, fmt: str, lanes: list[tuple[str, str]]
) -> None:
    """[POST-03] ``attribute[c][]=v`` (spec, GeoReporter) and repeated ``attribute[c]=v`` both give a list."""
    item = items(api.post_request([*POTHOLE.items(), *lanes], fmt), fmt)[0]
    assert stored_attributes(api, item["service_request_id"])["lanes"] == ["left", "right"]


def test_post_request__multivaluelist_single_value__list_of_one(api: Open311) -> None:
    """[POST-03] a single value for a multivaluelist counts as a list of one."""
    rid = api.create(POTHOLE, **{"attribute[lanes]": "left"})
    assert stored_attributes(api, rid)["lanes"] == ["left"]


def test_post_request__every_datatype__values_stored(api: Open311) -> None:
    """[POST-01][DT-03] valid values for all six datatypes are accepted and kept."""
    rid = api.create(
        POTHOLE,
        **{
            "attribute[size]": "large",
            "attribute[depth]": "12.5",
            "attribute[seen]": "2026-11-27 08:30:00-05:00",
            "attribute[landmark]": "Corner shop",
            "attribute[notes]": "Two lines\nof text",
            "attribute[lanes][]": "right",
        },
    )
    stored = stored_attributes(api, rid)
    assert stored["size"] == "large"
    assert stored["lanes"] == ["right"]
    assert stored["landmark"] == "Corner shop"
    assert stored["notes"] == "Two lines\nof text"
    assert float(stored["depth"]) == 12.5


def test_post_request__optional_singlevaluelist_empty__accepted(api: Open311) -> None:
    """[POST-01][JUR-03] an empty value for an optional attribute counts as not given."""
    rid = api.create(POTHOLE, **{"attribute[lanes]": "", "attribute[depth]": ""})
    assert "lanes" not in stored_attributes(api, rid)


def test_post_request__unknown_attributes__ignored(api: Open311, fmt: str) -> None:
    """[POST-02] FixMyStreet sends attribute[title], [report_url], [easting]…: they are ignored, not errors."""
    fields = {
        **POTHOLE,
        "attribute[title]": "Hole", "attribute[report_url]": "https://fms.example/report/1",
        "attribute[easting]": "530000", "attribute[fixmystreet_id]": "77", "attribute[info]": "client-set",
    }  # fmt: skip
    item = items(api.post_request(fields, fmt), fmt)[0]
    stored = stored_attributes(api, item["service_request_id"])
    assert stored == {"size": "small"}


@pytest.mark.parametrize("name", ["deviceid", "device_id"])
def test_post_request__deviceid_alias__stored_as_device_id(api: Open311, fmt: str, name: str) -> None:
    """[POST-05] FixMyStreet's ``deviceid`` is an alias of ``device_id``."""
    item = items(api.post_request({**GRAFFITI, name: "phone-42"}, fmt), fmt)[0]
    with api.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT device_id FROM service_requests WHERE id = :id"), {"id": int(item["service_request_id"])}
        ).scalar_one()
    assert stored == "phone-42"


def test_post_request__repeated_media_url__first_shown_all_kept(api: Open311, fmt: str) -> None:
    """[POST-04] FMS multi_photos repeats media_url: the first is the request's media_url, the rest are kept
    in the timeline (shown with extensions=true)."""
    urls = ["https://img.example.org/1.jpg", "https://img.example.org/2.jpg", "https://img.example.org/3.jpg"]
    item = items(api.post_request([*GRAFFITI.items(), *(("media_url", u) for u in urls)], fmt), fmt)[0]
    got = api.request(item["service_request_id"], extensions="true")
    assert got["media_url"] == urls[0]
    assert [n["media_url"] for n in got["notes"] if n["media_url"]] == urls[1:]


def test_post_request__json_body__415_in_requested_format(api: Open311, fmt: str) -> None:
    """[GEN-02][ERR-03] POST bodies are form-encoded; an application/json body is 415, nothing written."""
    before = api.counts()
    response = api.client.post(url("requests", fmt), json={**GRAFFITI, "api_key": api.keys["submit"]})
    assert "application/json" in assert_error(response, fmt, 415)
    assert api.counts() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_post_request__other_content_types__415(api: Open311, fmt: str, content_type: str | None) -> None:
    """[GEN-02] only urlencoded and multipart bodies are read."""
    headers = {"content-type": content_type} if content_type else {}
    response = api.client.post(url("requests", fmt), content=b"service_code=graffiti", headers=headers)
    assert_error(response, fmt, 415)


def test_post_request__urlencoded_with_charset__accepted(api: Open311, fmt: str) -> None:
    """[GEN-02][GEN-03] ``application/x-www-form-urlencoded; charset=utf-8`` with UTF-8 text."""
    body = "service_code=graffiti&lat=1&long=2&description=caf%C3%A9+%E2%9C%93&api_key=" + api.keys["submit"]
    response = api.client.post(
        url("requests", fmt), content=body, headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    )
    rid = items(response, fmt)[0]["service_request_id"]
    assert api.request(rid)["description"] == "café ✓"


def test_post_request__body_over_limit__413_in_requested_format(api: Open311, fmt: str) -> None:
    """[ERR-03] a body over max_body_bytes (2 MiB in tests) is refused with 413 in the suffix's format."""
    before = api.counts()
    response = api.post_request({**GRAFFITI, "description": "x" * (2 * 1024 * 1024 + 10)}, fmt)
    assert "larger" in assert_error(response, fmt, 413)
    assert api.counts() == before


def test_post_request__chunked_body_over_limit__413(api: Open311, fmt: str) -> None:
    """[ERR-03] the body limit holds without a Content-Length header too."""
    before = api.counts()

    def chunks() -> Any:
        yield f"api_key={api.keys['submit']}&service_code=graffiti&lat=1&long=2&description=".encode()
        for _ in range(30):
            yield b"x" * 100_000

    response = api.client.post(
        url("requests", fmt), content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert_error(response, fmt, 413)
    assert api.counts() == before


@pytest.mark.parametrize("suffix", ["html", "csv"])
def test_post_request__unknown_format_suffix__404_and_nothing_written(api: Open311, suffix: str) -> None:
    """[GEN-01] POST to ``requests.html`` is 404, and nothing is created."""
    before = api.counts()
    assert_error(api.post_request(GRAFFITI, suffix), "json", 404)
    assert api.counts() == before


def test_requests__method_not_allowed__405_in_requested_format(client: TestClient, fmt: str) -> None:
    """[ERR-01][ERR-03] a wrong method gets the error list in the suffix's format, too."""
    for method in ("PUT", "DELETE", "PATCH"):
        assert_error(client.request(method, url("requests", fmt)), fmt, 405)
    assert_error(client.post(url("services", fmt), data={}), fmt, 405)
