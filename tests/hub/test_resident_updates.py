"""What residents are told (hub/updates.py), on the in-memory store: the filer and confirmed followers, each in
their language, of an acknowledgement, a public note, a transfer, a closure (why, when not fixed) and a reopening;
never of staff-only entries, never an unconfirmed or stopped address, nothing without a residents' mail connector
or a public URL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.hub.handlers import add_connector
from civicswitch.people.links import StopLinks, address_digest, instance_secret
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import (
    AddNote,
    FollowRequest,
    MergeRequests,
    SubmitRequest,
    TransferRequest,
    WorkRequest,
    WorkStep,
)
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.requests.staff import follow_request, merge_requests
from civicswitch.requests.work import add_note, transfer_request, work_request
from civicswitch.storage.memory import MemoryUnitOfWork

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
BASE = "https://311.example.gov"


@pytest.fixture
def uow(catalog_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> MemoryUnitOfWork:
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", BASE)
    monkeypatch.delenv("CIVICSWITCH_SECRET_KEY", raising=False)
    catalog_data["services"][1]["name"] = {"en": "Graffiti", "es": "Grafiti"}
    store = MemoryUnitOfWork()
    load_catalog(store, catalog_data)
    add_connector(store, FixedClock(NOW), code="residents-mail", kind="email", body="DSNY",
                  config={"from": "City 311 <noreply@city.example.gov>", "smtp_host": "mail.example.gov",
                          "audience": "residents"})  # fmt: skip
    return store


def _file(uow: MemoryUnitOfWork, email: str | None = "ana@example.org", language: str | None = "es") -> str:
    cmd = SubmitRequest(service_code="graffiti", api_key=None, address_string="5 Elm St", principal=OPERATOR,
                        contact=Contact(email=email), language=language)  # fmt: skip
    number = submit_request(uow, FixedClock(NOW), cmd).service_request_id
    assert number is not None
    return number


def _told(uow: MemoryUnitOfWork) -> list[dict[str, Any]]:
    with uow:
        rows = uow.hub.deliveries(connector="residents-mail", limit=1000)
    return [r.payload["data"] for r in rows if r.type == "resident_update"]


def test_acknowledged_with_a_note__filer_told_in_their_language_with_links(uow: MemoryUnitOfWork) -> None:
    number = _file(uow)
    work_request(uow, FixedClock(NOW), WorkRequest(OPERATOR, number, WorkStep.ACKNOWLEDGE, note="Esta semana"))
    (told,) = _told(uow)
    assert (told["to"], told["change"], told["note"], told["language"]) == ("ana@example.org", "acknowledged",
                                                                            "Esta semana", "es")  # fmt: skip
    assert told["filer"] is True and told["service_name"] == "Grafiti" and told["address"] == "5 Elm St"
    assert told["track_url"] == f"{BASE}/requests/{number}?lang=es"
    with uow:
        links = StopLinks(instance_secret(uow, NOW), BASE)
    claim = links.read(told["stop_url"].split("token=")[1].split("&")[0])
    assert (claim.request_id, claim.address_digest) == (int(number), address_digest("ana@example.org"))


def test_staff_only_note_or_start__nobody_told(uow: MemoryUnitOfWork) -> None:
    number = _file(uow)
    add_note(uow, FixedClock(NOW), AddNote(OPERATOR, number, "Crew notes", public=False))
    work_request(uow, FixedClock(NOW), WorkRequest(OPERATOR, number, WorkStep.START))
    assert _told(uow) == []
    add_note(uow, FixedClock(NOW), AddNote(OPERATOR, number, "Crew on site today", public=True))
    assert [(t["change"], t["note"]) for t in _told(uow)] == [("note", "Crew on site today")]


def test_followers__confirmed_told_in_theirs__unconfirmed_and_stopped_not(uow: MemoryUnitOfWork) -> None:
    number = _file(uow, email=None)  # an anonymous filer: nobody to tell but followers
    follow_request(uow, FixedClock(NOW), FollowRequest(None, number, Contact(email="ben@example.org"),
                                                       principal=OPERATOR, language="en"))  # fmt: skip
    follow_request(uow, FixedClock(NOW), FollowRequest(None, number, Contact(email="cy@example.org"),
                                                       principal=OPERATOR, language="es"))  # fmt: skip
    with uow:
        for f in uow.requests.followers(int(number)):
            if f.contact.email == "ben@example.org":
                assert f.id is not None
                uow.requests.confirm_follower(f.id, NOW)
        uow.commit()
    work_request(uow, FixedClock(NOW), WorkRequest(OPERATOR, number, WorkStep.ACKNOWLEDGE))
    assert [(t["to"], t["language"], t["filer"], t["track_url"]) for t in _told(uow)] == [
        ("ben@example.org", "en", False, f"{BASE}/requests/{number}")]  # fmt: skip
    with uow:
        assert uow.requests.stop_updates(int(number), address_digest("BEN@example.org"), NOW) == 1
        uow.commit()
    add_note(uow, FixedClock(NOW), AddNote(OPERATOR, number, "Crew on site", public=True))
    assert len(_told(uow)) == 1  # nothing more to ben


def test_closed_as_duplicate__says_which_request_now_followed(uow: MemoryUnitOfWork) -> None:
    parent, child = _file(uow, email="first@example.org"), _file(uow)
    merge_requests(uow, FixedClock(NOW), MergeRequests(None, child, parent, principal=OPERATOR))
    told = [t for t in _told(uow) if t["change"] == "closed"]
    assert [(t["to"], t["close_reason"], t["duplicate_of"]) for t in told] == [("ana@example.org", "duplicate",
                                                                               int(parent))]  # fmt: skip
    assert told[0]["duplicate_url"] == f"{BASE}/requests/{parent}?lang=es"


def test_transferred__names_the_new_owner_and_the_reason(uow: MemoryUnitOfWork) -> None:
    number = _file(uow)
    transfer_request(uow, FixedClock(NOW), TransferRequest(OPERATOR, number, "DOT", "Road surface, not graffiti"))
    (told,) = _told(uow)
    assert (told["change"], told["owner"], told["note"]) == ("transferred", "Department of Transportation",
                                                             "Road surface, not graffiti")  # fmt: skip


def test_no_public_url__nobody_told_and_a_warning(
    uow: MemoryUnitOfWork, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CIVICSWITCH_PUBLIC_URL")
    number = _file(uow)
    with caplog.at_level(logging.WARNING):
        work_request(uow, FixedClock(NOW), WorkRequest(OPERATOR, number, WorkStep.ACKNOWLEDGE))
    assert _told(uow) == [] and "public URL" in caplog.text


def test_no_residents_mail_connector__nothing_made(
    catalog_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", BASE)
    store = MemoryUnitOfWork()
    load_catalog(store, catalog_data)
    number = _file(store)
    work_request(store, FixedClock(NOW), WorkRequest(OPERATOR, number, WorkStep.ACKNOWLEDGE))
    assert _told(store) == []


def test_merge__the_childs_notes_carried_to_the_parent__not_told_again(uow: MemoryUnitOfWork) -> None:
    parent, child = _file(uow, email="first@example.org"), _file(uow)
    add_note(uow, FixedClock(NOW), AddNote(OPERATOR, child, "Seen again today", public=True))
    merge_requests(uow, FixedClock(NOW), MergeRequests(None, child, parent, principal=OPERATOR))
    notes = [(t["to"], t["note"]) for t in _told(uow) if t["change"] == "note"]
    assert notes == [("ana@example.org", "Seen again today")]  # once, when written; not again as the parent's
