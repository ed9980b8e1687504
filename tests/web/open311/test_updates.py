"""FixMyStreet service request updates (checklist §3.6 a/b): POST and GET ``servicerequestupdates``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from open311_support import DATETIME, GRAFFITI, NOW, POTHOLE, Open311, assert_error, items, url, w3c

HOUR = timedelta(hours=1)
UPDATE_KEYS = {"update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"}


def updates(api: Open311, fmt: str = "json", **params: str) -> list[dict[str, Any]]:
    return items(api.client.get(url("servicerequestupdates", fmt), params=params), fmt, "service_request_updates")


def update_id_of(response: Any, fmt: str) -> str:
    """[§3.6b] the reply is service_request_updates/request_update/update_id (JSON: a one-element array)."""
    found = items(response, fmt, "service_request_updates")
    assert len(found) == 1
    update_id = found[0]["update_id"]
    assert isinstance(update_id, str) and update_id
    return update_id


# -- POST: the happy path -------------------------------------------------------------------------------
def test_post_update__in_progress_then_fixed__request_closed(api: Open311, fmt: str) -> None:
    """[§3.6b][STAT-01] upper-case statuses move the request: IN_PROGRESS keeps it open, FIXED closes it;
    updated_datetime follows the update and status_notes is the update's description."""
    rid = api.create(POTHOLE)
    api.clock.advance(HOUR)
    first = update_id_of(api.post_update(rid, "crm-1", "IN_PROGRESS", fmt, description="Crew assigned"), fmt)
    got = api.request(rid, fmt)
    assert (got["status"], got["status_notes"], got["updated_datetime"]) == ("open", "Crew assigned", w3c(NOW + HOUR))
    api.clock.advance(HOUR)
    second = update_id_of(api.post_update(rid, "crm-2", "FIXED", fmt, description="Filled the hole"), fmt)
    assert second != first
    got = api.request(rid, fmt)
    assert got["status"] == "closed"
    assert got["status_notes"] == "Filled the hole"
    assert got["updated_datetime"] == w3c(NOW + 2 * HOUR)
    assert got["requested_datetime"] == w3c(NOW)
    extended = api.request(rid, "json", extensions="true")["extended_attributes"]
    assert [extended[k] for k in ("status", "close_reason", "fixmystreet_status")] == ["closed", "fixed", "fixed"]


@pytest.mark.parametrize(
    ("status", "core", "fms"),
    [("INVESTIGATING", "open", "investigating"), ("ACTION_SCHEDULED", "open", "in_progress"),
     ("CLOSED", "closed", "fixed"), ("DUPLICATE", "closed", "duplicate"),
     ("NOT_COUNCILS_RESPONSIBILITY", "closed", "not_councils_responsibility"),
     ("NO_FURTHER_ACTION", "closed", "no_further_action"), ("CANCELLED", "closed", "cancelled")],
)  # fmt: skip
def test_post_update__each_extended_status__projected_both_ways(api: Open311, status: str, core: str, fms: str) -> None:
    """[§3.6a][§3.6b][STAT-01] each FMS status moves the request; GET requests shows open/closed and GET
    servicerequestupdates the lower-case extended status."""
    rid = api.create(GRAFFITI)
    assert api.post_update(rid, "u-1", status).status_code == 200
    assert api.request(rid)["status"] == core
    assert [u["status"] for u in updates(api)] == [fms]


def test_post_update__open_on_closed_request__reopens(api: Open311, fmt: str) -> None:
    """[§3.6b] OPEN (or REOPEN) on a closed request reopens it."""
    rid = api.create(GRAFFITI)
    assert api.post_update(rid, "u-1", "FIXED").status_code == 200
    api.clock.advance(HOUR)
    update_id_of(api.post_update(rid, "u-2", "OPEN", fmt, description="It is back"), fmt)
    got = api.request(rid, fmt)
    assert (got["status"], got["status_notes"]) == ("open", "It is back")
    assert [u["status"] for u in updates(api)] == ["fixed", "open"]


