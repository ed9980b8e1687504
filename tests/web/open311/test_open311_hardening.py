"""Issue 8 §3 on the Open311 routes, each found by trying it (both formats, both databases): strict numbers,
capped id lists, the key before the body, and update times and media links a back end may not invent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from open311_support import GRAFFITI, NOW, Open311, assert_error, url, w3c

# -- strict numbers ------------------------------------------------------------------------------------------------
NOT_PLAIN_DECIMALS = ["4_0.7", "٤٠.٧", "４０.７", "nan", "inf", "0x28", "40.7.1", "1" * 50]


@pytest.mark.parametrize("lat", NOT_PLAIN_DECIMALS)
def test_post_request__lat_not_an_ascii_decimal__400_and_nothing_written(api: Open311, fmt: str, lat: str) -> None:
    before = api.counts()
    reply = api.post_request({**GRAFFITI, "lat": lat}, fmt)
    assert "lat must be a decimal number" in assert_error(reply, fmt, 400)
    assert api.counts() == before


@pytest.mark.parametrize("lat", ["4_0.7", "٤٠.٧"])
def test_service_list__lat_not_an_ascii_decimal__400(api: Open311, fmt: str, lat: str) -> None:
    reply = api.client.get(url("services", fmt), params={"lat": lat, "long": "-74.0"})
    assert_error(reply, fmt, 400)


@pytest.mark.parametrize(("name", "value"), [("page", "１"), ("page", "1_0"), ("page", "٢"), ("page_size", "1_0")])
def test_request_list__page_not_ascii_digits__400(api: Open311, fmt: str, name: str, value: str) -> None:
    reply = api.client.get(url("requests", fmt), params={name: value})
    assert f"{name} must be a whole number" in assert_error(reply, fmt, 400)


def test_post_request__plain_decimals__still_accepted(api: Open311) -> None:
    for lat in ("40.7128", " 40.7128 ", "+40.7128", "4.07128e1"):
        assert api.post_request({**GRAFFITI, "lat": lat}).status_code == 200, lat


# -- service_request_id lists --------------------------------------------------------------------------------------
def test_request_list__more_ids_than_a_page__400(api: Open311, fmt: str) -> None:
    """10,000 ids used to ask for a 16 MB reply; the list is capped at the page size (1000) like every list."""
    for count in (10_000, 1001):
        ids = ",".join(str(n) for n in range(1, count + 1))
        reply = api.client.get(f"{url('requests', fmt)}?service_request_id={ids}")
        assert f"at most 1000 ids; got {count}" in assert_error(reply, fmt, 400)


def test_request_list__a_page_of_ids__answered(api: Open311, fmt: str) -> None:
    rid = api.create()
    ids = ",".join([rid, *(str(n) for n in range(100_000, 100_999))])  # 1000 ids
    assert [str(r["service_request_id"]) for r in api.requests(fmt, service_request_id=ids)] == [rid]


# -- the key before the body ---------------------------------------------------------------------------------------
BAD_BODIES = [
    {**GRAFFITI, "lat": "4_0.7"},
    {**GRAFFITI, "description": "a\x00b"},
    {**GRAFFITI, "service_code": "no-such-service"},
    {**GRAFFITI, "jurisdiction_id": "x\x00"},
    {"lat": "91", "long": "0"},
]


@pytest.mark.parametrize("body", BAD_BODIES)
@pytest.mark.parametrize("key", [None, "cs_not_a_key", "update"])
def test_post_request__bad_key_and_bad_body__403(api: Open311, fmt: str, body: dict[str, str], key: str | None) -> None:
    """KEY-01: no key, an unknown key or one without the submit scope is a 403 whatever the body holds."""
    fields = dict(body)
    if key is not None:
        fields["api_key"] = api.keys.get(key, key)
    reply = api.post_request(fields, fmt, key=None)
    assert_error(reply, fmt, 403)


@pytest.mark.parametrize("body", BAD_BODIES)
def test_post_request__good_key_and_bad_body__400_or_404(api: Open311, fmt: str, body: dict[str, str]) -> None:
    reply = api.post_request(body, fmt)
    assert reply.status_code in (400, 404), reply.text


@pytest.mark.parametrize("key", [None, "cs_not_a_key", "submit"])
def test_post_update__bad_key_and_nul_in_the_body__403(api: Open311, fmt: str, key: str | None) -> None:
    rid = api.create()
    data = {"service_request_id": rid, "update_id": "u\x00", "status": "FIXED", "updated_datetime": w3c(NOW)}
    if key is not None:
        data["api_key"] = api.keys.get(key, key)
    assert_error(api.client.post(url("servicerequestupdates", fmt), data=data), fmt, 403)


# -- update times and media ----------------------------------------------------------------------------------------
def test_post_update__time_before_the_request_was_filed__400_and_nothing_written(api: Open311, fmt: str) -> None:
    rid = api.create()  # filed at NOW
    before = api.counts()
    reply = api.post_update(rid, "u-1", "FIXED", fmt, updated_datetime=w3c(NOW - timedelta(days=1)))
    assert "before the request was filed" in assert_error(reply, fmt, 400)
    assert api.counts() == before and api.request(rid)["status"] == "open"


def test_post_update__time_in_the_future__400(api: Open311, fmt: str) -> None:
    rid = api.create()
    reply = api.post_update(rid, "u-1", "FIXED", fmt, updated_datetime=w3c(NOW + timedelta(minutes=6)))
    assert "in the future" in assert_error(reply, fmt, 400)


def test_post_update__clock_difference_within_the_skew__accepted_at_the_filing_time(api: Open311) -> None:
    """A back end whose clock is a little behind or ahead of ours is not refused; an update dated just before the
    filing is recorded at the filing time, so the timeline never starts with an update."""
    rid = api.create()
    assert api.post_update(rid, "u-1", "INVESTIGATING", updated_datetime=w3c(NOW - timedelta(minutes=4))).is_success
    assert api.post_update(rid, "u-2", "IN_PROGRESS", updated_datetime=w3c(NOW + timedelta(minutes=4))).is_success
    notes = api.request(rid, extensions="true")["notes"]
    assert [n["datetime"] for n in notes] == [w3c(NOW), w3c(NOW), w3c(NOW + timedelta(minutes=4))]


@pytest.mark.parametrize("media_url", ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,<b>x</b>", "/x"])
def test_post_update__media_url_not_http__400(api: Open311, fmt: str, media_url: str) -> None:
    rid = api.create()
    reply = api.post_update(rid, "u-1", "FIXED", fmt, media_url=media_url)
    assert "media_url must be an http(s) URL" in assert_error(reply, fmt, 400)
