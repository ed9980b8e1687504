"""The staff queue and request pages over HTTP (both databases): each role sees only its scope, filters and paging
work, staff-only timeline entries are marked, contact data only on an audited "Show contact", refusals are pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.model import Body, BodyKind
from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user, audit_entries
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import PartnerStep, PartnerWork, SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.requests.staff import assign_request
from civicswitch.requests.work import partner_work
from civicswitch.storage.sql import SqlUnitOfWork
from staff_client import sign_in as shared_sign_in

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
        ("dot2@city.gov", "department", {"bodies": ("DOT",)}),
        ("exec@city.gov", "executive", {}),
        ("admin@city.gov", "admin", {}),
    ):
        add_user(SqlUnitOfWork(engine), clock, AddUser(email, role, password=PASSWORD, **scope))  # type: ignore[arg-type]
    return ids


def sign_in(client: TestClient, email: str) -> str:
    return shared_sign_in(client, email, page="/staff/queue")


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


def test_queue__search_counts_past_the_cap__shown_as_cap_plus_everywhere(
    client: TestClient, city: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search's counts stop at SEARCH_COUNT_CAP (1,000; 1 here): each count, the total and the page count say
    "1+", and the page says why; the queue without a search counts on (to 10,000)."""
    monkeypatch.setattr("civicswitch.requests.queue.SEARCH_COUNT_CAP", 1)
    sign_in(client, "admin@city.gov")
    page = client.get("/staff/queue?q=street")
    assert numbers(page.text) == [city["pothole1"], city["pothole2"], city["graffiti"]]
    assert "New: <strong>1+</strong>" in page.text and "Closed: <strong>0</strong>" in page.text
    assert ">1+ requests</h2>" in page.text and "Page 1 of 1+," in page.text
    assert "Each status is counted up to 1 for a search" in page.text
    plain = client.get("/staff/queue")
    assert "New: <strong>3</strong>" in plain.text and ">3 requests</h2>" in plain.text
    assert "Each status is counted" not in plain.text


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


def test_request_page__department_works_it__steps_notes_assign_transfer(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "dot@city.gov")
    rid = city["pothole2"]
    url = f"/staff/requests/{rid}"
    page = client.get(url).text
    for name in ("Acknowledge", "Start", "Close", "Add note", "Assign", "Transfer"):
        assert f">{name}</button>" in page, name
    assert ">Reopen</button>" not in page and ">Put on hold</button>" not in page  # not from new
    step = client.post(f"{url}/work", data={"csrf": csrf, "step": "acknowledge"}, follow_redirects=False)
    assert step.status_code == 303 and step.headers["location"] == f"{url}?done=acknowledge"
    acknowledged = client.get(step.headers["location"]).text
    assert "Acknowledged." in acknowledged and ">Put on hold</button>" in acknowledged
    no_reason = client.post(f"{url}/work", data={"csrf": csrf, "step": "hold", "note": " "})
    assert no_reason.status_code == 400 and "needs a reason" in no_reason.text
    assert client.post(f"{url}/work", data={"csrf": csrf, "step": "hold", "note": "Waiting for the gas company"},
                       follow_redirects=False).status_code == 303  # fmt: skip
    client.post(f"{url}/note", data={"csrf": csrf, "text": "Called the gas company", "visibility": "internal"})
    client.post(f"{url}/note", data={"csrf": csrf, "text": "We are on it", "visibility": "public"})
    with SqlUnitOfWork(engine) as uow:
        dana2 = uow.users.by_email("dot2@city.gov")
        assert dana2 is not None and dana2.id is not None
    client.post(f"{url}/assign", data={"csrf": csrf, "user": str(dana2.id)})
    page = client.get(url).text
    assert '<span class="badge">Staff only</span> · note' in page and "Called the gas company" in page
    assert '<span class="badge">Public</span> · note' in page and "We are on it" in page
    assert "<dt>Assigned to</dt><dd>dot2@city.gov</dd>" in page
    moved = client.post(f"{url}/transfer", data={"csrf": csrf, "body": "DSNY", "reason": "It is a sanitation matter"},
                        follow_redirects=False)  # fmt: skip
    assert moved.status_code == 303
    after = client.get(url)
    assert after.status_code == 403  # DSNY's now: out of this clerk's scope
    with SqlUnitOfWork(engine) as uow:
        stored = uow.requests.get(int(rid))
    assert stored is not None and stored.body_code == "DSNY" and stored.transfers == 1
    assert stored.assignee_user_id is None


