"""The agent console and the knowledge articles over HTTP (SQLite and PostgreSQL): one search box over requests and
callers (audited), a caller's history across departments, filing on behalf in two steps (everything checked, the
nearby open requests offered to follow, nothing written until "File a new request"), information-only calls
counted per topic, and knowledge articles rendered safely and edited by admins only."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from civicswitch.agent.ports import PAGE_SIZE
from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.core.clock import FixedClock
from civicswitch.hub.tables import deliveries
from civicswitch.people.handlers import AddUser, add_user, audit_entries
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import FollowRequest, SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.requests.staff import follow_request
from civicswitch.requests.tables import service_requests
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from staff_client import sign_in

PASSWORD = "a long enough password"
HERE = {"lat": "40.7100", "long": "-74.0000"}


@pytest.fixture
def city(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> dict[str, str]:
    """Rosa (555-0100) filed a DOT pothole and a DSNY graffiti report and follows Sam's pothole nearby; an agent,
    an admin and a DOT clerk have accounts."""
    ids = {}
    for name, service, contact, text in (
        ("rosa_pothole", "pothole", Contact("Rosa", "Diaz", "rosa@example.org", "(555) 010-0100"), "Deep hole"),
        ("rosa_graffiti", "graffiti", Contact("Rosa", "Diaz", None, "555 010 0100"), "Tags on the school wall"),
        ("sam_pothole", "pothole", Contact("Sam", "Lee", "sam@example.org", "555-0199"), "Crater by the bus stop"),
    ):
        answers = {"size": ["large"]} if service == "pothole" else {}
        cmd = SubmitRequest(service_code=service, api_key=keys["submit"], description=text, attributes=answers,
                            address_string=f"{len(ids) + 10} Elm Street", contact=contact, **HERE)  # fmt: skip
        rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
        assert rid is not None
        ids[name] = rid
    follows = FollowRequest(None, ids["sam_pothole"], Contact(phone="5550100100"), principal=OPERATOR)
    follow_request(SqlUnitOfWork(engine), clock, follows)
    for email, role, scope in (
        ("agent@city.gov", "agent", {}),
        ("admin@city.gov", "admin", {}),
        ("dot@city.gov", "department", {"bodies": ("DOT",)}),
    ):
        add_user(SqlUnitOfWork(engine), clock, AddUser(email, role, password=PASSWORD, **scope))  # type: ignore[arg-type]
    return ids


def _count(engine: Engine, table: object = service_requests) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def numbers(html: str) -> list[str]:
    return re.findall(r'<a href="/staff/requests/(\d+)">\1</a>', html)


def test_console__not_signed_in__sent_to_sign_in(client: TestClient) -> None:
    reply = client.get("/staff/agent", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/staff/login?next=/staff/agent"


def test_console__department_clerk__403_page(client: TestClient, city: dict[str, str]) -> None:
    csrf = sign_in(client, "dot@city.gov")
    page = client.get("/staff/agent")
    assert page.status_code == 403 and "department may not call.log" in page.text
    searched = client.post("/staff/agent/search", data={"csrf": csrf, "q": "555-0100"})
    assert searched.status_code == 403 and "rosa@example.org" not in searched.text


def test_search__by_phone__every_request_of_the_caller_audited(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "agent@city.gov")
    page = client.post("/staff/agent/search", data={"csrf": csrf, "q": "555.010.0100"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert numbers(page.text) == [city["rosa_graffiti"], city["rosa_pothole"]]  # newest first
    assert "rosa@example.org" in page.text and "History of Rosa Diaz" in page.text
    entries = [e for e in audit_entries(SqlUnitOfWork(engine), who=OPERATOR) if e.action == "agent.search"]
    assert len(entries) == 1 and "agent@city.gov" in entries[0].principal
    assert entries[0].detail == {"query": "555.010.0100", "found": 2}


def test_search__by_name_address_or_number__and_empty_is_400(client: TestClient, city: dict[str, str]) -> None:
    csrf = sign_in(client, "agent@city.gov")
    by_name = client.post("/staff/agent/search", data={"csrf": csrf, "q": "sam lee"})
    assert numbers(by_name.text) == [city["sam_pothole"]]
    by_number = client.post("/staff/agent/search", data={"csrf": csrf, "q": f"#{city['rosa_pothole']}"})
    assert city["rosa_pothole"] in numbers(by_number.text)
    by_address = client.post("/staff/agent/search", data={"csrf": csrf, "q": "elm street"})
    assert len(numbers(by_address.text)) == 3
    empty = client.post("/staff/agent/search", data={"csrf": csrf, "q": "  "})
    assert empty.status_code == 400 and 'role="alert"' in empty.text
    forged = client.post("/staff/agent/search", data={"csrf": "forged", "q": "sam"})
    assert forged.status_code == 403


def _pager(html: str) -> dict[str, dict[str, str]]:
    """The search's page buttons: each one's hidden fields, by the button's name."""
    found = {}
    for form in re.findall(r'<form method="post" action="/staff/agent/search">(.*?)</form>', html, re.S):
        button = re.search(r"<button[^>]*>([^<]+)</button>", form)
        if button and button.group(1) in ("Previous page", "Next page"):
            found[button.group(1)] = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
    return found


