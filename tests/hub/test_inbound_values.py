"""Inbound values a body's system may not send (issue 8 §3), on both databases: signed pushes that used to end in
a 500 (RecursionError, ValueError, UnicodeEncodeError) or were applied (a time before the request was filed, or in
the future; a javascript: photo link) are 400 with nothing written; polled updates go through the same checks."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import Invalid
from civicswitch.hub.handlers import add_connector
from civicswitch.hub.inbound import apply_update
from civicswitch.hub.model import InboundUpdate
from civicswitch.hub.signing import sign_headers
from civicswitch.requests.tables import request_events
from civicswitch.storage.sql import SqlUnitOfWork

STATUS_MAP = {"inbound": {"WIP": "in_progress", "DONE": "closed/fixed"}, "outbound": {}}


class Push:
    """A connector, one request, and signed pushes to ``/api/v1/connectors/dsny-hook/updates``."""

    def __init__(self, client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]) -> None:
        made = add_connector(
            SqlUnitOfWork(engine), clock, code="dsny-hook", kind="webhook", body="DSNY",
            config={"url": "http://127.0.0.1:9/h", "allow_private": True}, status_map=STATUS_MAP,
        )  # fmt: skip
        assert made.secret is not None
        self.client, self.engine, self.clock, self.secret = client, engine, clock, made.secret
        reply = client.post(
            "/open311/v2/requests.json",
            data={"api_key": keys["submit"], "service_code": "graffiti", "lat": "40.7", "long": "-73.9"},
        )
        self.rid = reply.json()[0]["service_request_id"]
        self.sent = 0

    def raw(self, text: str) -> Any:
        self.sent += 1
        headers = sign_headers(self.secret, f"msg_{self.sent}", self.clock.now(), text)
        return self.client.post(
            "/api/v1/connectors/dsny-hook/updates",
            content=text.encode("utf-8", "surrogatepass"),
            headers={**headers, "content-type": "application/json"},
        )

    def update(self, **fields: Any) -> Any:
        body = {"update_id": f"u{self.sent}", "service_request_id": self.rid, "status": "WIP",
                "updated_datetime": self.clock.now().isoformat(), **fields}  # fmt: skip
        return self.raw(json.dumps(body))

    def events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(request_events)).scalar_one())


@pytest.fixture
def push(client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str]) -> Push:
    return Push(client, engine, clock, keys)


def _refused(reply: Any, text: str) -> None:
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body[0]["code"] == 400 and text in body[0]["description"], body


NOW_ISO = "2026-11-28T12:00:00+00:00"
HEAD = f'{{"update_id":"d","updated_datetime":"{NOW_ISO}","service_request_id":'
UNUSABLE_BODIES = {
    "deep nesting": '{"update_id":"d1","x":' + "[" * 5000 + "]" * 5000 + "}",
    "a 5000-digit integer": HEAD + "9" * 5000 + "}",
    "a 30-digit integer": HEAD + "9" * 30 + "}",
    "a lone surrogate in the description": json.dumps(
        {"update_id": "d4", "service_request_id": "1", "updated_datetime": NOW_ISO, "description": "\ud800"}
    ),
    "a lone surrogate in the update id": json.dumps(
        {"update_id": "\udfff", "service_request_id": "1", "updated_datetime": NOW_ISO}
    ),
    "NaN": HEAD + "NaN}",
}


@pytest.mark.parametrize("what", sorted(UNUSABLE_BODIES))
def test_signed_update__unusable_json__400_never_500_and_nothing_written(push: Push, what: str) -> None:
    before = push.events()
    reply = push.raw(UNUSABLE_BODIES[what])
    assert reply.status_code == 400, (what, reply.status_code, reply.text[:300])
    assert push.events() == before


@pytest.mark.parametrize("field", ["service_request_id", "external_id", "status", "update_id"])
def test_signed_update__oversized_id__400_not_echoed(push: Push, field: str) -> None:
    fields: dict[str, Any] = {field: "7" * 30_000}
    if field == "external_id":
        fields["service_request_id"] = None
    reply = push.update(**fields)
    _refused(reply, "200 characters")
    assert len(reply.content) < 500


def test_signed_update__time_before_the_request_was_filed__400(push: Push) -> None:
    before = push.events()
    _refused(push.update(updated_datetime="2025-01-01T00:00:00Z"), "before the request was filed")
    assert push.events() == before


def test_signed_update__time_in_the_future__400(push: Push) -> None:
    later = (push.clock.now() + timedelta(days=400)).isoformat()
    _refused(push.update(updated_datetime=later), "in the future")


def test_signed_update__skew_is_a_setting(
    engine: Engine, clock: FixedClock, keys: dict[str, str], tmp_path: Any
) -> None:
    from civicswitch.settings import Settings
    from civicswitch.web.app import create_app

    settings = Settings(database_url="sqlite:///unused.db", clock_skew_seconds=3600)
    with TestClient(create_app(settings, engine=engine, clock=clock), raise_server_exceptions=False) as client:
        push = Push(client, engine, clock, keys)
        reply = push.update(updated_datetime=(clock.now() + timedelta(minutes=30)).isoformat())
        assert reply.status_code == 200, reply.text
        _refused(push.update(updated_datetime=(clock.now() + timedelta(minutes=61)).isoformat()), "in the future")


@pytest.mark.parametrize("media_url", ["javascript:alert(1)", "file:///etc/passwd", "ftp://x/y.png", "http://"])
def test_signed_update__media_url_not_http__400(push: Push, media_url: str) -> None:
    _refused(push.update(media_url=media_url), "media_url must be an http(s) URL")


def test_signed_update__http_media_url__applied(push: Push) -> None:
    reply = push.update(media_url="https://dsny.example/photos/1.jpg")
    assert reply.status_code == 200 and reply.json()["applied"], reply.text


def test_polled_update__bad_time_refused_and_bad_media_dropped(push: Push, engine: Engine, clock: FixedClock) -> None:
    """A poller (Open311, batch) has nobody to answer: a time outside the request's life is refused (the worker
    logs it and goes on), a photo link that is not http(s) is dropped and the status still applies."""
    with SqlUnitOfWork(engine) as uow:
        connector = uow.hub.connector("dsny-hook")
        assert connector is not None
        early = InboundUpdate("p1", "WIP", clock.now() - timedelta(days=2), service_request_id=push.rid)
        with pytest.raises(Invalid, match="before the request was filed"):
            apply_update(uow, connector, early, now=clock.now())
        shady = InboundUpdate("p2", "WIP", clock.now(), service_request_id=push.rid, media_url="javascript:alert(1)")
        assert apply_update(uow, connector, shady, now=clock.now()).applied
        uow.commit()
    with SqlUnitOfWork(engine, writing=False) as uow:
        events = uow.requests.events([int(push.rid)], public_only=False)[int(push.rid)]
    assert events[-1].external_id == "p2" and events[-1].media_url is None
