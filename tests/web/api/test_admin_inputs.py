"""The JSON write routes under /api/v1 (issue 8 §3), both databases: numbers wider than any column, oversized ids
and deep or broken JSON are 400 (they were 500: OverflowError from SQLite), and a missing or unknown key is a 403
before the body is judged."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.storage.sql import SqlUnitOfWork


@pytest.fixture
def admin_key(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> str:
    _, key = create_client(SqlUnitOfWork(engine), clock, "Admin tool", frozenset({Scope.ADMIN}))
    return key


def _filed(client: TestClient, keys: dict[str, str]) -> str:
    reply = client.post(
        "/open311/v2/requests.json",
        data={"api_key": keys["submit"], "service_code": "graffiti", "lat": "40.7", "long": "-73.9"},
    )
    return str(reply.json()[0]["service_request_id"])


def _error(reply: Any, status: int) -> str:
    assert reply.status_code == status, (reply.status_code, reply.text[:300])
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    body = reply.json()
    assert all(e["code"] == status for e in body), body
    return " ".join(e["description"] for e in body)


@pytest.mark.parametrize(
    "ids", [[2**63], [99999999999999999999999], [2**31], [0], [-1]], ids=["2^63", "10^23", "2^31", "zero", "negative"]
)
def test_replay__id_no_column_holds__400(client: TestClient, admin_key: str, ids: list[int]) -> None:
    reply = client.post("/api/v1/deliveries/replay", json={"ids": ids}, headers={"x-api-key": admin_key})
    assert "body.ids" in _error(reply, 400)


@pytest.mark.parametrize("task", ["99999999999999999999", str(2**31), "0"])
def test_manual_done__task_id_no_column_holds__400(client: TestClient, admin_key: str, task: str) -> None:
    done = {"minutes": 3, "by": "Ana"}
    reply = client.post(f"/api/v1/manual/{task}/done", json=done, headers={"x-api-key": admin_key})
    assert "task_id" in _error(reply, 400)


def test_manual_done__unknown_task_in_range__404(client: TestClient, admin_key: str) -> None:
    done = {"minutes": 3, "by": "Ana"}
    reply = client.post("/api/v1/manual/2147483647/done", json=done, headers={"x-api-key": admin_key})
    _error(reply, 404)


@pytest.mark.parametrize(
    "body",
    [
        '{"ids":' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"ids":[' + "9" * 5000 + "]}",
        '{"ids":[1],"connector":"\\ud800"}',
        '{"ids":[1e400]}',
    ],
    ids=["deep", "5000 digits", "lone surrogate", "1e400"],
)
def test_replay__unusable_json__400(client: TestClient, admin_key: str, body: str) -> None:
    reply = client.post(
        "/api/v1/deliveries/replay",
        content=body.encode(),
        headers={"x-api-key": admin_key, "content-type": "application/json"},
    )
    _error(reply, 400)


def test_merge_and_change__oversized_values__400(client: TestClient, keys: dict[str, str]) -> None:
    rid = _filed(client, keys)
    headers = {"x-api-key": keys["admin"]}
    merge = client.post(f"/api/v1/requests/{rid}/merge", json={"into": "1" * 100_000}, headers=headers)
    change = client.patch(f"/api/v1/requests/{rid}", json={"service_code": "x" * 100_000}, headers=headers)
    long_path = client.patch(f"/api/v1/requests/{'1' * 5000}", json={"note": "x"}, headers=headers)
    for reply in (merge, change, long_path):
        _error(reply, 400)
        assert len(reply.content) < 1000


WRITES = [
    ("post", "/api/v1/deliveries/replay", {"ids": ["x"]}),
    ("post", "/api/v1/manual/1/done", {"minutes": -1}),
    ("post", "/api/v1/requests/1/merge", {"into": ["not text"]}),
    ("patch", "/api/v1/requests/1", {"lat": 100}),
    ("post", "/api/v1/requests/1/followers", {"email": 5, "unknown": True}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[w[1] + " " + w[0] for w in WRITES])
@pytest.mark.parametrize("key", [None, "cs_not_a_key"])
def test_json_writes__no_or_unknown_key_and_invalid_body__403(
    client: TestClient, method: str, path: str, body: dict[str, Any], key: str | None
) -> None:
    headers = {} if key is None else {"x-api-key": key}
    reply = client.request(method.upper(), path, json=body, headers=headers)
    assert "api_key" in _error(reply, 403)


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[w[1] + " " + w[0] for w in WRITES])
def test_json_writes__known_key_and_invalid_body__400(
    client: TestClient, admin_key: str, method: str, path: str, body: dict[str, Any]
) -> None:
    reply = client.request(method.upper(), path, json=body, headers={"x-api-key": admin_key})
    _error(reply, 400)


def test_json_writes__unknown_key_in_the_body__403(client: TestClient) -> None:
    reply = client.post("/api/v1/requests/1/merge", json={"api_key": "cs_nope", "into": 5})
    _error(reply, 403)


def test_lists__limit_not_ascii_digits__400(client: TestClient, admin_key: str) -> None:
    for value in ("1_0", "１"):
        reply = client.get("/api/v1/deliveries", params={"limit": value}, headers={"x-api-key": admin_key})
        assert "limit" in _error(reply, 400), value
