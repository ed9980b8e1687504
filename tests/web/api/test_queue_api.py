"""``GET /api/v1/queue`` with the staff queue page's filters (both databases): SLA state, assignee (me, none or a
colleague) and bounced-only, each within the caller's scope; bad values are 400 in the API's error format, naming
the parameter, and answer no rows."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.requests import queue
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.tables import service_requests
from civicswitch.storage.sql import SqlUnitOfWork

PASSWORD = "a long enough password"


@pytest.fixture
def city(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> dict[str, str]:
    """Two DOT potholes (72-hour target) and a DSNY graffiti report (no target); two DOT clerks, a DSNY clerk, an
    executive and an admin. The first pothole is assigned to the second DOT clerk; the second was transferred
    (bounced) to DSNY."""
    ids = {}
    for name, service in (("pothole1", "pothole"), ("pothole2", "pothole"), ("graffiti", "graffiti")):
        answers = {"size": ["large"]} if service == "pothole" else {}
        cmd = SubmitRequest(service_code=service, api_key=keys["submit"], lat="40.71", long="-74.0",
                            description=f"{name} report", attributes=answers)  # fmt: skip
        rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
        assert rid is not None
        ids[name] = rid
    for email, role, scope in (
        ("dot@city.gov", "department", {"bodies": ("DOT",)}),
        ("dot2@city.gov", "department", {"bodies": ("DOT",)}),
        ("dsny@city.gov", "department", {"bodies": ("DSNY",)}),
        ("exec@city.gov", "executive", {}),
        ("admin@city.gov", "admin", {}),
    ):
        add_user(SqlUnitOfWork(engine), clock, AddUser(email, role, password=PASSWORD, **scope))  # type: ignore[arg-type]
    with SqlUnitOfWork(engine) as uow:
        dot2 = uow.users.by_email("dot2@city.gov")
        assert dot2 is not None and dot2.id is not None
        ids["dot2"] = str(dot2.id)
    return ids


def _sign_in(client: TestClient, email: str) -> str:
    client.cookies.clear()
    form = client.get("/staff/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    reply = client.post("/staff/login", data={"email": email, "password": PASSWORD, "csrf": csrf.group(1)},
                        follow_redirects=False)  # fmt: skip
    assert reply.status_code == 303, reply.text
    page = client.get("/staff/queue").text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _ids(client: TestClient, **params: str) -> list[str]:
    reply = client.get("/api/v1/queue", params=params)
    assert reply.status_code == 200, reply.text
    return [r["service_request_id"] for r in reply.json()["requests"]]


@pytest.fixture
def worked(client: TestClient, city: dict[str, str]) -> dict[str, str]:
    """The assignment and the transfer, made through the request page as a DOT clerk."""
    csrf = _sign_in(client, "dot@city.gov")
    assigned = client.post(f"/staff/requests/{city['pothole1']}/assign", data={"csrf": csrf, "user": city["dot2"]},
                           follow_redirects=False)  # fmt: skip
    assert assigned.status_code == 303
    moved = client.post(f"/staff/requests/{city['pothole2']}/transfer",
                        data={"csrf": csrf, "body": "DSNY", "reason": "Theirs"}, follow_redirects=False)  # fmt: skip
    assert moved.status_code == 303
    client.cookies.clear()
    return city


def test_queue_api__sla_filter__due_soon_then_overdue_and_each_row_says_its_state(
    client: TestClient, city: dict[str, str], clock: FixedClock, keys: dict[str, str]
) -> None:
    admin = {"X-Api-Key": keys["admin"]}
    rows = client.get("/api/v1/queue", headers=admin).json()["requests"]
    assert {r["service_request_id"]: r["sla"] for r in rows} == {
        city["pothole1"]: "on_time", city["pothole2"]: "on_time", city["graffiti"]: "no_target"}  # fmt: skip
    clock.advance(timedelta(hours=50))  # 22 hours left: within the default 24
    soon = client.get("/api/v1/queue", params={"sla": "due_soon"}, headers=admin).json()
    assert [r["service_request_id"] for r in soon["requests"]] == [city["pothole1"], city["pothole2"]]
    assert {r["sla"] for r in soon["requests"]} == {"due_soon"} and soon["total"] == 2
    assert client.get("/api/v1/queue", params={"sla": "overdue"}, headers=admin).json()["requests"] == []
    clock.advance(timedelta(hours=23))
    late = client.get("/api/v1/queue", params={"sla": "overdue"}, headers=admin).json()
    assert [r["service_request_id"] for r in late["requests"]] == [city["pothole1"], city["pothole2"]]


def test_queue_api__assignee_filter__a_colleague_nobody_and_me_within_the_department(
    client: TestClient, worked: dict[str, str]
) -> None:
    _sign_in(client, "dot@city.gov")
    assert _ids(client, assignee=worked["dot2"]) == [worked["pothole1"]]
    assert _ids(client, assignee="none") == []  # pothole2 went to DSNY: DOT's only open request is assigned
    assert _ids(client, assignee="me") == []
    rows = client.get("/api/v1/queue").json()["requests"]
    assert [(r["service_request_id"], r["assignee"]) for r in rows] == [(worked["pothole1"], int(worked["dot2"]))]
    _sign_in(client, "dot2@city.gov")
    assert _ids(client, assignee="me") == [worked["pothole1"]]
    _sign_in(client, "dsny@city.gov")
    assert _ids(client, assignee=worked["dot2"]) == []  # DOT's request stays out of DSNY's scope
    assert _ids(client, assignee="none") == [worked["pothole2"], worked["graffiti"]]


def test_queue_api__bounced_filter__only_transferred_requests_in_the_callers_scope(
    client: TestClient, worked: dict[str, str], keys: dict[str, str]
) -> None:
    bounced = client.get("/api/v1/queue", params={"bounced": "true"}, headers={"X-Api-Key": keys["admin"]}).json()
    assert [(r["service_request_id"], r["owner"], r["transfers"]) for r in bounced["requests"]] == [
        (worked["pothole2"], "DSNY", 1)
    ]
    _sign_in(client, "dsny@city.gov")
    assert _ids(client, bounced="true") == [worked["pothole2"]]
    assert _ids(client, bounced="false") == [worked["pothole2"], worked["graffiti"]]  # false: every request
    _sign_in(client, "dot@city.gov")
    assert _ids(client, bounced="true") == []  # bounced away from DOT: no longer DOT's to see
    _sign_in(client, "exec@city.gov")
    assert _ids(client, bounced="true", sla="overdue") == []  # filters combine
    assert _ids(client, bounced="true") == [worked["pothole2"]]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"sla": "late"}, "sla: Input should be 'due_soon' or 'overdue'"),
        ({"assignee": "somebody"}, "unknown assignee 'somebody': me, none or a staff account's number"),
        ({"assignee": "x" * 21}, "assignee: String should have at most 20 characters"),
        ({"bounced": "maybe"}, "bounced: Input should be a valid boolean"),
        ({"filed": "you"}, "unknown filed 'you': me"),
    ],
)
def test_queue_api__bad_filter__400_in_the_api_error_format_naming_it(
    client: TestClient, city: dict[str, str], keys: dict[str, str], params: dict[str, str], says: str
) -> None:
    reply = client.get("/api/v1/queue", params=params, headers={"X-Api-Key": keys["admin"]})
    assert reply.status_code == 400 and reply.headers["content-type"].startswith("application/json")
    errors = reply.json()
    assert [e["code"] for e in errors] == [400] and errors[0]["description"].startswith(says), errors
    assert "requests" not in reply.text


def test_queue_api__assignee_me_with_an_api_key__400_only_a_signed_in_account_has_me(
    client: TestClient, city: dict[str, str], keys: dict[str, str]
) -> None:
    reply = client.get("/api/v1/queue", params={"assignee": "me"}, headers={"X-Api-Key": keys["admin"]})
    assert reply.status_code == 400
    assert reply.json() == [{"code": 400, "description": "only a signed-in staff account has requests assigned to it"}]


def test_queue_api__filed_me_with_an_api_key__400_only_a_signed_in_account_files(
    client: TestClient, city: dict[str, str], keys: dict[str, str]
) -> None:
    reply = client.get("/api/v1/queue", params={"filed": "me"}, headers={"X-Api-Key": keys["admin"]})
    assert reply.status_code == 400
    assert reply.json() == [{"code": 400, "description": "only a signed-in staff account files requests on "
                                                         "residents' behalf"}]  # fmt: skip


def test_queue_api__filters_without_the_right__refused_no_rows(
    client: TestClient, city: dict[str, str], keys: dict[str, str]
) -> None:
    for headers in ({"X-Api-Key": keys["submit"]}, {"X-Api-Key": keys["update"]}, {}):
        reply = client.get("/api/v1/queue", params={"bounced": "true", "sla": "overdue"}, headers=headers)
        assert reply.status_code in (401, 403) and "service_request_id" not in reply.text, (headers, reply.text)


def test_queue_api__filed_me__only_what_the_signed_in_account_filed(
    client: TestClient, engine: Engine, city: dict[str, str]
) -> None:
    with SqlUnitOfWork(engine) as uow:
        admin = uow.users.by_email("admin@city.gov")
        assert admin is not None
    with engine.begin() as conn:  # as if the admin had filed the graffiti report on a resident's behalf
        conn.execute(service_requests.update().where(service_requests.c.id == int(city["graffiti"]))
                     .values(filed_by_user_id=admin.id))  # fmt: skip
    _sign_in(client, "admin@city.gov")
    assert _ids(client, filed="me") == [city["graffiti"]]
    _sign_in(client, "exec@city.gov")
    assert _ids(client, filed="me") == []


def test_queue_api__counts_past_the_cap__more_and_the_cap_say_the_total_is_at_least(
    client: TestClient, city: dict[str, str], keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "COUNT_CAP", 2)
    reply = client.get("/api/v1/queue", headers={"X-Api-Key": keys["admin"]}).json()
    assert (reply["counts"], reply["total"], reply["more"], reply["count_cap"]) == ({"new": 3}, 2, True, 2)
    monkeypatch.setattr(queue, "COUNT_CAP", 10_000)
    reply = client.get("/api/v1/queue", headers={"X-Api-Key": keys["admin"]}).json()
    assert (reply["counts"], reply["total"], reply["more"], reply["count_cap"]) == ({"new": 3}, 3, False, 10_000)
