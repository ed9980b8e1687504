"""The manual bridge workspace over HTTP (both databases): oldest tasks first within the clerk's scope, one claim at
a time, the department's reference required to finish, the week's minutes per body."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.hub.model import Connector, ConnectorKind, MessageType
from civicswitch.hub.views import NewDelivery
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.storage.sql import SqlUnitOfWork
from staff_client import sign_in as shared_sign_in

PASSWORD = "a long enough password"


@pytest.fixture
def tasks(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> dict[str, int]:
    """Three reports for bodies with no connector (manual tasks): two DOT potholes and one DSNY graffiti."""
    found = {}
    for name, service in (("pothole1", "pothole"), ("pothole2", "pothole"), ("graffiti", "graffiti")):
        answers = {"size": ["large"]} if service == "pothole" else {}
        cmd = SubmitRequest(service_code=service, api_key=keys["submit"], lat="40.71", long="-74.0",
                            description=f"{name} report", address_string=f"{name} street",
                            attributes=answers)  # fmt: skip
        rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
        assert rid is not None
        with SqlUnitOfWork(engine) as uow:
            (task,) = uow.hub.deliveries(manual=True, request_id=int(rid))
        found[name] = task.id
        clock.advance(timedelta(minutes=10))
    for email, role, scope in (("dot@city.gov", "department", {"bodies": ("DOT",)}),
                               ("dot2@city.gov", "department", {"bodies": ("DOT",)}),
                               ("exec@city.gov", "executive", {})):  # fmt: skip
        add_user(SqlUnitOfWork(engine), clock, AddUser(email, role, password=PASSWORD, **scope))  # type: ignore[arg-type]
    return found


def sign_in(client: TestClient, email: str) -> str:
    return shared_sign_in(client, email, page="/staff/bridge", fresh=True)


def listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<a href="/staff/bridge/(\d+)">Task', html)]


def test_bridge__department__its_bodys_tasks_oldest_first(client: TestClient, tasks: dict[str, int]) -> None:
    sign_in(client, "dot@city.gov")
    page = client.get("/staff/bridge")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert listed(page.text) == [tasks["pothole1"], tasks["pothole2"]]
    assert "2 tasks waiting" in page.text and "No task done in the last 7 days." in page.text


def test_bridge__claim_then_finish_with_reference__done_counted_and_on_the_timeline(
    client: TestClient, tasks: dict[str, int], engine: Engine
) -> None:
    csrf = sign_in(client, "dot@city.gov")
    task = tasks["pothole1"]
    claimed = client.post(f"/staff/bridge/{task}/claim", data={"csrf": csrf}, follow_redirects=False)
    assert claimed.status_code == 303 and claimed.headers["location"] == f"/staff/bridge/{task}"
    page = client.get(f"/staff/bridge/{task}")
    assert "by you" in page.text and "pothole1 street" in page.text and "Mark as entered" in page.text
    missing = client.post(f"/staff/bridge/{task}/done", data={"csrf": csrf, "reference": " ", "minutes": "6"})
    assert missing.status_code == 400 and "give the department&#39;s reference" in missing.text
    done = client.post(f"/staff/bridge/{task}/done", data={"csrf": csrf, "reference": "WO-881", "minutes": "6"},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/staff/bridge?notice=done"
    page = client.get("/staff/bridge?notice=done")
    assert listed(page.text) == [tasks["pothole2"]] and "Recorded:" in page.text
    assert "<td>DOT</td><td>1</td><td>6</td><td>0.1</td>" in page.text
    with SqlUnitOfWork(engine) as uow:
        (row,) = uow.hub.deliveries(manual=True, ids=[task])
        timeline = uow.requests.events([row.request_id], public_only=False)[row.request_id]
    assert (row.external_id, row.effort_minutes) == ("WO-881", 6.0)
    assert any("as WO-881 (6 min)" in e.description and not e.public for e in timeline)


def test_bridge__claimed_by_a_colleague__another_clerk_can_neither_claim_nor_finish(
    client: TestClient, tasks: dict[str, int]
) -> None:
    task = tasks["pothole2"]
    csrf = sign_in(client, "dot@city.gov")
    assert client.post(f"/staff/bridge/{task}/claim", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    csrf2 = sign_in(client, "dot2@city.gov")
    page = client.get("/staff/bridge")
    assert "dot@city.gov" in page.text and f'aria-label="Claim task {task}"' not in page.text
    again = client.post(f"/staff/bridge/{task}/claim", data={"csrf": csrf2})
    assert again.status_code == 409 and "is claimed by staff:" in again.text
    finish = client.post(f"/staff/bridge/{task}/done", data={"csrf": csrf2, "reference": "X-1", "minutes": "3"})
    assert finish.status_code == 400 and "is claimed by" in finish.text
    csrf = sign_in(client, "dot@city.gov")
    released = client.post(f"/staff/bridge/{task}/claim", data={"csrf": csrf, "release": "yes"},
                           follow_redirects=False)  # fmt: skip
    assert released.status_code == 303
    assert f'aria-label="Claim task {task}"' in client.get("/staff/bridge").text


def test_bridge__other_bodys_task_or_executive__refused(client: TestClient, tasks: dict[str, int]) -> None:
    csrf = sign_in(client, "dot@city.gov")
    assert client.get(f"/staff/bridge/{tasks['graffiti']}").status_code == 404  # not in this clerk's list
    refused = client.post(f"/staff/bridge/{tasks['graffiti']}/claim", data={"csrf": csrf})
    assert refused.status_code == 403
    csrf = sign_in(client, "exec@city.gov")
    page = client.get("/staff/bridge")
    assert listed(page.text) == [tasks["pothole1"], tasks["pothole2"], tasks["graffiti"]]
    assert "Claim task" not in page.text  # executives read, they don't work tasks
    assert client.post(f"/staff/bridge/{tasks['pothole1']}/claim", data={"csrf": csrf}).status_code == 403


def test_bridge__task_page__found_by_its_id__unknown_or_a_connectors_delivery__404(
    client: TestClient, tasks: dict[str, int], engine: Engine, clock: FixedClock
) -> None:
    with SqlUnitOfWork(engine) as uow:
        task = uow.hub.delivery(tasks["pothole2"])
        assert task is not None
        uow.hub.add_connector(Connector("dot-hook", ConnectorKind.WEBHOOK, "DOT", {"url": "http://x"}, "whsec_a"),
                              clock.now())  # fmt: skip
        uow.hub.enqueue([NewDelivery("dot-hook", "DOT", task.request_id, MessageType.CREATED, "k1", {}, clock.now())])
        uow.commit()
        (hooked,) = uow.hub.deliveries(manual=False, request_id=task.request_id)
    sign_in(client, "dot@city.gov")
    page = client.get(f"/staff/bridge/{tasks['pothole2']}")
    assert page.status_code == 200 and "pothole2 street" in page.text
    assert client.get(f"/staff/bridge/{hooked.id}").status_code == 404  # a connector's delivery is no manual task
    assert client.get(f"/staff/bridge/{hooked.id + 1000}").status_code == 404
    sign_in(client, "exec@city.gov")
    assert client.get(f"/staff/bridge/{tasks['graffiti']}").status_code == 200  # every body's task


def test_bridge__forged_csrf__refused_and_nothing_claimed(client: TestClient, tasks: dict[str, int]) -> None:
    sign_in(client, "dot@city.gov")
    assert client.post(f"/staff/bridge/{tasks['pothole1']}/claim", data={"csrf": "forged"}).status_code == 403
    assert f'aria-label="Claim task {tasks["pothole1"]}"' in client.get("/staff/bridge").text


def test_bridge__more_than_a_page__next_page_after_the_last_task_then_back_to_the_oldest(
    client: TestClient, tasks: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page holds BRIDGE_PAGE tasks (lowered to 1 here), oldest first; "Next" lists those after its last one."""
    from civicswitch.web import workspace

    monkeypatch.setattr(workspace, "BRIDGE_PAGE", 1)
    sign_in(client, "dot@city.gov")
    first = client.get("/staff/bridge")
    assert listed(first.text) == [tasks["pothole1"]] and "Tasks waiting, 1 on this page" in first.text
    assert f'href="/staff/bridge?after={tasks["pothole1"]}">Next 1 tasks</a>' in first.text
    second = client.get(f"/staff/bridge?after={tasks['pothole1']}")
    assert listed(second.text) == [tasks["pothole2"]]
    assert 'href="/staff/bridge">Oldest tasks</a>' in second.text and "?after=" not in second.text
    past = client.get(f"/staff/bridge?after={tasks['pothole2']}")
    assert listed(past.text) == [] and f"Nothing waiting after task {tasks['pothole2']}." in past.text
    assert client.get("/staff/bridge?after=-1").status_code == 400  # the app answers a bad query string with 400