def test_post_update__note_status__status_unchanged_text_kept(api: Open311) -> None:
    """[§3.6b] OPEN/UNCHANGED/FOR_TRIAGE on an open request add a note and leave the status."""
    rid = api.create(GRAFFITI)
    for n, status in enumerate(("OPEN", "UNCHANGED", "FOR_TRIAGE")):
        assert api.post_update(rid, f"n-{n}", status, description=f"note {n}").status_code == 200
    got = api.request(rid, extensions="true")
    assert got["status"] == "open" and got["status_notes"] == "note 2"
    assert got["extended_attributes"]["status"] == "new"
    assert [n["description"] for n in got["notes"]][1:] == ["note 0", "note 1", "note 2"]


@pytest.mark.parametrize(
    "when", ["2026-11-28 12:30:00+00:00", "2026-11-28T07:30:00-05:00", "2026-11-28T12:30:00.5Z", "2026-11-28T12:30:00"]
)
def test_post_update__lenient_updated_datetime__accepted(api: Open311, when: str) -> None:
    """[DT-03] updated_datetime is read leniently (offsets, fractions, a space, no zone as UTC)."""
    rid = api.create(GRAFFITI)  # filed at 12:00
    api.clock.advance(timedelta(hours=1))
    assert api.post_update(rid, "u-1", "IN_PROGRESS", updated_datetime=when).status_code == 200
    assert updates(api)[0]["updated_datetime"] == "2026-11-28T12:30:00Z"


def test_post_update__key_in_query_string__accepted(api: Open311, fmt: str) -> None:
    """[KEY-02] the update key may come in the query string, like the submit key."""
    rid = api.create(GRAFFITI)
    response = api.client.post(
        url("servicerequestupdates", fmt),
        params={"api_key": api.keys["update_dsny"]},
        data={"service_request_id": rid, "update_id": "q-1", "status": "FIXED",
              "updated_datetime": w3c(NOW), "description": "done"},
    )  # fmt: skip
    update_id_of(response, fmt)
    assert api.request(rid)["status"] == "closed"


# -- POST: idempotency ----------------------------------------------------------------------------------
def test_post_update__same_update_id_again__same_reply_nothing_changed(api: Open311, fmt: str) -> None:
    """[§3.6b][§5 DESIGN] re-sending an update_id the client already sent returns the same update_id and
    changes nothing, even if the body differs (FMS retries after timeouts)."""
    rid = api.create(GRAFFITI)
    first = update_id_of(api.post_update(rid, "crm-7", "IN_PROGRESS", fmt, description="Crew assigned"), fmt)
    before_rows, before_get, before_updates = api.counts(), api.request(rid, fmt), updates(api, fmt)
    api.clock.advance(HOUR)
    again = update_id_of(api.post_update(rid, "crm-7", "IN_PROGRESS", fmt, description="Crew assigned"), fmt)
    different = update_id_of(api.post_update(rid, "crm-7", "FIXED", fmt, description="Other text"), fmt)
    assert again == first == different
    assert api.counts() == before_rows
    assert api.request(rid, fmt) == before_get
    assert updates(api, fmt) == before_updates


# -- POST: refusals -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "extra"),
    [("submit", {}), (None, {}), (None, {"api_key": ""}), (None, {"api_key": "cs_not-a-key"})],
    ids=["submit_scope_only", "missing", "empty", "invalid"],
)
def test_post_update__without_update_key__403_nothing_written(
    api: Open311, fmt: str, key: str | None, extra: dict[str, str]
) -> None:
    """[KEY-01][ERR-02] only a key with the update scope may post updates; others get 403 naming api_key."""
    rid = api.create(GRAFFITI)
    before = api.counts()
    response = api.post_update(rid, "u-1", "FIXED", fmt, key=key, **extra)
    assert "api_key" in assert_error(response, fmt, 403)
    assert api.counts() == before
    assert api.request(rid)["status"] == "open"


