"""Follow by email, confirmed: the API stores the follow unconfirmed, the outbox carries a confirmation mail to the
residents' mail connector, the worker sends it over SMTP (aiosmtpd), and the link's page confirms with one press
(both databases)."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from civicswitch.core.clock import FixedClock
from civicswitch.people.links import FOLLOW_LINK_DAYS
from civicswitch.requests.tables import request_followers
from mail_inbox import Inbox
from mail_inbox import deliver as _deliver
from mail_inbox import inbox as inbox
from mail_inbox import residents_mail as _residents_mail


def _file(client: TestClient, key: str) -> str:
    data = {"api_key": key, "service_code": "graffiti", "lat": "40.7359", "long": "-73.9911", "address_string": "1 A"}
    reply = client.post("/open311/v2/requests.json", data=data)
    assert reply.status_code == 200, reply.text
    return str(reply.json()[0]["service_request_id"])


def _confirmed(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        stmt = select(request_followers.c.confirmed_at).order_by(request_followers.c.id)
        return [r[0] for r in conn.execute(stmt)]


def _follow(client: TestClient, key: str, rid: str, address: str) -> Any:
    return client.post(f"/api/v1/requests/{rid}/followers", json={"email": address}, headers={"X-Api-Key": key})


def _link(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(r"https?://\S+/follow/confirm\?token=\S+", body.get_content())
    assert found, body.get_content()
    return found.group(0)


def test_follow__by_email__a_confirmation_link_is_mailed_and_one_press_confirms(
    client: TestClient, keys: dict[str, str], engine: Engine, clock: FixedClock, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    _residents_mail(engine, clock, port)
    rid = _file(client, keys["submit"])
    reply = _follow(client, keys["submit"], rid, "Neighbour@Example.org")
    assert reply.status_code == 202 and "on its way" in reply.json()["message"]
    assert _confirmed(engine) == [None]

    _deliver(engine, clock)
    mails = [(to, m) for to, m in box.received if m["To"] == "Neighbour@Example.org"]
    assert len(mails) == 1, [m["To"] for _, m in box.received]
    to, message = mails[0]
    assert to == ["Neighbour@Example.org"]
    assert message["Subject"] == f"Confirm that you want updates on request {rid}"
    assert message["From"] == "City 311 <noreply@city.example.gov>"
    link = _link(message)
    assert link.startswith("http://testserver/follow/confirm?token=")
    assert "neighbour" not in link.lower(), "the address itself is not in the link"

    path = urlsplit(link)
    page = client.get(path.path + "?" + path.query)
    assert page.status_code == 200 and "Confirm and follow" in page.text
    assert _confirmed(engine) == [None], "opening the link (a mail scanner) confirms nothing"

    token = parse_qs(path.query)["token"][0]
    done = client.post("/follow/confirm", data={"token": token})
    assert done.status_code == 200 and "your address is confirmed" in done.text
    assert _confirmed(engine) == [clock.now()]
    again = client.post("/follow/confirm", data={"token": token})
    assert again.status_code == 200 and "already confirmed" in again.text


def test_residents_mail_connector__takes_no_department_messages(
    client: TestClient, keys: dict[str, str], engine: Engine, clock: FixedClock, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    _residents_mail(engine, clock, port)
    _file(client, keys["submit"])  # a DSNY request: DSNY's department messages never reach residents
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT d.type FROM deliveries d JOIN connectors c ON c.id = d.connector_id WHERE c.code = :c"),
            {"c": "residents-mail"},
        ).all()
    assert rows == []
    _deliver(engine, clock)
    assert box.received == []


def test_follow__asked_again__one_link_an_hour_and_none_once_confirmed_same_answer_each_time(
    client: TestClient, keys: dict[str, str], engine: Engine, clock: FixedClock, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    _residents_mail(engine, clock, port)
    rid = _file(client, keys["submit"])
    answers = {_follow(client, keys["submit"], rid, "a@example.org").text for _ in range(3)}
    _deliver(engine, clock)
    assert len(box.received) == 1, "asked three times within the hour: one mail"
    clock.advance(timedelta(hours=1, minutes=1))
    answers.add(_follow(client, keys["submit"], rid, "a@example.org").text)
    _deliver(engine, clock)
    assert len(box.received) == 2, "the mail was lost: an hour later, a new link"
    token = parse_qs(urlsplit(_link(box.received[-1][1])).query)["token"][0]
    assert client.post("/follow/confirm", data={"token": token}).status_code == 200
    clock.advance(timedelta(hours=2))
    answers.add(_follow(client, keys["submit"], rid, "a@example.org").text)
    _deliver(engine, clock)
    assert len(box.received) == 2, "confirmed already: nothing more"
    assert len(answers) == 1, answers


def test_confirm__expired_altered_or_foreign_link__clear_400_page_and_nothing_confirmed(
    client: TestClient, keys: dict[str, str], engine: Engine, clock: FixedClock, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    _residents_mail(engine, clock, port)
    rid = _file(client, keys["submit"])
    _follow(client, keys["submit"], rid, "a@example.org")
    _deliver(engine, clock)
    token = parse_qs(urlsplit(_link(box.received[0][1])).query)["token"][0]

    altered = client.post("/follow/confirm", data={"token": token[:-3] + "abc"})
    empty = client.get("/follow/confirm")
    assert altered.status_code == 400 and "not valid" in altered.text
    assert empty.status_code == 400 and "incomplete" in empty.text
    clock.advance(timedelta(days=FOLLOW_LINK_DAYS, minutes=1))
    late = client.post("/follow/confirm", data={"token": token})
    shown = client.get("/follow/confirm", params={"token": token})
    assert late.status_code == 400 and "expired" in late.text and "Follow the request again" in late.text
    assert shown.status_code == 400 and "expired" in shown.text
    assert _confirmed(engine) == [None]


def test_follow__no_residents_mail_connector__says_nothing_is_sent_and_logs_it(
    client: TestClient, keys: dict[str, str], engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    rid = _file(client, keys["submit"])
    with caplog.at_level("WARNING"):
        reply = _follow(client, keys["submit"], rid, "a@example.org")
    assert reply.status_code == 202 and "sends no mail to residents" in reply.json()["message"]
    assert any("no residents' mail connector" in r.getMessage() for r in caplog.records)
    assert _confirmed(engine) == [None]


def test_follow__merged_request__the_link_still_confirms_on_the_parent(
    client: TestClient, keys: dict[str, str], engine: Engine, clock: FixedClock, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    _residents_mail(engine, clock, port)
    parent, child = _file(client, keys["submit"]), _file(client, keys["submit"])
    _follow(client, keys["submit"], child, "a@example.org")
    _deliver(engine, clock)
    token = parse_qs(urlsplit(_link(box.received[0][1])).query)["token"][0]
    merged = client.post(f"/api/v1/requests/{child}/merge", json={"into": parent}, headers={"X-Api-Key": keys["admin"]})
    assert merged.status_code == 200, merged.text
    done = client.post("/follow/confirm", data={"token": token})
    assert done.status_code == 200 and f"request {parent}" in done.text
    with engine.connect() as conn:
        rows = conn.execute(select(request_followers.c.request_id, request_followers.c.confirmed_at)).all()
    assert [(str(r[0]), r[1] is not None) for r in rows] == [(parent, True)]
