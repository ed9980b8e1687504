"""The agent console's stores on memory, SQLite and PostgreSQL: knowledge articles (services, search, unique
slugs), information-only calls counted per topic, and the caller search and history over requests, contacts,
followers and departments' references."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.agent.model import CallChannel, InfoCall, KnowledgeArticle, MatchedBy, TopicCount
from civicswitch.agent.ports import MAX_PAGE, MAX_PAGE_SIZE, CallerQuery, phone_forms
from civicswitch.catalog.loader import load_catalog
from civicswitch.core.errors import Conflict, Invalid
from civicswitch.requests.model import Channel, Contact, Follower, FollowVia, ServiceRequest
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _article(slug: str, title: str, body: str, *services: str) -> KnowledgeArticle:
    return KnowledgeArticle(slug, title, body, services, T0, "staff:1 admin@city.gov")


def test_knowledge__save_then_read__round_trips_with_services(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        saved = uow.knowledge.save(_article("potholes", "Potholes", "Fixed in **3 days**.", "pothole", "graffiti"))
        uow.commit()
    assert saved.id is not None and saved.services == ("graffiti", "pothole")
    with store_uow_factory() as uow:
        found = uow.knowledge.get("potholes")
    assert found == saved
    assert found is not None and found.updated_at == T0 and found.updated_by == "staff:1 admin@city.gov"


def test_knowledge__edit__replaces_text_and_services(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        first = uow.knowledge.save(_article("potholes", "Potholes", "Old text", "pothole", "graffiti"))
        uow.commit()
    with store_uow_factory() as uow:
        by = "staff:2 b@city.gov"
        edited = KnowledgeArticle("potholes", "Potholes and ruts", "New text", ("pothole",), T0 + H, by, first.id)
        uow.knowledge.save(edited)
        uow.commit()
    with store_uow_factory() as uow:
        found = uow.knowledge.get("potholes")
        assert uow.knowledge.search(service_code="graffiti") == []
    assert found is not None and (found.title, found.body_markdown, found.services) == ("Potholes and ruts", "New text",
                                                                                        ("pothole",))  # fmt: skip
    assert found.id == first.id and found.updated_at == T0 + H


def test_knowledge__slug_taken_by_another__conflict(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        uow.knowledge.save(_article("potholes", "Potholes", "text"))
        uow.commit()
    with store_uow_factory() as uow, pytest.raises(Conflict):
        uow.knowledge.save(_article("potholes", "Other", "text"))


def test_knowledge__search__by_text_and_service_ordered_by_title(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        uow.knowledge.save(_article("b", "Bulk pick-up days", "Put items out after 8 pm; 100% free", "bulk-pickup"))
        uow.knowledge.save(_article("a", "Asphalt repairs", "Potholes are filled within 3 days", "pothole"))
        uow.knowledge.save(_article("c", "Curb cuts", "Ask DOT", "pothole"))
        uow.commit()
    with store_uow_factory() as uow:
        assert [a.slug for a in uow.knowledge.search()] == ["a", "b", "c"]
        assert [a.slug for a in uow.knowledge.search(service_code="pothole")] == ["a", "c"]
        assert [a.slug for a in uow.knowledge.search("POTHOLES")] == ["a"]
        assert [a.slug for a in uow.knowledge.search("curb", service_code="pothole")] == ["c"]
        assert [a.slug for a in uow.knowledge.search("100%")] == ["b"]  # a literal %, not a wildcard
        assert uow.knowledge.search("_") == []


def test_calls__counts_per_topic__since_a_time_case_folded_most_first(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        for i, topic in enumerate(["Trash day", "trash day", "Parking permits", "Trash day", "Old topic"]):
            at = T0 - 10 * 24 * H if topic == "Old topic" else T0 + i * H
            call = InfoCall(topic, CallChannel.PHONE, at, "bulk-pickup" if i == 0 else None, "asked", 7)
            saved = uow.calls.add(call)
            assert saved.id is not None and saved.topic == topic
        uow.commit()
    with store_uow_factory() as uow:
        counts = uow.calls.topic_counts(T0 - 7 * 24 * H)
    assert counts == [TopicCount("Trash day", 3), TopicCount("Parking permits", 1)]


# -- the caller search ----------------------------------------------------------------------------------------
def _request(i: int, service: str, body: str, address: str) -> ServiceRequest:
    r = ServiceRequest(service_code=service, requested_at=T0 + i * H, channel=Channel.WEB, lat=40.7, long=-74.0,
                       body_code=body, address=address, description=f"report {i}")  # fmt: skip
    r.record_submission(r.requested_at, client_id=None)
    return r


@pytest.fixture
def callers(store_uow_factory: MakeUow, catalog_data: dict[str, Any]) -> tuple[MakeUow, dict[str, int]]:
    """Rosa filed a pothole (DOT) and a graffiti report (DSNY) with two spellings of her phone number and email,
    and follows Sam's pothole; DOT's system knows Sam's pothole as WO-77."""
    load_catalog(store_uow_factory(), catalog_data)
    rosa = Contact(first_name="Rosa", last_name="Diaz", email="Rosa@Example.org", phone="+1 (555) 010-0100")
    rosa2 = Contact(first_name="Rosa", last_name="Diaz", email="rosa@example.org", phone="555.010.0100")
    sam = Contact(first_name="Sam", last_name="Lee", email="sam@example.org", phone="555-0199")
    ids = {}
    with store_uow_factory() as uow:
        ids["rosa_pothole"] = uow.requests.add(_request(0, "pothole", "DOT", "12 Elm Street"), rosa)
        ids["rosa_graffiti"] = uow.requests.add(_request(1, "graffiti", "DSNY", "40 Oak Avenue"), rosa2)
        ids["sam"] = uow.requests.add(_request(2, "pothole", "DOT", "7 Elm Street"), sam)
        ids["anonymous"] = uow.requests.add(_request(3, "graffiti", "DSNY", "1 Pine Road"), None)
        uow.requests.add_follower(ids["sam"], Follower(Contact(phone="5550100100"), FollowVia.FOLLOW, T0 + 3 * H))
        uow.hub.add_external_ref(ids["sam"], "DOT", "WO-77", T0 + 4 * H)
        uow.commit()
    return store_uow_factory, ids


