"""Email in's use cases (hub/mailin/handlers.py) on the in-memory store: a letter naming one service and a place is
filed on channel email with its photo; a reply to our update mail is a public note on its request; auto-replies and
bounces are ignored; an unclear letter waits in triage until an agent files or dismisses it; a sender over the daily
limit gets no more requests; the same message twice is handled once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mailbuild import PNG, mail

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import Conflict, Forbidden, Invalid
from civicswitch.hub.connectors.email.message import message_id
from civicswitch.hub.handlers import add_connector
from civicswitch.hub.mailin.handlers import (
    DismissMail,
    FileMail,
    MailSettings,
    dismiss_mail,
    file_from_triage,
    handle_pending,
    receive_mail,
    store_mail,
    triage_mail,
    triage_photo,
    triage_queue,
)
from civicswitch.hub.mailin.model import MailState
from civicswitch.people.policy import OPERATOR, Principal, Role
from civicswitch.requests.commands import WorkRequest, WorkStep
from civicswitch.requests.model import Channel
from civicswitch.requests.work import work_request
from civicswitch.storage.memory import MemoryUnitOfWork

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
BASE = "https://311.example.gov"
FROM = "City 311 <311@city.example.gov>"
AGENT = Principal(kind="staff", name="agent@city.gov", role=Role.AGENT, user_id=5)
GRAFFITI = {"subject": "Graffiti on the school wall", "text": "Please clean it.\nAddress: 5 Elm St\n"}


@pytest.fixture
def uow(catalog_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> MemoryUnitOfWork:
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", BASE)
    store = MemoryUnitOfWork()
    load_catalog(store, catalog_data)
    add_connector(store, FixedClock(NOW), code="residents-mail", kind="email", body="DSNY",
                  config={"from": FROM, "smtp_host": "mail.example.gov", "audience": "residents",
                          "reply_to": FROM})  # fmt: skip
    return store


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def _receive(uow: MemoryUnitOfWork, clock: FixedClock, raw: bytes, per_day: int = 10) -> Any:
    return receive_mail(uow, clock, raw, MailSettings(per_day=per_day))


def test_receive__one_service_and_an_address__filed_on_channel_email_with_photo_and_contact(
    uow: MemoryUnitOfWork, clock: FixedClock
) -> None:
    received = _receive(uow, clock, mail(**GRAFFITI, photo=PNG))
    record = received.record
    assert (received.duplicate, record.state, record.raw) == (False, MailState.FILED, None)
    assert record.request_id is not None and "graffiti" in record.reason
    with uow:
        request = uow.requests.get(record.request_id)
        contact = uow.requests.contact(record.request_id)
        assert request is not None and request.media_url is not None
        photo = uow.requests.media(request.media_url.removeprefix("/media/"))
    assert (request.service_code, request.channel, request.address) == ("graffiti", Channel.EMAIL, "5 Elm St")
    assert request.description.startswith("Graffiti on the school wall\n\nPlease clean it.")
    assert contact is not None and (contact.email, contact.first_name, contact.last_name) == (
        "ana@example.org", "Ana", "Ruiz")  # fmt: skip
    assert photo is not None and photo.data == PNG and photo.request_id == record.request_id


def test_receive__a_point_instead_of_an_address__filed_there(uow: MemoryUnitOfWork, clock: FixedClock) -> None:
    record = _receive(uow, clock, mail(subject="graffiti", text="at 40.71280, -74.00600")).record
    assert record.state is MailState.FILED
    with uow:
        request = uow.requests.get(record.request_id)
    assert request is not None and (request.lat, request.long) == (40.7128, -74.006)


@pytest.mark.parametrize(
    ("subject", "text", "why"),
    [
        ("Hello", "Something is wrong at Address: 5 Elm St", "no service named"),
        ("Graffiti", "on a wall somewhere", "no address or point found"),
        ("Graffiti and a pothole", "Address: 5 Elm St", "2 services named"),
        ("Pothole", "Address: 5 Elm St", "not filed as pothole"),  # a required question (size) unanswered
    ],
)
def test_receive__unclear__waits_in_triage_with_the_reason(
    uow: MemoryUnitOfWork, clock: FixedClock, subject: str, text: str, why: str
) -> None:
    record = _receive(uow, clock, mail(subject=subject, text=text, photo=PNG)).record
    assert record.state is MailState.TRIAGE and why in record.reason and record.request_id is None
    with uow:
        assert uow.requests.count() == 0
        kept = uow.mail.get(record.id)
    assert kept is not None and kept.raw is not None  # kept for the agent
    assert [m.id for m in triage_queue(uow, clock, AGENT)] == [record.id]


@pytest.mark.parametrize("headers", [{"Auto-Submitted": "auto-replied"}, {"Return-Path": "<>"},
                                     {"Precedence": "junk"}])  # fmt: skip
def test_receive__auto_reply_or_bounce__ignored_and_recorded(
    uow: MemoryUnitOfWork, clock: FixedClock, headers: dict[str, str]
) -> None:
    record = _receive(uow, clock, mail(**GRAFFITI, headers=headers)).record
    assert record.state is MailState.IGNORED and record.reason.startswith("automatic:")
    with uow:
        assert uow.requests.count() == 0 and uow.mail.get(record.id) is not None


def test_receive__same_message_twice__handled_once(uow: MemoryUnitOfWork, clock: FixedClock) -> None:
    first = _receive(uow, clock, mail(**GRAFFITI))
    again = _receive(uow, clock, mail(subject="Graffiti", text="different bytes, same Message-ID\nAddress: 1 Oak St"))
    assert (again.duplicate, again.record.id, again.record.state) == (True, first.record.id, MailState.FILED)
    with uow:
        assert uow.requests.count() == 1


def test_receive__over_the_daily_limit__rate_limited_until_a_day_passes(
    uow: MemoryUnitOfWork, clock: FixedClock
) -> None:
    states = [_receive(uow, clock, mail(**GRAFFITI, message_id=f"<n{n}@x>"), per_day=2).record.state for n in range(3)]
    assert states == [MailState.FILED, MailState.FILED, MailState.RATE_LIMITED]
    other = _receive(uow, clock, mail(**GRAFFITI, sender="bo@example.org", message_id="<bo@x>"), per_day=2)
    assert other.record.state is MailState.FILED  # per sender
    clock.advance(timedelta(hours=24, minutes=1))
    assert _receive(uow, clock, mail(**GRAFFITI, message_id="<n9@x>"), per_day=2).record.state is MailState.FILED


def _update_key(uow: MemoryUnitOfWork) -> str:
    with uow:
        rows = uow.hub.deliveries(connector="residents-mail", limit=100)
    return [r.idempotency_key for r in rows if r.type == "resident_update"][-1]


def test_reply_to_our_update__public_note_with_photo_quoted_text_cut(uow: MemoryUnitOfWork, clock: FixedClock) -> None:
    filed = _receive(uow, clock, mail(**GRAFFITI)).record
    number = str(filed.request_id)
    work_request(uow, clock, WorkRequest(OPERATOR, number, WorkStep.ACKNOWLEDGE, note="This week"))
    ours = message_id(_update_key(uow), FROM)
    text = "It is bigger now.\n\nOn Mon, Dec 7, 2026 at 12:00 PM City 311 <311@city.example.gov> wrote:\n> old\n"
    reply = mail(subject="Re: Request", text=text, message_id="<r1@example.org>", in_reply_to=ours, photo=PNG)
    record = _receive(uow, clock, reply).record
    assert (record.state, record.request_id) == (MailState.THREADED, filed.request_id)
    with uow:
        events = uow.requests.events([filed.request_id])[filed.request_id]
        assert uow.requests.count() == 1
    note = events[-1]
    assert (note.kind, note.description, note.public) == ("note", "It is bigger now.", True)
    assert note.media_url is not None and note.data["via"] == "email"


def test_reply_from_another_address__triage(uow: MemoryUnitOfWork, clock: FixedClock) -> None:
    filed = _receive(uow, clock, mail(**GRAFFITI)).record
    work_request(uow, clock, WorkRequest(OPERATOR, str(filed.request_id), WorkStep.ACKNOWLEDGE))
    reply = mail(sender="eve@example.org", text="Close it", message_id="<r2@x>",
                 in_reply_to=message_id(_update_key(uow), FROM))  # fmt: skip
    record = _receive(uow, clock, reply).record
    assert record.state is MailState.TRIAGE and "not sent to" in record.reason


def test_reply_naming_no_message_of_ours__treated_as_a_new_letter(uow: MemoryUnitOfWork, clock: FixedClock) -> None:
    record = _receive(uow, clock, mail(**GRAFFITI, in_reply_to="<cs_" + "0" * 32 + "@city.example.gov>")).record
    assert record.state is MailState.FILED


def test_triage__agent_files_with_service_and_place__request_and_mail_marked(
    uow: MemoryUnitOfWork, clock: FixedClock
) -> None:
    record = _receive(uow, clock, mail(subject="Hello", text="Someone painted the wall", photo=PNG)).record
    view = triage_mail(uow, clock, AGENT, record.id)
    assert view.text.startswith("Someone painted") and [(a.filename, a.photo) for a in view.attachments] == [
        ("hole.png", True)]  # fmt: skip
    assert triage_photo(uow, AGENT, record.id, 0) == ("image/png", PNG)
    result = file_from_triage(uow, clock, FileMail(AGENT, record.id, "graffiti", address="7 Oak St"))
    with uow:
        done = uow.mail.get(record.id)
        request = uow.requests.get(result.request_id or 0)
    assert done is not None and (done.state, done.request_id, done.raw) == (
        MailState.FILED_FROM_TRIAGE, result.request_id, None)  # fmt: skip
    assert done.handled_by == AGENT.label
    assert request is not None and (request.channel, request.address, request.filed_by_user_id) == (
        Channel.EMAIL, "7 Oak St", 5)  # fmt: skip
    assert request.media_url is not None
    assert triage_queue(uow, clock, AGENT) == []
    with pytest.raises(Conflict):  # filed once
        file_from_triage(uow, clock, FileMail(AGENT, record.id, "graffiti", address="7 Oak St"))


def test_triage__refused_filing__nothing_written_mail_still_waiting(uow: MemoryUnitOfWork, clock: FixedClock) -> None:
    record = _receive(uow, clock, mail(subject="Hello", text="Someone painted the wall")).record
    with pytest.raises(Invalid):
        file_from_triage(uow, clock, FileMail(AGENT, record.id, "graffiti"))  # no place
    with uow:
        assert uow.requests.count() == 0
    assert [m.id for m in triage_queue(uow, clock, AGENT)] == [record.id]


def test_triage__dismissed_with_a_reason__leaves_the_queue(uow: MemoryUnitOfWork, clock: FixedClock) -> None:
    record = _receive(uow, clock, mail(subject="Hello", text="Buy cheap watches")).record
    with pytest.raises(Invalid):
        dismiss_mail(uow, clock, DismissMail(AGENT, record.id, "  "))
    done = dismiss_mail(uow, clock, DismissMail(AGENT, record.id, "Spam"))
    assert (done.state, done.reason, done.raw) == (MailState.DISMISSED, "Spam", None)
    assert triage_queue(uow, clock, AGENT) == []


@pytest.mark.parametrize("role", [Role.DEPARTMENT, Role.PARTNER, Role.LIAISON, Role.EXECUTIVE, Role.RESIDENT])
def test_triage__not_an_agent__forbidden(uow: MemoryUnitOfWork, clock: FixedClock, role: Role) -> None:
    record = _receive(uow, clock, mail(subject="Hello", text="x")).record
    who = Principal(kind="staff", name="someone", role=role)
    with pytest.raises(Forbidden):
        triage_queue(uow, clock, who)
    with pytest.raises(Forbidden):
        file_from_triage(uow, clock, FileMail(who, record.id, "graffiti", address="7 Oak St"))


def test_stored_but_not_handled__handled_by_handle_pending_once(uow: MemoryUnitOfWork, clock: FixedClock) -> None:
    """The listener stopped between storing a message and handling it: the next start handles it, once."""
    kept = store_mail(uow, clock, mail(**GRAFFITI)).record
    assert kept.state is MailState.RECEIVED
    assert handle_pending(uow, clock, MailSettings()) == 1
    assert handle_pending(uow, clock, MailSettings()) == 0
    with uow:
        done = uow.mail.get(kept.id or 0)
        assert uow.requests.count() == 1
    assert done is not None and done.state is MailState.FILED and done.raw is None
