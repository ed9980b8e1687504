"""Open311Poller against a scripted server: FixMyStreet updates, requests?updated_after, the cursor, tokens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest
from open311_client_support import KEY, NOW, Server, connector, errors, ok, params_of

from civicswitch.core.clock import FixedClock
from civicswitch.hub.connectors.open311 import TOKEN_UPDATE_PREFIX, Open311Poller, PollFailed, remember_token
from civicswitch.hub.model import Connector, InboundUpdate, OutcomeKind

UPDATES = "GET /servicerequestupdates.json"
REQUESTS = "GET /requests.json"


def poll(
    server: Server, c: Connector, cursor: str | None, clock: FixedClock | None = None
) -> tuple[Sequence[InboundUpdate], str | None]:
    async def go() -> tuple[Sequence[InboundUpdate], str | None]:
        poller = Open311Poller(transport=server.transport, clock=clock or FixedClock(NOW))
        try:
            return await poller.poll(c, cursor)
        finally:
            await poller.aclose()

    return asyncio.run(go())


def update(
    update_id: str, at: str, status: str = "in_progress", request: str = "DOT-1", **extra: Any
) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "service_request_id": request,
        "status": status,
        "updated_datetime": at,
        "description": f"update {update_id}",
        "media_url": "",
        **extra,
    }


def request_item(rid: str | None, updated: str, status: str = "open", **extra: Any) -> dict[str, Any]:
    return {
        "service_request_id": rid,
        "status": status,
        "status_notes": f"notes of {rid}",
        "requested_datetime": "2026-11-01T00:00:00Z",
        "updated_datetime": updated,
        "media_url": None,
        **extra,
    }


# -- poll: updates (FixMyStreet servicerequestupdates) ----------------------------------------------------
def test_poll_updates__first_poll__last_two_hours_to_now_as_inbound_updates() -> None:
    server = Server().on(
        UPDATES,
        ok(
            [
                update("u1", "2026-11-28T11:00:00Z", "investigating", media_url="https://img.example/a.jpg"),
                update("u2", "2026-11-28T11:30:00-05:00", "fixed", request="DOT-2"),
            ]
        ),
    )
    c = connector(poll="updates", jurisdiction_id="city.example")
    updates, cursor = poll(server, c, None)
    assert params_of(server.seen[0]) == {
        "start_date": "2026-11-28T10:00:00Z",
        "end_date": "2026-11-28T12:00:00Z",
        "api_key": KEY,
        "jurisdiction_id": "city.example",
    }
    first, second = updates
    assert first == InboundUpdate(
        update_id="u1",
        status="investigating",
        at=NOW - timedelta(hours=1),
        external_id="DOT-1",
        description="update u1",
        media_url="https://img.example/a.jpg",
    )
    assert (second.update_id, second.status, second.external_id, second.media_url) == ("u2", "fixed", "DOT-2", None)
    assert second.at == NOW + timedelta(hours=4, minutes=30)  # -05:00 read as such
    assert cursor is not None


def test_poll_updates__same_feed_again__nothing_new_and_asks_from_the_high_water() -> None:
    feed = ok([update("u1", "2026-11-28T11:00:00Z"), update("u2", "2026-11-28T11:40:00Z")])
    server = Server().on(UPDATES, feed)
    c = connector(poll="updates")
    _, cursor = poll(server, c, None)
    again, cursor2 = poll(server, c, cursor)
    assert again == []
    assert params_of(server.seen[1])["start_date"] == "2026-11-28T11:40:00Z"
    assert cursor2 == cursor


def test_poll_updates__new_update_at_the_same_instant__reported_once() -> None:
    server = Server().on(
        UPDATES,
        ok([update("u1", "2026-11-28T11:40:00Z")]),
        ok([update("u1", "2026-11-28T11:40:00Z"), update("u2", "2026-11-28T11:40:00Z")]),
        ok([update("u1", "2026-11-28T11:40:00Z"), update("u2", "2026-11-28T11:40:00Z")]),
    )
    c = connector(poll="updates")
    first, cursor = poll(server, c, None)
    second, cursor = poll(server, c, cursor)
    third, _ = poll(server, c, cursor)
    assert [u.update_id for u in first] == ["u1"]
    assert [u.update_id for u in second] == ["u2"]
    assert third == []


def test_poll_updates__out_of_order_feed__sorted_oldest_first_and_older_than_cursor_dropped() -> None:
    server = Server().on(
        UPDATES,
        ok([update("u1", "2026-11-28T11:00:00Z")]),
        ok(
            [
                update("u3", "2026-11-28T11:50:00Z"),
                update("u0", "2026-11-28T10:59:00Z"),
                update("u2", "2026-11-28T11:20:00Z"),
            ]
        ),
    )
    c = connector(poll="updates")
    _, cursor = poll(server, c, None)
    later, _ = poll(server, c, cursor)
    assert [u.update_id for u in later] == ["u2", "u3"]


def test_poll_updates__items_without_id_or_time__skipped() -> None:
    server = Server().on(
        UPDATES,
        ok(
            [
                update("", "2026-11-28T11:00:00Z"),
                update("u2", "not a date"),
                {"update_id": "u3", "status": "open"},
                update("u4", "2026-11-28T11:10:00", media_url=["", "https://img.example/b.jpg"]),
            ]
        ),
    )
    updates, _ = poll(server, connector(poll="updates"), None)
    assert [(u.update_id, u.media_url) for u in updates] == [("u4", "https://img.example/b.jpg")]
    assert updates[0].at == NOW - timedelta(minutes=50)  # no timezone: UTC


def test_poll_updates__description_over_4000_characters__cut_to_4000() -> None:
    server = Server().on(UPDATES, ok([update("u1", "2026-11-28T11:00:00Z", description="x" * 5000)]))
    (got,), _ = poll(server, connector(poll="updates"), None)
    assert len(got.description) == 4000


def test_poll_updates__no_secret__no_api_key_sent() -> None:
    server = Server().on(UPDATES, ok([]))
    poll(server, connector(poll="updates", secret=None), None)
    assert "api_key" not in params_of(server.seen[0])


def test_poll_updates__quiet_feed__cursor_keeps_the_first_window_start() -> None:
    server = Server().on(UPDATES, ok([]))
    clock = FixedClock(NOW)
    c = connector(poll="updates")
    _, cursor = poll(server, c, None, clock)
    clock.advance(timedelta(hours=5))
    _, cursor = poll(server, c, cursor, clock)
    asked = params_of(server.seen[1])
    assert (asked["start_date"], asked["end_date"]) == ("2026-11-28T10:00:00Z", "2026-11-28T17:00:00Z")


def test_poll_updates__update_stamped_ahead_of_our_clock__reported_once_and_mark_stays_at_now() -> None:
    ahead = update("u9", "2026-11-28T12:30:00Z")
    server = Server().on(UPDATES, ok([ahead]), ok([update("u2", "2026-11-28T12:10:00Z"), ahead]), ok([ahead]))
    clock = FixedClock(NOW)
    c = connector(poll="updates")
    first, cursor = poll(server, c, None, clock)
    assert json.loads(cursor or "")["after"] == NOW.isoformat()  # not 12:30
    clock.advance(timedelta(minutes=20))
    second, cursor = poll(server, c, cursor, clock)
    assert params_of(server.seen[1])["start_date"] == "2026-11-28T12:00:00Z"
    clock.advance(timedelta(minutes=20))
    third, cursor = poll(server, c, cursor, clock)
    assert [u.update_id for u in first] == ["u9"]
    assert [u.update_id for u in second] == ["u2"]  # stamped between our mark and u9: not skipped
    assert third == []
    assert json.loads(cursor or "")["seen"] == {"u9": "2026-11-28T12:30:00+00:00"}


def test_poll__bare_datetime_cursor__read_from_there() -> None:
    server = Server().on(UPDATES, ok([]))
    poll(server, connector(poll="updates"), "2026-11-01T00:00:00Z")
    assert params_of(server.seen[0])["start_date"] == "2026-11-01T00:00:00Z"


# -- poll: requests (requests.json?updated_after) ---------------------------------------------------------
def test_poll_requests__pages_until_empty__each_change_once() -> None:
    server = Server().on(
        REQUESTS,
        ok([request_item("A", "2026-11-28T11:30:00Z", "closed"), request_item("B", "2026-11-28T11:00:00Z")]),
        ok([request_item("C", "2026-11-28T11:45:00Z")]),
        ok([]),
    )
    c = connector(jurisdiction_id="city.example")
    updates, cursor = poll(server, c, None)
    assert [params_of(r) for r in server.seen] == [
        {"updated_after": "2026-11-28T10:00:00Z", "page": str(n), "jurisdiction_id": "city.example"} for n in (1, 2, 3)
    ]
    assert [(u.update_id, u.status, u.external_id) for u in updates] == [
        ("B@2026-11-28T11:00:00Z", "open", "B"),
        ("A@2026-11-28T11:30:00Z", "closed", "A"),
        ("C@2026-11-28T11:45:00Z", "open", "C"),
    ]
    assert updates[1].description == "notes of A"
    assert json.loads(cursor or "")["after"] == "2026-11-28T11:45:00+00:00"


def test_poll_requests__server_ignores_page__stops_at_the_repeat() -> None:
    server = Server().on(REQUESTS, ok([request_item("A", "2026-11-28T11:30:00Z")]))
    updates, _ = poll(server, connector(), None)
    assert len(server.seen) == 2
    assert [u.external_id for u in updates] == ["A"]


def test_poll_requests__server_ignores_updated_after__old_changes_dropped() -> None:
    server = Server().on(
        REQUESTS,
        ok([request_item("A", "2026-11-28T11:30:00Z"), request_item("OLD", "2026-10-01T00:00:00Z")]),
        ok([]),
    )
    updates, _ = poll(server, connector(), None)
    assert [u.external_id for u in updates] == ["A"]


def test_poll_requests__request_changes_again__reported_again() -> None:
    server = Server().on(
        REQUESTS,
        ok([request_item("A", "2026-11-28T11:30:00Z")]),
        ok([]),
        ok([request_item("A", "2026-11-28T11:55:00Z", "closed")]),
        ok([]),
    )
    c = connector()
    _, cursor = poll(server, c, None)
    updates, _ = poll(server, c, cursor)
    assert [(u.update_id, u.status) for u in updates] == [("A@2026-11-28T11:55:00Z", "closed")]


def test_poll_requests__requests_without_id__skipped() -> None:
    server = Server().on(REQUESTS, ok([request_item(None, "2026-11-28T11:30:00Z", token="t")]), ok([]))
    updates, _ = poll(server, connector(), None)
    assert updates == []


def test_poll_off__no_feed_read() -> None:
    server = Server()
    updates, cursor = poll(server, connector(poll="off"), None)
    assert (updates, server.seen) == ([], [])
    assert cursor is not None


# -- failures ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        (errors(503, "down", **{"Retry-After": "60"}), OutcomeKind.RETRY, "down"),
        (errors(410, "retired"), OutcomeKind.GONE, "retired"),
        (errors(400, "start_date is bad"), OutcomeKind.FAILED, "start_date is bad"),
        (httpx.Response(200, text="<html>"), OutcomeKind.RETRY, "not JSON"),
        (ok({"updates": []}), OutcomeKind.RETRY, "not an Open311 list"),
        (httpx.ConnectError("refused"), OutcomeKind.RETRY, "could not reach"),
        (httpx.ReadTimeout("slow"), OutcomeKind.RETRY, "timed out"),
    ],
    ids=["503", "410", "400", "html", "object", "connect", "timeout"],
)
def test_poll__feed_unreadable__poll_failed_with_outcome(reply: Any, kind: OutcomeKind, words: str) -> None:
    server = Server().on(UPDATES, reply)
    with pytest.raises(PollFailed) as caught:
        poll(server, connector(poll="updates"), None)
    assert caught.value.outcome.kind == kind
    assert words in caught.value.outcome.detail
    if kind == OutcomeKind.RETRY and isinstance(reply, httpx.Response) and reply.status_code == 503:
        assert caught.value.outcome.retry_after == 60.0


def test_poll__unreadable_cursor__poll_failed_naming_it() -> None:
    with pytest.raises(PollFailed, match="poll cursor"):
        poll(Server(), connector(), "{not json")
    with pytest.raises(PollFailed, match="poll cursor"):
        poll(Server(), connector(), "yesterday")


# -- tokens -----------------------------------------------------------------------------------------------
def test_poll__remembered_token_resolved__link_update_and_token_forgotten() -> None:
    server = Server().on("GET /tokens/tok-1.json", ok([{"token": "tok-1", "service_request_id": "DOT-5"}]))
    c = connector(poll="off")
    cursor = remember_token(None, "tok-1", 42, NOW)
    updates, cursor = poll(server, c, cursor)
    assert updates == [
        InboundUpdate(
            update_id=TOKEN_UPDATE_PREFIX + "tok-1", status="", at=NOW, service_request_id="42", external_id="DOT-5"
        )
    ]
    assert json.loads(cursor or "")["tokens"] == {}


def test_poll__token_not_yet_assigned__kept_for_the_next_poll() -> None:
    server = Server().on(
        "GET /tokens/tok-1.json",
        ok([{"token": "tok-1"}]),
        errors(503, "busy"),
        ok([{"token": "tok-1", "service_request_id": "DOT-5"}]),
    )
    c = connector(poll="off")
    cursor: str | None = remember_token(None, "tok-1", 42, NOW)
    first, cursor = poll(server, c, cursor)
    second, cursor = poll(server, c, cursor)
    third, cursor = poll(server, c, cursor)
    assert (first, second) == ([], [])
    assert [u.external_id for u in third] == ["DOT-5"]


def test_poll__unknown_token__dropped() -> None:
    server = Server().on("GET /tokens/gone.json", errors(404, "token 'gone' does not exist"))
    _, cursor = poll(server, connector(poll="off"), remember_token(None, "gone", 42, NOW))
    assert json.loads(cursor or "")["tokens"] == {}


def test_poll__token_pending_for_over_a_week__given_up() -> None:
    server = Server().on("GET /tokens/old.json", ok([{"token": "old"}]))
    cursor = remember_token(None, "old", 42, NOW - timedelta(days=8))
    _, cursor2 = poll(server, connector(poll="off"), cursor)
    assert json.loads(cursor2 or "")["tokens"] == {}


def test_remember_token__existing_cursor__position_kept() -> None:
    server = Server().on(UPDATES, ok([update("u1", "2026-11-28T11:00:00Z")]))
    _, cursor = poll(server, connector(poll="updates"), None)
    data = json.loads(remember_token(cursor, "t", 7, NOW))
    assert (data["after"], data["seen"]) == ("2026-11-28T11:00:00+00:00", {"u1": "2026-11-28T11:00:00+00:00"})
    assert data["tokens"] == {"t": {"request_id": "7", "since": NOW.isoformat()}}


def test_poll__tokens_and_feed__link_updates_come_first() -> None:
    server = (
        Server()
        .on("GET /tokens/t.json", ok([{"token": "t", "service_request_id": "DOT-5"}]))
        .on(UPDATES, ok([update("u1", "2026-11-28T11:00:00Z", request="DOT-5")]))
    )
    updates, _ = poll(server, connector(poll="updates"), remember_token(None, "t", 42, NOW))
    assert [u.update_id for u in updates] == ["token:t", "u1"]
