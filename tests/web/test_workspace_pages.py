"""The staff queue and request pages over HTTP (both databases): each role sees only its scope, filters and paging
work, staff-only timeline entries are marked, contact data only on an audited "Show contact", refusals are pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user, audit_entries
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.storage.sql import SqlUnitOfWork

PASSWORD = "a long enough password"


@pytest.fixture
def city(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> dict[str, str]:
    """Two DOT potholes and one DSNY graffiti report (with contact data), and a user per role under test."""
    ids = {}
    for name, service, description in (
        ("pothole1", "pothole", "Deep hole by the bus stop"),
        ("pothole2", "pothole", "Crater in the bike lane"),
        ("graffiti", "graffiti", "Tags on the school wall"),
    ):
        attributes = {"size": ["large"], "lanes": ["left"]} if service == "pothole" else {}
        cmd = SubmitRequest(service_code=service, api_key=keys["submit"], lat="40.71", long="-74.0",
                            description=description, address_string=f"{name} street", attributes=attributes,
                            contact=Contact(first_name="Rosa", email=f"{name}@example.org"))  # fmt: skip
        rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
        assert rid is not None
        ids[name] = rid
    with SqlUnitOfWork(engine) as uow:
        first = uow.requests.get(int(ids["pothole1"]))
        assert first is not None
        first.add_note(clock.now(), "Crew booked for Tuesday", public=False)
        uow.requests.save(first)
        uow.commit()
    for email, role, scope in (
        ("dot@city.gov", "department", {"bodies": ("DOT",)}),
        ("exec@city.gov", "executive", {}),
        ("admin@city.gov", "admin", {}),
    ):
        add_user(SqlUnitOfWork(engine), clock, AddUser(email, role, password=PASSWORD, **scope))  # type: ignore[arg-type]
    return ids


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: TestClient, email: str) -> str:
    form = client.get("/staff/login")
    reply = client.post("/staff/login", data={"email": email, "password": PASSWORD, "csrf": _csrf(form.text)},
                        follow_redirects=False)  # fmt: skip
    assert reply.status_code == 303, reply.text
    return _csrf(client.get("/staff/queue").text)


def numbers(html: str) -> list[str]:
    return re.findall(r'<a href="/staff/requests/(\d+)">', html)


def test_queue__not_signed_in__sent_to_sign_in_and_back(client: TestClient) -> None:
    reply = client.get("/staff/queue?q=hole", follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/staff/login?next=/staff/queue%3Fq%3Dhole"


def test_queue__department__only_its_bodys_requests_with_counts(client: TestClient, city: dict[str, str]) -> None:
    sign_in(client, "dot@city.gov")
    page = client.get("/staff/queue")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert numbers(page.text) == [city["pothole1"], city["pothole2"]]
    assert "Requests owned by DOT." in page.text
    assert "New: <strong>2</strong>" in page.text and "Closed: <strong>0</strong>" in page.text
    assert "Tags on the school wall" not in page.text


def test_queue__filters_and_search__narrow_the_list(client: TestClient, city: dict[str, str]) -> None:
    sign_in(client, "admin@city.gov")
    assert numbers(client.get("/staff/queue").text) == [city["pothole1"], city["pothole2"], city["graffiti"]]
    assert numbers(client.get("/staff/queue?service=graffiti").text) == [city["graffiti"]]
    assert numbers(client.get("/staff/queue?q=BIKE+lane").text) == [city["pothole2"]]
    assert numbers(client.get("/staff/queue?sort=newest").text)[0] == city["graffiti"]
    assert numbers(client.get("/staff/queue?status=closed").text) == []
    assert "No request matches." in client.get("/staff/queue?status=closed").text


def test_queue__bad_filter__400_page_with_the_reason(client: TestClient, city: dict[str, str]) -> None:
    sign_in(client, "admin@city.gov")
    reply = client.get("/staff/queue?status=lost")
    assert reply.status_code == 400
    assert "unknown status &#39;lost&#39;" in reply.text and 'role="alert"' in reply.text
    assert numbers(reply.text) == []


def test_request_page__own_body__whole_timeline_with_staff_only_entries_marked(
    client: TestClient, city: dict[str, str]
) -> None:
    sign_in(client, "dot@city.gov")
    page = client.get(f"/staff/requests/{city['pothole1']}")
    assert page.status_code == 200
    assert f"Request {city['pothole1']}: Pothole" in page.text
    assert "Deep hole by the bus stop" in page.text and "large" in page.text
    assert '<span class="badge">Public</span> · submitted' in page.text
    assert '<span class="badge">Staff only</span> · note' in page.text and "Crew booked for Tuesday" in page.text
    assert "pothole1@example.org" not in page.text  # contact data only on request
    assert "Show contact" in page.text


def test_request_page__other_body__403_page_and_nothing_of_the_request(
    client: TestClient, city: dict[str, str]
) -> None:
    sign_in(client, "dot@city.gov")
    page = client.get(f"/staff/requests/{city['graffiti']}")
    assert page.status_code == 403
    assert "department may request.view only on requests owned by DOT" in page.text
    assert "Tags on the school wall" not in page.text


def test_request_page__unknown_number__404_page(client: TestClient, city: dict[str, str]) -> None:
    sign_in(client, "admin@city.gov")
    assert client.get("/staff/requests/999999").status_code == 404


def test_show_contact__with_reason__shown_and_audited(client: TestClient, city: dict[str, str], engine: Engine) -> None:
    csrf = sign_in(client, "dot@city.gov")
    url = f"/staff/requests/{city['pothole1']}/contact"
    page = client.post(url, data={"csrf": csrf, "reason": "to call back about access"})
    assert page.status_code == 200
    assert "pothole1@example.org" in page.text and "Rosa" in page.text
    entries = audit_entries(SqlUnitOfWork(engine), who=OPERATOR)
    read = [e for e in entries if e.action == "request.read_contact"]
    assert len(read) == 1 and read[0].reason == "to call back about access" and "dot@city.gov" in read[0].principal


def test_show_contact__forged_csrf_or_executive__refused_and_nothing_shown(
    client: TestClient, city: dict[str, str]
) -> None:
    sign_in(client, "dot@city.gov")
    forged = client.post(f"/staff/requests/{city['pothole1']}/contact", data={"csrf": "forged", "reason": "x"})
    assert forged.status_code == 403 and "pothole1@example.org" not in forged.text
    client.cookies.clear()
    csrf = sign_in(client, "exec@city.gov")
    page = client.get(f"/staff/requests/{city['pothole1']}")
    assert page.status_code == 200 and "Show contact" not in page.text  # executives read no contact data
    refused = client.post(f"/staff/requests/{city['pothole1']}/contact", data={"csrf": csrf, "reason": "curious"})
    assert refused.status_code == 403 and "pothole1@example.org" not in refused.text


def test_queue_api__same_scope_as_the_page(client: TestClient, city: dict[str, str]) -> None:
    sign_in(client, "dot@city.gov")
    found = client.get("/api/v1/queue", params={"sort": "newest"}).json()
    assert [r["service_request_id"] for r in found["requests"]] == [city["pothole2"], city["pothole1"]]
    assert found["total"] == 2 and found["counts"] == {"new": 2}
    one = client.get(f"/api/v1/requests/{city['pothole1']}").json()
    assert one["owner"]["code"] == "DOT" and any(not e["public"] for e in one["timeline"])
    assert "contact" not in one
    assert client.get(f"/api/v1/requests/{city['graffiti']}").status_code == 403