@pytest.mark.parametrize(
    "body",
    [{"status": "FIXED"}, {"service_request_id": "1", "update_id": "u", "status": "NOPE", "updated_datetime": "x"}],
    ids=["missing_fields", "malformed_fields"],
)
@pytest.mark.parametrize("key", ["", "cs_not-a-key", "submit"])
def test_post_update__bad_key_and_bad_body__403_first(api: Open311, fmt: str, key: str, body: dict[str, str]) -> None:
    """[KEY-01] without a valid update key the answer is 403, whatever else is wrong with the body."""
    api.create(GRAFFITI)
    before = api.counts()
    response = api.client.post(url("servicerequestupdates", fmt), data={**body, "api_key": api.keys.get(key, key)})
    assert "api_key" in assert_error(response, fmt, 403)
    assert api.counts() == before


@pytest.mark.parametrize(
    ("first", "illegal", "words"),
    [(None, "REOPEN", "new"), ("FIXED", "IN_PROGRESS", "closed"), ("FIXED", "DUPLICATE", "closed")],
    ids=["reopen_open_request", "progress_on_closed", "reclose_with_other_reason"],
)
def test_post_update__illegal_transition__400_clear_message_nothing_written(
    api: Open311, fmt: str, first: str | None, illegal: str, words: str
) -> None:
    """[§3.6b][DESIGN §3] a move the status model forbids is refused with 400 saying from where to where;
    nothing changes."""
    rid = api.create(GRAFFITI)
    if first:
        assert api.post_update(rid, "u-0", first).status_code == 200
    before_rows, before_get = api.counts(), api.request(rid)
    description = assert_error(api.post_update(rid, "u-1", illegal, fmt), fmt, 400)
    assert "cannot go from" in description and words in description, description
    assert api.counts() == before_rows
    assert api.request(rid) == before_get


@pytest.mark.parametrize("request_id", ["999999", "14-01100669", "abc", "²", "99999999999999999999", "2147483648"])
def test_post_update__unknown_request__404_nothing_written(api: Open311, fmt: str, request_id: str) -> None:
    """[ERR-02] an unknown service_request_id (any shape) is 404 naming it, never 500."""
    api.create(GRAFFITI)
    before = api.counts()
    assert "service_request_id" in assert_error(api.post_update(request_id, "u-1", "FIXED", fmt), fmt, 404)
    assert api.counts() == before


@pytest.mark.parametrize("status", ["BROKEN", "DONE", "FIXED_NOW", "open311"])
def test_post_update__unknown_status__400_listing_known(api: Open311, fmt: str, status: str) -> None:
    """[§3.6b] a status outside the FMS list is 400, and the message lists the accepted ones."""
    rid = api.create(GRAFFITI)
    before = api.counts()
    description = assert_error(api.post_update(rid, "u-1", status, fmt), fmt, 400)
    assert "status" in description and "IN_PROGRESS" in description
    assert api.counts() == before


@pytest.mark.parametrize("missing", ["service_request_id", "update_id", "status", "updated_datetime"])
def test_post_update__missing_field__400_naming_it(api: Open311, fmt: str, missing: str) -> None:
    """[§3.6b][JUR-03] each required field, absent or empty, is a 400 naming the field; nothing written."""
    rid = api.create(GRAFFITI)
    before = api.counts()
    data = {"api_key": api.keys["update"], "service_request_id": rid, "update_id": "u-1", "status": "FIXED",
            "updated_datetime": w3c(NOW), "description": "done"}  # fmt: skip
    for body in ({k: v for k, v in data.items() if k != missing}, {**data, missing: ""}):
        response = api.client.post(url("servicerequestupdates", fmt), data=body)
        assert missing in assert_error(response, fmt, 400)
    assert api.counts() == before


@pytest.mark.parametrize(
    ("when", "word"),
    [("yesterday", "updated_datetime"), ("2026-11-28T25:00:00Z", "updated_datetime"),
     ("2026-11-28T12:06:00Z", "future"), ("2027-01-01", "future")],
)  # fmt: skip
def test_post_update__bad_updated_datetime__400(api: Open311, fmt: str, when: str, word: str) -> None:
    """[DT-03][§3.6b] a malformed updated_datetime, or one more than 5 minutes ahead, is 400."""
    rid = api.create(GRAFFITI)
    before = api.counts()
    assert word in assert_error(api.post_update(rid, "u-1", "FIXED", fmt, updated_datetime=when), fmt, 400)
    assert api.counts() == before