def test_request_page__illegal_step_or_forged_csrf__refused_and_nothing_changed(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "dot@city.gov")
    url = f"/staff/requests/{city['pothole1']}"
    reopen = client.post(f"{url}/work", data={"csrf": csrf, "step": "reopen"})
    assert reopen.status_code == 400 and "cannot go from new to reopened" in reopen.text
    forged = client.post(f"{url}/work", data={"csrf": "forged", "step": "acknowledge"})
    assert forged.status_code == 403
    other = client.post(f"/staff/requests/{city['graffiti']}/work", data={"csrf": csrf, "step": "acknowledge"})
    assert other.status_code == 403 and "Tags on the school wall" not in other.text
    with SqlUnitOfWork(engine) as uow:
        assert {str(uow.requests.get(int(i)).status) for i in city.values()} == {"new"}  # type: ignore[union-attr]


def test_request_page__executive__no_work_controls(client: TestClient, city: dict[str, str]) -> None:
    sign_in(client, "exec@city.gov")
    page = client.get(f"/staff/requests/{city['pothole1']}").text
    assert "Work on it" not in page and ">Acknowledge</button>" not in page


def _row(html: str, rid: str) -> str:
    """The queue's table row of request ``rid`` (its first cell may be the bulk checkbox)."""
    pattern = rf'<tr[^>]*>\s*(?:<td>(?:(?!</td>).)*</td>\s*)?<td><a href="/staff/requests/{rid}">.*?</tr>'
    found = re.search(pattern, html, re.S)
    assert found, html
    return found.group(0)


def test_queue__sla_states__due_date_and_state_per_row_overdue_highlighted_in_text(
    client: TestClient, city: dict[str, str], clock: FixedClock
) -> None:
    sign_in(client, "admin@city.gov")
    page = client.get("/staff/queue").text
    assert ">SLA</th>" in page
    assert 'class="sla sla-on_time">On time<' in _row(page, city["pothole1"])  # 72 hours to go
    assert 'class="sla sla-no_target">No target<' in _row(page, city["graffiti"])  # graffiti has no target
    clock.advance(timedelta(hours=50))  # 22 hours left: within the default 24
    page = client.get("/staff/queue").text
    assert 'class="sla sla-due_soon">Due soon<' in _row(page, city["pothole1"])
    assert numbers(client.get("/staff/queue?sla=due_soon").text) == [city["pothole1"], city["pothole2"]]
    assert numbers(client.get("/staff/queue?sla=overdue").text) == []
    clock.advance(timedelta(hours=23))
    page = client.get("/staff/queue").text
    overdue = _row(page, city["pothole1"])
    assert overdue.startswith('<tr class="overdue">') and '<strong class="sla sla-overdue">Overdue</strong>' in overdue
    assert numbers(client.get("/staff/queue?sla=overdue").text) == [city["pothole1"], city["pothole2"]]
    assert client.get("/staff/queue?sla=late").status_code == 400


