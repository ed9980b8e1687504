"""GET Service Requests (checklist §2.5) with paging, update-time filters and extensions (§3.1-3.3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from open311_support import (
    DATETIME,
    GRAFFITI,
    NOW,
    POTHOLE,
    REQUEST_KEYS,
    Open311,
    Validate,
    assert_error,
    items,
    parse_xml,
    url,
    w3c,
)

DAY = timedelta(days=1)


def close(api: Open311, rid: str, update_id: str = "close-1", at: datetime | None = None) -> None:
    """Close a request through the FixMyStreet update extension, at ``at`` (default: the clock's now)."""
    when = w3c(at or api.clock.now())
    response = api.post_update(rid, update_id, "FIXED", updated_datetime=when, description="Filled the hole")
    assert response.status_code == 200, response.text


# -- shape ----------------------------------------------------------------------------------------------
def test_get_requests__json__all_17_keys_and_valid_per_schema(api: Open311, validate: Validate) -> None:
    """[REQS-04][GEN-05][GEN-06] every standard key in every item, null when unknown; ids are strings,
    lat/long numbers; the list validates against the official requests.json schema."""
    api.create(GRAFFITI)
    api.create({"service_code": "graffiti", "address_string": "1 Centre St"})
    api.create({"service_code": "graffiti", "address_id": "A-1", "zipcode": "10007"})
    rid = api.create(POTHOLE, media_url="https://img.example.org/p.jpg", description="Deep")
    close(api, rid)
    body = api.requests("json")
    validate(body, "requests.json")
    assert len(body) == 4
    for item in body:
        assert set(REQUEST_KEYS) <= set(item), set(REQUEST_KEYS) - set(item)
        assert isinstance(item["service_request_id"], str)
        assert item["status"] in ("open", "closed")
        assert item["media_url"] != ""  # [REQS-04] null or a URL, never ""
        assert isinstance(item["address"], str)  # "" rather than null when unknown
        for key in ("requested_datetime", "updated_datetime"):
            assert DATETIME.match(item[key]), item[key]  # [DT-02]
        if item["expected_datetime"] is not None:
            assert DATETIME.match(item["expected_datetime"])
    closed = next(i for i in body if i["service_request_id"] == rid)
    assert closed["status"] == "closed"
    assert closed["media_url"] == "https://img.example.org/p.jpg"
    assert closed["service_name"] == "Pothole"
    assert closed["agency_responsible"] == "Department of Transportation"
    assert isinstance(closed["lat"], int | float) and isinstance(closed["long"], int | float)
    address_only = next(i for i in body if i["address"] == "1 Centre St")
    assert address_only["lat"] is None and address_only["media_url"] is None
    assert next(i for i in body if i["address_id"] == "A-1")["zipcode"] == "10007"


def test_get_requests__xml__every_standard_element(api: Open311) -> None:
    """[REQS-04][GEN-03][GEN-05] service_requests/request, every standard element present (empty when unknown)."""
    api.create(GRAFFITI)
    api.create({"service_code": "graffiti", "address_string": "1 Centre St"})
    found = api.requests("xml")
    assert len(found) == 2
    for item in found:
        assert set(REQUEST_KEYS) <= set(item), set(REQUEST_KEYS) - set(item)
        assert DATETIME.match(item["requested_datetime"])
        assert item["status"] == "open"
    with_point = next(i for i in found if i["address"] is None)
    assert float(with_point["lat"]) == pytest.approx(40.7128)
    assert next(i for i in found if i["address"] == "1 Centre St")["lat"] is None


def test_get_requests__xml_control_characters_in_text__still_well_formed(api: Open311) -> None:
    """[GEN-03][GEN-04] text pasted with control characters (vertical tab, form feed, bell) cannot break the
    XML: every XML response stays well-formed; JSON keeps the text as sent (escaped)."""
    text = "Line\x0bfeed\x0c bell\x07 tab\tend"
    rid = api.create(POTHOLE, description=text, address_string="Main\x1fSt", **{"attribute[landmark]": "Shop\x08"})
    assert api.post_update(rid, "u-1", "IN_PROGRESS", description="On\x0bit").status_code == 200
    for path, params in [("requests", {}), ("requests", {"extensions": "true"}), (f"requests/{rid}", {}),
                         (f"requests/{rid}", {"extensions": "true"}), ("servicerequestupdates", {})]:  # fmt: skip
        response = api.client.get(url(path, "xml"), params=params)
        parse_xml(response)  # raises if not well-formed
        if path != "servicerequestupdates":
            assert "Linefeed" in response.text  # the vertical tab is dropped, the text kept
    assert api.request(rid, "json")["description"] == text
    assert api.requests("json")[0]["description"] == text


def test_get_requests__datetimes__utc_z_seconds(api: Open311, fmt: str) -> None:
    """[DT-01][DT-02] output is UTC ``YYYY-MM-DDTHH:MM:SSZ``: requested_datetime is the submission instant."""
    api.create_at(NOW + timedelta(hours=5, minutes=3, seconds=7), POTHOLE)
    item = api.requests(fmt)[0]
    assert item["requested_datetime"] == "2026-11-28T17:03:07Z"
    assert item["updated_datetime"] == "2026-11-28T17:03:07Z"
    assert item["expected_datetime"] == "2026-12-01T17:03:07Z"  # pothole's 72 h target


def test_get_requests__nothing_matches__200_empty_list(api: Open311, fmt: str) -> None:
    """[REQS-03] an empty result is 200 with ``[]`` / ``<service_requests/>``, never 404."""
    response = api.client.get(url("requests", fmt))
    assert items(response, fmt) == []
    if fmt == "json":
        assert response.content == b"[]"
    api.create(GRAFFITI)
    assert api.requests(fmt, service_code="pothole") == []


@pytest.mark.parametrize(
    "params",
    [{"api_key": "whatever"}, {"api_key": ""}, {"jurisdiction_id": ""}, {"jurisdiction_id": "undefined"},
     {"jurisdiction_id": "test.example.gov", "api_key": "cs_x"}],
)  # fmt: skip
def test_get_requests__api_key_or_jurisdiction__tolerated(api: Open311, fmt: str, params: dict[str, str]) -> None:
    """[KEY-03][JUR-01][JUR-04] GETs ignore api_key and a single-jurisdiction server ignores jurisdiction_id."""
    api.create(GRAFFITI)
    assert len(api.requests(fmt, **params)) == 1


def test_get_requests__every_optional_param_empty__same_as_absent(api: Open311, fmt: str) -> None:
    """[JUR-03] empty optional parameters behave exactly like absent ones."""
    api.create(GRAFFITI)
    api.create(POTHOLE)
    empty = {
        name: ""
        for name in ("service_request_id", "service_code", "start_date", "end_date", "status", "updated_after",
                     "updated_before", "page", "page_size", "extensions", "jurisdiction_id", "api_key")
    }  # fmt: skip
    assert api.requests(fmt, **empty) == api.requests(fmt)
    assert "extended_attributes" not in api.requests(fmt, **empty)[0]


def test_get_requests__json_whole_number_coordinates__keep_decimal_point(api: Open311) -> None:
    """[REQS-05][GEN-06] lat/long always carry a decimal point (open311-validator-py evals them as floats),
    in the database-rendered list exactly as in the single-request route."""
    rid = api.create(GRAFFITI, lat="40", long="-74")
    single = api.client.get(url(f"requests/{rid}", "json")).text
    listed = api.client.get(url("requests", "json")).text
    for body in (single, listed):
        item = json.loads(body)[0]
        assert (item["lat"], item["long"]) == (40.0, -74.0)
        assert isinstance(item["lat"], float) and isinstance(item["long"], float), body


def test_get_requests__json_full_precision_coordinates__stored_to_seven_places_same_in_both_routes(
    api: Open311,
) -> None:
    """[REQ-01][GEN-06] coordinates are kept to 7 decimal places (about 1 cm); the list and the single route
    give the same digits."""
    rid = api.create(GRAFFITI, lat="40.123456789012344", long="-74.00000000000001")
    assert (api.request(rid)["lat"], api.request(rid)["long"]) == (40.1234568, -74.0)
    listed = api.requests()[0]
    assert (listed["lat"], listed["long"]) == (40.1234568, -74.0)


# -- order and paging -----------------------------------------------------------------------------------
def test_get_requests__order__newest_first_then_id_descending(api: Open311, fmt: str) -> None:
    """[REQS-02] requested_datetime descending, ties broken by id descending."""
    old = api.create_at(NOW)
    same_a = api.create_at(NOW + 2 * DAY)
    same_b = api.create_at(NOW + 2 * DAY)
    new = api.create_at(NOW + 3 * DAY)
    assert api.ids(fmt) == [new, same_b, same_a, old]


def test_get_requests__pages__disjoint_stable_and_complete(api: Open311, fmt: str) -> None:
    """[REQS-02][PAGE-01] 1-based pages of page_size are disjoint, in order, and together give everything."""
    created = [api.create_at(NOW + timedelta(hours=h)) for h in (0, 0, 1, 1, 2, 2, 2)]
    everything = api.ids(fmt)
    assert sorted(everything) == sorted(created)
    pages = [api.ids(fmt, page=str(n), page_size="3") for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert pages[0] + pages[1] + pages[2] == everything
    assert api.ids(fmt, page="2", page_size="3") == pages[1]  # stable on repeat


def test_get_requests__page_past_the_end__200_empty(api: Open311, fmt: str) -> None:
    """[PAGE-01] beyond the last page: 200 with an empty list (chicagorequests stops there)."""
    for _ in range(3):
        api.create(GRAFFITI)
    assert len(api.requests(fmt, page="3", page_size="1")) == 1
    for page in ("4", "50", "1000000", "99999999999999999999"):
        assert api.requests(fmt, page=page, page_size="1") == [], page


PAGE_CLAMPS = [
    ({"page": "0", "page_size": "2"}, 2),  # page < 1 is page 1
    ({"page": "-3", "page_size": "2"}, 2),
    ({"page_size": "0"}, 1),  # page_size < 1 is 1
    ({"page_size": "-10"}, 1),
    ({"page_size": "1000000"}, 5),  # above the maximum is the maximum
    ({"page_size": "99999999999999999999"}, 5),
    ({"page": " 1 ", "page_size": " 2 "}, 2),
]


def test_get_requests__page_out_of_range__clamped(api: Open311, fmt: str) -> None:
    """[PAGE-02] out-of-range page/page_size are clamped into range (the friendlier choice), not refused."""
    for _ in range(5):
        api.create(GRAFFITI)
    for params, expected in PAGE_CLAMPS:
        assert len(api.requests(fmt, **params)) == expected, params


def test_get_requests__non_integer_page__400(api: Open311, fmt: str) -> None:
    """[PAGE-02] a page or page_size that is not a whole number is 400 naming the parameter."""
    for name, value in [("page", "two"), ("page", "1.5"), ("page_size", "ten"), ("page_size", "1e2")]:
        response = api.client.get(url("requests", fmt), params={name: value})
        assert name in assert_error(response, fmt, 400), (name, value)


# -- filters --------------------------------------------------------------------------------------------
def test_get_requests__service_request_id__overrides_every_other_filter(api: Open311, fmt: str) -> None:
    """[REQS-01] service_request_id ignores service_code, status, dates and paging (but not jurisdiction)."""
    ancient = api.create_at(NOW)
    recent = api.create_at(NOW + 400 * DAY)
    params = {
        "service_request_id": f"{ancient},{recent}",
        "service_code": "pothole",
        "status": "closed",
        "start_date": "2026-11-01T00:00:00Z",
        "end_date": "2026-11-02T00:00:00Z",
        "page": "7",
        "page_size": "1",
    }
    assert api.ids(fmt, **params) == [recent, ancient]


def test_get_requests__service_request_id_list__unknown_and_odd_ids_skipped(api: Open311, fmt: str) -> None:
    """[REQS-01][REQ-02] a comma list may hold unknown or non-numeric ids (Chicago's 14-01100669): they match
    nothing; the known ones are returned."""
    rid = api.create(GRAFFITI)
    ids = f" {rid} ,14-01100669,999999,abc,²,99999999999999999999,,{rid}"
    assert api.ids(fmt, service_request_id=ids) == [rid]
    assert api.requests(fmt, service_request_id="14-01100669") == []


def test_get_requests__service_code_comma_list__or_within_and_across(api: Open311, fmt: str) -> None:
    """[REQS-01] service_code is one code or a comma list; unknown codes match nothing."""
    graffiti = api.create(GRAFFITI)
    pothole = api.create(POTHOLE)
    bulk = api.create({**GRAFFITI, "service_code": "bulk-pickup"})
    assert api.ids(fmt, service_code="graffiti") == [graffiti]
    assert set(api.ids(fmt, service_code="graffiti,pothole")) == {graffiti, pothole}
    assert set(api.ids(fmt, service_code=" pothole , bulk-pickup ,")) == {pothole, bulk}
    assert api.ids(fmt, service_code="no-such") == []


def test_get_requests__status_filter__open_closed_and_both(api: Open311, fmt: str) -> None:
    """[REQS-01][STAT-01] status open, closed or open,closed; combined with service_code by AND."""
    open_one = api.create(POTHOLE)
    closed_one = api.create(POTHOLE)
    progressing = api.create(GRAFFITI)
    close(api, closed_one)
    assert api.post_update(progressing, "p-1", "IN_PROGRESS").status_code == 200
    assert set(api.ids(fmt, status="open")) == {open_one, progressing}
    assert api.ids(fmt, status="closed") == [closed_one]
    assert len(api.ids(fmt, status="open,closed")) == 3
    assert len(api.ids(fmt, status="closed,open")) == 3
    assert api.ids(fmt, status="open", service_code="pothole") == [open_one]
    assert {r["status"] for r in api.requests(fmt)} == {"open", "closed"}


@pytest.mark.parametrize("status", ["pending", "open,pending", "fixed", "in_progress"])
def test_get_requests__bad_status__400(api: Open311, fmt: str, status: str) -> None:
    """[REQS-01][STAT-01] only open and closed are core statuses."""
    assert "status" in assert_error(api.client.get(url("requests", fmt), params={"status": status}), fmt, 400)


# -- date windows ---------------------------------------------------------------------------------------
def test_get_requests__no_dates__last_90_days(api: Open311, fmt: str) -> None:
    """[REQS-01][§2.5] without dates the default window is the last 90 days."""
    asked = NOW + 400 * DAY
    api.create_at(NOW)
    api.create_at(asked - 91 * DAY)
    edge = api.create_at(asked - 90 * DAY + timedelta(seconds=1))
    inside = api.create_at(asked - 89 * DAY)
    api.clock.set(asked)
    assert api.ids(fmt) == [inside, edge]


def test_get_requests__start_and_end__inclusive_window(api: Open311, fmt: str) -> None:
    """[REQS-01] start_date ≤ requested_datetime ≤ end_date, both bounds inclusive, AND with other filters."""
    a = api.create_at(NOW)
    api.create_at(NOW + 10 * DAY, POTHOLE)
    b = api.create_at(NOW + 20 * DAY)
    api.create_at(NOW + 20 * DAY + timedelta(seconds=1))
    api.clock.set(NOW + 200 * DAY)
    params = {"start_date": w3c(NOW), "end_date": w3c(NOW + 20 * DAY), "service_code": "graffiti"}
    assert api.ids(fmt, **params) == [b, a]


def test_get_requests__start_only__90_days_from_start(api: Open311, fmt: str) -> None:
    """[REQS-01] with only start_date the window is start_date + 90 days."""
    start = NOW + DAY
    api.create_at(start - timedelta(seconds=1))
    first = api.create_at(start)
    last = api.create_at(start + 90 * DAY)
    api.create_at(start + 91 * DAY)
    api.clock.set(start + 300 * DAY)
    assert api.ids(fmt, start_date=w3c(start)) == [last, first]


def test_get_requests__end_only__90_days_before_end(api: Open311, fmt: str) -> None:
    """[REQS-01] with only end_date the window is end_date - 90 days."""
    end = NOW + 100 * DAY
    api.create_at(end - 91 * DAY)
    first = api.create_at(end - 90 * DAY)
    last = api.create_at(end)
    api.create_at(end + DAY)
    assert api.ids(fmt, end_date=w3c(end)) == [last, first]


def test_get_requests__date_only_end__includes_that_whole_day(api: Open311, fmt: str) -> None:
    """[DT-03] a date-only end_date reaches the end of that day."""
    late = api.create_at(datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC))
    api.create_at(datetime(2026, 11, 30, 0, 0, 0, tzinfo=UTC))
    assert api.ids(fmt, start_date="2026-11-29", end_date="2026-11-29") == [late]


@pytest.mark.parametrize(
    ("start", "end"),
    [("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"), ("2026-08-01", "2026-11-28"),
     ("2026-08-30T00:00:00Z", "2026-11-28T00:00:01Z")],
)  # fmt: skip
def test_get_requests__range_over_90_days__400(api: Open311, fmt: str, start: str, end: str) -> None:
    """[REQS-01] documented choice: a start_date..end_date range over 90 days is refused, not clipped."""
    response = api.client.get(url("requests", fmt), params={"start_date": start, "end_date": end})
    assert "90" in assert_error(response, fmt, 400)


def test_get_requests__range_of_exactly_90_days__200(api: Open311, fmt: str) -> None:
    """[REQS-01] 90 days exactly is allowed."""
    response = api.client.get(
        url("requests", fmt), params={"start_date": "2026-08-30T00:00:00Z", "end_date": "2026-11-28T00:00:00Z"}
    )
    assert items(response, fmt) == []


def test_get_requests__end_before_start__400(api: Open311, fmt: str) -> None:
    """[REQS-01] an inverted range is a client error."""
    response = api.client.get(url("requests", fmt), params={"start_date": "2026-11-20", "end_date": "2026-11-10"})
    assert "end_date" in assert_error(response, fmt, 400)


LENIENT_START = [
    "2026-12-01T00:00:00Z",
    "2026-12-01T00:00:00z",
    "2026-12-01T00:00:00+00:00",
    "2026-11-30T20:00:00-04:00",
    "2026-12-01T05:30:00+05:30",
    "2026-12-01T05:30:00+0530",
    "2026-12-01T00:00:00.000Z",
    "2026-11-30T19:00:00.000000000-05:00",
    "2026-12-01 00:00:00+00:00",
    "2026-11-30 19:00:00-05:00",
    "2026-12-01T00:00:00",
    "2026-12-01 00:00:00",
    "2026-12-01T00:00",
    "2026-12-01",
]
MALFORMED_DATES = [
    "yesterday", "2026-13-01", "2026-11-31", "2026-11-01T25:00:00Z", "01/11/2026", "2026-11-01T00:00:00+25:00",
    "2026-11-01T00:00:00 EST", "1700000000", "2026-11-01Tnoon", "2026-11-01T00:00:00ZZ",
]  # fmt: skip


def test_get_requests__lenient_start_date__parsed(api: Open311, fmt: str) -> None:
    """[DT-03] Z, offsets, fractions (chicagorequests), a space (Python str(datetime)), no zone (taken as
    UTC) and a bare date are all accepted as start_date, and all mean 2026-12-01T00:00:00Z here."""
    api.create_at(datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))  # just before
    inside = api.create_at(datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC))  # on the bound
    for value in LENIENT_START:
        assert api.ids(fmt, start_date=value) == [inside], value


