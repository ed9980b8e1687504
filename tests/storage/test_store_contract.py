"""The storage ports' contract, run against every implementation: the in-memory fake, SQLite and PostgreSQL.

The fake must behave like the SQL stores; a test that passes on one and fails on another is a bug in one of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.catalog.model import Attribute, AttributeValue, Body, BodyKind, Datatype, Service, ServiceType
from civicswitch.core.errors import Conflict, Invalid
from civicswitch.people.clients import ApiClient, Scope, hash_key
from civicswitch.requests.model import (
    CONTACT_LIMITS,
    EVENT_LIMITS,
    REQUEST_LIMITS,
    Channel,
    CloseReason,
    Contact,
    Event,
    ServiceRequest,
    Status,
)
from civicswitch.requests.ports import Media
from civicswitch.requests.views import RequestQuery
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture
def new_uow(store_uow_factory: MakeUow) -> MakeUow:
    return store_uow_factory


@pytest.fixture
def catalog(new_uow: MakeUow, catalog_data: dict[str, Any]) -> MakeUow:
    load_catalog(new_uow(), catalog_data)
    return new_uow


def request(**overrides: Any) -> ServiceRequest:
    fields: dict[str, Any] = {
        "service_code": "graffiti",
        "requested_at": T0,
        "channel": Channel.OPEN311,
        "lat": 40.7,
        "long": -74.0,
        "body_code": "DSNY",
    }
    fields.update(overrides)
    r = ServiceRequest(**fields)
    r.record_submission(r.requested_at, client_id=r.client_id)
    return r


def add(make: MakeUow, *requests: ServiceRequest, contact: Contact | None = None) -> list[int]:
    with make() as uow:
        ids = [uow.requests.add(r, contact) for r in requests]
        uow.commit()
    return ids


def add_client(make: MakeUow, name: str = "App", key: str = "k1", scopes: frozenset[Scope] | None = None) -> int:
    with make() as uow:
        client = uow.clients.add(
            ApiClient(name=name, key_prefix=key[:10], key_hash=hash_key(key),
                      scopes=scopes or frozenset({Scope.SUBMIT}), created_at=T0)
        )  # fmt: skip
        uow.commit()
    assert client.id is not None
    return client.id


def png(n: int = 0) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes([n]) * 16


# == CatalogStore ===========================================================================================
def test_catalog__add_body__stored_with_an_id(new_uow: MakeUow) -> None:
    with new_uow() as uow:
        stored = uow.catalog.add_body(Body("DOT", "Transportation", BodyKind.DEPARTMENT))
        assert stored.id is not None
        assert uow.catalog.body("DOT") == stored
        uow.commit()
    with new_uow() as uow:
        assert uow.catalog.body("DOT") == stored
        assert uow.catalog.body("NOPE") is None


def test_catalog__add_body_again__updates_in_place(new_uow: MakeUow) -> None:
    with new_uow() as uow:
        first = uow.catalog.add_body(Body("DOT", "Transportation"))
        second = uow.catalog.add_body(Body("DOT", "Dept. of Transportation", BodyKind.PARTNER))
        uow.commit()
    assert second.id == first.id
    with new_uow() as uow:
        assert uow.catalog.bodies() == [second]
        assert (second.name, second.kind) == ("Dept. of Transportation", BodyKind.PARTNER)


def test_catalog__bodies__sorted_by_code(new_uow: MakeUow) -> None:
    with new_uow() as uow:
        for code in ("PARKS", "DOT", "DSNY", "B"):
            uow.catalog.add_body(Body(code, code.title()))
        assert [b.code for b in uow.catalog.bodies()] == ["B", "DOT", "DSNY", "PARKS"]


POTHOLE = Service(
    code="pothole",
    name="Pothole",
    description="A hole in the road.",
    group="Streets",
    keywords=("pothole", "road"),
    type=ServiceType.REALTIME,
    body_code="DOT",
    sla_hours=72.0,
    partners_may_close=True,
    attributes=(
        Attribute("size", Datatype.SINGLEVALUELIST, "How big?", required=True, order=1, datatype_description="One",
                  values=(AttributeValue("small", "Small"), AttributeValue("large", "Large"))),
        Attribute("depth", Datatype.NUMBER, "Depth", order=2),
        Attribute("info", Datatype.STRING, "We fix in 3 days.", variable=False, order=3),
    ),
)  # fmt: skip


def test_catalog__add_service__round_trips(new_uow: MakeUow) -> None:
    with new_uow() as uow:
        uow.catalog.add_body(Body("DOT", "Transportation"))
        stored = uow.catalog.add_service(POTHOLE)
        uow.commit()
    assert stored.id is not None
    assert stored == dataclasses.replace(POTHOLE, id=stored.id)
    with new_uow() as uow:
        assert uow.catalog.service("pothole") == stored
        assert uow.catalog.service("nope") is None


def test_catalog__add_service__attributes_kept_in_order(new_uow: MakeUow) -> None:
    shuffled = dataclasses.replace(POTHOLE, attributes=tuple(reversed(POTHOLE.attributes)))
    with new_uow() as uow:
        uow.catalog.add_body(Body("DOT", "Transportation"))
        uow.catalog.add_service(shuffled)
        uow.commit()
    with new_uow() as uow:
        found = uow.catalog.service("pothole")
        assert found is not None
        assert [a.code for a in found.attributes] == ["size", "depth", "info"]


def test_catalog__add_service_again__replaces_fields_and_attributes(new_uow: MakeUow) -> None:
    changed = dataclasses.replace(
        POTHOLE,
        name="Road defect",
        keywords=(),
        sla_hours=None,
        body_code=None,
        type=ServiceType.BATCH,
        attributes=(
            Attribute("depth", Datatype.TEXT, "Describe the depth", required=True, order=1),
            Attribute("seen", Datatype.DATETIME, "When?", order=2),
        ),
    )
    with new_uow() as uow:
        uow.catalog.add_body(Body("DOT", "Transportation"))
        first = uow.catalog.add_service(POTHOLE)
        uow.commit()
    with new_uow() as uow:
        second = uow.catalog.add_service(changed)
        uow.commit()
    assert second.id == first.id
    assert second == dataclasses.replace(changed, id=first.id)
    with new_uow() as uow:
        assert uow.catalog.service("pothole") == second
        assert uow.catalog.services() == [second]


def test_catalog__add_service_with_unknown_body__invalid(new_uow: MakeUow) -> None:
    with new_uow() as uow, pytest.raises(Invalid, match="unknown body"):
        uow.catalog.add_service(POTHOLE)
    with new_uow() as uow:
        assert uow.catalog.service("pothole") is None


def test_catalog__inactive_service__hidden_from_the_list_only(new_uow: MakeUow) -> None:
    retired = Service(code="retired", name="Retired", active=False)
    live = Service(code="live", name="Live")
    with new_uow() as uow:
        uow.catalog.add_service(retired)
        uow.catalog.add_service(live)
        uow.commit()
    with new_uow() as uow:
        assert [s.code for s in uow.catalog.services()] == ["live"]
        assert [s.code for s in uow.catalog.services(include_inactive=True)] == ["live", "retired"]
        found = uow.catalog.service("retired")
        assert found is not None and found.active is False


def test_catalog__services__sorted_by_code(catalog: MakeUow) -> None:
    with catalog() as uow:
        assert [s.code for s in uow.catalog.services()] == ["bulk-pickup", "graffiti", "pothole", "tip"]


# == RequestStore: writes and reads of one request ==========================================================
def full_request(client_id: int) -> ServiceRequest:
    return request(
        service_code="pothole",
        body_code="DOT",
        requested_at=T0 + timedelta(microseconds=250),
        channel=Channel.MOBILE,
        description="Deep one\nnear the kerb",
        lat=40.712345678901,
        long=-73.98765432109,
        address="5th Ave & W 14th St",
        address_id="BIN-1001",
        zipcode="10011",
        media_url="https://img.example.org/1.jpg",
        attributes={"size": "large", "lanes": ["left", "right"], "depth": "12.5"},
        status_notes="Reported",
        expected_at=T0 + 72 * H,
        updated_at=T0 + H,
        client_id=client_id,
        device_id="dev-1",
        account_id="acc-1",
        token="tok-abc",
        source_ref="test:1",
        assignee_user_id=7,
        transfers=2,
    )


def test_requests__add_then_get__round_trips_every_field(catalog: MakeUow) -> None:
    client_id = add_client(catalog)
    original = full_request(client_id)
    with catalog() as uow:
        new_id = uow.requests.add(original, None)
        uow.commit()
    assert original.id == new_id
    assert original.pending_events == []
    with catalog() as uow:
        assert uow.requests.get(new_id) == original
        assert uow.requests.get(new_id + 1000) is None


def test_requests__closed_request__round_trips_status_fields(catalog: MakeUow) -> None:
    r = request(status=Status.CLOSED, close_reason=CloseReason.NOT_OURS, closed_at=T0 + H, updated_at=T0 + H)
    [rid] = add(catalog, r)
    with catalog() as uow:
        got = uow.requests.get(rid)
    assert got is not None
    assert (got.status, got.close_reason, got.closed_at) == (Status.CLOSED, CloseReason.NOT_OURS, T0 + H)


def test_requests__add__stores_the_pending_events_as_timeline(catalog: MakeUow) -> None:
    r = request()
    r.add_note(T0 + H, "Photo added", media_url="https://img.example.org/2.jpg")
    [rid] = add(catalog, r)
    with catalog() as uow:
        timeline = uow.requests.events([rid])[rid]
    assert [(e.kind, e.at) for e in timeline] == [("submitted", T0), ("note", T0 + H)]
    assert all(e.id is not None for e in timeline)
    assert timeline[0].status_to == Status.NEW
    assert timeline[1].media_url == "https://img.example.org/2.jpg"


def test_requests__get__returns_a_copy_until_saved(catalog: MakeUow) -> None:
    [rid] = add(catalog, request())
    with catalog() as uow:
        got = uow.requests.get(rid)
        assert got is not None
        got.transition(Status.ACKNOWLEDGED, T0 + H)
        got.attributes["x"] = "y"
        again = uow.requests.get(rid)
        assert again is not None
        assert (again.status, again.attributes) == (Status.NEW, {})


def test_requests__save__writes_changes_and_appends_events(catalog: MakeUow) -> None:
    client_id = add_client(catalog)
    [rid] = add(catalog, request())
    with catalog() as uow:
        r = uow.requests.get(rid)
        assert r is not None
        r.transition(Status.ACKNOWLEDGED, T0 + H, note="Seen", client_id=client_id, external_id="u1",
                     external_status="INVESTIGATING")  # fmt: skip
        r.transition(Status.CLOSED, T0 + 2 * H, reason=CloseReason.DUPLICATE)
        r.attributes = {"size": "small"}
        r.description = "edited"
        r.assignee_user_id, r.transfers = 3, 1
        uow.requests.save(r)
        assert r.pending_events == []
        uow.commit()
    with catalog() as uow:
        stored = uow.requests.get(rid)
        timeline = uow.requests.events([rid])[rid]
    assert stored is not None
    assert stored == r
    assert (stored.status, stored.close_reason, stored.closed_at, stored.updated_at, stored.status_notes) == (
        Status.CLOSED, CloseReason.DUPLICATE, T0 + 2 * H, T0 + 2 * H, "Seen")  # fmt: skip
    assert [(e.kind, e.status_from, e.status_to) for e in timeline] == [
        ("submitted", None, Status.NEW),
        ("status_changed", Status.NEW, Status.ACKNOWLEDGED),
        ("status_changed", Status.ACKNOWLEDGED, Status.CLOSED),
    ]
    assert (timeline[1].client_id, timeline[1].external_id, timeline[1].external_status) == (
        client_id, "u1", "INVESTIGATING")  # fmt: skip


def test_requests__save_without_id__value_error(catalog: MakeUow) -> None:
    with catalog() as uow, pytest.raises(ValueError, match="stored request"):
        uow.requests.save(request())


def test_requests__save_of_an_id_never_stored__value_error(catalog: MakeUow) -> None:
    r = request()
    r.id = 999
    with catalog() as uow, pytest.raises(ValueError, match="stored request"):
        uow.requests.save(r)


def test_requests__add_with_unknown_service__invalid(catalog: MakeUow) -> None:
    with catalog() as uow, pytest.raises(Invalid) as caught:
        uow.requests.add(request(service_code="nope"), None)
    assert caught.value.field == "service_code"


def test_requests__add_with_unknown_body__invalid(catalog: MakeUow) -> None:
    with catalog() as uow, pytest.raises(Invalid) as caught:
        uow.requests.add(request(body_code="NOPE"), None)
    assert caught.value.field == "body"


def test_requests__token_used_twice__conflict(catalog: MakeUow) -> None:
    add(catalog, request(token="t1"))
    with catalog() as uow, pytest.raises(Conflict):
        uow.requests.add(request(token="t1"), None)


def test_requests__source_ref_used_twice__conflict(catalog: MakeUow) -> None:
    add(catalog, request(source_ref="s:1"))
    with catalog() as uow, pytest.raises(Conflict):
        uow.requests.add(request(source_ref="s:1"), None)


def test_requests__same_external_update_twice__conflict(catalog: MakeUow) -> None:
    client_id = add_client(catalog)
    [rid] = add(catalog, request())
    with catalog() as uow:
        r = uow.requests.get(rid)
        assert r is not None
        r.add_note(T0 + H, "first", client_id=client_id, external_id="u1")
        uow.requests.save(r)
        uow.commit()
    with catalog() as uow, pytest.raises(Conflict):
        r = uow.requests.get(rid)
        assert r is not None
        r.add_note(T0 + 2 * H, "again", client_id=client_id, external_id="u1")
        uow.requests.save(r)


def test_requests__id_for_token__finds_only_stored_tokens(catalog: MakeUow) -> None:
    [rid] = add(catalog, request(token="tok-1"))
    with catalog() as uow:
        assert uow.requests.id_for_token("tok-1") == (rid, True)
        assert uow.requests.id_for_token("tok-2") == (None, False)


def test_requests__contact__kept_apart_from_the_request(catalog: MakeUow) -> None:
    contact = Contact(first_name="Ada", last_name="Lovelace", email="ada@example.org", phone="555-0100")
    [with_contact] = add(catalog, request(), contact=contact)
    [empty_contact] = add(catalog, request(), contact=Contact(first_name="", email=None))
    [no_contact] = add(catalog, request())
    with catalog() as uow:
        assert uow.requests.contact(with_contact) == contact
        assert uow.requests.contact(empty_contact) is None
        assert uow.requests.contact(no_contact) is None
        views = uow.requests.find(RequestQuery(ids=(with_contact,)))
        stored = uow.requests.get(with_contact)
    assert "ada@example.org" not in repr(views) + repr(stored)
    assert "Lovelace" not in repr(views) + repr(stored)


# == RequestStore.find ======================================================================================
@pytest.fixture
def seeded(catalog: MakeUow) -> tuple[MakeUow, dict[str, int]]:
    """Six requests over three services, several statuses, requested and updated at different times."""
    specs = {
        "g_new": request(requested_at=T0 - 5 * H),
        "g_closed": request(requested_at=T0 - 4 * H, status=Status.CLOSED, close_reason=CloseReason.FIXED,
                            closed_at=T0 + 3 * H, updated_at=T0 + 3 * H),
        "p_ack": request(service_code="pothole", body_code="DOT", requested_at=T0 - 3 * H,
                         status=Status.ACKNOWLEDGED, updated_at=T0 + H, attributes={"size": "small"}),
        "p_hold": request(service_code="pothole", body_code="DOT", requested_at=T0 - 3 * H,
                          status=Status.ON_HOLD, updated_at=T0 + 2 * H),
        "t_new": request(service_code="tip", body_code=None, requested_at=T0 - 2 * H, address="Somewhere",
                         lat=None, long=None),
        "b_prog": request(service_code="bulk-pickup", requested_at=T0 - H, status=Status.IN_PROGRESS,
                          updated_at=T0 - H, token="tok-b"),
    }  # fmt: skip
    ids = add(catalog, *specs.values())
    return catalog, dict(zip(specs, ids, strict=True))


def names(views: list[Any], ids: dict[str, int]) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[v.id] for v in views]


NEWEST_FIRST = ["b_prog", "t_new", "p_hold", "p_ack", "g_closed", "g_new"]  # p_hold was added after p_ack


def find(seeded: tuple[MakeUow, dict[str, int]], **query: Any) -> list[str]:
    make, ids = seeded
    with make() as uow:
        return names(uow.requests.find(RequestQuery(**query)), ids)


def test_find__no_filter__newest_requested_first_then_highest_id(seeded: tuple[MakeUow, dict[str, int]]) -> None:
    assert find(seeded) == NEWEST_FIRST


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"service_codes": ("pothole",)}, ["p_hold", "p_ack"]),
        ({"service_codes": ("graffiti", "tip")}, ["t_new", "g_closed", "g_new"]),
        ({"service_codes": ("nope",)}, []),
        ({"service_codes": ()}, []),
        ({"statuses": ("new",)}, ["t_new", "g_new"]),
        ({"statuses": ("closed",)}, ["g_closed"]),
        ({"statuses": ("acknowledged", "on_hold", "in_progress")}, ["b_prog", "p_hold", "p_ack"]),
        ({"statuses": ()}, []),
        ({"requested_from": T0 - 3 * H}, ["b_prog", "t_new", "p_hold", "p_ack"]),
        ({"requested_to": T0 - 3 * H}, ["p_hold", "p_ack", "g_closed", "g_new"]),
        ({"requested_from": T0 - 3 * H, "requested_to": T0 - 3 * H}, ["p_hold", "p_ack"]),
        ({"requested_from": T0 - 3 * H + timedelta(microseconds=1)}, ["b_prog", "t_new"]),
        ({"updated_from": T0 + H}, ["p_hold", "p_ack", "g_closed"]),
        ({"updated_to": T0 - 2 * H}, ["t_new", "g_new"]),
        ({"updated_from": T0 + H, "updated_to": T0 + 2 * H}, ["p_hold", "p_ack"]),
        ({"requested_from": T0 + 10 * H}, []),
    ],
    ids=lambda v: str(v) if not isinstance(v, dict) else ",".join(v),
)
def test_find__one_filter__only_matching_requests(
    seeded: tuple[MakeUow, dict[str, int]], query: dict[str, Any], expected: list[str]
) -> None:
    assert find(seeded, **query) == expected


def test_find__filters_combined__all_must_match(seeded: tuple[MakeUow, dict[str, int]]) -> None:
    assert find(seeded, service_codes=("pothole", "graffiti"), statuses=("new", "on_hold"),
                requested_from=T0 - 4 * H, updated_from=T0 + 2 * H) == ["p_hold"]  # fmt: skip
    assert find(seeded, service_codes=("graffiti",), statuses=("new", "closed"), requested_to=T0 - 5 * H,
                updated_to=T0) == ["g_new"]  # fmt: skip


def test_find__filter_bounds_in_other_zones__compared_as_instants(seeded: tuple[MakeUow, dict[str, int]]) -> None:
    from datetime import timezone

    eastern = timezone(timedelta(hours=-5))
    assert find(seeded, requested_from=(T0 - 3 * H).astimezone(eastern)) == ["b_prog", "t_new", "p_hold", "p_ack"]


def test_find__ids__override_filters_and_paging(seeded: tuple[MakeUow, dict[str, int]]) -> None:
    _, ids = seeded
    wanted = (ids["g_new"], ids["b_prog"], ids["p_ack"], 999_999)
    assert find(seeded, ids=wanted, service_codes=("tip",), statuses=("closed",), requested_from=T0 + 10 * H,
                limit=1, offset=5) == ["b_prog", "p_ack", "g_new"]  # fmt: skip


def test_find__repeated_ids__each_request_once(seeded: tuple[MakeUow, dict[str, int]]) -> None:
    _, ids = seeded
    assert find(seeded, ids=(ids["g_new"], ids["g_new"])) == ["g_new"]


def test_find__empty_ids__nothing(seeded: tuple[MakeUow, dict[str, int]]) -> None:
    assert find(seeded, ids=()) == []


@pytest.mark.parametrize("size", [1, 2, 4, 5])
def test_find__paging__stable_and_complete(seeded: tuple[MakeUow, dict[str, int]], size: int) -> None:
    pages = [find(seeded, limit=size, offset=offset) for offset in range(0, 8, size)]
    assert [n for page in pages for n in page] == NEWEST_FIRST
    assert all(len(p) <= size for p in pages)
    assert pages == [find(seeded, limit=size, offset=offset) for offset in range(0, 8, size)]


def test_find__paging_with_filter__pages_the_filtered_list(seeded: tuple[MakeUow, dict[str, int]]) -> None:
    assert find(seeded, statuses=("new", "on_hold", "closed"), limit=2, offset=1) == ["p_hold", "g_closed"]


def test_find__view__carries_the_public_fields(seeded: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = seeded
    with make() as uow:
        [ack] = uow.requests.find(RequestQuery(ids=(ids["p_ack"],)))
        [tip] = uow.requests.find(RequestQuery(ids=(ids["t_new"],)))
        [closed] = uow.requests.find(RequestQuery(ids=(ids["g_closed"],)))
        [bulk] = uow.requests.find(RequestQuery(ids=(ids["b_prog"],)))
    assert (ack.service_code, ack.service_name, ack.agency_responsible, ack.service_notice) == (
        "pothole", "Pothole", "Department of Transportation", "Target response time: 3 days.")  # fmt: skip
    assert (ack.status, ack.close_reason, ack.attributes, ack.channel) == ("acknowledged", None, {"size": "small"},
                                                                           "open311")  # fmt: skip
    assert (ack.requested_at, ack.updated_at, ack.lat, ack.long) == (T0 - 3 * H, T0 + H, 40.7, -74.0)
    assert (tip.agency_responsible, tip.service_notice, tip.address, tip.lat) == (None, None, "Somewhere", None)
    assert (closed.status, closed.close_reason) == ("closed", "fixed")
    assert bulk.token == "tok-b"


# == RequestStore: timeline =================================================================================
@pytest.fixture
def timeline(catalog: MakeUow) -> tuple[MakeUow, int, int, int]:
    """Two requests; the first has a public and a private note and is closed, the second acknowledged."""
    client_id = add_client(catalog, "Back end", "kb", frozenset({Scope.UPDATE}))
    first, second = request(), request(requested_at=T0 + H)
    first.add_note(T0 + 2 * H, "crew sent", client_id=client_id, external_id="n1")
    first.add_note(T0 + 2 * H, "internal only", public=False)
    first.transition(Status.CLOSED, T0 + 4 * H, reason=CloseReason.NO_ACTION, client_id=client_id,
                     external_id="c1", external_status="NO_FURTHER_ACTION")  # fmt: skip
    second.transition(Status.ACKNOWLEDGED, T0 + 3 * H, note="seen")
    a, b = add(catalog, first, second)
    return catalog, a, b, client_id


def test_events__public_only__leaves_out_private_entries(timeline: tuple[MakeUow, int, int, int]) -> None:
    make, a, b, _ = timeline
    with make() as uow:
        public = uow.requests.events([a, b])
        everything = uow.requests.events([a], public_only=False)
    assert [e.description for e in public[a]] == ["Request received", "crew sent", ""]
    assert [e.kind for e in public[b]] == ["submitted", "status_changed"]
    assert [e.description for e in everything[a]] == ["Request received", "crew sent", "internal only", ""]
    assert everything[a][2].public is False
    assert set(everything) == {a}


def test_events__ordered_by_time_then_id(catalog: MakeUow) -> None:
    r = request()
    r.add_note(T0 + 2 * H, "later")
    r.add_note(T0 + H, "earlier, sent late")
    r.add_note(T0 + H, "same time, after")
    [rid] = add(catalog, r)
    with catalog() as uow:
        timeline = uow.requests.events([rid])[rid]
    assert [e.description for e in timeline] == ["Request received", "earlier, sent late", "same time, after", "later"]


def test_events__unknown_and_empty_ids__no_entries(timeline: tuple[MakeUow, int, int, int]) -> None:
    make, a, _, _ = timeline
    with make() as uow:
        assert dict(uow.requests.events([])) == {}
        assert dict(uow.requests.events([999_999])) == {}
        found = uow.requests.events([a, a, 999_999])
    assert set(found) == {a}
    assert len(found[a]) == 3


def test_events__round_trip_every_field(timeline: tuple[MakeUow, int, int, int]) -> None:
    make, a, _, client_id = timeline
    with make() as uow:
        closing = uow.requests.events([a])[a][-1]
    assert closing == Event(at=T0 + 4 * H, kind="status_changed", description="", status_from=Status.NEW,
                            status_to=Status.CLOSED, close_reason=CloseReason.NO_ACTION, public=True,
                            client_id=client_id, external_id="c1", external_status="NO_FURTHER_ACTION",
                            media_url=None, data={}, id=closing.id)  # fmt: skip


def test_updates__window_is_inclusive_and_leaves_out_submissions_and_private(
    timeline: tuple[MakeUow, int, int, int],
) -> None:
    make, a, b, _ = timeline
    with make() as uow:
        everything = uow.requests.updates(T0 - 10 * H, T0 + 10 * H, 100)
        edges = uow.requests.updates(T0 + 2 * H, T0 + 3 * H, 100)
        none = uow.requests.updates(T0 + 5 * H, T0 + 6 * H, 100)
    assert [(u.request_id, u.kind, u.at) for u in everything] == [
        (a, "note", T0 + 2 * H), (b, "status_changed", T0 + 3 * H), (a, "status_changed", T0 + 4 * H)]  # fmt: skip
    assert [(u.request_id, u.at) for u in edges] == [(a, T0 + 2 * H), (b, T0 + 3 * H)]
    assert none == []


def test_updates__limit__keeps_the_oldest(timeline: tuple[MakeUow, int, int, int]) -> None:
    make, a, b, _ = timeline
    with make() as uow:
        assert [u.request_id for u in uow.requests.updates(T0, T0 + 10 * H, 2)] == [a, b]


def test_updates__status__of_the_change_or_of_the_notes_own_time(timeline: tuple[MakeUow, int, int, int]) -> None:
    make, _, _, _ = timeline
    with make() as uow:
        note, ack, close = uow.requests.updates(T0, T0 + 10 * H, 100)
    assert (ack.status, ack.close_reason, ack.description) == ("acknowledged", None, "seen")
    assert (close.status, close.close_reason, close.external_status) == ("closed", "no_action", "NO_FURTHER_ACTION")
    # The note was made while its request was still new; the later close does not rewrite it.
    assert (note.status, note.close_reason, note.description) == ("new", None, "crew sent")
    assert note.id < ack.id or note.at < ack.at


def test_updates__ids__are_the_event_ids(timeline: tuple[MakeUow, int, int, int]) -> None:
    make, a, _, _ = timeline
    with make() as uow:
        by_id = {e.id: e for e in uow.requests.events([a])[a]}
        for u in uow.requests.updates(T0, T0 + 10 * H, 100):
            if u.request_id == a:
                assert by_id[u.id].at == u.at


def test_has_external_event__finds_the_event_of_that_client_only(timeline: tuple[MakeUow, int, int, int]) -> None:
    make, a, _, client_id = timeline
    other = add_client(make, "Other back end", "k-other", frozenset({Scope.UPDATE}))
    with make() as uow:
        events = {e.external_id: e.id for e in uow.requests.events([a])[a] if e.external_id}
        assert uow.requests.has_external_event(client_id, "n1") == events["n1"]
        assert uow.requests.has_external_event(client_id, "c1") == events["c1"]
        assert uow.requests.has_external_event(client_id, "nope") is None
        assert uow.requests.has_external_event(other, "n1") is None


# == RequestStore: media, import references, bulk add, count ===============================================
def media_item(mid: str = "abc.png", n: int = 0) -> Media:
    data = png(n)
    return Media(id=mid, content_type="image/png", size=len(data), sha256="0" * 64, filename="p.png",
                 created_at=T0, data=data)  # fmt: skip


def test_media__add_then_get__round_trips_unattached(catalog: MakeUow) -> None:
    item = media_item()
    with catalog() as uow:
        uow.requests.add_media(item)
        uow.commit()
    with catalog() as uow:
        assert uow.requests.media("abc.png") == item
        assert uow.requests.media("nope.png") is None


def test_media__attach__links_to_the_request(catalog: MakeUow) -> None:
    [rid] = add(catalog, request())
    with catalog() as uow:
        uow.requests.add_media(media_item("a.png", 1))
        uow.requests.add_media(media_item("b.png", 2))
        uow.requests.add_media(media_item("c.png", 3))
        uow.requests.attach_media(["a.png", "b.png"], rid)
        uow.requests.attach_media([], rid)
        uow.commit()
    with catalog() as uow:
        got = {m: uow.requests.media(m) for m in ("a.png", "b.png", "c.png")}
    assert {m: (g.request_id if g else "missing") for m, g in got.items()} == {"a.png": rid, "b.png": rid,
                                                                               "c.png": None}  # fmt: skip
    assert got["b.png"] == dataclasses.replace(media_item("b.png", 2), request_id=rid)


def test_media__same_id_twice__conflict(catalog: MakeUow) -> None:
    with catalog() as uow:
        uow.requests.add_media(media_item())
        uow.commit()
    with catalog() as uow, pytest.raises(Conflict):
        uow.requests.add_media(media_item(n=9))


def test_source_refs__answers_the_stored_subset(catalog: MakeUow) -> None:
    add(catalog, request(source_ref="nyc:1"), request(source_ref="nyc:2"), request())
    with catalog() as uow:
        assert uow.requests.source_refs(["nyc:2", "nyc:3", "nyc:1"]) == {"nyc:1", "nyc:2"}
        assert uow.requests.source_refs([]) == set()
        assert uow.requests.source_refs([f"nyc:{i}" for i in range(3, 1500)]) == set()


@pytest.mark.parametrize("with_refs", [True, False], ids=["with-source-refs", "without-source-refs"])
def test_add_many__inserts_every_request_with_its_timeline(catalog: MakeUow, with_refs: bool) -> None:
    batch = []
    for i in range(5):
        r = request(requested_at=T0 + i * H, source_ref=f"imp:{i}" if with_refs else None)
        if i % 2:
            r.transition(Status.CLOSED, T0 + i * H + H, reason=CloseReason.REFERRED)
        batch.append(r)
    with catalog() as uow:
        assert uow.requests.add_many(batch) == 5
        assert uow.requests.add_many([]) == 0
        uow.commit()
    assert all(r.id is not None and r.pending_events == [] for r in batch)
    ids = [r.id for r in batch if r.id is not None]
    assert len(set(ids)) == 5
    with catalog() as uow:
        assert uow.requests.count() == 5
        timelines = uow.requests.events(ids)
        stored = [uow.requests.get(i) for i in ids]
    assert stored == batch
    assert [len(timelines[i]) for i in ids] == [1, 2, 1, 2, 1]


def test_add_many__repeated_source_ref__conflict(catalog: MakeUow) -> None:
    add(catalog, request(source_ref="imp:1"))
    with catalog() as uow, pytest.raises(Conflict):
        uow.requests.add_many([request(source_ref="imp:2"), request(source_ref="imp:1")])


def test_count__counts_stored_requests(catalog: MakeUow) -> None:
    with catalog() as uow:
        assert uow.requests.count() == 0
    add(catalog, request(), request())
    with catalog() as uow:
        assert uow.requests.count() == 2


# == ClientStore ============================================================================================
def client(name: str, key: str, scopes: frozenset[Scope] = frozenset({Scope.SUBMIT})) -> ApiClient:
    return ApiClient(name=name, key_prefix=key[:10], key_hash=hash_key(key), scopes=scopes, created_at=T0)


def test_clients__add__stored_with_an_id_and_found_by_hash(new_uow: MakeUow) -> None:
    wanted = client("App", "cs_secret", frozenset({Scope.SUBMIT, Scope.UPDATE}))
    with new_uow() as uow:
        stored = uow.clients.add(wanted)
        uow.commit()
    assert stored == dataclasses.replace(wanted, id=stored.id)
    assert stored.id is not None
    with new_uow() as uow:
        assert uow.clients.by_hash(hash_key("cs_secret")) == stored
        assert uow.clients.by_hash(hash_key("cs_other")) is None


def test_clients__all__in_order_of_creation(new_uow: MakeUow) -> None:
    with new_uow() as uow:
        added = [uow.clients.add(client(n, f"key-{n}")) for n in ("Zed", "Amy", "Bob")]
        uow.commit()
    with new_uow() as uow:
        assert uow.clients.all() == added
    assert [c.name for c in added] == ["Zed", "Amy", "Bob"]


def test_clients__same_key_twice__conflict(new_uow: MakeUow) -> None:
    with new_uow() as uow:
        uow.clients.add(client("A", "same"))
        uow.commit()
    with new_uow() as uow, pytest.raises(Conflict):
        uow.clients.add(client("B", "same"))


def test_clients__revoke__once_then_false(new_uow: MakeUow) -> None:
    with new_uow() as uow:
        stored = uow.clients.add(client("App", "k"))
        uow.commit()
    assert stored.id is not None and stored.active
    with new_uow() as uow:
        assert uow.clients.revoke(stored.id, T0 + H) is True
        assert uow.clients.revoke(stored.id, T0 + 2 * H) is False
        assert uow.clients.revoke(stored.id + 100, T0) is False
        uow.commit()
    with new_uow() as uow:
        revoked = uow.clients.by_hash(hash_key("k"))
    assert revoked is not None
    assert (revoked.revoked_at, revoked.active) == (T0 + H, False)


# == UnitOfWork semantics ===================================================================================
def write_one_of_each(uow: UnitOfWork) -> None:
    uow.catalog.add_body(Body("NEW", "New body"))
    uow.requests.add(request(source_ref="uow:1"), Contact(email="x@example.org"))
    uow.clients.add(client("New app", "uow-key"))


def stored_state(make: MakeUow) -> tuple[bool, int, int]:
    with make() as uow:
        return uow.catalog.body("NEW") is not None, uow.requests.count(), len(uow.clients.all())


def test_uow__leaving_without_commit__writes_nothing(catalog: MakeUow) -> None:
    with catalog() as uow:
        write_one_of_each(uow)
        assert (uow.catalog.body("NEW") is not None, uow.requests.count()) == (True, 1)  # reads its own writes
    assert stored_state(catalog) == (False, 0, 0)


def test_uow__commit__persists(catalog: MakeUow) -> None:
    with catalog() as uow:
        write_one_of_each(uow)
        uow.commit()
    assert stored_state(catalog) == (True, 1, 1)


def test_uow__error_inside__writes_nothing_and_propagates(catalog: MakeUow) -> None:
    with pytest.raises(RuntimeError, match="boom"), catalog() as uow:
        write_one_of_each(uow)
        raise RuntimeError("boom")
    assert stored_state(catalog) == (False, 0, 0)


def test_uow__rollback__drops_uncommitted_work_and_stays_usable(catalog: MakeUow) -> None:
    with catalog() as uow:
        write_one_of_each(uow)
        uow.rollback()
        assert (uow.catalog.body("NEW"), uow.requests.count(), uow.clients.all()) == (None, 0, [])
        uow.catalog.add_body(Body("AFTER", "After the rollback"))
        uow.commit()
    assert stored_state(catalog) == (False, 0, 0)
    with catalog() as uow:
        assert uow.catalog.body("AFTER") is not None


def test_uow__work_after_a_commit__needs_its_own_commit(catalog: MakeUow) -> None:
    with catalog() as uow:
        uow.catalog.add_body(Body("FIRST", "Committed"))
        uow.commit()
        uow.catalog.add_body(Body("SECOND", "Not committed"))
    with catalog() as uow:
        assert uow.catalog.body("FIRST") is not None
        assert uow.catalog.body("SECOND") is None


def test_uow__rollback_after_commit__keeps_the_committed_work(catalog: MakeUow) -> None:
    with catalog() as uow:
        uow.catalog.add_body(Body("FIRST", "Committed"))
        uow.commit()
        uow.catalog.add_body(Body("SECOND", "Rolled back"))
        uow.rollback()
    with catalog() as uow:
        assert (uow.catalog.body("FIRST") is not None, uow.catalog.body("SECOND")) == (True, None)


def test_uow__sequential_units__each_sees_the_last_commit(catalog: MakeUow) -> None:
    for i in range(3):
        with catalog() as uow:
            assert uow.requests.count() == i
            uow.requests.add(request(), None)
            uow.commit()
    assert stored_state(catalog)[1] == 3


# == Lengths: what the domain accepts, every store stores =====================================================
def test_requests__texts_at_their_longest__round_trip(catalog: MakeUow) -> None:
    longest = {name: str(i % 10) * limit for i, (name, limit) in enumerate(REQUEST_LIMITS.items())}
    contact = Contact(**{name: "c" * limit for name, limit in CONTACT_LIMITS.items()})
    client_id = add_client(catalog, "n" * 200, "k-long")
    r = request(**longest)
    r.add_note(T0 + H, "long ids", client_id=client_id, external_id="e" * EVENT_LIMITS["external_id"],
               external_status="s" * EVENT_LIMITS["external_status"])  # fmt: skip
    [rid] = add(catalog, r, contact=contact)
    with catalog() as uow:
        assert uow.requests.get(rid) == r
        assert uow.requests.contact(rid) == contact
        assert uow.requests.events([rid])[rid][-1].external_status == "s" * 60
        assert uow.clients.all()[0].name == "n" * 200


def test_catalog__texts_at_their_longest__round_trip(new_uow: MakeUow) -> None:
    body = Body("B" * 64, "b" * 200)
    service = Service(code="s" * 100, name="n" * 200, group="g" * 120, body_code=body.code,
                      attributes=(Attribute("a" * 100, Datatype.STRING, "d"),))  # fmt: skip
    with new_uow() as uow:
        uow.catalog.add_body(body)
        uow.catalog.add_service(service)
        uow.commit()
    with new_uow() as uow:
        found = uow.catalog.service("s" * 100)
    assert found is not None
    assert found == dataclasses.replace(service, id=found.id)


# == NUL: no store can hold it (PostgreSQL text cannot), so no lookup by it finds anything =====================
def test_lookups__key_with_nul__not_found(catalog: MakeUow) -> None:
    nul = "a\x00b"
    add(catalog, request(token="tok", source_ref="s:1"))
    with catalog() as uow:
        assert uow.catalog.body(nul) is None
        assert uow.catalog.service(nul) is None
        assert uow.requests.id_for_token(nul) == (None, False)
        assert uow.requests.media(nul) is None
        assert uow.requests.source_refs([nul, "s:1"]) == {"s:1"}
        assert uow.requests.has_external_event(1, nul) is None
        assert uow.clients.by_hash(nul) is None
        assert uow.requests.find(RequestQuery(service_codes=(nul, "graffiti"), statuses=(nul, "new"))) != []


def test_media__attach_unknown_ids__ignored(catalog: MakeUow) -> None:
    [rid] = add(catalog, request())
    with catalog() as uow:
        uow.requests.add_media(media_item("a.png"))
        uow.requests.attach_media(["nope.png", "a.png"], rid)
        uow.commit()
    with catalog() as uow:
        found = uow.requests.media("a.png")
        assert (found.request_id if found else None, uow.requests.media("nope.png")) == (rid, None)


def test_media__attach_a_photo_already_attached__never_moved_and_counted(catalog: MakeUow) -> None:
    first, second = add(catalog, request(), request())
    with catalog() as uow:
        uow.requests.add_media(media_item("a.png"))
        uow.requests.add_media(media_item("b.png"))
        assert uow.requests.attach_media(["a.png", "nope.png"], first) == 1
        assert uow.requests.attach_media(["a.png", "b.png"], second) == 1  # b only: a is the first's
        uow.commit()
    with catalog() as uow:
        owners = [m.request_id if (m := uow.requests.media(i)) else None for i in ("a.png", "b.png")]
    assert owners == [first, second]
