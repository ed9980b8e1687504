"""Following an area (web/area_follows.py) end to end on both databases: the form, its refusals on the page, the
confirmation mail (aiosmtpd) and its link's page (opening it changes nothing), then a report in the area mailed to
the follower with a one-click stop (RFC 8058) that works; and a daily digest from the stored timeline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.core.clock import FixedClock
from civicswitch.hub.area_follows import send_digests
from civicswitch.people.area_follows.tables import area_follows
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from mail_inbox import Inbox
from mail_inbox import deliver as _deliver
from mail_inbox import inbox as inbox
from mail_inbox import residents_mail as _residents_mail
from row_counts import row_counts

PUBLIC = "http://testserver"
IN_A = {"lat": "40.7100", "long": "-74.0000"}
IN_B = {"lat": "40.8000", "long": "-73.9000"}


@pytest.fixture
def area_client(
    engine: Engine, clock: FixedClock, loaded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("CIVICSWITCH_PUBLIC_URL", PUBLIC)
    with SqlUnitOfWork(engine) as uow:
        districts = [Area("districts", "A", "Riverside", shapely.box(-74.05, 40.69, -73.95, 40.73)),
                     Area("districts", "B", "Hilltop", shapely.box(-73.95, 40.73, -73.85, 40.85))]  # fmt: skip
        uow.catalog.add_layer_version(AreaLayer("districts", "key", "name"), districts, None)
        uow.commit()
    settings = Settings(database_url="sqlite:///unused.db", coverage_layer="districts")
    with TestClient(create_app(settings, engine=engine, clock=clock), raise_server_exceptions=False) as c:
        yield c


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _report(client: TestClient, where: dict[str, str]) -> int:
    sent = client.post("/report", data={"service_code": "graffiti", **where, "step": "anyway"}, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    return int(sent.headers["location"].split("/")[-1].split("?")[0])


def _follows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(area_follows)).scalar_one())


def test_area_form__area_chosen_from_the_link__labelled_fields__refusals_on_the_page_nothing_stored(
    area_client: TestClient, engine: Engine
) -> None:
    form = area_client.get("/follow/area?layer=districts&area=A")
    assert form.status_code == 200 and "<h1>Follow an area</h1>" in form.text
    assert '<option value="districts:A" selected>Riverside</option>' in form.text
    for label in ("Which area?", "Which kind of problem?", "How often?", "Email", "Follow"):
        assert label in form.text
    assert 'value="daily" id="a-cadence-daily" aria-describedby="a-cadence-daily-hint" checked' in form.text
    bad = area_client.post("/follow/area", data={"area": "districts:A", "cadence": "daily", "email": "ana@"})
    assert bad.status_code == 400 and 'href="#a-email"' in bad.text and "name@example.com" in bad.text
    assert 'aria-invalid="true"' in bad.text and 'value="ana@"' in bad.text
    nowhere = area_client.post("/follow/area", data={"area": "districts:Z", "cadence": "daily",
                                                     "email": "ana@example.org"})  # fmt: skip
    assert nowhere.status_code == 400 and 'href="#a-area"' in nowhere.text
    assert _follows(engine) == 0


def test_follow_area__confirmed_by_the_mailed_link__a_report_there_is_mailed__one_click_stops_it(
    area_client: TestClient, engine: Engine, clock: FixedClock, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    _residents_mail(engine, clock, port)
    asked = area_client.post("/follow/area", data={"area": "districts:A", "cadence": "every_change",
                                                   "email": "Ana@Example.org"})  # fmt: skip
    assert asked.status_code == 200 and "Check your email" in asked.text
    assert _deliver(engine, clock) == 1
    mail = box.received[-1][1]
    assert mail["Subject"] == "Confirm that you want emails about Riverside" and mail["To"] == "Ana@Example.org"
    link = re.search(r"(http://testserver/follow/area/confirm\?token=\S+)", _text(mail))
    assert link is not None

    before = row_counts(engine)
    page = area_client.get(link.group(1).replace(PUBLIC, ""))
    assert page.status_code == 200 and "Confirm and follow" in page.text and "an email for every change" in page.text
    assert row_counts(engine) == before  # opening the link changes nothing (mail scanners open links)
    _report(area_client, IN_A)  # before the confirmation: nothing is told
    assert _deliver(engine, clock) == 0
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token is not None
    done = area_client.post("/follow/area/confirm", data={"token": token.group(1)})
    assert done.status_code == 200 and "your address is confirmed" in done.text

    clock.advance(timedelta(minutes=5))
    number = _report(area_client, IN_A)
    _report(area_client, IN_B)  # another district
    assert _deliver(engine, clock) == 1
    told = box.received[-1][1]
    assert told["Subject"] == f"Riverside: request {number} — Reported."
    assert f"http://testserver/requests/{number}" in _text(told)
    stop = told["List-Unsubscribe"].strip("<>")
    assert told["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and "/follow/area/stop?token=" in stop
    one_click = area_client.post(stop.replace(PUBLIC, ""), data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and "will receive no more emails about Riverside" in one_click.text
    _report(area_client, IN_A)
    assert _deliver(engine, clock) == 0


def test_daily_digest__from_the_stored_timeline__one_mail_grouped_newest_first__none_when_nothing_happened(
    area_client: TestClient, engine: Engine, clock: FixedClock, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    _residents_mail(engine, clock, port)
    area_client.post("/follow/area?lang=es", data={"area": "districts:A", "cadence": "daily",
                                                   "email": "ana@example.org"})  # fmt: skip
    _deliver(engine, clock)
    link = re.search(r"(http://testserver/follow/area/confirm\?token=\S+)", _text(box.received[-1][1]))
    assert link is not None
    token = link.group(1).split("token=")[1].split("&")[0]
    assert area_client.post("/follow/area/confirm", data={"token": token}).status_code == 200
    clock.advance(timedelta(hours=1))
    first = _report(area_client, IN_A)
    clock.advance(timedelta(hours=1))
    second = _report(area_client, IN_A)
    _report(area_client, IN_B)
    assert _deliver(engine, clock) == 0  # a digest follower hears nothing as it happens
    clock.advance(timedelta(days=1))
    assert send_digests(SqlUnitOfWork(engine), clock) == 1
    assert _deliver(engine, clock) == 1
    digest = box.received[-1][1]
    text = _text(digest)
    assert digest["Content-Language"] == "es" and "Riverside" in digest["Subject"]
    assert text.index(f"/requests/{second}") < text.index(f"/requests/{first}")
    assert digest["List-Unsubscribe"] is not None
    clock.advance(timedelta(days=1))
    assert send_digests(SqlUnitOfWork(engine), clock) == 1  # due: nothing happened, so no mail
    assert _deliver(engine, clock) == 0


@pytest.mark.parametrize("path", ["/follow/area/confirm?token=nonsense", "/follow/area/stop?token=nonsense"])
def test_area_links__not_valid__said_on_the_page__400(area_client: TestClient, path: str) -> None:
    page = area_client.get(path + "&lang=es")
    assert page.status_code == 400 and "This link cannot be used" not in page.text and 'role="alert"' in page.text


def test_track_page__follow_form_and_area_link__the_form_mails_a_confirmation__refusal_on_its_own_page(
    area_client: TestClient, engine: Engine, clock: FixedClock, inbox: tuple[Inbox, int]
) -> None:
    number = _report(area_client, IN_A)
    page = area_client.get(f"/requests/{number}")
    assert 'href="/follow/area?layer=districts&amp;area=A">Follow the reports in Riverside</a>' in page.text
    assert f'action="/requests/{number}/follow"' not in page.text  # no residents' mail: no form to follow by mail
    box, port = inbox
    _residents_mail(engine, clock, port)
    page = area_client.get(f"/requests/{number}")
    assert f'action="/requests/{number}/follow"' in page.text and '<label for="f-email">Email</label>' in page.text
    refused = area_client.post(f"/requests/{number}/follow", data={"email": "nope"})
    assert refused.status_code == 400 and 'href="#f-email"' in refused.text and 'value="nope"' in refused.text
    sent = area_client.post(f"/requests/{number}/follow", data={"email": "ben@example.org"})
    assert sent.status_code == 200 and "Check your email" in sent.text
    assert _deliver(engine, clock) == 1
    assert box.received[-1][1]["Subject"] == f"Confirm that you want updates on request {number}"
    assert area_client.post("/requests/99999999/follow", data={"email": "ben@example.org"}).status_code == 404


def test_area_form__no_boundary_layer_loaded__says_so_without_a_form(client: TestClient) -> None:
    page = client.get("/follow/area?lang=es")
    assert page.status_code == 200 and "Esta ciudad todavía no tiene zonas para seguir" in page.text
    assert 'action="/follow/area"' not in page.text
