"""Due dates where they are set: at intake (``expected_datetime`` in Open311), when staff change the service, and
when a request comes off hold (the time on hold does not count). Use cases on the memory store, and the API on
SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.hub.handlers import add_connector
from civicswitch.hub.signing import sign_headers
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import ChangeRequest, SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.sla import SlaState, sla_state
from civicswitch.requests.staff import change_request
from civicswitch.requests.views import RequestQuery
from civicswitch.settings import use_stored_settings
from civicswitch.storage.memory import MemoryUnitOfWork
from civicswitch.storage.sql import SqlUnitOfWork

NY = ZoneInfo("America/New_York")
FRIDAY_3PM = datetime(2026, 12, 4, 15, tzinfo=NY)  # after the test clock's start; Monday 12-07 a holiday here
THURSDAY_3PM = datetime(2026, 12, 10, 15, tzinfo=NY)
CALENDAR = {
    "code": "city-hall", "name": "City Hall", "timezone": "America/New_York", "hours": "08:00-17:00",
    "holidays": [{"date": "2026-12-07", "name": "Founders' Day"}],
}  # fmt: skip


def _catalog(base: dict[str, Any], **sla: Any) -> dict[str, Any]:
    document = copy.deepcopy(base)
    document["calendars"] = [CALENDAR]
    for service in document["services"]:
        if service["code"] == "pothole":
            service.pop("sla_hours", None)
            service["sla"] = sla or {"amount": 3, "unit": "business_days", "calendar": "city-hall"}
    return document


def _file(uow: MemoryUnitOfWork, clock: FixedClock, code: str = "pothole") -> str:
    attributes = {"size": ["small"]} if code == "pothole" else {}
    command = SubmitRequest(code, None, address_string="1 Main St", attributes=attributes, principal=OPERATOR)
    result = submit_request(uow, clock, command)
    assert result.service_request_id is not None
    return result.service_request_id


def _expected(uow: MemoryUnitOfWork, rid: str) -> datetime | None:
    with uow:
        request = uow.requests.get(int(rid))
    assert request is not None
    return request.expected_at


def test_submit__business_day_target__due_after_the_weekend_and_the_holiday(catalog_data: dict[str, Any]) -> None:
    uow = MemoryUnitOfWork()
    load_catalog(uow, _catalog(catalog_data))
    rid = _file(uow, FixedClock(FRIDAY_3PM))
    assert _expected(uow, rid) == THURSDAY_3PM
    with uow:
        [shown] = uow.requests.find(RequestQuery(ids=(int(rid),)))
    assert shown.service_notice == "Target response time: 3 business days."
    assert sla_state(shown, THURSDAY_3PM - timedelta(hours=2)) == SlaState.DUE_SOON


def test_submit__sla_hours_target__wall_clock_hours_as_before(catalog_data: dict[str, Any]) -> None:
    uow = MemoryUnitOfWork()
    load_catalog(uow, catalog_data)  # pothole: sla_hours 72
    rid = _file(uow, FixedClock(FRIDAY_3PM))
    assert _expected(uow, rid) == FRIDAY_3PM + timedelta(hours=72)


def test_submit__calendar_without_zone__counts_in_the_instance_timezone(catalog_data: dict[str, Any]) -> None:
    uow = MemoryUnitOfWork()
    document = _catalog(catalog_data)
    document["calendars"][0] = {**CALENDAR, "timezone": None}
    document["settings"] = {"timezone": "America/New_York"}
    load_catalog(uow, document)
    rid = _file(uow, FixedClock(FRIDAY_3PM))
    assert _expected(uow, rid) == THURSDAY_3PM
    use_stored_settings({})


def test_change_request__to_a_business_day_service__due_from_the_filing_time(catalog_data: dict[str, Any]) -> None:
    uow = MemoryUnitOfWork()
    load_catalog(uow, _catalog(catalog_data))
    clock = FixedClock(FRIDAY_3PM)
    rid = _file(uow, clock, "graffiti")  # graffiti: no target
    assert _expected(uow, rid) is None
    clock.advance(timedelta(hours=1))
    change_request(uow, clock, ChangeRequest(service_request_id=rid, api_key=None, service_code="pothole",
                                             principal=OPERATOR))  # fmt: skip
    assert _expected(uow, rid) == THURSDAY_3PM


# -- the API, on SQLite and PostgreSQL ------------------------------------------------------------------------
STATUS_MAP = {"inbound": {"HOLD": "on_hold", "WIP": "in_progress", "ACK": "acknowledged"}, "outbound": {}}


def _push(client: TestClient, secret: str, clock: FixedClock, rid: str, status: str, uid: str) -> None:
    body = json.dumps({"update_id": uid, "service_request_id": rid, "status": status,
                       "updated_datetime": clock.now().isoformat()})  # fmt: skip
    reply = client.post(
        "/api/v1/connectors/dot-hook/updates",
        content=body.encode(),
        headers={**sign_headers(secret, uid, clock.now(), body), "content-type": "application/json"},
    )
    assert reply.status_code == 200 and reply.json()["applied"], reply.text


def _shown(client: TestClient, rid: str) -> Any:
    return client.get(f"/open311/v2/requests/{rid}.json").json()[0]


@pytest.fixture
def friday(clock: FixedClock) -> FixedClock:
    clock.set(FRIDAY_3PM)
    return clock


def test_open311__business_day_service__expected_datetime_and_notice_in_business_days(
    client: TestClient, engine: Engine, friday: FixedClock, keys: dict[str, str], catalog_data: dict[str, Any]
) -> None:
    load_catalog(SqlUnitOfWork(engine), _catalog(catalog_data))
    reply = client.post(
        "/open311/v2/requests.json",
        data={"api_key": keys["submit"], "service_code": "pothole", "address_string": "1 Main St",
              "attribute[size]": "small"},
    )  # fmt: skip
    assert reply.status_code in (200, 201), reply.text
    [made] = reply.json()
    assert made["service_notice"] == "Target response time: 3 business days."
    shown = _shown(client, made["service_request_id"])
    assert shown["expected_datetime"] == "2026-12-10T20:00:00Z"  # Thursday 15:00 in New York
    assert shown["service_notice"] == "Target response time: 3 business days."
    listed = client.get("/open311/v2/requests.json", params={"service_request_id": made["service_request_id"]})
    assert listed.json()[0]["service_notice"] == shown["service_notice"]


def test_signed_updates__hold_over_the_weekend__due_date_moves_by_the_working_hours_held(
    client: TestClient, engine: Engine, friday: FixedClock, keys: dict[str, str], catalog_data: dict[str, Any]
) -> None:
    load_catalog(SqlUnitOfWork(engine), _catalog(catalog_data, amount=1, unit="business_days", calendar="city-hall"))
    made = add_connector(
        SqlUnitOfWork(engine), friday, code="dot-hook", kind="webhook", body="DOT",
        config={"url": "http://127.0.0.1:9/h", "allow_private": True}, status_map=STATUS_MAP,
    )  # fmt: skip
    assert made.secret is not None
    reply = client.post(
        "/open311/v2/requests.json",
        data={"api_key": keys["submit"], "service_code": "pothole", "address_string": "1 Main St",
              "attribute[size]": "small"},
    )  # fmt: skip
    rid = reply.json()[0]["service_request_id"]
    # Friday 15:00 + 1 business day: 2 hours on Friday, 7 on Tuesday (Monday is a holiday): Tuesday 15:00.
    assert _shown(client, rid)["expected_datetime"] == "2026-12-08T20:00:00Z"
    friday.advance(timedelta(hours=1))
    _push(client, made.secret, friday, rid, "ACK", "u1")
    _push(client, made.secret, friday, rid, "HOLD", "u2")  # Friday 16:00: 1 working hour left on Friday
    friday.set(datetime(2026, 12, 8, 10, tzinfo=NY))  # off hold Tuesday 10:00
    _push(client, made.secret, friday, rid, "WIP", "u3")
    # 1 hour was spent before the hold; the other 8 start Tuesday 10:00: 7 on Tuesday, 1 on Wednesday.
    assert _shown(client, rid)["expected_datetime"] == "2026-12-09T14:00:00Z"  # Wednesday 09:00 in New York
