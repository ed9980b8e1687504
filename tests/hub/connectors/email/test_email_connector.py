"""The email connector: settings, the message a department reads, and delivery through a real SMTP server
(aiosmtpd, started on a free local port in each test)."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors.email import KIND, EmailSender, build_email, check_config
from civicswitch.hub.model import Connector, ConnectorKind, MessageType, OutboundMessage, OutcomeKind

NOW = datetime(2026, 11, 28, 12, 5, tzinfo=UTC)


# -- helpers ----------------------------------------------------------------------------------------------
def envelope(key: str, type_: MessageType = MessageType.CREATED, **data: Any) -> dict[str, Any]:
    """A CloudEvent shaped like hub/outbox.py's."""
    body: dict[str, Any] = {
        "service_request_id": "1234",
        "service_code": "pothole",
        "status": "new",
        "external_status": "OPEN",
        "description": "Deep pothole in the right lane.\nCars swerve around it.",
        "lat": 40.7128,
        "long": -74.006,
        "address": "100 Main St",
        "zipcode": "10001",
        "media_url": "https://img.example.org/p/1.jpg",
        "attributes": {"depth_cm": 12, "lanes": ["right"]},
        "areas": ["ward-3"],
        "agency": "DPW",
        "requested_datetime": "2026-11-28T12:00:00+00:00",
        "expected_datetime": "2026-12-01T12:00:00+00:00",
        "status_notes": None,
        "note": None,
    }
    body.update(data)
    return {
        "specversion": "1.0",
        "id": key,
        "source": "urn:civicswitch:requests",
        "type": f"gov.civicswitch.request.{type_}",
        "subject": "1234",
        "time": "2026-11-28T12:00:00+00:00",
        "datacontenttype": "application/json",
        "data": body,
    }


def outbound(
    key: str = "cs_0123456789abcdef", type_: MessageType = MessageType.CREATED, **data: Any
) -> OutboundMessage:
    return OutboundMessage(
        delivery_id=1, idempotency_key=key, type=type_, request_id=1234, envelope=envelope(key, type_, **data)
    )