def test_post_update__json_body__415(api: Open311, fmt: str) -> None:
    """[GEN-02] update bodies are forms too; JSON is 415 in the suffix's format."""
    rid = api.create(GRAFFITI)
    before = api.counts()
    body = {"api_key": api.keys["update"], "service_request_id": rid, "update_id": "u-1", "status": "FIXED",
            "updated_datetime": w3c(NOW)}  # fmt: skip
    assert_error(api.client.post(url("servicerequestupdates", fmt), json=body), fmt, 415)
    assert api.counts() == before


@pytest.mark.parametrize(
    ("field", "value"), [("description", "a\x00b"), ("update_id", "u\x00"), ("update_id", "u" * 201)]
)
def test_post_update__nul_or_overlong_field__400(api: Open311, fmt: str, field: str, value: str) -> None:
    """[GEN-03] a NUL character or an over-long update_id is a 400 naming the field, never a 500."""
    rid = api.create(GRAFFITI)
    before = api.counts()
    fields = {"update_id": "u-1", field: value}
    update_id = fields.pop("update_id")
    assert field in assert_error(api.post_update(rid, update_id, "FIXED", fmt, **fields), fmt, 400)
    assert api.counts() == before


def test_post_update__description_over_4000__400(api: Open311, fmt: str) -> None:
    """[POST-01] update descriptions have the same 4,000-character limit."""
    rid = api.create(GRAFFITI)
    before = api.counts()
    response = api.post_update(rid, "u-1", "FIXED", fmt, description="x" * 4001)
    assert "4000" in assert_error(response, fmt, 400)
    assert api.counts() == before


# -- GET ------------------------------------------------------------------------------------------------
def test_get_updates__two_updates__standard_shape_lower_case_statuses(api: Open311, fmt: str) -> None:
    """[§3.6a] service_request_updates/request_update (JSON array), oldest first, with update_id,
    service_request_id, lower-case status, W3C updated_datetime, description and media_url ("" when none);
    the submission itself is not an update."""
    rid = api.create(POTHOLE)
    api.clock.advance(HOUR)
    in_progress = update_id_of(api.post_update(rid, "a", "IN_PROGRESS", description="Crew assigned"), "json")
    api.clock.advance(HOUR)
    fixed = update_id_of(
        api.post_update(rid, "b", "FIXED", description="Filled", media_url="https://img.example.org/after.jpg"), "json"
    )
    found = updates(api, fmt)
    assert [u["update_id"] for u in found] == [in_progress, fixed]
    for update in found:
        assert set(update) >= UPDATE_KEYS
        assert update["service_request_id"] == rid
        assert DATETIME.match(update["updated_datetime"])
    assert [u["status"] for u in found] == ["in_progress", "fixed"]
    assert [u["description"] for u in found] == ["Crew assigned", "Filled"]
    assert [u["updated_datetime"] for u in found] == [w3c(NOW + HOUR), w3c(NOW + 2 * HOUR)]
    assert found[1]["media_url"] == "https://img.example.org/after.jpg"
    assert found[0]["media_url"] in ("", None)  # XML: an empty element
    if fmt == "json":
        assert found[0]["media_url"] == ""


def test_get_updates__default_window__last_two_hours(api: Open311, fmt: str) -> None:
    """[§3.6a] without dates the window is the last 2 hours; start_date/end_date choose another."""
    rid = api.create(GRAFFITI)
    api.clock.advance(HOUR)
    early = update_id_of(api.post_update(rid, "a", "INVESTIGATING"), "json")
    api.clock.advance(3 * HOUR)
    late = update_id_of(api.post_update(rid, "b", "IN_PROGRESS"), "json")
    api.clock.advance(HOUR + 59 * timedelta(minutes=1))
    assert [u["update_id"] for u in updates(api, fmt)] == [late]
    api.clock.advance(2 * timedelta(minutes=1))
    assert updates(api, fmt) == []
    window = {"start_date": w3c(NOW), "end_date": w3c(NOW + 2 * HOUR)}
    assert [u["update_id"] for u in updates(api, fmt, **window)] == [early]
    assert [u["update_id"] for u in updates(api, fmt, start_date=w3c(NOW))] == [early, late]
    assert [u["update_id"] for u in updates(api, fmt, start_date="2026-11-28", end_date="2026-11-28")] == [early, late]


