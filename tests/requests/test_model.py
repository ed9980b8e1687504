"""The service-request aggregate and the status model of DESIGN.md §3, without a database."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from itertools import product

import pytest
from sqlalchemy import Table

from civicswitch.core.errors import IllegalTransition, Invalid
from civicswitch.requests.model import (
    CONTACT_LIMITS,
    EVENT_LIMITS,
    OPEN_STATUSES,
    REQUEST_LIMITS,
    TRANSITIONS,
    Channel,
    CloseReason,
    Contact,
    Event,
    ServiceRequest,
    Status,
    fms_status,
    open311_status,
)
from civicswitch.requests.tables import request_contacts, request_events, service_requests

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
S = Status

# -- an expectation of DESIGN §3 written by hand, independent of TRANSITIONS ------------------------------
# "new → acknowledged → in_progress ⇄ on_hold → closed … and reopened → acknowledged…"
DESIGN_ARROWS = {
    (S.NEW, S.ACKNOWLEDGED),
    (S.ACKNOWLEDGED, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.ON_HOLD),
    (S.ON_HOLD, S.IN_PROGRESS),
    (S.ON_HOLD, S.CLOSED),
    (S.CLOSED, S.REOPENED),
    (S.REOPENED, S.ACKNOWLEDGED),
}
# "Any open state may close" (a duplicate or a request that is not ours closes straight from new).
ANY_OPEN_MAY_CLOSE = {(s, S.CLOSED) for s in (S.NEW, S.ACKNOWLEDGED, S.IN_PROGRESS, S.ON_HOLD, S.REOPENED)}
# Forward shortcuts the code allows beyond the design's arrows (a back end may skip acknowledging). Each is
# a step forward along the chain; see test_transitions__shortcuts__only_skip_forward.
FORWARD_SHORTCUTS = {(S.NEW, S.IN_PROGRESS), (S.ACKNOWLEDGED, S.ON_HOLD), (S.REOPENED, S.IN_PROGRESS)}
EXPECTED_ALLOWED = DESIGN_ARROWS | ANY_OPEN_MAY_CLOSE | FORWARD_SHORTCUTS
ALL_PAIRS = list(product(Status, Status))
EXPECTED_ILLEGAL = [p for p in ALL_PAIRS if p not in EXPECTED_ALLOWED]
TABLE_ALLOWED = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
TABLE_ILLEGAL = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]
# Position along the chain: a legal move never goes back, except closed → reopened and in_progress ⇄ on_hold.
RANK = {S.NEW: 0, S.REOPENED: 0, S.ACKNOWLEDGED: 1, S.IN_PROGRESS: 2, S.ON_HOLD: 2, S.CLOSED: 3}


def pair_id(pair: tuple[Status, Status]) -> str:
    return f"{pair[0]}->{pair[1]}"


def request_in(status: Status, **overrides: object) -> ServiceRequest:
    closed = status == S.CLOSED
    fields: dict[str, object] = {
        "service_code": "pothole",
        "requested_at": T0,
        "channel": Channel.OPEN311,
        "lat": 40.7,
        "long": -74.0,
        "status": status,
        "close_reason": CloseReason.DUPLICATE if closed else None,
        "closed_at": T0 if closed else None,
        "status_notes": "before",
        "id": 7,
    }
    fields.update(overrides)
    return ServiceRequest(**fields)  # type: ignore[arg-type]


# -- the table matches the design --------------------------------------------------------------------------
def test_transitions__table__covers_every_status() -> None:
    assert set(TRANSITIONS) == set(Status)


def test_transitions__table__equals_the_hand_written_design_expectation() -> None:
    assert set(TABLE_ALLOWED) == EXPECTED_ALLOWED


def test_transitions__design_arrows__are_all_in_the_table() -> None:
    missing = {p for p in DESIGN_ARROWS | ANY_OPEN_MAY_CLOSE if p[1] not in TRANSITIONS[p[0]]}
    assert missing == set()


def test_transitions__shortcuts__only_skip_forward() -> None:
    for a, b in FORWARD_SHORTCUTS:
        assert RANK[b] > RANK[a], pair_id((a, b))


@pytest.mark.parametrize("pair", TABLE_ALLOWED, ids=pair_id)
def test_transitions__allowed_move__never_goes_back_along_the_chain(pair: tuple[Status, Status]) -> None:
    a, b = pair
    assert a != b
    assert b != S.NEW
    back_allowed = {(S.CLOSED, S.REOPENED), (S.ON_HOLD, S.IN_PROGRESS)}
    assert RANK[b] > RANK[a] or pair in back_allowed or (RANK[a] == RANK[b] == 2)


def test_transitions__closed__may_only_reopen() -> None:
    assert TRANSITIONS[S.CLOSED] == frozenset({S.REOPENED})


def test_transitions__every_open_state__may_close() -> None:
    assert all(S.CLOSED in TRANSITIONS[s] for s in OPEN_STATUSES)


def test_open_statuses__are_every_status_but_closed() -> None:
    assert set(OPEN_STATUSES) == set(Status) - {S.CLOSED}


# -- every allowed move, from the table and from the expectation -------------------------------------------
def _assert_moves(pair: tuple[Status, Status]) -> None:
    a, b = pair
    request = request_in(a)
    at = T0 + timedelta(hours=1)
    reason = CloseReason.NOT_OURS if b == S.CLOSED else None
    event = request.transition(b, at, reason=reason, note="moved", client_id=3, external_id="u1")
    assert request.status == b
    assert request.close_reason == reason
    assert request.closed_at == (at if b == S.CLOSED else None)
    assert request.updated_at == at
    assert request.status_notes == "moved"
    assert request.pending_events == [event]
    assert (event.kind, event.status_from, event.status_to, event.close_reason) == ("status_changed", a, b, reason)
    assert (event.at, event.description, event.client_id, event.external_id) == (at, "moved", 3, "u1")


@pytest.mark.parametrize("pair", TABLE_ALLOWED, ids=pair_id)
def test_request__allowed_transition_in_table__moves_and_records_event(pair: tuple[Status, Status]) -> None:
    _assert_moves(pair)


@pytest.mark.parametrize("pair", sorted(EXPECTED_ALLOWED), ids=pair_id)
def test_request__allowed_transition_by_design__moves_and_records_event(pair: tuple[Status, Status]) -> None:
    _assert_moves(pair)


# -- every illegal move, from the table and from the expectation -------------------------------------------
def _assert_refused(pair: tuple[Status, Status]) -> None:
    a, b = pair
    request = request_in(a)
    request.pending_events.append(request_in(a).add_note(T0, "earlier"))
    before = (request.status, request.close_reason, request.closed_at, request.updated_at, request.status_notes)
    pending = list(request.pending_events)
    reason = CloseReason.FIXED if b == S.CLOSED else None
    with pytest.raises(IllegalTransition) as caught:
        request.transition(b, T0 + timedelta(hours=1), reason=reason, note="should not stick")
    assert isinstance(caught.value, Invalid)
    assert caught.value.field == "status"
    assert str(a) in caught.value.description and str(b) in caught.value.description
    after = (request.status, request.close_reason, request.closed_at, request.updated_at, request.status_notes)
    assert after == before
    assert request.pending_events == pending


@pytest.mark.parametrize("pair", TABLE_ILLEGAL, ids=pair_id)
def test_request__illegal_transition_in_table__raises_and_changes_nothing(pair: tuple[Status, Status]) -> None:
    _assert_refused(pair)


@pytest.mark.parametrize("pair", EXPECTED_ILLEGAL, ids=pair_id)
def test_request__illegal_transition_by_design__raises_and_changes_nothing(pair: tuple[Status, Status]) -> None:
    _assert_refused(pair)


def test_request__close_from_new__allowed() -> None:
    request = request_in(S.NEW)
    request.transition(S.CLOSED, T0, reason=CloseReason.DUPLICATE)
    assert (request.status, request.close_reason) == (S.CLOSED, CloseReason.DUPLICATE)


def test_request__reopen_then_acknowledge__allowed() -> None:
    request = request_in(S.CLOSED)
    request.transition(S.REOPENED, T0)
    request.transition(S.ACKNOWLEDGED, T0)
    assert [e.status_to for e in request.pending_events] == [S.REOPENED, S.ACKNOWLEDGED]


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_request__same_status_again__is_illegal(status: Status) -> None:
    _assert_refused((status, status))


# -- close reasons -----------------------------------------------------------------------------------------
def test_request__close_without_reason__defaults_to_fixed() -> None:
    request = request_in(S.IN_PROGRESS)
    event = request.transition(S.CLOSED, T0)
    assert request.close_reason == CloseReason.FIXED == event.close_reason


@pytest.mark.parametrize("reason", list(CloseReason), ids=str)
def test_request__close_with_reason__keeps_it(reason: CloseReason) -> None:
    request = request_in(S.ON_HOLD)
    request.transition(S.CLOSED, T0, reason=reason)
    assert request.close_reason == reason


def test_close_reasons__are_the_designed_set() -> None:
    assert {str(r) for r in CloseReason} == {"fixed", "duplicate", "not_ours", "referred", "no_action", "cancelled"}


@pytest.mark.parametrize("to", [s for s in Status if s != S.CLOSED and s in TRANSITIONS[S.ACKNOWLEDGED]], ids=str)
def test_request__reason_on_a_non_closing_move__invalid_and_changes_nothing(to: Status) -> None:
    request = request_in(S.ACKNOWLEDGED)
    with pytest.raises(Invalid) as caught:
        request.transition(to, T0 + timedelta(hours=1), reason=CloseReason.FIXED)
    assert not isinstance(caught.value, IllegalTransition)
    assert caught.value.field == "close_reason"
    assert (request.status, request.updated_at, request.pending_events) == (S.ACKNOWLEDGED, T0, [])


def test_request__reopen__clears_close_reason_and_closed_at() -> None:
    request = request_in(S.CLOSED)
    request.transition(S.REOPENED, T0 + timedelta(days=1))
    assert (request.close_reason, request.closed_at) == (None, None)


# -- timeline and updated_at -------------------------------------------------------------------------------
def test_request__late_backdated_transition__keeps_newer_updated_at() -> None:
    request = request_in(S.NEW, updated_at=T0 + timedelta(hours=5))
    request.transition(S.ACKNOWLEDGED, T0 + timedelta(hours=1))
    assert request.updated_at == T0 + timedelta(hours=5)


def test_request__without_note__keeps_status_notes() -> None:
    request = request_in(S.NEW)
    request.transition(S.ACKNOWLEDGED, T0)
    assert request.status_notes == "before"


def test_request__public_note__sets_status_notes_and_updated_at() -> None:
    request = request_in(S.IN_PROGRESS)
    event = request.add_note(T0 + timedelta(minutes=5), "crew on site", external_id="n1")
    assert (request.status_notes, request.updated_at, request.status) == (
        "crew on site",
        T0 + timedelta(minutes=5),
        S.IN_PROGRESS,
    )
    assert (event.kind, event.public, event.status_to) == ("note", True, None)


def test_request__private_note__leaves_status_notes() -> None:
    request = request_in(S.IN_PROGRESS)
    event = request.add_note(T0, "internal", public=False)
    assert request.status_notes == "before"
    assert event.public is False


def test_request__record_submission__appends_submitted_event_in_current_status() -> None:
    request = request_in(S.NEW)
    request.record_submission(T0, client_id=4)
    [event] = request.pending_events
    assert (event.kind, event.status_to, event.client_id, event.at) == ("submitted", S.NEW, 4, T0)


def test_request__public_id__is_the_id_as_text_and_needs_an_id() -> None:
    assert request_in(S.NEW).public_id == "7"
    with pytest.raises(ValueError, match="no id"):
        _ = request_in(S.NEW, id=None).public_id


# -- projections -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", list(Status), ids=str)
def test_open311_status__projects_closed_and_everything_else_open(status: Status) -> None:
    assert open311_status(status) == ("closed" if status == S.CLOSED else "open")
    assert open311_status(str(status)) == open311_status(status)


@pytest.mark.parametrize(
    ("status", "expected"),
    [(S.NEW, "open"), (S.ACKNOWLEDGED, "investigating"), (S.IN_PROGRESS, "in_progress"),
     (S.ON_HOLD, "action_scheduled"), (S.REOPENED, "open")],
    ids=str,
)  # fmt: skip
def test_fms_status__open_statuses__project_to_the_extension_names(status: Status, expected: str) -> None:
    assert fms_status(status, None) == expected
    assert fms_status(str(status), None) == expected


@pytest.mark.parametrize(
    ("reason", "expected"),
    [(CloseReason.FIXED, "fixed"), (CloseReason.DUPLICATE, "duplicate"),
     (CloseReason.NOT_OURS, "not_councils_responsibility"), (CloseReason.REFERRED, "internal_referral"),
     (CloseReason.NO_ACTION, "no_further_action"), (CloseReason.CANCELLED, "cancelled")],
    ids=str,
)  # fmt: skip
def test_fms_status__closed__projects_by_close_reason(reason: CloseReason, expected: str) -> None:
    assert fms_status(S.CLOSED, reason) == expected
    assert fms_status("closed", str(reason)) == expected


def test_fms_status__closed_without_reason__is_closed() -> None:
    assert fms_status(S.CLOSED, None) == "closed"


# -- location and other construction rules -----------------------------------------------------------------
def make(**overrides: object) -> ServiceRequest:
    fields: dict[str, object] = {"service_code": "pothole", "requested_at": T0, "channel": Channel.WEB}
    fields.update(overrides)
    return ServiceRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "location",
    [{"lat": 40.7, "long": -74.0}, {"address": "1 Main St"}, {"address_id": "B-17"},
     {"lat": 90.0, "long": 180.0}, {"lat": -90.0, "long": -180.0}, {"lat": 0.0, "long": 0.0}],
)  # fmt: skip
def test_request__location__accepted(location: dict[str, object]) -> None:
    make(**location)


@pytest.mark.parametrize(
    ("location", "field"),
    [({}, "location"), ({"address": ""}, "location"), ({"address_id": ""}, "location"),
     ({"lat": 40.7}, "lat"), ({"long": -74.0, "address": "1 Main St"}, "lat"),
     ({"lat": 90.0001, "long": 0.0}, "lat"), ({"lat": 0.0, "long": -180.5}, "lat"),
     ({"lat": math.nan, "long": 0.0}, "lat"), ({"lat": 0.0, "long": math.inf}, "lat")],
)  # fmt: skip
def test_request__location__rejected(location: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        make(**location)
    assert caught.value.field == field


def test_request__description_of_4000__accepted_and_4001_rejected() -> None:
    make(address="x", description="d" * 4000)
    with pytest.raises(Invalid) as caught:
        make(address="x", description="d" * 4001)
    assert caught.value.field == "description"


def test_request__naive_requested_at__rejected() -> None:
    with pytest.raises(Invalid):
        make(address="x", requested_at=datetime(2026, 11, 28, 12, 0))


def test_request__updated_at__defaults_to_requested_at() -> None:
    other_zone = T0.astimezone(timezone(timedelta(hours=-5)))
    assert make(address="x", requested_at=other_zone).updated_at == T0


def test_contact__is_empty__only_without_any_field() -> None:
    assert Contact().is_empty()
    assert Contact(first_name="", email=None).is_empty()
    assert not Contact(phone="555").is_empty()


# -- stored text lengths: the domain refuses what a column cannot hold (PostgreSQL enforces them, SQLite not) --
@pytest.mark.parametrize(("name", "limit"), sorted(REQUEST_LIMITS.items()))
def test_request__text_over_its_column_length__invalid(name: str, limit: int) -> None:
    make(address="x", **{name: "x" * limit})
    with pytest.raises(Invalid) as caught:
        make(address="x", **{name: "x" * (limit + 1)})
    assert caught.value.field == name


@pytest.mark.parametrize(("name", "limit"), sorted(CONTACT_LIMITS.items()))
def test_contact__field_over_its_column_length__invalid(name: str, limit: int) -> None:
    Contact(**{name: "x" * limit})
    with pytest.raises(Invalid) as caught:
        Contact(**{name: "x" * (limit + 1)})
    assert caught.value.field == name


@pytest.mark.parametrize(("name", "limit"), sorted(EVENT_LIMITS.items()))
def test_event__text_over_its_column_length__invalid(name: str, limit: int) -> None:
    fields = {"at": T0, "kind": "note"}
    Event(**{**fields, name: "x" * limit})  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        Event(**{**fields, name: "x" * (limit + 1)})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limits", "table"),
    [(REQUEST_LIMITS, service_requests), (CONTACT_LIMITS, request_contacts), (EVENT_LIMITS, request_events)],
    ids=["requests", "contacts", "events"],
)
def test_limits__equal_the_column_lengths(limits: dict[str, int], table: Table) -> None:
    assert limits == {name: table.c[name].type.length for name in limits}


@pytest.mark.parametrize(
    "build",
    [
        lambda: make(address="x", description="a\x00b"),
        lambda: make(address="1 Main St\x00"),
        lambda: make(address="x", status_notes="\x00"),
        lambda: make(address="x", attributes={"size": "sm\x00all"}),
        lambda: make(address="x", attributes={"lanes": ["left", "\x00"]}),
        lambda: Contact(email="a\x00@example.org"),
        lambda: Event(at=T0, kind="note", description="\x00"),
        lambda: request_in(S.NEW).add_note(T0, "crew\x00"),
        lambda: request_in(S.NEW).transition(S.ACKNOWLEDGED, T0, note="\x00"),
    ],
    ids=["description", "address", "status_notes", "attribute", "attribute-list", "contact", "event", "note",
         "transition-note"],
)  # fmt: skip
def test_text_with_nul__invalid_as_no_store_can_hold_it(build: Callable[[], object]) -> None:
    with pytest.raises(Invalid, match="NUL"):
        build()


def test_request__refused_nul_note__changes_nothing() -> None:
    request = request_in(S.NEW)
    with pytest.raises(Invalid):
        request.transition(S.ACKNOWLEDGED, T0 + timedelta(hours=1), note="bad\x00")
    assert (request.status, request.status_notes, request.updated_at, request.pending_events) == (
        S.NEW, "before", T0, [])  # fmt: skip


@pytest.mark.parametrize("code", ["es", "pt-BR", "ast", "zh-Hant"])
def test_request__language_code__kept(code: str) -> None:
    assert make(address="x", language=code).language == code


@pytest.mark.parametrize("code", ["", "ES", "español", "es_MX", "e", "x" * 17, "es-"])
def test_request__language_not_a_code__invalid(code: str) -> None:
    with pytest.raises(Invalid) as caught:
        make(address="x", language=code)
    assert caught.value.field == "language"