@pytest.mark.parametrize("name", ["start_date", "end_date", "updated_after", "updated_before"])
def test_get_requests__malformed_date__400_naming_the_parameter(api: Open311, fmt: str, name: str) -> None:
    """[DT-03] anything that is not a (lenient) W3C date-time is 400, and the error names the parameter."""
    for value in MALFORMED_DATES:
        response = api.client.get(url("requests", fmt), params={name: value})
        assert name in assert_error(response, fmt, 400), value


@pytest.mark.parametrize(
    ("params", "found"),
    [({"end_date": "0001-01-01"}, 0), ({"end_date": "0001-03-01T00:00:00Z"}, 0), ({"start_date": "9999-12-31"}, 0),
     ({"start_date": "9999-12-31T23:59:59Z"}, 0), ({"start_date": "0001-01-01", "end_date": "0001-01-02"}, 0),
     ({"updated_after": "0001-01-01T00:00:00Z"}, 1), ({"updated_before": "9999-12-31T23:59:59Z"}, 1)],
)  # fmt: skip
def test_get_requests__dates_at_the_edge_of_the_calendar__200_not_500(
    api: Open311, fmt: str, params: dict[str, str], found: int
) -> None:
    """[DT-03][REQS-01][UPD-01] a window reaching past year 1 or 9999 is held at the calendar's edge: 200, not 500."""
    api.create(GRAFFITI)
    assert len(api.requests(fmt, **params)) == found


