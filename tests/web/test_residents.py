"""The residents' track page and lookup (web/residents.py) over HTTP, both databases: what is shown and never
shown, the language chosen (query, cookie, browser) and kept, and clear answers to a wrong or unknown number."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import CloseReason, Contact, Status
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web import i18n


def _filed(engine: Engine, clock: FixedClock, keys: dict[str, str], **extra: Any) -> int:
    contact = Contact(email="ana@example.org", phone="555-0100")
    filed = submit_request(SqlUnitOfWork(engine), clock, SubmitRequest(
        service_code="graffiti", api_key=keys["submit"], lat="40.7359", long="-73.9911", address_string="5 Elm Street",
        description="Tags on the school wall", contact=contact, **extra))  # fmt: skip
    return int(filed.service_request_id)


def _change(engine: Engine, rid: int, step: Any) -> None:
    with SqlUnitOfWork(engine) as uow:
        found = uow.requests.get(rid)
        assert found is not None
        step(found)
        uow.requests.save(found)
        uow.commit()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_track__english__status_owner_timeline_and_never_contact_or_staff_entries(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _filed(engine, clock, keys)
    _change(engine, rid, lambda r: r.add_note(clock.now(), "Crew notes: staff only", public=False))
    _change(engine, rid, lambda r: r.transition(Status.ACKNOWLEDGED, clock.now(), note="We will clean it this week"))
    page = client.get(f"/requests/{rid}", headers={"accept-language": "en-US,en;q=0.9"})
    assert page.status_code == 200
    assert page.headers["content-language"] == "en" and 'lang="en"' in page.text
    text = _text(page.text)
    assert f"Request {rid}: Graffiti" in text
    assert "Acknowledged: the department has it" in text and "Handled by Department of Sanitation" in text
    assert "Report received" in text and "Acknowledged by the department" in text
    assert "We will clean it this week" in text and "Tags on the school wall" in text and "5 Elm Street" in text
    for secret in ("ana@example.org", "555-0100", "staff only", "Routed", "routed"):
        assert secret not in page.text


def test_track__spanish__from_the_browser_query_or_cookie_and_kept(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _filed(engine, clock, keys)
    _change(engine, rid, lambda r: r.transition(Status.CLOSED, clock.now(), reason=CloseReason.NO_ACTION))
    by_browser = client.get(f"/requests/{rid}", headers={"accept-language": "es-MX,es;q=0.9,en;q=0.5"})
    assert by_browser.headers["content-language"] == "es" and 'lang="es"' in by_browser.text
    assert f"Solicitud {rid}: Graffiti" in _text(by_browser.text)
    assert "Cerrado — no se pudo hacer nada" in _text(by_browser.text)
    assert i18n.COOKIE not in by_browser.cookies  # chosen by the browser: nothing to keep
    by_query = client.get(f"/requests/{rid}?lang=es", headers={"accept-language": "en"})
    assert by_query.headers["content-language"] == "es"
    assert by_query.cookies.get(i18n.COOKIE) == "es"
    again = client.get(f"/requests/{rid}", headers={"accept-language": "en"})  # the client keeps the cookie
    assert again.headers["content-language"] == "es"
    back = client.get(f"/requests/{rid}?lang=en")
    assert back.headers["content-language"] == "en" and back.cookies.get(i18n.COOKIE) == "en"
    assert "vary" in back.headers and "Accept-Language" in back.headers["vary"]


def test_track__language_switcher__links_this_page_in_each_language_marking_the_current_one(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _filed(engine, clock, keys)
    page = client.get(f"/requests/{rid}?lang=es").text
    assert f'<a href="/requests/{rid}?lang=en" lang="en" hreflang="en">English</a>' in page
    assert '<span aria-current="true" lang="es">Español</span>' in page
    lookup = client.get("/requests?number=abc&lang=en").text
    assert '<a href="/requests?number=abc&amp;lang=es" lang="es" hreflang="es">Español</a>' in lookup


def test_track__unknown_or_impossible_number__the_lookup_form_says_so(client: TestClient) -> None:
    unknown = client.get("/requests/424242")
    assert unknown.status_code == 404 and "No request has the number 424242" in unknown.text
    assert 'role="alert"' in unknown.text and 'id="number"' in unknown.text
    for path in ("/requests/12ab", "/requests/0", "/requests/" + "9" * 30):
        assert client.get(path).status_code == 404
    spanish = client.get("/requests/424242", headers={"accept-language": "es"})
    assert spanish.status_code == 404 and "Ninguna solicitud tiene el número 424242" in spanish.text


def test_lookup__a_number_as_typed__goes_to_its_page_and_anything_else_is_a_clear_error(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _filed(engine, clock, keys)
    assert client.get("/requests").status_code == 200
    for typed in (str(rid), f" #{rid} ", f"#{rid}"):
        found = client.get("/requests", params={"number": typed}, follow_redirects=False)
        assert (found.status_code, found.headers["location"]) == (303, f"/requests/{rid}")
    spanish = client.get("/requests", params={"number": str(rid), "lang": "es"}, follow_redirects=False)
    assert spanish.headers["location"] == f"/requests/{rid}?lang=es"
    wrong = client.get("/requests", params={"number": "twelve"})
    assert wrong.status_code == 400 and "A request number is digits only" in wrong.text
    assert 'aria-invalid="true"' in wrong.text and 'value="twelve"' in wrong.text
    long = client.get("/requests", params={"number": "x" * 5000})
    assert long.status_code == 400 and 'value="' + "x" * 100 + '"' in long.text  # shown back, cut to 100


def test_follow_confirm_page__in_spanish__from_the_browser(client: TestClient) -> None:
    page = client.get("/follow/confirm?token=broken", headers={"accept-language": "es"})
    assert page.status_code == 400 and 'lang="es"' in page.text
    assert "Este enlace no se puede usar" in page.text and "Confirme que quiere recibir novedades" in page.text


def test_track__service_translated_in_the_catalog__named_in_the_residents_language(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], catalog_data: dict[str, Any]
) -> None:
    catalog_data["services"][1]["name"] = {"en": "Graffiti", "es": "Grafiti"}
    load_catalog(SqlUnitOfWork(engine), catalog_data)
    rid = _filed(engine, clock, keys)
    assert f"Solicitud {rid}: Grafiti" in _text(client.get(f"/requests/{rid}?lang=es").text)
    assert f"Request {rid}: Graffiti" in _text(client.get(f"/requests/{rid}?lang=en").text)
    api = client.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert api["service_name"] == "Graffiti"  # the API keeps the catalog's own text


def test_track__body_named_in_the_catalog_in_spanish__the_spanish_page_says_so(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], catalog_data: dict[str, Any]
) -> None:
    owner = next(b for b in catalog_data["bodies"] if b["code"] == "DSNY")
    owner["name"] = {"en": "Department of Sanitation", "es": "Departamento de Sanidad"}
    load_catalog(SqlUnitOfWork(engine), catalog_data)
    rid = _filed(engine, clock, keys)
    assert "Departamento de Sanidad" in _text(client.get(f"/requests/{rid}?lang=es").text)
    assert "Department of Sanitation" in _text(client.get(f"/requests/{rid}?lang=en").text)
    assert "Departamento de Sanidad" in client.get("/?lang=es").text  # the front page: departments, who handles


def test_track__generalised_service__no_address__point_at_its_cell_centre__as_on_the_map(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], catalog_data: dict[str, Any]
) -> None:
    graffiti = next(s for s in catalog_data["services"] if s["code"] == "graffiti")
    graffiti["residents"] = {"public_location": "generalised"}
    load_catalog(SqlUnitOfWork(engine), catalog_data)
    rid = _filed(engine, clock, keys)
    _change(engine, rid, lambda r: r.transition(Status.CLOSED, clock.now(), note="Cleaned"))
    for page in (client.get(f"/requests/{rid}").text, client.get(f"/requests/{rid}/fixed").text,
                 client.get(f"/report/sent/{rid}").text):  # fmt: skip
        assert "5 Elm Street" not in page and "40.73590" not in page and "-73.99110" not in page
    track = _text(client.get(f"/requests/{rid}").text)
    assert "Not shown for this kind of problem" in track and "approximate: within about 200 m" in track
    assert "40.73500, -73.99100" in track  # the centre of its 0.002° cell


def test_track__digits_that_are_not_ascii__a_clear_answer_not_an_error(client: TestClient) -> None:
    """ "²" and "①" are digits to Python's isdigit() but not numbers to int(): answered on the form."""
    for path in ("/requests/%C2%B2", "/requests/%D9%A3"):
        assert client.get(path).status_code == 404
    for typed in ("²", "①", "٣"):
        assert client.get("/requests", params={"number": typed}).status_code == 400


def test_track__browser_language_in_capitals__the_page_in_that_language(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]
) -> None:
    rid = _filed(engine, clock, keys)
    page = client.get(f"/requests/{rid}", headers={"accept-language": "ES-mx, EN;q=0.5"})
    assert page.headers["content-language"] == "es" and f"Solicitud {rid}" in page.text
    assert '<span aria-current="true" lang="es">Español</span>' in page.text
