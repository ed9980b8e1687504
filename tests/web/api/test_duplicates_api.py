"""Duplicates over HTTP: check before filing, the hint at intake, follow instead, staff merge (both databases)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from civicswitch.core.clock import FixedClock
from civicswitch.requests.model import CloseReason, FollowVia, Status
from civicswitch.requests.tables import request_events, request_followers, service_requests
from civicswitch.storage.sql import SqlUnitOfWork

HERE = (40.7359, -73.9911)
NEARBY = (40.7362, -73.9911)  # 33 m north


def _file(client: TestClient, key: str, at: tuple[float, float] = HERE, service: str = "graffiti", **extra: str) -> Any:
    data = {"api_key": key, "service_code": service, "lat": str(at[0]), "long": str(at[1]), **extra}
    reply = client.post("/open311/v2/requests.json", data=data)
    assert reply.status_code == 200, reply.text
    return reply.json()[0]


def _rows(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(service_requests)).scalar_one(),
            conn.execute(select(func.count()).select_from(request_events)).scalar_one(),
            conn.execute(select(func.count()).select_from(request_followers)).scalar_one(),
        )


def test_duplicates_check__report_near_an_open_request__offers_it_with_a_follow_url(
    client: TestClient, keys: dict[str, str], clock: FixedClock
) -> None:
    first = _file(client, keys["submit"], description="Tags sprayed on the blue mailbox")
    clock.advance(timedelta(hours=2))
    reply = client.get(
        "/api/v1/duplicates",
        params={"service_code": "graffiti", "lat": NEARBY[0], "long": NEARBY[1], "description": "graffiti on mailbox"},
    )
    assert reply.status_code == 200
    (match,) = reply.json()["duplicates"]
    assert match["service_request_id"] == first["service_request_id"]
    assert 30 < match["distance_m"] < 36 and match["status"] == "open"
    assert match["follow_url"].endswith(f"/api/v1/requests/{first['service_request_id']}/followers")
    assert "email" not in match and "phone" not in match


def test_duplicates_check__other_service_or_far_away__offers_nothing(client: TestClient, keys: dict[str, str]) -> None:
    _file(client, keys["submit"])
    other = client.get("/api/v1/duplicates", params={"service_code": "pothole", "lat": HERE[0], "long": HERE[1]})
    far = client.get("/api/v1/duplicates", params={"service_code": "graffiti", "lat": HERE[0] + 0.01, "long": HERE[1]})
    assert other.json() == {"duplicates": []} and far.json() == {"duplicates": []}


def test_duplicates_check__bad_input__clear_400_or_404(client: TestClient) -> None:
    missing = client.get("/api/v1/duplicates", params={"service_code": "graffiti"})
    unknown = client.get("/api/v1/duplicates", params={"service_code": "nope", "lat": 1, "long": 1})
    assert missing.status_code == 400 and "lat" in missing.json()[0]["description"]
    assert unknown.status_code == 404 and "nope" in unknown.json()[0]["description"]


def test_post_request__near_an_open_request__notice_names_it_and_staff_see_the_candidates(
    client: TestClient, keys: dict[str, str], engine: Engine
) -> None:
    first = _file(client, keys["submit"])
    second = _file(client, keys["submit"], at=NEARBY)
    assert f"request {first['service_request_id']}" in second["service_notice"]
    with SqlUnitOfWork(engine) as uow:
        events = uow.requests.events([int(second["service_request_id"])], public_only=False)
    (hint,) = [e for e in events[int(second["service_request_id"])] if e.kind == "possible_duplicates"]
    assert not hint.public and hint.data["candidates"][0]["service_request_id"] == first["service_request_id"]
    public = client.get(f"/open311/v2/requests/{second['service_request_id']}.json").json()[0]
    assert public["status"] == "open"


def test_follow__instead_of_filing__adds_a_follower_once_unconfirmed(
    client: TestClient, keys: dict[str, str], engine: Engine
) -> None:
    first = _file(client, keys["submit"], email="filer@example.org")
    url = f"/api/v1/requests/{first['service_request_id']}/followers"
    body = {"email": "Neighbour@Example.org", "first_name": "Ana"}
    reply = client.post(url, json=body, headers={"X-Api-Key": keys["submit"]})
    client.post(url, json={"email": "neighbour@example.org", "api_key": keys["submit"]})  # the same person again
    client.post(url, json={"email": "filer@example.org"}, headers={"X-Api-Key": keys["submit"]})  # the filer
    assert reply.status_code == 202 and reply.json()["confirmation"] == "email"
    assert _rows(engine)[0:3:2] == (1, 1)  # one request, one follower
    with engine.connect() as conn:
        assert conn.execute(text("SELECT confirmed_at FROM request_followers")).scalar_one() is None


def test_follow__already_following_or_the_filer__the_same_answer_as_a_new_follower(
    client: TestClient, keys: dict[str, str]
) -> None:
    """No yes/no oracle on private contact data: whether an address already follows (or filed) the request,
    the status and the body of the answer are the same as for a new address."""
    first = _file(client, keys["submit"], email="filer@example.org")
    url = f"/api/v1/requests/{first['service_request_id']}/followers"
    head = {"X-Api-Key": keys["submit"]}
    new = client.post(url, json={"email": "new@example.org"}, headers=head)
    again = client.post(url, json={"email": "new@example.org"}, headers=head)
    filer = client.post(url, json={"email": "filer@example.org"}, headers=head)
    other = client.post(url, json={"email": "other@example.org"}, headers=head)
    answers = {(r.status_code, r.text) for r in (new, again, filer, other)}
    assert len(answers) == 1, answers


def test_follow__bad_input__refused_and_nothing_written(
    client: TestClient, keys: dict[str, str], engine: Engine
) -> None:
    first = _file(client, keys["submit"])
    url = f"/api/v1/requests/{first['service_request_id']}/followers"
    before = _rows(engine)
    no_key = client.post(url, json={"email": "a@example.org"})
    nobody = client.post(url, json={}, headers={"X-Api-Key": keys["submit"]})
    unknown = client.post(
        "/api/v1/requests/999/followers", json={"email": "a@b.c"}, headers={"X-Api-Key": keys["submit"]}
    )
    extra = client.post(url, json={"email": "a@b.c", "shoe": 1}, headers={"X-Api-Key": keys["submit"]})
    assert [r.status_code for r in (no_key, nobody, unknown, extra)] == [403, 400, 404, 400]
    assert "email" in nobody.json()[0]["description"]
    assert _rows(engine) == before


def test_merge__child_into_parent__closed_duplicate_and_every_follower_and_note_kept(
    client: TestClient, keys: dict[str, str], engine: Engine, clock: FixedClock
) -> None:
    parent = _file(client, keys["submit"], email="parent@example.org", description="Tags on the wall")
    child = _file(client, keys["submit"], at=NEARBY, email="child@example.org", phone="555-0101",
                  description="Graffiti on the same wall", media_url="https://img.example.org/1.jpg")  # fmt: skip
    pid, cid = parent["service_request_id"], child["service_request_id"]
    submit = {"X-Api-Key": keys["submit"]}
    client.post(f"/api/v1/requests/{cid}/followers", json={"email": "n1@example.org"}, headers=submit)
    client.post(f"/api/v1/requests/{cid}/followers", json={"email": "parent@example.org"}, headers=submit)  # both
    client.post(f"/api/v1/requests/{pid}/followers", json={"phone": "555-0199"}, headers=submit)
    note = client.post("/open311/v2/servicerequestupdates.json", data={
        "api_key": keys["update_dsny"], "service_request_id": cid, "update_id": "u1", "status": "OPEN",
        "updated_datetime": clock.now().isoformat(), "description": "Crew saw it too",
    })  # fmt: skip
    assert note.status_code == 200, note.text
    clock.advance(timedelta(hours=1))

    reply = client.post(f"/api/v1/requests/{cid}/merge", json={"into": pid}, headers={"X-Api-Key": keys["admin"]})

    assert reply.status_code == 200, reply.text
    assert reply.json() == {"service_request_id": cid, "merged_into": pid, "followers_moved": 2, "notes_carried": 1}
    with SqlUnitOfWork(engine) as uow:
        c, p = uow.requests.get(int(cid)), uow.requests.get(int(pid))
        assert c is not None and p is not None
        assert (c.status, c.close_reason, c.parent_id) == (Status.CLOSED, CloseReason.DUPLICATE, int(pid))
        followers = uow.requests.followers(int(pid))
        assert {(f.contact.email, f.contact.phone) for f in followers} == {
            (None, "555-0199"), ("child@example.org", "555-0101"), ("n1@example.org", None),
        }  # fmt: skip
        assert {f.via for f in followers if f.contact.phone != "555-0199"} == {FollowVia.MERGE}
        assert uow.requests.followers(int(cid)) == []
        timeline = uow.requests.events([int(pid)], public_only=False)[int(pid)]
        texts = [e.description for e in timeline]
        assert f"From request {cid}: Crew saw it too" in texts
        assert any(t.startswith(f"Also reported as request {cid}: Graffiti on the same wall") for t in texts)
        assert any(e.media_url == "https://img.example.org/1.jpg" for e in timeline)
        assert [e.data["child"] for e in timeline if e.kind == "merged"] == [int(cid)]
        assert uow.requests.merged_count() == 1
    public = client.get(f"/open311/v2/requests/{cid}.json").json()[0]
    assert public["status"] == "closed" and pid in public["status_notes"]


def test_merge__refusals__clear_errors_and_nothing_written(
    client: TestClient, keys: dict[str, str], engine: Engine
) -> None:
    a = _file(client, keys["submit"])["service_request_id"]
    b = _file(client, keys["submit"], at=NEARBY)["service_request_id"]
    pothole = _file(client, keys["submit"], service="pothole", **{"attribute[size]": "small"})["service_request_id"]
    staff = {"X-Api-Key": keys["admin"]}
    before = _rows(engine)
    cases = {
        "self": client.post(f"/api/v1/requests/{a}/merge", json={"into": a}, headers=staff),
        "other service": client.post(f"/api/v1/requests/{pothole}/merge", json={"into": a}, headers=staff),
        "no parent": client.post(f"/api/v1/requests/{a}/merge", json={"into": "999"}, headers=staff),
        "submit key": client.post(
            f"/api/v1/requests/{a}/merge", json={"into": b}, headers={"X-Api-Key": keys["submit"]}
        ),
    }
    assert {k: r.status_code for k, r in cases.items()} == {
        "self": 400,
        "other service": 400,
        "no parent": 404,
        "submit key": 403,
    }
    assert "change the service first" in cases["other service"].json()[0]["description"]
    assert _rows(engine) == before
    assert client.post(f"/api/v1/requests/{b}/merge", json={"into": a}, headers=staff).status_code == 200
    again = client.post(f"/api/v1/requests/{b}/merge", json={"into": a}, headers=staff)
    into_merged = client.post(f"/api/v1/requests/{a}/merge", json={"into": b}, headers=staff)
    assert again.status_code == 409 and into_merged.status_code == 400
    assert "merge into that one" in into_merged.json()[0]["description"]


def test_follow__a_merged_request__follows_its_parent(client: TestClient, keys: dict[str, str]) -> None:
    a = _file(client, keys["submit"])["service_request_id"]
    b = _file(client, keys["submit"], at=NEARBY)["service_request_id"]
    client.post(f"/api/v1/requests/{b}/merge", json={"into": a}, headers={"X-Api-Key": keys["admin"]})
    reply = client.post(
        f"/api/v1/requests/{b}/followers", json={"email": "x@example.org"}, headers={"X-Api-Key": keys["submit"]}
    )
    assert reply.status_code == 202 and reply.json()["service_request_id"] == a


def test_request_duplicates__on_demand__lists_the_others_not_itself(client: TestClient, keys: dict[str, str]) -> None:
    a = _file(client, keys["submit"])["service_request_id"]
    b = _file(client, keys["submit"], at=NEARBY)["service_request_id"]
    found = client.get(f"/api/v1/requests/{b}/duplicates").json()["duplicates"]
    assert [m["service_request_id"] for m in found] == [a]


def test_merge_and_change__a_back_ends_update_key__403_and_nothing_written(
    client: TestClient, keys: dict[str, str], engine: Engine
) -> None:
    """Merging and re-routing are staff decisions: a body's back-end key may not do them, even on its own body's
    requests (graffiti is DSNY's)."""
    a = _file(client, keys["submit"])["service_request_id"]
    b = _file(client, keys["submit"], at=NEARBY)["service_request_id"]
    before = _rows(engine)
    merge = client.post(f"/api/v1/requests/{b}/merge", json={"into": a}, headers={"X-Api-Key": keys["update_dsny"]})
    change = client.patch(
        f"/api/v1/requests/{b}", json={"service_code": "pothole"}, headers={"X-Api-Key": keys["update_dsny"]}
    )
    assert (merge.status_code, change.status_code) == (403, 403)
    assert _rows(engine) == before


@pytest.mark.parametrize("reason", ["referred", "cancelled"])
def test_post_request__near_a_request_closed_as_referred_or_cancelled__notice_does_not_point_at_it(
    client: TestClient, keys: dict[str, str], engine: Engine, clock: FixedClock, reason: str
) -> None:
    first = _file(client, keys["submit"])
    with SqlUnitOfWork(engine) as uow:
        request = uow.requests.get(int(first["service_request_id"]))
        assert request is not None
        request.transition(Status.CLOSED, clock.now(), reason=CloseReason(reason))
        uow.requests.save(request)
        uow.commit()
    clock.advance(timedelta(hours=1))

    second = _file(client, keys["submit"], at=NEARBY)
    offered = client.get("/api/v1/duplicates", params={"service_code": "graffiti", "lat": NEARBY[0], "long": NEARBY[1]})

    assert first["service_request_id"] not in (second.get("service_notice") or "")
    assert first["service_request_id"] not in {d["service_request_id"] for d in offered.json()["duplicates"]}