# -- updated_after / updated_before ---------------------------------------------------------------------
def test_get_requests__updated_after__disables_default_window(api: Open311, fmt: str) -> None:
    """[UPD-01] updated_after/updated_before select on updated_datetime and drop the 90-day default window,
    so a client can fetch recent changes to old requests."""
    asked = NOW + 200 * DAY
    old_changed = api.create_at(NOW)
    api.create_at(NOW + 50 * DAY)  # old and untouched
    recent = api.create_at(asked - 2 * DAY)
    api.clock.set(asked)
    close(api, old_changed, at=asked - timedelta(hours=1))
    assert api.ids(fmt) == [recent]
    assert api.ids(fmt, updated_after=w3c(asked - 3 * DAY)) == [recent, old_changed]
    assert api.ids(fmt, updated_after=w3c(asked - 3 * DAY), status="closed") == [old_changed]
    changed = api.requests(fmt, updated_after=w3c(asked - timedelta(hours=2)))
    assert [r["service_request_id"] for r in changed] == [old_changed]
    assert changed[0]["updated_datetime"] == w3c(asked - timedelta(hours=1))
    assert changed[0]["requested_datetime"] == w3c(NOW)


def test_get_requests__updated_before__disables_default_window(api: Open311, fmt: str) -> None:
    """[UPD-01] updated_before alone reaches back past 90 days, bounded only by itself."""
    asked = NOW + 300 * DAY
    ancient = api.create_at(NOW)
    old = api.create_at(asked - 120 * DAY)
    api.create_at(asked - DAY)
    assert api.ids(fmt, updated_before=w3c(asked - 100 * DAY)) == [old, ancient]
    both = {"updated_after": w3c(asked - 200 * DAY), "updated_before": w3c(asked - 100 * DAY)}
    assert api.ids(fmt, **both) == [old]