@pytest.fixture
def elm_street(city: dict[str, str], engine: Engine, clock: FixedClock, keys: dict[str, str]) -> dict[str, str]:
    """A page's worth more on Elm Street: 28 requests there in all."""
    for i in range(PAGE_SIZE):
        cmd = SubmitRequest(service_code="graffiti", api_key=keys["submit"], description=f"Tag {i}",
                            address_string=f"{100 + i} Elm Street", **HERE)  # fmt: skip
        submit_request(SqlUnitOfWork(engine), clock, cmd)
    return city


def test_search__more_than_a_page__paged_by_buttons_that_post_the_search_again(
    client: TestClient, elm_street: dict[str, str], engine: Engine
) -> None:
    city = elm_street
    csrf = sign_in(client, "agent@city.gov")
    first = client.post("/staff/agent/search", data={"csrf": csrf, "q": "elm street"})
    assert first.status_code == 200 and len(numbers(first.text)) == PAGE_SIZE
    assert f"Requests 1–{PAGE_SIZE} of 28 found for “elm street”" in first.text
    buttons = _pager(first.text)
    assert list(buttons) == ["Next page"]  # no previous page on the first
    assert buttons["Next page"] == {"csrf": csrf, "q": "elm street", "page": "2"}  # a POST: the search in no address
    second = client.post("/staff/agent/search", data=buttons["Next page"])
    rest = numbers(second.text)
    assert len(rest) == 28 - PAGE_SIZE and not set(rest) & set(numbers(first.text))
    assert rest[-1] == city["rosa_pothole"]  # the oldest last
    assert f"Requests {PAGE_SIZE + 1}–28 of 28" in second.text
    assert list(_pager(second.text)) == ["Previous page"]
    assert _pager(second.text)["Previous page"]["page"] == "1"
    entries = [e.detail for e in audit_entries(SqlUnitOfWork(engine), who=OPERATOR) if e.action == "agent.search"]
    assert {"query": "elm street", "found": 28, "page": 2} in entries  # every page is an audited read
    past = client.post("/staff/agent/search", data={"csrf": csrf, "q": "elm street", "page": "3"})
    assert past.status_code == 200 and numbers(past.text) == [] and "No more requests found" in past.text
    assert list(_pager(past.text)) == []
    wrong = client.post("/staff/agent/search", data={"csrf": csrf, "q": "elm street", "page": "0"})
    assert wrong.status_code == 400 and "page must be between 1 and" in wrong.text