def test_get_updates__note_before_close__keeps_status_of_its_time(api: Open311) -> None:
    """[§3.6a] each update carries the status the request had when it was made (FMS applies it as such)."""
    rid = api.create(GRAFFITI)
    assert api.post_update(rid, "a", "IN_PROGRESS").status_code == 200
    api.clock.advance(HOUR)
    assert api.post_update(rid, "b", "UNCHANGED", description="Still working on it").status_code == 200
    api.clock.advance(HOUR)
    assert api.post_update(rid, "c", "FIXED").status_code == 200
    assert [u["status"] for u in updates(api)] == ["in_progress", "in_progress", "fixed"]


@pytest.mark.parametrize(
    "params", [{"api_key": "whatever"}, {"jurisdiction_id": ""}, {"start_date": "", "end_date": ""}]
)
def test_get_updates__extra_or_empty_params__tolerated(api: Open311, fmt: str, params: dict[str, str]) -> None:
    """[KEY-03][JUR-03] FMS sends api_key on this GET; empty dates are absent dates."""
    rid = api.create(GRAFFITI)
    assert api.post_update(rid, "a", "FIXED").status_code == 200
    assert len(updates(api, fmt, **params)) == 1


@pytest.mark.parametrize(
    "params",
    [{"start_date": "soon"}, {"end_date": "2026-02-30"}, {"start_date": "2026-11-28", "end_date": "2026-11-27"}],
)
def test_get_updates__bad_dates__400(api: Open311, fmt: str, params: dict[str, str]) -> None:
    """[DT-03] malformed or inverted dates are 400 naming the parameter."""
    response = api.client.get(url("servicerequestupdates", fmt), params=params)
    assert "date" in assert_error(response, fmt, 400)


@pytest.mark.parametrize("params", [{"end_date": "0001-01-05"}, {"start_date": "9999-12-31", "end_date": "9999-12-31"}])
def test_get_updates__dates_at_the_edge_of_the_calendar__200_empty(
    api: Open311, fmt: str, params: dict[str, str]
) -> None:
    """[DT-03] a window reaching before year 1 is held at the calendar's edge: 200 [], not 500."""
    rid = api.create(GRAFFITI)
    assert api.post_update(rid, "a", "FIXED").status_code == 200
    assert updates(api, fmt, **params) == []


def test_updates__wrong_method_or_suffix__405_or_404(api: Open311, fmt: str) -> None:
    """[ERR-03][GEN-01] PUT is 405 in the suffix's format; an unknown suffix is 404."""
    assert_error(api.client.put(url("servicerequestupdates", fmt)), fmt, 405)
    assert_error(api.client.get(url("servicerequestupdates", "rss")), "json", 404)


# -- POST: who may update which request ------------------------------------------------------------------------
def test_post_update__another_bodys_key__403_and_nothing_written(api: Open311, fmt: str) -> None:
    """[KEY-01] a back end's update key changes only the requests its body owns: DOT's key on DSNY's graffiti
    request is refused and nothing is written."""
    rid = api.create(GRAFFITI)
    before = api.counts()
    response = api.post_update(rid, "x-1", "FIXED", fmt, key="update")
    assert response.status_code == 403
    assert "owned by DOT" in response.text
    assert api.counts() == before
    assert api.request(rid)["status"] == "open"


def test_post_update__own_bodys_key__applied(api: Open311, fmt: str) -> None:
    rid = api.create(POTHOLE)
    assert api.post_update(rid, "x-2", "FIXED", fmt, key="update").status_code == 200
    assert api.request(rid)["status"] == "closed"


def test_post_update__submit_only_key__403(api: Open311, fmt: str) -> None:
    rid = api.create(GRAFFITI)
    assert api.post_update(rid, "x-3", "FIXED", fmt, key="submit").status_code == 403