def test_get_requests__updated_before_earlier_than_after__400(api: Open311, fmt: str) -> None:
    """[UPD-01] an inverted update range is a client error."""
    params = {"updated_after": "2026-11-20T00:00:00Z", "updated_before": "2026-11-10T00:00:00Z"}
    assert "updated_before" in assert_error(api.client.get(url("requests", fmt), params=params), fmt, 400)


def test_get_requests__updated_after_with_start_date__both_apply(api: Open311, fmt: str) -> None:
    """[UPD-01] the update-time filters AND with start_date/end_date when both are given."""
    a = api.create_at(NOW)
    b = api.create_at(NOW + 5 * DAY)
    api.clock.set(NOW + 9 * DAY)
    close(api, a, "c-a")
    close(api, b, "c-b")
    params = {"updated_after": w3c(NOW + 8 * DAY), "start_date": w3c(NOW + 4 * DAY)}
    assert api.ids(fmt, **params) == [b]


# -- extensions=true ------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["true", "True", "1", "TRUE"])
def test_get_requests__extensions_true__adds_extended_attributes_and_notes(api: Open311, fmt: str, flag: str) -> None:
    """[EXT-01] extensions=true (also ``True`` from three, and ``1``) adds extended_attributes and notes."""
    rid = api.create(POTHOLE)
    close(api, rid)
    item = api.requests(fmt, extensions=flag)[0]
    assert "extended_attributes" in item and "notes" in item
    if fmt == "json":
        assert isinstance(item["extended_attributes"], dict)
        assert item["extended_attributes"]["channel"] == "open311"
        notes = item["notes"]
        assert isinstance(notes, list) and len(notes) == 2
        assert all(DATETIME.match(n["datetime"]) for n in notes)
        assert notes[-1]["description"] == "Filled the hole"
    else:
        assert item["extended_attributes"]["channel"] == "open311"
        assert isinstance(item["notes"]["note"], list) and len(item["notes"]["note"]) == 2


@pytest.mark.parametrize("flag", [None, "", "false", "0", "no"])
def test_get_requests__without_extensions__no_extended_keys(api: Open311, fmt: str, flag: str | None) -> None:
    """[EXT-01] never emit extended_attributes/notes without the flag (strict validators reject them)."""
    api.create(POTHOLE)
    params = {} if flag is None else {"extensions": flag}
    item = api.requests(fmt, **params)[0]
    assert "extended_attributes" not in item and "notes" not in item
    raw = api.client.get(url("requests", fmt), params=params).text
    assert "extended_attributes" not in raw and "notes" not in raw.replace("status_notes", "")
