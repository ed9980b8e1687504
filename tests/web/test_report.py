"""The residents' report form (web/report.py) over HTTP, both databases: filed through the API's use case with the
page's language, every problem at once with the typed values kept (the photo too), the nearby open requests before
sending, "follow this one instead", and the page after sending."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.storage.sql import SqlUnitOfWork

PNG = bytes.fromhex(  # a 1×1 picture
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
HERE = {"lat": "40.7359", "long": "-73.9911"}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _report(**fields: str) -> dict[str, str]:
    return {"service_code": "graffiti", "address_string": "5 Elm Street", "description": "Tags on the wall",
            "step": "send", **fields}  # fmt: skip


def _stored(engine: Engine, number: int) -> Any:
    with SqlUnitOfWork(engine) as uow:
        return uow.requests.get(number), uow.requests.contact(number)


def test_report__form__every_labelled_field_and_the_send_button(client: TestClient) -> None:
    page = client.get("/report", headers={"accept-language": "en"})
    assert page.status_code == 200 and page.headers["content-language"] == "en"
    for label in ("What is the problem?", "Where is it?", "Description", "Photo", "Email"):
        assert re.search(rf'<label for="[^"]+">{re.escape(label)}', page.text), label
    assert ">Send report</button>" in page.text
    assert 'action="/report"' in page.text and 'enctype="multipart/form-data"' in page.text


def test_report__sent__filed_on_the_web_channel_in_the_pages_language_then_the_sent_page(
    client: TestClient, engine: Engine
) -> None:
    reply = client.post("/report?lang=es", data=_report(email="ana@example.org"), follow_redirects=False)
    assert reply.status_code == 303, reply.text
    number = int(reply.headers["location"].rsplit("/", 1)[1].split("?")[0])
    assert reply.headers["location"].endswith("?lang=es")
    request, contact = _stored(engine, number)
    assert (request.channel, request.language, request.address) == ("web", "es", "5 Elm Street")
    assert contact.email == "ana@example.org"
    sent = client.get(reply.headers["location"])
    assert sent.status_code == 200 and sent.headers["content-language"] == "es"
    assert f"solicitud {number}" in _text(sent.text).lower()
    assert f'href="/requests/{number}"' in sent.text
    assert "ana@example.org" not in sent.text


def test_report__problems__all_at_once_linked_to_their_fields_and_everything_typed_kept(
    client: TestClient, engine: Engine
) -> None:
    reply = client.post("/report", data=_report(service_code="pothole", address_string="", description="Deep hole",
                                                email="not an address", **{"attribute[depth]": "deep"}))  # fmt: skip
    assert reply.status_code == 400
    text = _text(reply.text)
    assert "There are 4 problems" in text, text[:600]
    for anchor in ("#r-where", "#r-email", "#r-q1", "#r-q3"):
        assert f'href="{anchor}"' in reply.text, anchor
    assert 'value="not an address"' in reply.text and "Deep hole" in reply.text and 'value="deep"' in reply.text
    assert 'aria-invalid="true"' in reply.text


def test_report__photo_with_a_problem_elsewhere__kept_and_filed_with_the_report(
    client: TestClient, engine: Engine
) -> None:
    first = client.post("/report", data=_report(address_string=""), files={"photo": ("wall.png", PNG, "image/png")})
    assert first.status_code == 400
    kept = re.search(r'name="photo_id" value="([^"]+)"', first.text)
    assert kept is not None and "wall.png" in first.text
    again = client.post("/report", data=_report(photo_id=kept.group(1), photo_name="wall.png"), follow_redirects=False)
    assert again.status_code == 303, again.text
    request, _ = _stored(engine, int(again.headers["location"].rsplit("/", 1)[1]))
    assert request.media_url and request.media_url.startswith("/media/")
    assert client.get(request.media_url).content == PNG


def test_report__photo_not_an_image__refused_in_words(client: TestClient) -> None:
    reply = client.post("/report", data=_report(), files={"photo": ("x.png", b"MZ not a picture", "image/png")})
    assert reply.status_code == 400 and "The photo must be a picture" in reply.text


def test_report__nearby_open_request__offered_to_follow_before_sending(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    earlier = submit_request(SqlUnitOfWork(engine), clock, SubmitRequest(
        service_code="graffiti", api_key=keys["submit"], address_string="7 Elm Street", **HERE))  # fmt: skip
    reply = client.post("/report", data=_report(**HERE, email="ben@example.org"))
    assert reply.status_code == 200 and "Is it one of these?" in reply.text
    assert f'value="{earlier.service_request_id}"' in reply.text and ">Follow</button>" in reply.text
    chosen = {"request_id": earlier.service_request_id, "email": "ben@example.org"}
    followed = client.post("/report/follow", data=chosen)
    assert followed.status_code == 200
    with SqlUnitOfWork(engine) as uow:
        followers = uow.requests.followers(int(earlier.service_request_id))
    assert [f.contact.email for f in followers] == ["ben@example.org"]
    anyway = client.post("/report", data=_report(**HERE, step="anyway"), follow_redirects=False)
    assert anyway.status_code == 303


def test_report__follow_without_an_email__asked_for_it(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    earlier = submit_request(SqlUnitOfWork(engine), clock, SubmitRequest(
        service_code="graffiti", api_key=keys["submit"], address_string="7 Elm Street", **HERE))  # fmt: skip
    reply = client.post("/report/follow", data={**_report(**HERE), "request_id": earlier.service_request_id})
    assert reply.status_code == 400 and "Enter your email address" in reply.text


def test_report__photo_sent_with_show_the_questions__kept_for_the_report(client: TestClient, engine: Engine) -> None:
    """Without JavaScript the questions come by a button, which sends the form: a photo chosen already is kept."""
    shown = client.post("/report", data=_report(step="questions"), files={"photo": ("wall.png", PNG, "image/png")})
    assert shown.status_code == 200
    kept = re.search(r'name="photo_id" value="([^"]+)"', shown.text)
    assert kept is not None
    sent = client.post("/report", data=_report(photo_id=kept.group(1), photo_name="wall.png"), follow_redirects=False)
    request, _ = _stored(engine, int(sent.headers["location"].rsplit("/", 1)[1]))
    assert client.get(request.media_url).content == PNG


def test_report__kept_photo_id_altered__asked_again_nothing_attached(client: TestClient, engine: Engine) -> None:
    sent = client.post("/report", data=_report(photo_id="forged.png", photo_name="x.png"), follow_redirects=False)
    assert sent.status_code == 303  # the photo is optional: the report goes, without a photo it cannot vouch for
    request, _ = _stored(engine, int(sent.headers["location"].rsplit("/", 1)[1]))
    assert request.media_url is None


def test_report__contact_over_the_limit_or_nul__the_form_says_so_never_json(client: TestClient) -> None:
    """The fields have maxlength; a crafted form gets the page back with the field marked, nothing filed."""
    for contact in ({"phone": "5" * 51}, {"first_name": "Ana\x00"}):
        reply = client.post("/report", data=_report(**contact))
        assert reply.status_code == 400 and reply.headers["content-type"].startswith("text/html"), contact
        assert 'aria-invalid="true"' in reply.text


def test_stop_link__far_too_long__answered_on_the_page(client: TestClient) -> None:
    reply = client.get("/follow/stop", params={"token": "x" * 5000})
    assert reply.status_code == 400 and reply.headers["content-type"].startswith("text/html")


def test_report__the_same_kept_photo_sent_twice__second_refused_nothing_written(
    client: TestClient, engine: Engine
) -> None:
    """A double-clicked "Send report" with a kept photo: the first report has it; the second is not filed."""
    first = client.post("/report", data=_report(address_string=""), files={"photo": ("wall.png", PNG, "image/png")})
    kept = re.search(r'name="photo_id" value="([^"]+)"', first.text)
    assert kept is not None
    data = _report(photo_id=kept.group(1), photo_name="wall.png")
    assert client.post("/report", data=data, follow_redirects=False).status_code == 303
    with SqlUnitOfWork(engine) as uow:
        before = uow.requests.count()
    again = client.post("/report", data=data, follow_redirects=False)
    assert again.status_code == 400 and 'href="#r-photo"' in again.text  # 409 if both were at once
    with SqlUnitOfWork(engine) as uow:
        assert uow.requests.count() == before