def test_queue__assignee_and_bounced_filters__me_nobody_a_colleague_transferred(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "dot@city.gov")
    with SqlUnitOfWork(engine) as uow:
        dot2 = uow.users.by_email("dot2@city.gov")
        assert dot2 is not None and dot2.id is not None
    page = client.get("/staff/queue").text
    assert '<option value="me">Me</option>' in page and f'<option value="{dot2.id}">dot2@city.gov</option>' in page
    client.post(f"/staff/requests/{city['pothole1']}/assign", data={"csrf": csrf, "user": str(dot2.id)})
    assert numbers(client.get(f"/staff/queue?assignee={dot2.id}").text) == [city["pothole1"]]
    assert numbers(client.get("/staff/queue?assignee=none").text) == [city["pothole2"]]
    assert numbers(client.get("/staff/queue?assignee=me").text) == []
    assert "assigned to dot2@city.gov" in _row(client.get("/staff/queue").text, city["pothole1"])
    client.post(f"/staff/requests/{city['pothole2']}/transfer", data={"csrf": csrf, "body": "DSNY", "reason": "Theirs"})
    client.cookies.clear()
    sign_in(client, "dot2@city.gov")
    assert numbers(client.get("/staff/queue?assignee=me").text) == [city["pothole1"]]
    client.cookies.clear()
    sign_in(client, "admin@city.gov")
    bounced = client.get("/staff/queue?bounced=yes").text
    assert numbers(bounced) == [city["pothole2"]] and "bounced 1 time<" in bounced


def _statuses(engine: Engine, ids: list[str]) -> list[str]:
    with SqlUnitOfWork(engine) as uow:
        return [str(uow.requests.get(int(i)).status) for i in ids]  # type: ignore[union-attr]


def test_queue_bulk__acknowledge_selected__each_through_the_use_case_with_a_result_per_request(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "dot@city.gov")
    page = client.get("/staff/queue?sort=newest").text
    for rid in (city["pothole1"], city["pothole2"]):
        assert f'<label for="pick-{rid}" class="sr-only">Select request {rid}</label>' in page
    for name in ("Acknowledge selected", "Assign selected", "Close selected"):
        assert f">{name}</button>" in page
    assert 'action="/staff/queue/bulk?sort=newest&amp;page=1"' in page  # the result comes back on the same queue
    picked = [city["pothole1"], city["graffiti"], city["pothole2"]]  # DSNY's graffiti: not this clerk's
    reply = client.post("/staff/queue/bulk?sort=newest", data={"csrf": csrf, "action": "acknowledge", "ids": picked})
    assert reply.status_code == 200
    assert "Acknowledge selected: 2 done, 1 refused" in reply.text
    assert f"request {city['pothole1']}</a> is acknowledged." in reply.text
    assert f"request {city['graffiti']}</a> — department may request.work only on requests owned by DOT" in reply.text
    assert numbers(reply.text.split('id="list-h"')[1])[:2] == [city["pothole2"], city["pothole1"]]  # newest first
    assert _statuses(engine, picked) == ["acknowledged", "new", "acknowledged"]
    more = [str(n) for n in range(1000, 1060)]  # more than a page of them (unknown numbers here)
    many = client.post("/staff/queue/bulk", data={"csrf": csrf, "action": "acknowledge", "ids": more})
    assert many.status_code == 200 and "Acknowledge selected: 0 done, 60 refused" in many.text
    assert "service_request_id &#39;1059&#39; does not exist" in many.text
    again = client.post("/staff/queue/bulk", data={"csrf": csrf, "action": "acknowledge", "ids": picked[:1]})
    assert "0 done, 1 refused" in again.text and "cannot go from acknowledged to acknowledged" in again.text


def test_queue_bulk__assign_and_close_with_one_note__every_selected_request(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "dot@city.gov")
    with SqlUnitOfWork(engine) as uow:
        dot2 = uow.users.by_email("dot2@city.gov")
        assert dot2 is not None and dot2.id is not None
    potholes = [city["pothole1"], city["pothole2"]]
    assign = {"csrf": csrf, "action": "assign", "user": str(dot2.id), "ids": potholes}
    assert "Assign selected: 2 done, 0 refused" in client.post("/staff/queue/bulk", data=assign).text
    close = {"csrf": csrf, "action": "close", "close_reason": "fixed", "note": "Resurfaced the street", "ids": potholes}
    assert "Close selected: 2 done, 0 refused" in client.post("/staff/queue/bulk", data=close).text
    assert _statuses(engine, potholes) == ["closed", "closed"]
    with SqlUnitOfWork(engine) as uow:
        for rid in potholes:
            stored = uow.requests.get(int(rid))
            assert stored is not None and stored.assignee_user_id == dot2.id and stored.close_reason == "fixed"
            events = uow.requests.events([int(rid)], public_only=True)[int(rid)]
            assert events[-1].description == "Resurfaced the street"