def test_search__more_found_than_counted__says_more_than(
    client: TestClient, elm_street: dict[str, str], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("civicswitch.agent.ports.COUNT_CAP", 2)  # counting stops at the page's end: 25
    csrf = sign_in(client, "agent@city.gov")
    page = client.post("/staff/agent/search", data={"csrf": csrf, "q": "elm street"})
    assert f"Requests 1–{PAGE_SIZE} of more than {PAGE_SIZE} found" in page.text
    assert list(_pager(page.text)) == ["Next page"]
    entries = [e.detail for e in audit_entries(SqlUnitOfWork(engine), who=OPERATOR) if e.action == "agent.search"]
    assert entries == [{"query": "elm street", "found": PAGE_SIZE, "more": True}]
    last = client.post("/staff/agent/search", data={"csrf": csrf, "q": "elm street", "page": "2"})
    assert f"Requests {PAGE_SIZE + 1}–28 of 28" in last.text  # the last page knows the count


def test_history__by_phone__filed_and_followed_across_departments(client: TestClient, city: dict[str, str]) -> None:
    csrf = sign_in(client, "agent@city.gov")
    page = client.post("/staff/agent/history", data={"csrf": csrf, "first_name": "Rosa", "phone": "(555) 010-0100"})
    assert page.status_code == 200
    assert "<h1>History of Rosa</h1>" in page.text
    assert numbers(page.text) == [city["sam_pothole"], city["rosa_graffiti"], city["rosa_pothole"]]
    assert "Follows it" in page.text and page.text.count("Filed it") == 2
    assert "DOT, DSNY" in page.text  # every department


def _filing(csrf: str, step: str, **extra: str) -> dict[str, str]:
    data = {"csrf": csrf, "step": step, "service_code": "pothole", "channel": "phone", "first_name": "Ana",
            "phone": "555-0142", "address_string": "14 Elm Street", "description": "Hole by the crossing",
            "attribute[size]": "large", **HERE}  # fmt: skip
    data.update(extra)
    return {k: v for k, v in data.items() if v != ""}


def test_file__missing_required_answer_and_location__400_each_named_nothing_written(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "agent@city.gov")
    before = _count(engine)
    data = _filing(csrf, "check", **{"attribute[size]": "", "attribute[depth]": "deep", "lat": "", "long": "",
                                      "address_string": ""})  # fmt: skip
    page = client.post("/staff/agent/file", data=data)
    assert page.status_code == 400
    assert "3 things to fix before filing" in page.text
    assert "“How big is it?” needs an answer" in page.text
    assert "“Depth in cm” must be a number, got &#39;deep&#39;" in page.text
    assert "a location is required" in page.text
    assert 'aria-invalid="true"' in page.text and "Hole by the crossing" in page.text  # the answers are kept
    filed = client.post("/staff/agent/file", data=_filing(csrf, "file", **{"attribute[size]": ""}))
    assert filed.status_code == 400 and "attribute[size] is required" in filed.text
    assert _count(engine) == before


def test_file__check_shows_nearby_open_requests__then_files_through_submit_request(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "agent@city.gov")
    form = client.get("/staff/agent/file?service=pothole")
    assert form.status_code == 200 and "How big is it? (required)" in form.text
    assert "Tell the caller:</strong> Potholes are fixed within 3 days." in form.text
    check = client.post("/staff/agent/file", data=_filing(csrf, "check"))
    assert check.status_code == 200
    assert "Open requests nearby" in check.text and "Add this caller as a follower" in check.text
    assert f"Request {city['rosa_pothole']}</a>" in check.text and f"Request {city['sam_pothole']}</a>" in check.text
    assert "Tags on the school wall" not in check.text  # another service
    before, outbox = _count(engine), _count(engine, deliveries)
    filed = client.post("/staff/agent/file", data=_filing(csrf, "file"), follow_redirects=False)
    assert filed.status_code == 303
    number = filed.headers["location"].rsplit("=", 1)[1]
    assert filed.headers["location"] == f"/staff/agent?done=filed&request={number}"
    assert _count(engine) == before + 1 and _count(engine, deliveries) > outbox  # the outbox, as the API does
    with SqlUnitOfWork(engine) as uow:
        stored = uow.requests.get(int(number))
        contact = uow.requests.contact(int(number))
        agent = uow.users.by_email("agent@city.gov")
    assert stored is not None and agent is not None and contact is not None
    assert (stored.channel, stored.attributes, stored.filed_by_user_id) == ("phone", {"size": "large"}, agent.id)
    assert (contact.first_name, contact.phone) == ("Ana", "555-0142")
    notice = client.get(filed.headers["location"])
    assert f"Request {number} filed for the caller." in notice.text


def test_file__walk_in_without_a_point__no_nearby_check_and_filed(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "agent@city.gov")
    data = _filing(csrf, "check", channel="walk_in", lat="", long="")
    check = client.post("/staff/agent/file", data=data)
    assert check.status_code == 200 and "No point was given" in check.text
    filed = client.post("/staff/agent/file", data={**data, "step": "file"}, follow_redirects=False)
    assert filed.status_code == 303
    with SqlUnitOfWork(engine) as uow:
        stored = uow.requests.get(int(filed.headers["location"].rsplit("=", 1)[1]))
    assert stored is not None and stored.channel == "walk_in" and stored.address == "14 Elm Street"


def test_follow__instead_of_filing__caller_added_and_nothing_filed(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "agent@city.gov")
    before = _count(engine)
    data = {**_filing(csrf, "check"), "request_id": city["sam_pothole"]}
    del data["step"]
    reply = client.post("/staff/agent/follow", data=data, follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == f"/staff/agent?done=followed&request={city['sam_pothole']}&confirm=pending"
    notice = client.get(reply.headers["location"]).text
    assert f"The caller was added as a follower of request {city['sam_pothole']}." in notice
    assert "Their phone number is kept unconfirmed" in notice
    assert _count(engine) == before
    with SqlUnitOfWork(engine) as uow:
        followers = uow.requests.followers(int(city["sam_pothole"]))
    assert any(f.contact.phone == "555-0142" for f in followers)
    anonymous = {k: v for k, v in data.items() if k not in ("first_name", "phone")}
    refused = client.post("/staff/agent/follow", data=anonymous)
    assert refused.status_code == 400 and "a follower needs an email, a phone number" in refused.text


def test_log_call__counted_per_topic_over_7_days(client: TestClient, city: dict[str, str]) -> None:
    csrf = sign_in(client, "agent@city.gov")
    for topic in ("Trash day", "trash day", "Parking permit"):
        reply = client.post("/staff/agent/calls", data={"csrf": csrf, "topic": topic, "channel": "phone",
                                                        "service": "bulk-pickup", "note": "asked"},
                            follow_redirects=False)  # fmt: skip
        assert reply.status_code == 303 and reply.headers["location"] == "/staff/agent?done=logged"
    page = client.get("/staff/agent?done=logged")
    assert "Call logged." in page.text
    assert re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td></tr>", page.text) == [("Trash day", "2"),
                                                                               ("Parking permit", "1")]  # fmt: skip
    bad = client.post("/staff/agent/calls", data={"csrf": csrf, "topic": "", "channel": "phone"})
    assert bad.status_code == 400 and "a topic is required" in bad.text


def test_knowledge__admin_writes_markdown__rendered_safely_and_beside_the_form(
    client: TestClient, city: dict[str, str]
) -> None:
    csrf = sign_in(client, "admin@city.gov")
    body = "Filled within **3 days**.\n\n<script>alert(1)</script>\n\n[bad](javascript:alert(1)) [map](https://example.org)"
    article = {"csrf": csrf, "slug": "pothole-repairs", "title": "Pothole repairs", "body": body, "services": "pothole"}
    reply = client.post("/staff/knowledge/new", data=article, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/staff/knowledge/pothole-repairs?done=saved"
    page = client.get("/staff/knowledge/pothole-repairs")
    assert "<strong>3 days</strong>" in page.text and "<script>alert" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert 'href="javascript:' not in page.text and 'href="https://example.org"' in page.text
    again = client.post("/staff/knowledge/new", data={"csrf": csrf, "slug": "pothole-repairs", "title": "Other",
                                                      "body": "x"})  # fmt: skip
    assert again.status_code == 400 and "is taken by another article" in again.text
    reserved = client.post("/staff/knowledge/new", data={"csrf": csrf, "slug": "new", "title": "New", "body": "x"})
    assert reserved.status_code == 400 and "is reserved for a page" in reserved.text
    edited = client.post("/staff/knowledge/pothole-repairs/edit", data={"csrf": csrf, "title": "Potholes: repairs",
                                                                       "body": "Within *72 hours*.",
                                                                       "services": ["pothole", "graffiti"]},
                         follow_redirects=False)  # fmt: skip
    assert edited.status_code == 303
    client.cookies.clear()
    sign_in(client, "agent@city.gov")
    form = client.get("/staff/agent/file?service=graffiti")
    assert "Potholes: repairs" in form.text and "<em>72 hours</em>" in form.text
    found = client.get("/staff/knowledge?q=72+hours")
    assert "Potholes: repairs" in found.text and "Write a new article" not in found.text


def test_knowledge__agent_may_read_not_write__403_and_nothing_stored(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    from civicswitch.agent.tables import knowledge_articles

    csrf = sign_in(client, "agent@city.gov")
    assert client.get("/staff/knowledge").status_code == 200
    assert client.get("/staff/knowledge/new").status_code == 403
    refused = client.post("/staff/knowledge/new", data={"csrf": csrf, "slug": "x", "title": "X", "body": "x"})
    assert refused.status_code == 403 and _count(engine, knowledge_articles) == 0
    assert client.get("/staff/knowledge/nothing-here").status_code == 404


@pytest.fixture
def liaison(city: dict[str, str], engine: Engine, clock: FixedClock) -> dict[str, str]:
    """A volunteer liaison for district A, which holds HERE; FAR is in district B. The districts are the coverage
    layer (``liaison_client``), so a request filed with a point is placed in its district."""
    with SqlUnitOfWork(engine) as uow:
        districts = [Area("districts", "A", "District A", shapely.box(-74.05, 40.69, -73.95, 40.73)),
                     Area("districts", "B", "District B", shapely.box(-73.95, 40.73, -73.85, 40.85))]  # fmt: skip
        uow.catalog.add_layer_version(AreaLayer("districts", "key"), districts, None)
        for name in ("rosa_pothole", "sam_pothole"):  # filed before the districts were loaded
            found = uow.requests.get(int(city[name]))
            assert found is not None
            found.areas = {"districts": "A"}
            uow.requests.save(found)
        uow.commit()
    add_user(SqlUnitOfWork(engine), clock, AddUser("vol@city.gov", "liaison", password=PASSWORD,
                                                     areas=("districts:A",)))  # fmt: skip
    return city


@pytest.fixture
def liaison_client(engine: Engine, clock: FixedClock, liaison: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings(database_url="sqlite:///unused.db", coverage_layer="districts")
    with TestClient(create_app(settings, engine=engine, clock=clock), raise_server_exceptions=False) as c:
        yield c


FAR = {"lat": "40.8000", "long": "-73.9000"}


def _liaison_filing(csrf: str, step: str, **extra: str) -> dict[str, str]:
    data = _filing(csrf, step, **{"consent": "yes", **extra})
    data.pop("channel")  # a liaison's form has no channel to choose
    return {k: v for k, v in data.items() if v != ""}


def test_file__liaison_with_consent__filed_as_liaison_with_the_yes_and_its_time(
    liaison_client: TestClient, liaison: dict[str, str], engine: Engine, clock: FixedClock
) -> None:
    csrf = sign_in(liaison_client, "vol@city.gov")
    start = liaison_client.get("/staff/file")
    assert start.status_code == 200 and "File for a resident" in start.text and "districts A" in start.text
    assert liaison_client.get("/staff/agent").status_code == 403  # no console: the start page is the liaison's
    form = liaison_client.get("/staff/agent/file?service=pothole")
    assert form.status_code == 200 and "File for a resident: Pothole" in form.text
    assert "The resident agrees that I file this report for them" in form.text and 'name="channel"' in form.text
    assert "Back to choosing a service" in form.text and "How they reached us" not in form.text
    check = liaison_client.post("/staff/agent/file", data=_liaison_filing(csrf, "check"))
    assert check.status_code == 200 and "Add this resident as a follower" in check.text
    assert "<dt>The resident's consent</dt><dd>Yes</dd>" in check.text
    filed = liaison_client.post("/staff/agent/file", data=_liaison_filing(csrf, "file"), follow_redirects=False)
    assert filed.status_code == 303
    number = filed.headers["location"].rsplit("=", 1)[1]
    assert filed.headers["location"] == f"/staff/file?done=filed&request={number}"
    done = liaison_client.get(filed.headers["location"]).text
    assert f"Request {number} filed for the resident." in done and f'href="/staff/requests/{number}"' in done
    with SqlUnitOfWork(engine) as uow:
        stored = uow.requests.get(int(number))
        vol = uow.users.by_email("vol@city.gov")
    assert stored is not None and vol is not None
    assert (stored.channel, stored.consent, stored.filed_by_user_id) == ("liaison", "yes", vol.id)
    assert stored.areas == {"districts": "A"} and stored.requested_at == clock.now()
    page = liaison_client.get(f"/staff/requests/{number}").text  # the liaison sees what it filed, contact included
    assert "Filed on a resident's behalf by</dt><dd>vol@city.gov" in page
    assert "The resident's consent</dt><dd>Yes, recorded when filed" in page and ">Show contact</button>" in page
    queue = liaison_client.get("/staff/queue")  # its districts' open requests, and the filter to its own
    assert 'name="filed" value="me"' in queue.text and f'href="/staff/requests/{liaison["rosa_pothole"]}"' in queue.text
    mine = liaison_client.get("/staff/queue?filed=me")
    assert mine.status_code == 200 and 'name="filed" value="me" checked' in mine.text
    assert re.findall(r'<a href="/staff/requests/(\d+)">\1</a>', mine.text) == [number]
    entries = audit_entries(SqlUnitOfWork(engine), who=OPERATOR, action="request.submit")
    assert any(e.object_id == number and e.detail == {"on_behalf": True, "consent": True} for e in entries)


def test_file__liaison_without_consent_or_outside_its_areas__refused_and_nothing_written(
    liaison_client: TestClient, liaison: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(liaison_client, "vol@city.gov")
    before = _count(engine)
    check = liaison_client.post("/staff/agent/file", data=_liaison_filing(csrf, "check", consent=""))
    assert check.status_code == 400 and "ask the resident whether you may file this for them" in check.text
    assert 'aria-describedby="e-consent"' in check.text
    no_point = liaison_client.post("/staff/agent/file", data=_liaison_filing(csrf, "check", lat="", long=""))
    assert no_point.status_code == 400 and "give the point too" in no_point.text
    filed = liaison_client.post("/staff/agent/file", data=_liaison_filing(csrf, "file", consent=""))
    assert filed.status_code == 400 and "only with their consent" in filed.text
    outside = liaison_client.post("/staff/agent/file", data=_liaison_filing(csrf, "file", **FAR))
    assert outside.status_code == 403 and "liaison may request.submit only on requests in districts:A" in outside.text
    assert "File for a resident: Pothole" in outside.text  # the form again, the answers kept
    agent_channel = liaison_client.post("/staff/agent/file", data=_liaison_filing(csrf, "file", channel="phone"),
                                follow_redirects=False)  # fmt: skip
    assert agent_channel.status_code == 303  # a channel sent anyway is ignored: a liaison files as "liaison"
    with SqlUnitOfWork(engine) as uow:
        stored = uow.requests.get(int(agent_channel.headers["location"].rsplit("=", 1)[1]))
    assert stored is not None and stored.channel == "liaison"
    assert _count(engine) == before + 1


def test_file_start__roles__liaison_and_agent_see_it_partner_refused_no_service_400(
    liaison_client: TestClient, liaison: dict[str, str], engine: Engine, clock: FixedClock
) -> None:
    add_user(SqlUnitOfWork(engine), clock, AddUser("exec@city.gov", "executive", password=PASSWORD))
    sign_in(liaison_client, "exec@city.gov")
    refused = liaison_client.get("/staff/file")
    assert refused.status_code == 403 and "executive may not request.submit" in refused.text
    liaison_client.cookies.clear()
    sign_in(liaison_client, "vol@city.gov")
    assert 'href="/staff/file"' in liaison_client.get("/staff/me").text  # in the liaison's navigation
    missing = liaison_client.get("/staff/agent/file?service=")
    assert missing.status_code == 400 and "Choose a service to file." in missing.text
    assert "File for a resident" in missing.text
    liaison_client.cookies.clear()
    sign_in(liaison_client, "agent@city.gov")
    assert liaison_client.get("/staff/file").status_code == 200
    assert liaison_client.get("/staff/agent/file?service=").status_code == 400  # the agent's console, as before


def test_follow__liaison_instead_of_filing__lands_on_the_start_page(
    liaison_client: TestClient, liaison: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(liaison_client, "vol@city.gov")
    data = {**_liaison_filing(csrf, "check"), "request_id": liaison["sam_pothole"]}
    del data["step"]
    reply = liaison_client.post("/staff/agent/follow", data=data, follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"].startswith(f"/staff/file?done=followed&request={liaison['sam_pothole']}")
    notice = liaison_client.get(reply.headers["location"]).text
    assert f"The resident was added as a follower of request {liaison['sam_pothole']}." in notice
