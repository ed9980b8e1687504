"""Email in end to end, on SQLite and PostgreSQL: residents' mail sent with smtplib to the real listener (aiosmtpd,
hub/mailin/smtp.py) becomes a request on channel email with its photo; a reply to the update mail the delivery
worker sent over SMTP is a public note on that request; an auto-reply is ignored; the same message twice is handled
once; unclear mail waits in the agent console's triage queue until an agent files it on the page; a sender over the
daily limit gets no more requests; other recipients and messages too large are refused."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from civicswitch.core.clock import FixedClock
from civicswitch.hub.handlers import add_connector
from civicswitch.hub.mailin.handlers import MailSettings
from civicswitch.hub.mailin.model import MailState
from civicswitch.hub.mailin.smtp import MailHandler, MailListener
from civicswitch.hub.mailin.tables import inbound_mail
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import WorkRequest, WorkStep
from civicswitch.requests.model import Channel
from civicswitch.requests.tables import service_requests
from civicswitch.requests.work import work_request
from civicswitch.storage.sql import SqlUnitOfWork
from mail_inbox import Inbox, free_port
from mail_inbox import deliver as _deliver
from mail_inbox import inbox as inbox
from staff_client import PASSWORD, csrf_of, sign_in

OURS = "311@city.example.gov"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)
PER_DAY = 4


def _mail(
    subject: str,
    text: str,
    *,
    sender: str = "Ana Ruiz <ana@example.org>",
    message_id: str = "<a1@example.org>",
    in_reply_to: str | None = None,
    photo: bool = False,
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = sender, OURS, subject, message_id
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    if photo:
        msg.add_attachment(PNG, maintype="image", subtype="png", filename="photo.png")
    return msg.as_bytes()


@pytest.fixture
def listener(engine: Engine, clock: FixedClock) -> Iterator[int]:
    handler = MailHandler(lambda: SqlUnitOfWork(engine), clock, MailSettings(per_day=PER_DAY), OURS)
    port = free_port()
    server = MailListener(handler, "127.0.0.1", port, max_bytes=200_000)
    server.start()
    try:
        yield port
    finally:
        server.stop()


def _send(port: int, raw: bytes, sender: str = "ana@example.org", to: str = OURS) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        code, text = smtp.ehlo()
        assert code == 250
        smtp.mail(sender)
        code, text = smtp.rcpt(to)
        assert code == 250, text
        return smtp.data(raw)


def _mails(engine: Engine) -> list[tuple[str, str, int | None]]:
    with engine.connect() as conn:
        q = select(inbound_mail.c.message_id, inbound_mail.c.state, inbound_mail.c.request_id).order_by(
            inbound_mail.c.id
        )
        return [(r.message_id, r.state, r.request_id) for r in conn.execute(q)]


def _requests(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(service_requests)).scalar_one())


def test_mail_in__new_request_reply_threaded_auto_reply_ignored_twice_once(
    engine: Engine, clock: FixedClock, listener: int, inbox: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch,
    loaded: dict[str, str],
) -> None:  # fmt: skip
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", "https://311.example.gov")
    box, smtp_port = inbox
    config = {"from": "City 311 <noreply@city.example.gov>", "smtp_host": "127.0.0.1", "smtp_port": smtp_port,
              "audience": "residents", "reply_to": f"City 311 <{OURS}>"}  # fmt: skip
    add_connector(SqlUnitOfWork(engine), clock, code="residents-mail", kind="email", body="DSNY", config=config)

    # (a) a new request, with its photo
    first = _mail("Graffiti on the school wall", "Big tags again.\nAddress: 5 Elm Street\n", photo=True)
    code, text = _send(listener, first)
    assert code == 250 and b"Received as mail" in text
    ((_, state, number),) = _mails(engine)
    assert state == MailState.FILED and number is not None
    uow = SqlUnitOfWork(engine)
    with uow:
        request = uow.requests.get(number)
        contact = uow.requests.contact(number)
        assert request is not None and request.media_url is not None
        photo = uow.requests.media(request.media_url.removeprefix("/media/"))
    assert (request.channel, request.service_code, request.address) == (Channel.EMAIL, "graffiti", "5 Elm Street")
    assert contact is not None and contact.email == "ana@example.org"
    assert photo is not None and photo.data == PNG

    # staff acknowledge it: the worker mails Ana over SMTP, with the city's 311 address to reply to
    work_request(SqlUnitOfWork(engine), clock, WorkRequest(OPERATOR, str(number), WorkStep.ACKNOWLEDGE, note="Soon"))
    assert _deliver(engine, clock) == 1
    ((to, update),) = box.received
    assert to == ["ana@example.org"] and update["Reply-To"] == f"City 311 <{OURS}>"
    assert "Reply to this email to add something" in str(update.get_body(("plain",)).get_content())  # type: ignore[union-attr]

    # (b) her reply, quoting ours, with a new photo: a public note on the same request
    quoted = f"It is bigger now.\n\nOn Mon, Dec 7, 2026, City 311 <{OURS}> wrote:\n> Request {number} ...\n"
    reply = _mail(f"Re: {update['Subject']}", quoted, message_id="<a2@example.org>",
                  in_reply_to=str(update["Message-ID"]), photo=True)  # fmt: skip
    assert _send(listener, reply)[0] == 250
    assert _mails(engine)[-1][1:] == (MailState.THREADED, number) and _requests(engine) == 1
    with uow:
        timeline = uow.requests.events([number], public_only=False)[number]
    note = timeline[-1]
    assert (note.kind, note.description, note.public) == ("note", "It is bigger now.", True)
    assert note.media_url is not None

    # (c) her mail program's out-of-office answer to our next message: ignored, kept with the reason
    auto = _mail("Out of office", "I am away.", message_id="<a3@example.org>", in_reply_to=str(update["Message-ID"]),
                 headers={"Auto-Submitted": "auto-replied"})  # fmt: skip
    assert _send(listener, auto)[0] == 250
    assert _mails(engine)[-1][1:] == (MailState.IGNORED, None)
    with uow:
        assert uow.requests.events([number], public_only=False)[number] == timeline  # nothing added

    # a bounce of our mail: its envelope sender is empty (MAIL FROM:<>), whatever its headers say
    bounce = _mail("Graffiti returned", "Address: 5 Elm Street", sender="ana@example.org", message_id="<a4@x>")
    assert _send(listener, bounce, sender="")[0] == 250
    assert _mails(engine)[-1][1:] == (MailState.IGNORED, None)

    # (f) the relay delivers the first message again: handled once
    code, text = _send(listener, first)
    assert code == 250 and b"Already received" in text
    assert len(_mails(engine)) == 4 and _requests(engine) == 1


def test_mail_in__unclear_mail__triage_then_an_agent_files_it_on_the_page(
    engine: Engine, clock: FixedClock, listener: int, client: TestClient
) -> None:
    raw = _mail("Help please", "Somebody painted all over the wall by the park.", photo=True)
    assert _send(listener, raw)[0] == 250
    ((_, state, _),) = _mails(engine)
    assert state == MailState.TRIAGE and _requests(engine) == 0

    add_user(SqlUnitOfWork(engine), clock, AddUser("agent@city.gov", "agent", password=PASSWORD))
    sign_in(client, "agent@city.gov")
    listing = client.get("/staff/agent/mail")
    assert listing.status_code == 200 and "Help please" in listing.text and "ana@example.org" in listing.text
    mail_id = int(listing.text.split('href="/staff/agent/mail/')[1].split('"')[0])
    page = client.get(f"/staff/agent/mail/{mail_id}", params={"service": "graffiti"})
    assert page.status_code == 200 and "Somebody painted" in page.text and "photo.png" in page.text
    image = client.get(f"/staff/agent/mail/{mail_id}/attachments/0")
    assert image.status_code == 200 and image.content == PNG and image.headers["content-type"] == "image/png"
    form = {"csrf": csrf_of(page.text), "service_code": "graffiti", "address": "1 Park Row",
            "description": "Paint on the park wall"}  # fmt: skip
    missing = client.post(f"/staff/agent/mail/{mail_id}/file", data={**form, "address": ""})
    assert missing.status_code == 400 and "location is required" in missing.text and _requests(engine) == 0
    filed = client.post(f"/staff/agent/mail/{mail_id}/file", data=form, follow_redirects=False)
    assert filed.status_code == 303, filed.text
    ((_, state, number),) = _mails(engine)
    assert state == MailState.FILED_FROM_TRIAGE and number is not None
    uow = SqlUnitOfWork(engine)
    with uow:
        request = uow.requests.get(number)
        contact = uow.requests.contact(number)
    assert request is not None and (request.channel, request.address, request.description) == (
        Channel.EMAIL, "1 Park Row", "Paint on the park wall")  # fmt: skip
    assert request.media_url is not None and contact is not None and contact.email == "ana@example.org"
    after = client.get(filed.headers["location"])
    assert f"Mail filed as request {number}" in after.text and "No mail is waiting" in after.text
    again = client.post(f"/staff/agent/mail/{mail_id}/file", data=form)
    assert again.status_code == 409 and _requests(engine) == 1


def test_mail_in__dismissed_by_an_agent__kept_with_the_reason(
    engine: Engine, clock: FixedClock, listener: int, client: TestClient
) -> None:
    assert _send(listener, _mail("Cheap watches", "Buy now"))[0] == 250
    add_user(SqlUnitOfWork(engine), clock, AddUser("agent@city.gov", "agent", password=PASSWORD))
    sign_in(client, "agent@city.gov")
    mail_id = _mails_ids(engine)[0]
    page = client.get(f"/staff/agent/mail/{mail_id}")
    empty = client.post(f"/staff/agent/mail/{mail_id}/dismiss", data={"csrf": csrf_of(page.text), "reason": ""})
    assert empty.status_code == 400 and "say why" in empty.text
    done = client.post(f"/staff/agent/mail/{mail_id}/dismiss", data={"csrf": csrf_of(page.text), "reason": "Spam"},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and _mails(engine)[0][1] == MailState.DISMISSED and _requests(engine) == 0


def _mails_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [int(i) for i in conn.execute(select(inbound_mail.c.id).order_by(inbound_mail.c.id)).scalars()]


def test_mail_in__not_staff_of_the_console__no_triage(engine: Engine, clock: FixedClock, client: TestClient) -> None:
    add_user(SqlUnitOfWork(engine), clock, AddUser("dot@city.gov", "department", password=PASSWORD, bodies=("DOT",)))
    sign_in(client, "dot@city.gov")
    assert client.get("/staff/agent/mail").status_code == 403
    client.cookies.clear()
    assert client.get("/staff/agent/mail", follow_redirects=False).status_code == 303  # to sign in


def test_mail_in__over_the_daily_limit__no_more_requests(engine: Engine, listener: int, loaded: dict[str, str]) -> None:
    for n in range(PER_DAY + 2):
        raw = _mail("Graffiti", f"Tag number {n}\nAddress: {n + 1} Elm Street", message_id=f"<n{n}@example.org>")
        assert _send(listener, raw)[0] == 250
    states = [state for _, state, _ in _mails(engine)]
    assert states == [MailState.FILED] * PER_DAY + [MailState.RATE_LIMITED] * 2
    assert _requests(engine) == PER_DAY


def test_mail_in__other_recipient_or_too_large__refused(engine: Engine, listener: int) -> None:
    with smtplib.SMTP("127.0.0.1", listener, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail("ana@example.org")
        assert smtp.rcpt("mayor@city.example.gov")[0] == 550
        assert smtp.rcpt("311+pothole@City.Example.gov")[0] == 250
    big = _mail("Graffiti", "x" * 300_000)
    with smtplib.SMTP("127.0.0.1", listener, timeout=30) as smtp, pytest.raises(smtplib.SMTPException) as refused:
        smtp.sendmail("ana@example.org", [OURS], big)
    assert "552" in str(refused.value) or getattr(refused.value, "smtp_code", 0) == 552
    assert _mails(engine) == []