def test_queue_bulk__forged_csrf_nothing_chosen_or_a_role_that_works_nothing__refused_and_nothing_changed(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "dot@city.gov")
    ids = list(city.values())
    forged = client.post("/staff/queue/bulk", data={"csrf": "forged", "action": "acknowledge", "ids": ids})
    assert forged.status_code == 403
    nothing = client.post("/staff/queue/bulk", data={"csrf": csrf, "action": "acknowledge"})
    assert nothing.status_code == 400 and "choose at least one request" in nothing.text
    too_many = client.post("/staff/queue/bulk", data={"csrf": csrf, "action": "acknowledge",
                                                      "ids": [str(n) for n in range(1000, 1201)]})  # fmt: skip
    assert too_many.status_code == 400 and "at most 200 requests at once (got 201)" in too_many.text
    unknown = client.post("/staff/queue/bulk", data={"csrf": csrf, "action": "explode", "ids": ids})
    assert unknown.status_code == 400 and "unknown bulk action" in unknown.text
    client.cookies.clear()
    csrf = sign_in(client, "exec@city.gov")
    page = client.get("/staff/queue").text
    assert "Select request" not in page and "Acknowledge selected" not in page
    refused = client.post("/staff/queue/bulk", data={"csrf": csrf, "action": "acknowledge", "ids": ids})
    assert refused.status_code == 403 and "executive may not request.work" in refused.text
    assert _statuses(engine, ids) == ["new", "new", "new"]


def _timeline_sizes(engine: Engine, ids: list[str]) -> list[int]:
    with SqlUnitOfWork(engine) as uow:
        found = uow.requests.events([int(i) for i in ids], public_only=False)
        return [len(found.get(int(i), [])) for i in ids]


def test_queue_bulk__post_redirect_get__the_result_page_shows_it_again_and_acts_on_nothing(
    client: TestClient, city: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "dot@city.gov")
    picked = [city["pothole1"], city["graffiti"]]
    posted = client.post("/staff/queue/bulk?sort=newest", data={"csrf": csrf, "action": "acknowledge", "ids": picked},
                         follow_redirects=False)  # fmt: skip
    assert posted.status_code == 303
    where = posted.headers["location"]
    assert re.fullmatch(r"/staff/queue/bulk/[A-Za-z0-9_-]{43}\?sort=newest", where), where  # the same queue filter
    assert _statuses(engine, picked) == ["acknowledged", "new"]
    sizes, audited = _timeline_sizes(engine, picked), len(audit_entries(SqlUnitOfWork(engine), limit=1000))
    for _ in range(2):  # a reload is a GET: the same outcome, nothing done again
        page = client.get(where)
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "Acknowledge selected: 1 done, 1 refused" in page.text
        assert f"request {city['pothole1']}</a> is acknowledged." in page.text
        assert "Reloading this page shows it again and does nothing more." in page.text
        assert numbers(page.text.split('id="list-h"')[1])[:2] == [city["pothole2"], city["pothole1"]]  # newest first
    assert _statuses(engine, picked) == ["acknowledged", "new"] and _timeline_sizes(engine, picked) == sizes
    assert len(audit_entries(SqlUnitOfWork(engine), limit=1000)) == audited


