"""Open311Sender against a scripted server (httpx.MockTransport): the form it POSTs, tokens, updates and the
HTTP → outcome mapping."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.utils import format_datetime as http_date

import httpx
import pytest
from open311_client_support import (
    ENDPOINT,
    KEY,
    NOW,
    Server,
    closed_fixed,
    connector,
    errors,
    first,
    form_of,
    message,
    ok,
    params_of,
    service_request,
)

from civicswitch.core.clock import FixedClock
from civicswitch.hub.connectors.open311 import Open311Sender, token_in
from civicswitch.hub.model import Connector, MessageType, OutboundMessage, Outcome, OutcomeKind, StatusMap
from civicswitch.requests.model import Event, Status

POST_REQUESTS = "POST /requests.json"
POST_UPDATES = "POST /servicerequestupdates.json"


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def send(server: Server, c: Connector, m: OutboundMessage, sleeps: Sleeps | None = None) -> Outcome:
    async def go() -> Outcome:
        sender = Open311Sender(transport=server.transport, clock=FixedClock(NOW), sleep=sleeps or Sleeps())
        try:
            return await sender.send(c, m)
        finally:
            await sender.aclose()

    return asyncio.run(go())


# -- created: the POST ------------------------------------------------------------------------------------
def test_send_created__realtime_reply__delivered_with_their_id() -> None:
    server = Server().on(POST_REQUESTS, ok([{"service_request_id": "DOT-981", "service_notice": "3 days"}]))
    outcome = send(server, connector(), message())
    assert outcome.kind == OutcomeKind.DELIVERED
    assert outcome.external_id == "DOT-981"
    assert outcome.status_code == 200
    assert [str(r.url) for r in server.seen] == [ENDPOINT + "/requests.json"]


def test_send_created__numeric_id__kept_as_text() -> None:
    server = Server().on(POST_REQUESTS, ok([{"service_request_id": 981}], status=201))
    outcome = send(server, connector(), message())
    assert (outcome.kind, outcome.external_id, outcome.status_code) == (OutcomeKind.DELIVERED, "981", 201)


def test_send_created__form_body__open311_fields_mapped_code_and_key() -> None:
    server = Server().on(POST_REQUESTS, ok([{"service_request_id": "1"}]))
    c = connector(jurisdiction_id="city.example", service_code_map={"pothole": "POT-01"})
    request = service_request(zipcode="10001", media_url="https://img.example/1.jpg")
    send(server, c, message(request=request, on=c))
    (post,) = server.seen
    assert post.method == "POST"
    assert post.headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8"
    pairs = form_of(post)
    fields = first(pairs)
    assert fields["service_code"] == "POT-01"
    assert (fields["lat"], fields["long"]) == ("40.7128", "-74.006")
    assert fields["address_string"] == "1 Main St"
    assert fields["zipcode"] == "10001"
    assert fields["description"] == "Deep hole by the bus stop"
    assert fields["media_url"] == "https://img.example/1.jpg"
    assert fields["jurisdiction_id"] == "city.example"
    assert fields["api_key"] == KEY
    assert ("attribute[size]", "small") in pairs
    assert [v for k, v in pairs if k == "attribute[lanes][]"] == ["left", "right"]
    assert "email" not in fields  # no contact unless include_contact


def test_send_created__unmapped_code_and_no_optional_fields__sent_as_is_without_empties() -> None:
    server = Server().on(POST_REQUESTS, ok([{"service_request_id": "1"}]))
    request = service_request(
        service_code="graffiti", lat=None, long=None, address="2 Elm St", description="", attributes={}
    )
    send(server, connector(secret=None), message(request=request))
    fields = first(form_of(server.seen[0]))
    assert fields["service_code"] == "graffiti"
    assert set(fields) == {"service_code", "address_string"}


def test_send_created__relative_media_url__left_out() -> None:
    server = Server().on(POST_REQUESTS, ok([{"service_request_id": "1"}]))
    send(server, connector(), message(request=service_request(media_url="/media/abc123")))
    assert "media_url" not in first(form_of(server.seen[0]))


def test_send_created__tiny_and_round_coordinates__plain_decimals() -> None:
    server = Server().on(POST_REQUESTS, ok([{"service_request_id": "1"}]))
    send(server, connector(), message(request=service_request(lat=0.00001, long=-74.0)))
    fields = first(form_of(server.seen[0]))
    assert (fields["lat"], fields["long"]) == ("0.00001", "-74.0")


def test_send_created__include_contact__contact_fields_sent() -> None:
    server = Server().on(POST_REQUESTS, ok([{"service_request_id": "1"}]))
    c = connector(include_contact=True)
    contact = {"first_name": "Jane", "email": "jane@example.org", "phone": "+1-555-0100"}
    send(server, c, message(on=c, contact=contact))
    fields = first(form_of(server.seen[0]))
    assert (fields["first_name"], fields["email"], fields["phone"]) == ("Jane", "jane@example.org", "+1-555-0100")
    assert "last_name" not in fields


# -- created: tokens --------------------------------------------------------------------------------------
def test_send_created__token_then_id__follows_token_and_delivers_id() -> None:
    server = (
        Server()
        .on(POST_REQUESTS, ok([{"token": "tok-1"}]))
        .on(
            "GET /tokens/tok-1.json",
            ok([{"token": "tok-1"}]),
            ok([{"token": "tok-1", "service_request_id": None}]),
            ok([{"token": "tok-1", "service_request_id": "DOT-5"}]),
        )
    )
    sleeps = Sleeps()
    outcome = send(server, connector(jurisdiction_id="city.example"), message(), sleeps)
    assert (outcome.kind, outcome.external_id) == (OutcomeKind.DELIVERED, "DOT-5")
    assert "token tok-1" in outcome.detail
    lookups = server.requests("GET /tokens/tok-1.json")
    assert len(lookups) == 3
    assert params_of(lookups[0]) == {"jurisdiction_id": "city.example"}  # no api_key on GETs
    assert sleeps.waits == [0.5, 1.0]


def test_send_created__token_never_resolved__delivered_with_token_in_detail() -> None:
    server = (
        Server().on(POST_REQUESTS, ok([{"token": "a b;c"}])).on("GET /tokens/a%20b%3Bc.json", ok([{"token": "a b;c"}]))
    )
    sleeps = Sleeps()
    outcome = send(server, connector(), message(), sleeps)
    assert outcome.kind == OutcomeKind.DELIVERED
    assert outcome.external_id is None
    assert token_in(outcome.detail) == "a b;c"
    assert "after 5 lookup(s)" in outcome.detail
    assert len(server.requests("GET /tokens/a%20b%3Bc.json")) == 5
    assert sum(sleeps.waits) <= 10.0  # within timeout_s


def test_send_created__token_lookups_fail__still_delivered_never_retried() -> None:
    server = (
        Server()
        .on(POST_REQUESTS, ok([{"token": "t9"}]))
        .on("GET /tokens/t9.json", errors(503, "busy"), httpx.ConnectError("refused"), httpx.Response(200, text="<"))
    )
    outcome = send(server, connector(), message())
    assert outcome.kind == OutcomeKind.DELIVERED  # the POST succeeded: a retry would file it twice
    assert token_in(outcome.detail) == "t9"


def test_send_created__short_timeout__fewer_token_lookups() -> None:
    server = Server().on(POST_REQUESTS, ok([{"token": "t"}])).on("GET /tokens/t.json", ok([{"token": "t"}]))
    outcome = send(server, connector(timeout_s=0.8), message())
    assert token_in(outcome.detail) == "t"
    assert len(server.requests("GET /tokens/t.json")) == 2  # the 1 s wait before a 3rd would pass the timeout


def test_token_in__other_details__none() -> None:
    assert token_in("service_request_id 5") is None
    assert token_in("") is None
    assert token_in(None) is None


def test_send_created__reply_without_id_or_token__delivered_saying_so() -> None:
    server = Server().on(POST_REQUESTS, ok([{"service_notice": "Thanks", "account_id": None}]))
    outcome = send(server, connector(), message())
    assert outcome.kind == OutcomeKind.DELIVERED and outcome.external_id is None
    assert "without a service_request_id or a token" in outcome.detail
    assert "Thanks" in outcome.detail


def test_send_created__object_instead_of_list__accepted() -> None:
    server = Server().on(POST_REQUESTS, ok({"service_request_id": "X1"}))
    assert send(server, connector(), message()).external_id == "X1"


def test_send_created__id_longer_than_stored__delivered_without_it() -> None:
    server = Server().on(POST_REQUESTS, ok([{"service_request_id": "x" * 201}]))
    outcome = send(server, connector(), message())
    assert outcome.kind == OutcomeKind.DELIVERED and outcome.external_id is None
    assert "longer than 200" in outcome.detail


# -- HTTP → outcome ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_send__temporary_status__retry_with_description(status: int) -> None:
    server = Server().on(POST_REQUESTS, errors(status, "CRM is down for maintenance"))
    outcome = send(server, connector(), message())
    assert outcome.kind == OutcomeKind.RETRY
    assert outcome.status_code == status
    assert "CRM is down for maintenance" in outcome.detail
    assert f"HTTP {status} from {ENDPOINT}/requests.json" in outcome.detail


def test_send__retry_after_seconds__honoured() -> None:
    server = Server().on(POST_REQUESTS, errors(503, "later", **{"Retry-After": "120"}))
    outcome = send(server, connector(), message())
    assert (outcome.kind, outcome.retry_after) == (OutcomeKind.RETRY, 120.0)


def test_send__retry_after_http_date__seconds_from_now() -> None:
    when = http_date(NOW + timedelta(minutes=5), usegmt=True)
    server = Server().on(POST_REQUESTS, errors(429, "slow down", **{"Retry-After": when}))
    outcome = send(server, connector(), message())
    assert (outcome.kind, outcome.retry_after) == (OutcomeKind.RETRY, 300.0)


def test_send__retry_after_unreadable__none() -> None:
    server = Server().on(POST_REQUESTS, errors(503, "later", **{"Retry-After": "soon"}))
    assert send(server, connector(), message()).retry_after is None


def test_send__410__gone() -> None:
    server = Server().on(POST_REQUESTS, errors(410, "This endpoint was retired"))
    outcome = send(server, connector(), message())
    assert (outcome.kind, outcome.status_code) == (OutcomeKind.GONE, 410)
    assert "retired" in outcome.detail


@pytest.mark.parametrize("status", [400, 404, 415, 422])
def test_send__client_error__failed_with_open311_description(status: int) -> None:
    server = Server().on(POST_REQUESTS, errors(status, "service_code 'POT-01' is not in the service list"))
    outcome = send(server, connector(), message())
    assert (outcome.kind, outcome.status_code) == (OutcomeKind.FAILED, status)
    assert "service_code 'POT-01' is not in the service list" in outcome.detail


def test_send__403__failed_pointing_at_the_key() -> None:
    server = Server().on(POST_REQUESTS, errors(403, "api_key is not valid"))
    outcome = send(server, connector(), message())
    assert outcome.kind == OutcomeKind.FAILED
    assert "api_key is not valid" in outcome.detail and "connector's secret" in outcome.detail
    assert KEY not in outcome.detail.replace("key", "")  # the key itself is never echoed


def test_send__several_errors__all_descriptions() -> None:
    body = [{"code": 400, "description": "lat is bad"}, {"code": 400, "description": "long is bad"}]
    server = Server().on(POST_REQUESTS, httpx.Response(400, json=body))
    assert "lat is bad; long is bad" in send(server, connector(), message()).detail


def test_send__xml_error_body__description_read() -> None:
    xml = (
        '<?xml version="1.0" encoding="utf-8"?><errors><error><code>400</code>'
        "<description>attribute size is required</description></error></errors>"
    )
    server = Server().on(POST_REQUESTS, httpx.Response(400, text=xml, headers={"content-type": "text/xml"}))
    outcome = send(server, connector(), message())
    assert outcome.kind == OutcomeKind.FAILED and "attribute size is required" in outcome.detail


def test_send__error_without_open311_body__status_and_snippet() -> None:
    server = Server().on(POST_REQUESTS, httpx.Response(400, text="<html>Bad things</html>"))
    outcome = send(server, connector(), message())
    assert outcome.kind == OutcomeKind.FAILED and "Bad Request" in outcome.detail and "Bad things" in outcome.detail


def test_send__redirect__failed_naming_the_new_place() -> None:
    server = Server().on(POST_REQUESTS, httpx.Response(301, headers={"location": "https://new.example/v2"}))
    outcome = send(server, connector(), message())
    assert outcome.kind == OutcomeKind.FAILED and "https://new.example/v2" in outcome.detail


@pytest.mark.parametrize(
    "body", ["<html>maintenance</html>", "", '"just a string"', "[1, 2]", '{"a": [1'], ids=str.strip
)
def test_send__2xx_not_open311_json__retry_saying_why(body: str) -> None:
    server = Server().on(POST_REQUESTS, httpx.Response(200, text=body))
    outcome = send(server, connector(), message())
    assert outcome.kind == OutcomeKind.RETRY
    assert outcome.status_code == 200
    assert "not JSON" in outcome.detail or "not an Open311 reply" in outcome.detail


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("connection refused"), httpx.RemoteProtocolError("server hung up")],
    ids=["connect", "protocol"],
)
def test_send__connection_error__retry(error: Exception) -> None:
    outcome = send(Server().on(POST_REQUESTS, error), connector(), message())
    assert outcome.kind == OutcomeKind.RETRY and "could not reach" in outcome.detail
    assert outcome.status_code is None


def test_send__timeout__retry() -> None:
    outcome = send(Server().on(POST_REQUESTS, httpx.ReadTimeout("slow")), connector(timeout_s=2), message())
    assert outcome.kind == OutcomeKind.RETRY and "timed out after 2 s" in outcome.detail


def test_send__misconfigured_connector__failed_without_a_call() -> None:
    server = Server()
    broken = Connector(code="dot-311", kind=connector().kind, body_code="DOT", config={"endpoint": "nope"})
    outcome = send(server, broken, message())
    assert outcome.kind == OutcomeKind.FAILED and "misconfigured" in outcome.detail
    assert server.seen == []


# -- status changes and notes -----------------------------------------------------------------------------
def test_send_status_changed__updates_not_supported__delivered_without_a_call() -> None:
    server = Server()
    request, event = closed_fixed()
    outcome = send(server, connector(), message(MessageType.STATUS_CHANGED, request=request, event=event))
    assert outcome.kind == OutcomeKind.DELIVERED
    assert "not supported by this endpoint" in outcome.detail
    assert server.seen == []


def test_send_status_changed__updates_supported__posts_fixmystreet_update() -> None:
    server = Server().on(POST_UPDATES, ok([{"update_id": "U-77"}]))
    c = connector(updates_supported=True, jurisdiction_id="city.example")
    request, event = closed_fixed("Filled the hole")
    m = message(MessageType.STATUS_CHANGED, request=request, event=event, on=c, external_id="DOT-981", key="cs_k1")
    outcome = send(server, c, m)
    assert outcome.kind == OutcomeKind.DELIVERED and "U-77" in outcome.detail
    assert outcome.external_id is None
    (post,) = server.seen
    assert str(post.url) == ENDPOINT + "/servicerequestupdates.json"
    assert first(form_of(post)) == {
        "jurisdiction_id": "city.example",
        "service_request_id": "DOT-981",
        "update_id": "cs_k1",
        "status": "FIXED",
        "updated_datetime": "2026-11-28T12:00:00Z",
        "description": "Filled the hole",
        "api_key": KEY,
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status.ACKNOWLEDGED, "INVESTIGATING"),
        (Status.IN_PROGRESS, "IN_PROGRESS"),
        (Status.ON_HOLD, "ACTION_SCHEDULED"),
        (Status.REOPENED, "OPEN"),
    ],
)
def test_send_status_changed__canonical_status__fixmystreet_status(status: Status, expected: str) -> None:
    server = Server().on(POST_UPDATES, ok([{"update_id": "1"}]))
    c = connector(updates_supported=True)
    request = service_request(status=status)
    event = Event(at=NOW, kind="status_changed", status_to=status)
    send(server, c, message(MessageType.STATUS_CHANGED, request=request, event=event, on=c, external_id="9"))
    assert first(form_of(server.seen[0]))["status"] == expected


def test_send_status_changed__outbound_status_map__wins() -> None:
    server = Server().on(POST_UPDATES, ok([{"update_id": "1"}]))
    c = connector(StatusMap(outbound={"closed/fixed": "CLOSED"}), updates_supported=True)
    request, event = closed_fixed()
    send(server, c, message(MessageType.STATUS_CHANGED, request=request, event=event, on=c, external_id="9"))
    assert first(form_of(server.seen[0]))["status"] == "CLOSED"


def test_send_note__updates_supported__current_status_and_note_text() -> None:
    server = Server().on(POST_UPDATES, ok([{"update_id": "1"}]))
    c = connector(updates_supported=True)
    request = service_request(status=Status.IN_PROGRESS)
    event = Event(at=NOW + timedelta(minutes=3), kind="note", description="Crew booked for Monday")
    send(server, c, message(MessageType.NOTE, request=request, event=event, on=c, external_id="9"))
    fields = first(form_of(server.seen[0]))
    assert (fields["status"], fields["description"]) == ("IN_PROGRESS", "Crew booked for Monday")
    assert fields["updated_datetime"] == "2026-11-28T12:03:00Z"


def test_send_status_changed__their_id_unknown__retry_without_a_call() -> None:
    server = Server()
    c = connector(updates_supported=True)
    request, event = closed_fixed()
    outcome = send(server, c, message(MessageType.STATUS_CHANGED, request=request, event=event, on=c))
    assert outcome.kind == OutcomeKind.RETRY and "not known yet" in outcome.detail
    assert server.seen == []


def test_send_status_changed__server_refuses__failed_with_description() -> None:
    server = Server().on(POST_UPDATES, errors(400, "cannot go from closed to in_progress"))
    c = connector(updates_supported=True)
    request, event = closed_fixed()
    outcome = send(server, c, message(MessageType.STATUS_CHANGED, request=request, event=event, on=c, external_id="9"))
    assert outcome.kind == OutcomeKind.FAILED and "cannot go from closed" in outcome.detail


def test_send_transferred__no_open311_equivalent__delivered_without_a_call() -> None:
    server = Server()
    outcome = send(server, connector(updates_supported=True), message(MessageType.TRANSFERRED, external_id="9"))
    assert outcome.kind == OutcomeKind.DELIVERED and "no Open311 equivalent" in outcome.detail
    assert server.seen == []


# -- the shared client ------------------------------------------------------------------------------------
def test_sender__concurrent_sends__one_client_all_delivered() -> None:
    server = Server().on(POST_REQUESTS, ok([{"service_request_id": "1"}]))

    async def go() -> list[Outcome]:
        sender = Open311Sender(transport=server.transport, clock=FixedClock(NOW))
        try:
            return list(await asyncio.gather(*(sender.send(connector(), message(key=f"cs_{i}")) for i in range(20))))
        finally:
            await sender.aclose()

    outcomes = asyncio.run(go())
    assert all(o.kind == OutcomeKind.DELIVERED for o in outcomes)
    assert len(server.seen) == 20


def test_sender__aclose__closes_its_client() -> None:
    async def go() -> Outcome:
        sender = Open311Sender(transport=Server().transport)
        await sender.aclose()
        return await sender.send(connector(), message())

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(go())