def _find(make: MakeUow, text: str) -> list[tuple[int, frozenset[MatchedBy]]]:
    with make() as uow:
        return [(r.request_id, r.matched_by) for r in uow.callers.find(CallerQuery.parse(text)).rows]


def test_callers__by_phone_any_punctuation__every_request_of_that_number_newest_first(
    callers: tuple[MakeUow, dict[str, int]],
) -> None:
    make, ids = callers
    found = _find(make, "555 010 0100")
    assert found == [(ids["rosa_graffiti"], {MatchedBy.PHONE}), (ids["rosa_pothole"], {MatchedBy.PHONE})]


def test_callers__by_email_any_case__filer_rows_with_contact(callers: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = callers
    with make() as uow:
        found = uow.callers.find(CallerQuery.parse("ROSA@example.ORG"))
    rows = found.rows
    assert (found.total, found.more, found.page, found.has_next, found.has_previous) == (2, False, 1, False, False)
    assert [r.request_id for r in rows] == [ids["rosa_graffiti"], ids["rosa_pothole"]]
    first = rows[0]
    assert (first.service_code, first.status, first.body_code, first.address, first.name) == (
        "graffiti", "new", "DSNY", "40 Oak Avenue", "Rosa Diaz")  # fmt: skip
    assert first.email == "rosa@example.org" and first.requested_at == T0 + H


def test_callers__by_name_address_number_and_reference(callers: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = callers
    assert _find(make, "diaz") == [(ids["rosa_graffiti"], {MatchedBy.NAME}), (ids["rosa_pothole"], {MatchedBy.NAME})]
    assert _find(make, "ROSA DI") == _find(make, "diaz")  # across the first and the last name
    assert _find(make, "di ro") == _find(make, "diaz")  # the starts of words, in any order
    assert _find(make, "osa") == [] and _find(make, "a d") == [] and _find(make, "rosadiaz") == []  # not inside one
    assert _find(make, "elm st") == [(ids["sam"], {MatchedBy.ADDRESS}), (ids["rosa_pothole"], {MatchedBy.ADDRESS})]
    assert _find(make, f"#{ids['anonymous']}") == [(ids["anonymous"], {MatchedBy.REQUEST_ID})]
    assert _find(make, "WO-77") == [(ids["sam"], {MatchedBy.REFERENCE})]
    assert _find(make, "nobody") == [] and _find(make, "%") == []


def _elm_street(make: MakeUow, n: int) -> list[int]:
    """``n`` requests on Elm Street (some filed by Rosa Elm, by phone), one an hour; their ids newest first."""
    ids = []
    with make() as uow:
        for i in range(n):
            contact = Contact(first_name="Rosa", last_name="Elm", phone="555-0142") if i % 3 == 0 else None
            ids.append(uow.requests.add(_request(10 + i, "pothole", "DOT", f"{i} Elm Street"), contact))
        uow.commit()
    return ids[::-1]


def _page(make: MakeUow, text: str, page: int, size: int) -> tuple[list[int], int, bool]:
    with make() as uow:
        found = uow.callers.find(CallerQuery.parse(text, page=page, page_size=size))
    assert (found.page, found.page_size) == (page, size)
    return [r.request_id for r in found.rows], found.total, found.more


def test_callers__paged__pages_newest_first_without_gaps_or_repeats(
    callers: tuple[MakeUow, dict[str, int]],
) -> None:
    make, ids = callers
    newest = [*_elm_street(make, 12), ids["sam"], ids["rosa_pothole"]]  # the fixture's Elm Streets are older
    pages = [_page(make, "elm", page, 5) for page in (1, 2, 3, 4)]
    assert [p[0] for p in pages] == [newest[0:5], newest[5:10], newest[10:14], []]
    assert {(total, more) for _, total, more in pages} == {(14, False)}  # every page knows the count


def test_callers__paged__one_request_found_by_several_kinds_is_one_row(callers: tuple[MakeUow, dict[str, int]]) -> None:
    make, _ = callers
    newest = _elm_street(make, 6)
    with make() as uow:  # "Elm" is Rosa Elm's name and the street: each of her requests once, found by both
        found = uow.callers.find(CallerQuery.parse("elm", page_size=3))
    assert [r.request_id for r in found.rows] == newest[:3] and found.total == 8
    assert [r.matched_by for r in found.rows] == [{MatchedBy.ADDRESS}, {MatchedBy.ADDRESS},
                                                  {MatchedBy.NAME, MatchedBy.ADDRESS}]  # fmt: skip
    assert _page(make, "555-0142", 2, 1) == ([newest[5]], 2, False)


def test_callers__many_found__counted_up_to_the_cap_then_more(
    callers: tuple[MakeUow, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    make, ids = callers
    monkeypatch.setattr("civicswitch.agent.ports.COUNT_CAP", 4)
    newest = [*_elm_street(make, 12), ids["sam"], ids["rosa_pothole"]]
    assert _page(make, "elm", 1, 3) == (newest[0:3], 4, True)  # "more than 4"
    assert _page(make, "elm", 3, 3) == (newest[6:9], 9, True)  # past the cap: more than this page's last row
    assert _page(make, "elm", 4, 3) == (newest[9:12], 12, True)
    assert _page(make, "elm", 5, 3) == (newest[12:14], 14, False)  # the last page: the whole count


def test_callers__words_matched_past_the_list_cap__the_same_pages_and_reasons(
    callers: tuple[MakeUow, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``words.LIST_CAP`` matches the SQL stores walk the requests newest first instead of ordering the listed
    ones: the same rows, reasons, counts and pages."""
    make, ids = callers
    newest = [*_elm_street(make, 12), ids["sam"], ids["rosa_pothole"]]
    listed = [_page(make, "ELM", page, 4) for page in (1, 2, 4)]
    rosa = _find(make, "rosa el")
    monkeypatch.setattr("civicswitch.agent.words.LIST_CAP", 2)
    assert [_page(make, "ELM", page, 4) for page in (1, 2, 4)] == listed
    assert listed == [(newest[0:4], 14, False), (newest[4:8], 14, False), (newest[12:14], 14, False)]
    assert _find(make, "rosa el") == rosa == [(i, {MatchedBy.NAME}) for i in newest[2:12:3]]
    monkeypatch.setattr("civicswitch.agent.words.PG_HASH_CAP", 3)  # PostgreSQL: each address tested on the walk
    assert [_page(make, "ELM", page, 4) for page in (1, 2, 4)] == listed
    monkeypatch.setattr("civicswitch.agent.ports.COUNT_CAP", 4)
    assert _page(make, "elm", 1, 3) == (newest[0:3], 4, True)  # PostgreSQL: found among the newest 2,000
    monkeypatch.setattr("civicswitch.agent.words.PG_WINDOW", 3)  # not among the newest 3: the index
    assert _page(make, "elm", 1, 3) == (newest[0:3], 4, True)


def test_callers__past_the_last_page__no_rows_and_the_count(callers: tuple[MakeUow, dict[str, int]]) -> None:
    make, _ = callers
    assert _page(make, "diaz", 3, 1) == ([], 2, False)
    assert _page(make, "nobody", 2, 5) == ([], 0, False)


def test_caller_query__page_out_of_range__invalid() -> None:
    with pytest.raises(Invalid):
        CallerQuery.parse("elm", page=0)
    with pytest.raises(Invalid):
        CallerQuery.parse("elm", page=MAX_PAGE + 1)
    with pytest.raises(Invalid):
        CallerQuery.parse("elm", page_size=MAX_PAGE_SIZE + 1)


def test_callers__history__filed_and_followed_across_departments(callers: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = callers
    with make() as uow:
        by_phone = uow.callers.history(None, phone_forms("5550100100"))
        by_email = uow.callers.history("ROSA@example.org", ())
        nothing = uow.callers.history(None, ())
    assert [(r.request_id, r.following) for r in by_phone] == [
        (ids["sam"], True), (ids["rosa_graffiti"], False), (ids["rosa_pothole"], False)]  # fmt: skip
    assert {r.body_code for r in by_phone} == {"DOT", "DSNY"}
    assert [r.request_id for r in by_email] == [ids["rosa_graffiti"], ids["rosa_pothole"]]
    assert nothing == []


def test_caller_query__parse__names_what_the_text_can_be() -> None:
    q = CallerQuery.parse(" (555) 010-0100 ")
    assert (q.request_id, q.phones, q.email, q.words) == (None, ("5550100100", "15550100100"), None, None)
    q = CallerQuery.parse("1234567")
    assert (q.request_id, q.phones, q.reference) == (1234567, ("1234567",), "1234567")
    q = CallerQuery.parse("Ana@City.gov")
    assert (q.email, q.words) == ("ana@city.gov", None)
    assert CallerQuery.parse("99999999999").request_id is None  # more than an INTEGER id holds


def test_knowledge__delete__gone_with_its_services(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        uow.knowledge.save(_article("potholes", "Potholes", "text", "pothole"))
        kept = uow.knowledge.save(_article("graffiti", "Graffiti", "text", "pothole"))
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.knowledge.delete("potholes") is True
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.knowledge.get("potholes") is None
        assert uow.knowledge.delete("potholes") is False
        assert uow.knowledge.search(service_code="pothole") == [kept]
    with store_uow_factory() as uow:  # the slug may be used again
        uow.knowledge.save(_article("potholes", "Potholes again", "text"))
        uow.commit()