def test_queue_bulk__result_page__only_its_own_staff_member_until_it_expires(
    client: TestClient, city: dict[str, str], engine: Engine, clock: FixedClock
) -> None:
    csrf = sign_in(client, "dot@city.gov")
    posted = client.post("/staff/queue/bulk", data={"csrf": csrf, "action": "acknowledge", "ids": [city["pothole1"]]},
                         follow_redirects=False)  # fmt: skip
    mine = posted.headers["location"]
    for other in ("dot2@city.gov", "admin@city.gov"):  # a colleague of the same body, an admin: not theirs
        sign_in(client, other)
        page = client.get(mine)
        assert page.status_code == 404 and "this bulk result does not exist, or it is not yours" in page.text
        assert "Acknowledge selected:" not in page.text and 'id="list-h"' in page.text  # the queue, no result
    sign_in(client, "exec@city.gov")
    refused = client.get(mine)
    assert refused.status_code == 403 and "executive may not request.work" in refused.text
    client.cookies.clear()
    signed_out = client.get(mine, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/staff/login?next=")
    sign_in(client, "dot@city.gov")
    assert client.get("/staff/queue/bulk/not-a-token").status_code == 404
    clock.advance(timedelta(minutes=29))
    assert "Acknowledge selected: 1 done, 0 refused" in client.get(mine).text
    clock.advance(timedelta(minutes=1))
    gone = client.get(mine)
    assert gone.status_code == 410 and "this bulk result has expired: results are kept for 30 minutes" in gone.text
    assert "Acknowledge selected:" not in gone.text and 'id="list-h"' in gone.text
    assert _statuses(engine, [city["pothole1"]]) == ["acknowledged"]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # sniffed as a PNG (requests/media.py)


@pytest.fixture
def field_staff(engine: Engine, clock: FixedClock, city: dict[str, str]) -> dict[str, str]:
    """Partner FIXIT works pothole1 (assigned to it); a liaison covers district A, where both potholes are."""
    with SqlUnitOfWork(engine) as uow:
        uow.catalog.add_body(Body(code="FIXIT", name="Fixit Contractors", kind=BodyKind.PARTNER))
        district = Area("districts", "A", "District A", shapely.box(-74.05, 40.69, -73.95, 40.73))
        uow.catalog.add_layer_version(AreaLayer("districts", "key"), [district], None)
        for name in ("pothole1", "pothole2"):
            found = uow.requests.get(int(city[name]))
            assert found is not None
            found.areas = {"districts": "A"}
            uow.requests.save(found)
        uow.commit()
    assign_request(SqlUnitOfWork(engine), clock, city["pothole1"], "FIXIT", who=OPERATOR)
    for email, role, scope in (
        ("crew@fixit.example", "partner", {"org": "FIXIT"}),
        ("vol@city.gov", "liaison", {"areas": ("districts:A",)}),
    ):
        add_user(SqlUnitOfWork(engine), clock, AddUser(email, role, password=PASSWORD, **scope))  # type: ignore[arg-type]
    return city


def test_request_page__partner__start_progress_note_with_photo_work_complete(
    client: TestClient, field_staff: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "crew@fixit.example")
    assert numbers(client.get("/staff/queue").text) == [field_staff["pothole1"]]  # only its organisation's
    url = f"/staff/requests/{field_staff['pothole1']}"
    page = client.get(url).text
    for name in ("Start", "Add progress note", "Work complete"):
        assert f">{name}</button>" in page, name
    assert ">Acknowledge</button>" not in page and ">Transfer</button>" not in page  # the department's
    started = client.post(f"{url}/partner", data={"csrf": csrf, "step": "start"}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == f"{url}?done=partner_start"
    noted = client.post(f"{url}/partner", data={"csrf": csrf, "step": "note", "note": "Asphalt poured"},
                        files={"photo": ("hole.png", PNG, "image/png")}, follow_redirects=False)  # fmt: skip
    assert noted.status_code == 303
    done = client.post(f"{url}/partner", data={"csrf": csrf, "step": "complete", "note": "Finished"},
                       files={"photo": ("", b"", "application/octet-stream")})  # fmt: skip
    assert done.status_code == 200 and "Work reported complete." in done.text
    assert ">Start</button>" not in done.text  # in progress already
    timeline = done.text.split('id="timeline-h"')[1]
    assert "Asphalt poured" in timeline and '<a href="/media/' in timeline and "work completed" in timeline
    with SqlUnitOfWork(engine) as uow:
        stored = uow.requests.get(int(field_staff["pothole1"]))
    assert stored is not None and str(stored.status) == "in_progress"  # the owner confirms and closes
    other = client.post(f"/staff/requests/{field_staff['pothole2']}/partner", data={"csrf": csrf, "step": "start"})
    assert other.status_code == 403 and "Crater in the bike lane" not in other.text


def test_request_page__partner_photo_not_an_image__400_and_nothing_written(
    client: TestClient, field_staff: dict[str, str], engine: Engine
) -> None:
    csrf = sign_in(client, "crew@fixit.example")
    url = f"/staff/requests/{field_staff['pothole1']}"
    reply = client.post(f"{url}/partner", data={"csrf": csrf, "step": "note", "note": "See photo"},
                        files={"photo": ("x.png", b"not an image", "image/png")})  # fmt: skip
    assert reply.status_code == 415 and "is not an accepted image" in reply.text
    assert "See photo" not in reply.text


def test_request_page__liaison__confirm_or_dispute_a_fix_with_a_photo(
    client: TestClient, field_staff: dict[str, str], engine: Engine, clock: FixedClock
) -> None:
    partner_work(SqlUnitOfWork(engine), clock, PartnerWork(OPERATOR, field_staff["pothole1"], PartnerStep.COMPLETE))
    csrf = sign_in(client, "vol@city.gov")
    assert numbers(client.get("/staff/queue").text) == [field_staff["pothole1"], field_staff["pothole2"]]
    url = f"/staff/requests/{field_staff['pothole1']}"
    page = client.get(url).text
    assert ">Confirm fix</button>" in page and ">Dispute fix</button>" in page
    assert "Nothing to check yet" in client.get(f"/staff/requests/{field_staff['pothole2']}").text
    confirmed = client.post(f"{url}/verify", data={"csrf": csrf, "verdict": "confirmed", "note": "Smooth road"},
                            files={"photo": ("site.png", PNG, "image/png")}, follow_redirects=False)  # fmt: skip
    assert confirmed.status_code == 303 and confirmed.headers["location"] == f"{url}?done=confirmed"
    page = client.get(confirmed.headers["location"]).text
    assert "Fix confirmed: your check is on the timeline." in page
    assert '<span class="badge">Public</span> · fix confirmed' in page and "Smooth road" in page
    disputed = client.post(f"{url}/verify", data={"csrf": csrf, "verdict": "disputed"})
    assert disputed.status_code == 200 and "Fix disputed on site: not fixed" in disputed.text
    nothing = client.post(
        f"/staff/requests/{field_staff['pothole2']}/verify", data={"csrf": csrf, "verdict": "confirmed"}
    )
    assert nothing.status_code == 400 and "has no fix to check" in nothing.text
    outside = client.post(
        f"/staff/requests/{field_staff['graffiti']}/verify", data={"csrf": csrf, "verdict": "confirmed"}
    )
    assert outside.status_code == 403


def test_request_page__liaison__no_show_contact_on_a_request_it_did_not_file(
    client: TestClient, field_staff: dict[str, str]
) -> None:
    csrf = sign_in(client, "vol@city.gov")
    page = client.get(f"/staff/requests/{field_staff['pothole2']}").text
    assert "Crater in the bike lane" in page  # the page itself is shown (the request is in its area)
    assert ">Show contact</button>" not in page  # the policy lets a liaison read only what it filed
    refused = client.post(f"/staff/requests/{field_staff['pothole2']}/contact", data={"csrf": csrf, "reason": "r"})
    assert refused.status_code == 403
