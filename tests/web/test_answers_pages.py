""" "Is it fixed?" pages (web/answers.py) end to end on both databases: the closure mail (aiosmtpd) asks with a link
per answer; opening one records nothing; the answer reopens the request with the note and photo and the resident
is asked to rate; a visitor's "still a problem" from the request's page files a linked request; every refusal is
said on the page in its language, writing nothing."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from civicswitch.core.clock import FixedClock
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import WorkRequest, WorkStep
from civicswitch.requests.tables import request_answers, service_requests
from civicswitch.requests.work import work_request
from civicswitch.storage.sql import SqlUnitOfWork
from mail_inbox import Inbox
from mail_inbox import deliver as _deliver
from mail_inbox import inbox as inbox
from mail_inbox import residents_mail as _residents_mail
from row_counts import row_counts

PUBLIC = "http://testserver"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _work(engine: Engine, clock: FixedClock, number: int, step: WorkStep, **kw: Any) -> None:
    work_request(SqlUnitOfWork(engine), clock, WorkRequest(OPERATOR, str(number), step, **kw))


def _report(client: TestClient, lang: str = "es", email: str = "Ana@Example.org") -> int:
    report = {"service_code": "graffiti", "address_string": "5 Elm Street", "email": email, "step": "send"}
    sent = client.post(f"/report?lang={lang}", data=report, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    return int(sent.headers["location"].split("/")[-1].split("?")[0])


def _status(engine: Engine, number: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(service_requests.c.status).where(service_requests.c.id == number)).scalar())


def test_closure_mail__asks_is_it_fixed__no_reopens_with_note_and_photo__then_rating(
    client: TestClient, engine: Engine, clock: FixedClock, inbox: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", PUBLIC)
    box, port = inbox
    _residents_mail(engine, clock, port)
    number = _report(client)
    _work(engine, clock, number, WorkStep.CLOSE, close_reason="fixed", note="Pintado")
    assert _deliver(engine, clock) == 1
    closed = box.received[-1][1]
    text = _text(closed)
    assert "¿Está arreglado? Díganos:" in text
    yes = re.search(r"Sí, está arreglado: (\S+)", text)
    no = re.search(r"No, sigue siendo un problema: (\S+)", text)
    assert yes is not None and no is not None and "answer=fixed" in yes.group(1) and "lang=es" in no.group(1)
    html = closed.get_body(("html",))
    assert html is not None and no.group(1).replace("&", "&amp;") in html.get_content()

    before = row_counts(engine)
    page = client.get(no.group(1).replace(PUBLIC, ""))
    assert page.status_code == 200 and page.headers["content-language"] == "es"
    assert "¿Está arreglado? Solicitud" in page.text and 'value="not_fixed" id="answer-not_fixed" checked' in page.text
    assert "hasta el" in page.text  # within the window: the request is reopened
    assert row_counts(engine) == before  # opening the link records nothing (mail scanners open links)

    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token is not None
    answered = client.post(f"/requests/{number}/fixed", data={"token": token.group(1), "answer": "not_fixed",
                                                              "note": "Volvieron a pintar"},
                           files={"photo": ("pared.png", PNG, "image/png")})  # fmt: skip
    assert answered.status_code == 200, answered.text
    assert f"La solicitud {number} se reabrió" in answered.text
    assert "¿Qué tan satisfecho está" in answered.text and 'id="rating-5"' in answered.text
    assert _status(engine, number) == "reopened"
    track = client.get(f"/requests/{number}")
    assert "Volvieron a pintar" in track.text and "/media/" in track.text

    assert _deliver(engine, clock) == 1  # the resident hears of the reopening too
    assert box.received[-1][1]["Subject"] == f"La solicitud {number} se reabrió"

    rated = client.post(f"/requests/{number}/rating", data={"token": token.group(1), "rating": "2"})
    assert rated.status_code == 200 and "su calificación quedó registrada" in rated.text
    with engine.connect() as conn:
        row = conn.execute(select(request_answers)).one()
    assert (row.answer, row.answerer, row.outcome, row.rating) == ("not_fixed", "filer", "reopened", 2)

    wrong = client.post(f"/requests/{number}/rating", data={"token": token.group(1), "rating": "9"})
    assert wrong.status_code == 400 and 'href="#rating-1"' in wrong.text and "del 1 al 5" in wrong.text


def test_track_page__closed__asks_anyone__visitor_still_a_problem_files_a_linked_request(
    client: TestClient, engine: Engine, clock: FixedClock
) -> None:
    number = _report(client, "en")
    _work(engine, clock, number, WorkStep.CLOSE, close_reason="fixed", note="Painted over")
    track = client.get(f"/requests/{number}")
    assert "Is it fixed?" in track.text and f'href="/requests/{number}/fixed?answer=not_fixed"' in track.text
    page = client.get(f"/requests/{number}/fixed?answer=not_fixed")
    assert page.status_code == 200 and 'id="email"' in page.text and "reports it again as a new request" in page.text

    problem = client.post(f"/requests/{number}/fixed", data={"answer": "not_fixed", "email": "not an address"})
    assert problem.status_code == 400 and 'href="#email"' in problem.text and 'aria-invalid="true"' in problem.text

    sent = client.post(f"/requests/{number}/fixed", data={"answer": "not_fixed", "note": "Tagged again",
                                                          "email": "cy@example.org"})  # fmt: skip
    assert sent.status_code == 200, sent.text
    new = re.search(r"reported again as request (\d+)", sent.text)
    assert new is not None and "One more question" not in sent.text  # a visitor is not asked to rate
    assert _status(engine, number) == "closed"
    again = client.get(f"/requests/{new.group(1)}")
    assert "Tagged again" in again.text and f"request {number} was closed, but the problem is still there" in again.text
    old = client.get(f"/requests/{number}")
    assert f"reported again as request {new.group(1)}" in old.text


def test_fixed_pages__refusals__said_on_the_page__nothing_written(
    client: TestClient, engine: Engine, clock: FixedClock
) -> None:
    number = _report(client, "en")
    before = row_counts(engine)
    not_closed = client.post(f"/requests/{number}/fixed", data={"answer": "fixed"})
    assert not_closed.status_code == 409 and "is not closed" in not_closed.text
    _work(engine, clock, number, WorkStep.CLOSE, close_reason="fixed")
    before = row_counts(engine)
    no_answer = client.post(f"/requests/{number}/fixed?lang=es", data={"answer": ""})
    assert no_answer.status_code == 400 and 'href="#answer-fixed"' in no_answer.text
    assert "Elija una respuesta" in no_answer.text
    bad_link = client.post(f"/requests/{number}/fixed", data={"answer": "fixed", "token": "nope"})
    assert bad_link.status_code == 400 and "Este enlace no se puede usar" in bad_link.text  # the cookie keeps es
    unknown = client.get("/requests/99999/fixed")
    assert unknown.status_code == 404
    not_a_number = client.post("/requests/abc/fixed", data={"answer": "fixed"})
    assert not_a_number.status_code == 404
    no_link_rating = client.post(f"/requests/{number}/rating", data={"rating": "5"})
    assert no_link_rating.status_code == 400
    assert row_counts(engine) == before
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(request_answers)).scalar() == 0
