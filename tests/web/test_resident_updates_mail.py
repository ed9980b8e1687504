"""Residents told by email (hub/updates.py), end to end on both databases: a report from the Spanish form, staff
acknowledge it with a note and close it, the worker sends each change over SMTP (aiosmtpd) in Spanish, with a link
to the request and a one-click "stop these emails" that works; after it, nothing more is sent."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import AddNote, WorkRequest, WorkStep
from civicswitch.requests.work import add_note, work_request
from civicswitch.storage.sql import SqlUnitOfWork
from mail_inbox import Inbox
from mail_inbox import deliver as _deliver
from mail_inbox import inbox as inbox
from mail_inbox import residents_mail as _residents_mail

PUBLIC = "http://testserver"


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _work(engine: Engine, clock: FixedClock, number: int, step: WorkStep, **kw: Any) -> None:
    work_request(SqlUnitOfWork(engine), clock, WorkRequest(OPERATOR, str(number), step, **kw))


def test_report_in_spanish__each_change_mailed_in_spanish__one_click_stops_them(
    client: TestClient, engine: Engine, clock: FixedClock, inbox: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", PUBLIC)
    box, port = inbox
    _residents_mail(engine, clock, port)
    report = {"service_code": "graffiti", "address_string": "5 Elm Street", "email": "Ana@Example.org", "step": "send"}
    sent = client.post("/report?lang=es", data=report, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    number = int(sent.headers["location"].split("/")[-1].split("?")[0])
    _work(engine, clock, number, WorkStep.ACKNOWLEDGE, note="Lo limpiaremos esta semana")
    assert _deliver(engine, clock) == 1
    ((to, first),) = box.received
    assert to == ["Ana@Example.org"] and first["Content-Language"] == "es"
    assert first["Subject"] == f"Solicitud {number}: el departamento ya la tiene"
    text = _text(first)
    assert "Usted reportó Graffiti en 5 Elm Street" in text and "Lo limpiaremos esta semana" in text
    assert f"{PUBLIC}/requests/{number}" in text
    stop = re.search(r"<(http\S+/follow/stop\?token=\S+)>", first["List-Unsubscribe"])
    assert stop is not None and first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert stop.group(1) in text
    html = first.get_body(("html",))
    assert html is not None and 'lang="es"' in html.get_content()

    _work(engine, clock, number, WorkStep.CLOSE, close_reason="no_action", note="Es propiedad privada")
    assert _deliver(engine, clock) == 1
    closed = box.received[-1][1]
    assert closed["Subject"] == f"La solicitud {number} se cerró: no se pudo hacer nada"
    assert "Es propiedad privada" in _text(closed)

    page = client.get(stop.group(1).replace(PUBLIC, ""))
    assert page.status_code == 200 and "Dejar de recibir los correos" in page.text  # a button: scanners stop nothing
    one_click = client.post(stop.group(1).replace(PUBLIC, ""), data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and "no recibirá más correos" in one_click.text
    add_note(SqlUnitOfWork(engine), clock, AddNote(OPERATOR, str(number), "Una nota más", public=True))
    assert _deliver(engine, clock) == 0 and len(box.received) == 2


def test_stop_link__altered__refused_and_nothing_changed(client: TestClient) -> None:
    page = client.get("/follow/stop", params={"token": "not-a-token"})
    assert page.status_code == 400 and "cannot be used" in page.text
    posted = client.post("/follow/stop", data={"token": "not-a-token"})
    assert posted.status_code == 400