def connector(port: int, secret: str | None = None, **settings: Any) -> Connector:
    config: dict[str, Any] = {
        "to": ["DPW Desk <dpw-311@city.example.org>", "roads@city.example.org"],
        "from": "City 311 <noreply@city.example.org>",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "timeout_s": 5,
    }
    config.update(settings)
    return Connector(
        code="dpw-mail", kind=ConnectorKind.EMAIL, body_code="DPW", config=check_config(config), secret=secret
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: Any


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what arrives; ``reply`` (e.g. ``554 …``) refuses the message instead, and
    ``refuse_rcpt`` refuses those recipients."""

    reply: str | None = None
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply:
            return self.reply
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, session.peer))
        return "250 2.0.0 Ok: queued"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def send(sender: EmailSender, conn: Connector, *messages: OutboundMessage) -> list[Any]:
    async def run() -> list[Any]:
        try:
            return list(await asyncio.gather(*(sender.send(conn, m) for m in messages)))
        finally:
            await sender.aclose()

    return asyncio.run(run())


def plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


# -- settings ---------------------------------------------------------------------------------------------
def test_kind__email_package__is_the_email_kind() -> None:
    assert KIND == ConnectorKind.EMAIL


def test_check_config__minimal_settings__defaults_filled_in() -> None:
    config = check_config({"to": "dpw@city.example.org", "from": "noreply@city.example.org", "smtp_host": "mail"})

    assert config == {
        "to": ["dpw@city.example.org"],
        "from": "noreply@city.example.org",
        "smtp_host": "mail",
        "smtp_port": 25,
        "starttls": False,
        "username": None,
        "timeout_s": 30.0,
        "public_url": None,
        "subject_prefix": "[311]",
        "html": False,
        "include_contact": False,
        "audience": "department",
    }


def test_check_config__residents_audience__no_to_of_its_own_and_no_contact_block() -> None:
    config = check_config({"from": "City 311 <noreply@city.example.org>", "smtp_host": "mail", "audience": "residents"})
    assert config["audience"] == "residents" and config["to"] == []
    with pytest.raises(Invalid, match="to must be left out"):
        check_config({"to": "x@city.example.org", "from": "n@x.org", "smtp_host": "m", "audience": "residents"})
    with pytest.raises(Invalid, match="include_contact"):
        check_config({"from": "n@x.org", "smtp_host": "m", "audience": "residents", "include_contact": True})
    with pytest.raises(Invalid, match="audience must be one of department, residents"):
        check_config({"to": "x@city.example.org", "from": "n@x.org", "smtp_host": "m", "audience": "everyone"})


def test_check_config__allow_private__refused_with_what_it_is_for() -> None:
    with pytest.raises(Invalid, match="smtp_host may be on a private network without it"):
        check_config({"to": "x@city.example.org", "from": "n@x.org", "smtp_host": "10.0.0.5", "allow_private": True})


def test_build_email__residents_audience__to_the_resident_with_the_link_and_no_department_fields() -> None:
    config = check_config(
        {"from": "City 311 <noreply@city.example.org>", "smtp_host": "mail", "audience": "residents", "html": True}
    )
    message = OutboundMessage(
        delivery_id=1,
        idempotency_key="cs_abc",
        type=MessageType.FOLLOW_CONFIRMATION,
        request_id=42,
        envelope={
            "type": "gov.civicswitch.request.follow_confirmation",
            "data": {
                "service_request_id": "42",
                "to": "Ana <ana@example.org>",
                "confirm_url": "https://city.example.org/follow/confirm?token=abc.def",
                "link_days": 7,
                "service_name": "Pothole",
                "address": "1 Main St",
            },
        },
    )
    built = build_email(config, message, datetime(2026, 12, 1, tzinfo=UTC))
    assert built["To"] == "Ana <ana@example.org>"
    assert built["Subject"] == "Confirm that you want updates on request 42"
    text = built.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "https://city.example.org/follow/confirm?token=abc.def" in text and "Pothole, 1 Main St" in text
    assert "7 days" in text and "ignore this message" in text
    page = built.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert 'href="https://city.example.org/follow/confirm?token=abc.def"' in page
    with pytest.raises(ValueError, match="no created messages"):
        build_email(config, dataclasses.replace(message, type=MessageType.CREATED), datetime(2026, 12, 1, tzinfo=UTC))


def test_check_config__comma_separated_to_with_quoted_name__split_into_addresses() -> None:
    config = check_config(
        {"to": 'a@city.example.org, "Roads, Night Shift" <roads@city.example.org>', "from": "n@x.org", "smtp_host": "m"}
    )

    assert config["to"] == ["a@city.example.org", '"Roads, Night Shift" <roads@city.example.org>']


def test_check_config__normalised_config__checks_to_itself() -> None:
    config = check_config(
        {"to": ["Zoë Desk <z@city.example.org>"], "from": "J. Doe <j@x.org>", "smtp_host": "m", "starttls": True}
    )

    assert check_config(config) == config


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"to": "not-an-address"}, "to"),
        ({"to": "a@x.org, b@"}, "to"),
        ({"to": []}, "to"),
        ({"to": "a@x.org\r\nBcc: evil@x.org"}, "to"),
        ({"from": None}, "from"),
        ({"from": "a@x.org, b@x.org"}, "from"),
        ({"smtp_host": ""}, "smtp_host"),
        ({"smtp_host": "mail host"}, "smtp_host"),
        ({"smtp_port": 0}, "smtp_port"),
        ({"smtp_port": "25"}, "smtp_port"),
        ({"starttls": "yes"}, "starttls"),
        ({"username": "a\nb"}, "username"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"public_url": "ftp://x"}, "public_url"),
        ({"public_url": "https://x/{name}"}, "public_url"),
        ({"subject_prefix": "a\nb"}, "subject_prefix"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_check_config__bad_setting__invalid_naming_it(settings: dict[str, Any], named: str) -> None:
    config = {"to": "a@city.example.org", "from": "n@city.example.org", "smtp_host": "mail", **settings}

    with pytest.raises(Invalid) as caught:
        check_config(config)

    assert named in caught.value.description


# -- the message ------------------------------------------------------------------------------------------
def test_build_email__created__readable_subject_and_every_field() -> None:
    config = connector(25, public_url="https://311.city.example.org").config

    mail = build_email(config, outbound(), NOW)

    assert mail["Subject"] == "[311] New request 1234: pothole — 100 Main St"
    text = plain(mail)
    for expected in (
        "Request:    1234",
        "Service:    pothole",
        "Status:     new (your code: OPEN)",
        "Address:    100 Main St, 10001",
        "40.712800, -74.006000",
        "Requested:  2026-11-28 12:00 UTC",
        "Due:        2026-12-01 12:00 UTC",
        "Photo:      https://img.example.org/p/1.jpg",
        "  Deep pothole in the right lane.\n  Cars swerve around it.",
        "depth_cm: 12",
        "lanes:    right",
        "ward-3",
        "Open the request: https://311.city.example.org/requests/1234",
        "Replies to it are not read.",
        "Reference: cs_0123456789abcdef",
    ):
        assert expected in text, expected


def test_build_email__public_url_with_placeholder__link_filled_in() -> None:
    config = connector(25, public_url="https://city.example.org/track?id={id}").config

    assert "https://city.example.org/track?id=1234" in plain(build_email(config, outbound(), NOW))


def test_build_email__no_public_url__no_link() -> None:
    assert "Open the request" not in plain(build_email(connector(25).config, outbound(), NOW))


def test_build_email__no_address__subject_names_the_location() -> None:
    mail = build_email(connector(25).config, outbound(address=None, zipcode=None), NOW)

    assert mail["Subject"] == "[311] New request 1234: pothole — 40.712800, -74.006000"


@pytest.mark.parametrize(
    ("type_", "data", "subject"),
    [
        (MessageType.STATUS_CHANGED, {"status": "closed/fixed"}, "[311] Request 1234 is now closed/fixed: pothole"),
        (MessageType.NOTE, {"note": "Crew on site"}, "[311] Note on request 1234: pothole"),
        (MessageType.TRANSFERRED, {"transferred_to": "PARKS"}, "[311] Request 1234 moved to PARKS: pothole"),
        (MessageType.CREATED, {"referred": True}, "[311] Referred request 1234: pothole"),
    ],
)
def test_build_email__each_message_type__subject_says_what_happened(
    type_: MessageType, data: dict[str, Any], subject: str
) -> None:
    mail = build_email(connector(25).config, outbound(type_=type_, **data), NOW)

    assert mail["Subject"] == subject + " — 100 Main St"


def test_build_email__note__note_text_in_body() -> None:
    mail = build_email(connector(25).config, outbound(type_=MessageType.NOTE, note="Crew on site\nat 3pm"), NOW)

    assert "Note:\n  Crew on site\n  at 3pm" in plain(mail)


def test_build_email__contact_given__listed_as_personal_data() -> None:
    contact = {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.org", "phone": "555-0100"}

    text = plain(build_email(connector(25).config, outbound(contact=contact), NOW))

    assert "Contact (personal data" in text
    assert "Name:  Jane Doe" in text
    assert "Email: jane@example.org" in text
    assert "Phone: 555-0100" in text


def test_build_email__no_contact__no_contact_section() -> None:
    assert "Contact" not in plain(build_email(connector(25).config, outbound(), NOW))


def test_build_email__line_breaks_in_address__subject_stays_one_line() -> None:
    mail = build_email(connector(25).config, outbound(address="100 Main St\r\nBcc: x@evil.example"), NOW)

    assert mail["Subject"] == "[311] New request 1234: pothole — 100 Main St Bcc: x@evil.example"
    assert mail["Bcc"] is None


def test_build_email__html_setting__escaped_html_alternative() -> None:
    mail = build_email(connector(25, html=True).config, outbound(description="<script>alert(1)</script>"), NOW)

    assert mail.get_content_type() == "multipart/alternative"
    part = mail.get_body(("html",))
    assert isinstance(part, EmailMessage)
    markup = str(part.get_content())
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "<script>" not in markup
    assert "Replies to it are not read." in markup


def test_build_email__same_message_twice__same_message_id_from_the_key() -> None:
    config = connector(25).config

    first = build_email(config, outbound("cs_feedbeef"), NOW)
    again = build_email(config, outbound("cs_feedbeef"), datetime(2026, 11, 29, tzinfo=UTC))

    assert first["Message-ID"] == again["Message-ID"] == "<cs_feedbeef@city.example.org>"


# -- delivery through a real SMTP server ------------------------------------------------------------------
def test_send__real_smtp_server__message_arrives_with_headers_and_body(smtp_server: tuple[Recorder, int]) -> None:
    handler, port = smtp_server
    conn = connector(port, public_url="https://311.city.example.org/")

    [outcome] = send(EmailSender(now=lambda: NOW), conn, outbound("cs_00aa11bb22cc33dd"))

    assert outcome.kind == OutcomeKind.DELIVERED, outcome.detail
    assert "250" in outcome.detail
    [got] = handler.received
    assert got.mail_from == "noreply@city.example.org"
    assert got.rcpt_tos == ["dpw-311@city.example.org", "roads@city.example.org"]
    mail = got.message
    assert mail["Subject"] == "[311] New request 1234: pothole — 100 Main St"
    assert mail["From"] == "City 311 <noreply@city.example.org>"
    assert mail["To"] == "DPW Desk <dpw-311@city.example.org>, roads@city.example.org"
    assert mail["Message-ID"] == "<cs_00aa11bb22cc33dd@city.example.org>"
    assert mail["X-Civicswitch-Idempotency-Key"] == "cs_00aa11bb22cc33dd"
    assert mail["X-Civicswitch-Request-Id"] == "1234"
    assert mail["X-Civicswitch-Event-Type"] == "gov.civicswitch.request.created"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Date"] == "Sat, 28 Nov 2026 12:05:00 +0000"
    assert mail.get_content_type() == "text/plain"
    text = plain(mail)
    assert "Cars swerve around it." in text
    assert "Open the request: https://311.city.example.org/requests/1234" in text
    assert "Replies to it are not read." in text


def test_send__non_ascii_text__arrives_intact(smtp_server: tuple[Recorder, int]) -> None:
    handler, port = smtp_server

    [outcome] = send(
        EmailSender(), connector(port), outbound(description="Nid-de-poule près du café — 2 m", address="Rue Zoë")
    )

    assert outcome.kind == OutcomeKind.DELIVERED, outcome.detail
    [got] = handler.received
    assert got.message["Subject"] == "[311] New request 1234: pothole — Rue Zoë"
    assert "Nid-de-poule près du café — 2 m" in plain(got.message)


def test_send__html_setting__arrives_with_both_parts(smtp_server: tuple[Recorder, int]) -> None:
    handler, port = smtp_server

    [outcome] = send(EmailSender(), connector(port, html=True), outbound())

    assert outcome.kind == OutcomeKind.DELIVERED, outcome.detail
    mail = handler.received[0].message
    assert mail.get_content_type() == "multipart/alternative"
    assert mail.get_body(("html",)) is not None
    assert "Cars swerve around it." in plain(mail)


def test_send__server_down__retry() -> None:
    conn = connector(free_port())

    [outcome] = send(EmailSender(), conn, outbound())

    assert outcome.kind == OutcomeKind.RETRY
    assert "127.0.0.1" in outcome.detail


def test_send__server_refuses_with_5xx__failed(smtp_server: tuple[Recorder, int]) -> None:
    handler, port = smtp_server
    handler.reply = "554 5.7.1 Message rejected as spam"

    [outcome] = send(EmailSender(), connector(port), outbound())

    assert outcome.kind == OutcomeKind.FAILED
    assert outcome.status_code == 554
    assert "rejected as spam" in outcome.detail


def test_send__server_answers_4xx__retry(smtp_server: tuple[Recorder, int]) -> None:
    handler, port = smtp_server
    handler.reply = "451 4.3.0 Try again later"

    [outcome] = send(EmailSender(), connector(port), outbound())

    assert outcome.kind == OutcomeKind.RETRY
    assert outcome.status_code == 451


def test_send__every_recipient_refused_for_good__failed(smtp_server: tuple[Recorder, int]) -> None:
    handler, port = smtp_server
    handler.refuse_rcpt = {
        "dpw-311@city.example.org": "550 5.1.1 No such user",
        "roads@city.example.org": "550 5.1.1 No such user",
    }

    [outcome] = send(EmailSender(), connector(port), outbound())

    assert outcome.kind == OutcomeKind.FAILED
    assert "No such user" in outcome.detail
    assert handler.received == []


def test_send__one_recipient_refused__delivered_to_the_other_and_detail_names_it(
    smtp_server: tuple[Recorder, int],
) -> None:
    handler, port = smtp_server
    handler.refuse_rcpt = {"roads@city.example.org": "550 5.1.1 No such user"}

    [outcome] = send(EmailSender(), connector(port), outbound())

    assert outcome.kind == OutcomeKind.DELIVERED
    assert "roads@city.example.org: 550 5.1.1 No such user" in outcome.detail
    assert handler.received[0].rcpt_tos == ["dpw-311@city.example.org"]


def test_send__refused_then_accepted__same_connection_still_used(smtp_server: tuple[Recorder, int]) -> None:
    handler, port = smtp_server
    sender = EmailSender()
    conn = connector(port)

    async def run() -> list[OutcomeKind]:
        handler.reply = "554 5.7.1 No"
        first = await sender.send(conn, outbound("cs_1"))
        handler.reply = None
        second = await sender.send(conn, outbound("cs_2"))
        await sender.aclose()
        return [first.kind, second.kind]

    assert asyncio.run(run()) == [OutcomeKind.FAILED, OutcomeKind.DELIVERED]
    assert len(handler.received) == 1


def test_send__50_concurrent__all_arrive_over_one_connection(smtp_server: tuple[Recorder, int]) -> None:
    handler, port = smtp_server
    messages = [outbound(f"cs_{i:04d}") for i in range(50)]

    outcomes = send(EmailSender(), connector(port), *messages)

    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 50
    assert sorted(r.message["X-Civicswitch-Idempotency-Key"] for r in handler.received) == [
        m.idempotency_key for m in messages
    ]
    assert len({r.peer for r in handler.received}) == 1


def test_send__server_restarted_between_sends__reconnects_and_delivers() -> None:
    port = free_port()
    first_handler, second_handler = Recorder(), Recorder()
    sender = EmailSender()
    conn = connector(port)

    async def run() -> list[OutcomeKind]:
        kinds = []
        controller = Controller(first_handler, hostname="127.0.0.1", port=port)
        controller.start()
        kinds.append((await sender.send(conn, outbound("cs_1"))).kind)
        controller.stop()  # the kept connection dies with it
        controller = Controller(second_handler, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            kinds.append((await sender.send(conn, outbound("cs_2"))).kind)
        finally:
            await sender.aclose()
            controller.stop()
        return kinds

    assert asyncio.run(run()) == [OutcomeKind.DELIVERED, OutcomeKind.DELIVERED]
    assert [r.message["X-Civicswitch-Idempotency-Key"] for r in second_handler.received] == ["cs_2"]


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"dpw", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def auth_server() -> Iterator[tuple[Recorder, int]]:
    handler = Recorder()
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=_authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_send__username_and_right_secret__logs_in_and_delivers(auth_server: tuple[Recorder, int]) -> None:
    handler, port = auth_server

    [outcome] = send(EmailSender(), connector(port, secret="s3cret", username="dpw"), outbound())

    assert outcome.kind == OutcomeKind.DELIVERED, outcome.detail
    assert len(handler.received) == 1


def test_send__wrong_password__failed_with_the_servers_reply(auth_server: tuple[Recorder, int]) -> None:
    handler, port = auth_server

    [outcome] = send(EmailSender(), connector(port, secret="wrong", username="dpw"), outbound())

    assert outcome.kind == OutcomeKind.FAILED
    assert outcome.status_code == 535
    assert "login refused" in outcome.detail
    assert handler.received == []


def test_send__username_without_secret__failed_naming_the_secret(smtp_server: tuple[Recorder, int]) -> None:
    _, port = smtp_server

    [outcome] = send(EmailSender(), connector(port, username="dpw"), outbound())

    assert outcome.kind == OutcomeKind.FAILED
    assert "secret" in outcome.detail


def test_send__starttls_required_but_not_offered__failed(smtp_server: tuple[Recorder, int]) -> None:
    handler, port = smtp_server

    [outcome] = send(EmailSender(), connector(port, starttls=True), outbound())

    assert outcome.kind == OutcomeKind.FAILED
    assert "STARTTLS" in outcome.detail
    assert handler.received == []
