"""``/api/v1`` for the integration hub: signed inbound updates, connector health, dead letters and replay, the
manual bridge. Everything but the signed endpoint takes an ``admin`` key in ``X-Api-Key`` or a signed-in staff
account whose role allows it (people/policy.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from civicswitch.hub.handlers import complete_manual, deliveries, health, receive_signed_update, replay
from civicswitch.hub.model import DeliveryState
from civicswitch.hub.views import DeliveryView
from civicswitch.people.clients import Scope
from civicswitch.people.policy import Principal
from civicswitch.web.context import context
from civicswitch.web.open311 import params
from civicswitch.web.principals import api_principal

router = APIRouter(prefix="/api/v1", tags=["Integration hub"])
MAX_UPDATE_BYTES = 64 * 1024


def _who(request: Request, key: str | None) -> Principal:
    """An admin key, or a signed-in account; what each may do is the policy's (people/policy.py)."""
    return api_principal(request, key, Scope.ADMIN)


def _row(r: DeliveryView) -> dict[str, Any]:
    data = r.payload.get("data", {}) if isinstance(r.payload, dict) else {}
    return {
        "id": r.id,
        "connector": r.connector_code,
        "body": r.body_code,
        "service_request_id": str(r.request_id),
        "type": r.type,
        "idempotency_key": r.idempotency_key,
        "state": str(r.state),
        "attempts": r.attempts,
        "next_attempt_at": r.next_attempt_at.isoformat(),
        "created_at": r.created_at.isoformat(),
        "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
        "last_error": r.last_error,
        "last_status": r.last_status,
        "external_id": r.external_id,
        "effort_minutes": r.effort_minutes,
        "done_by": r.done_by,
        "service_code": data.get("service_code"),
        "address": data.get("address"),
        "zipcode": data.get("zipcode"),
        "lat": data.get("lat"),
        "long": data.get("long"),
        "description": data.get("description"),
        "withdrawn_reason": r.last_error if r.state == DeliveryState.WITHDRAWN else None,
    }


@router.post("/connectors/{code}/updates", summary="A body's system reports a status change (Standard Webhooks)")
async def signed_update(request: Request, code: str) -> dict[str, Any]:
    """Signed with the connector's secret: headers ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.
    Body: ``{"update_id", "service_request_id" | "external_id", "status", "updated_datetime", "description"}``
    (or that object as the ``data`` of a CloudEvent). 403: unsigned, tampered or stale; 409: replayed."""
    ctx = context(request)
    body = await request.body()
    if len(body) > MAX_UPDATE_BYTES:
        from civicswitch.core.errors import TooLarge

        raise TooLarge(f"an update is at most {MAX_UPDATE_BYTES} bytes")
    headers = dict(request.headers)
    skew = timedelta(seconds=ctx.settings.clock_skew_seconds)
    result = await run_in_threadpool(
        lambda: receive_signed_update(ctx.writer(), ctx.clock, code, headers, body, clock_skew=skew)
    )
    return {"service_request_id": str(result.request_id), "applied": result.applied, "duplicate": result.duplicate,
            "flagged": result.flagged}  # fmt: skip


@router.get("/connectors/health", summary="Delivery health per connector (admin)")
def connectors_health(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    ctx = context(request)
    who = _who(request, x_api_key)
    return {"connectors": health(ctx.reader(), ctx.clock, who=who)}


@router.get("/deliveries", summary="Deliveries by state, e.g. dead letters (admin)")
def deliveries_list(
    request: Request,
    state: Annotated[str | None, Query()] = "dead",
    connector: Annotated[str | None, Query()] = None,
    limit: Annotated[params.WholeNumber, Query(ge=1, le=1000)] = 100,
    x_api_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    ctx = context(request)
    who = _who(request, x_api_key)
    rows = deliveries(ctx.reader(), state=state, connector=connector, manual=False, limit=limit, who=who)
    return {"deliveries": [_row(r) for r in rows]}


# Delivery and task ids are INTEGER columns: a larger number is no id (400), not a database error (500).
MAX_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


class ReplayBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[RowId] | None = Field(default=None, max_length=10_000, description="dead delivery ids (default: all)")
    connector: str | None = Field(default=None, max_length=200)


@router.post("/deliveries/replay", summary="Send dead deliveries again (admin)")
async def deliveries_replay(
    request: Request, body: ReplayBody, x_api_key: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    ctx = context(request)
    who = await run_in_threadpool(_who, request, x_api_key)
    n = await run_in_threadpool(
        lambda: replay(ctx.writer(), ctx.clock, ids=body.ids, connector=body.connector, who=who)
    )
    return {"replayed": n}


@router.get("/manual", summary="The manual bridge queue (admin)")
def manual_queue(
    request: Request,
    body: Annotated[str | None, Query()] = None,
    done: Annotated[bool, Query(description="finished tasks: done_by, effort_minutes, external_id")] = False,
    withdrawn: Annotated[bool, Query(description="tasks taken out of the queue, with withdrawn_reason")] = False,
    x_api_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    ctx = context(request)
    who = _who(request, x_api_key)
    state = "delivered" if done else "withdrawn" if withdrawn else "pending"
    rows = deliveries(ctx.reader(), state=state, manual=True, body=body, limit=1000, who=who)
    return {"tasks": [_row(r) for r in rows]}


class DoneBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    minutes: float = Field(gt=0, le=1440, description="how long re-keying took")
    by: str = Field(min_length=1, max_length=200)
    external_id: str | None = Field(default=None, max_length=200)


@router.post("/manual/{task_id}/done", summary="Record a manual re-keying and its effort (admin)")
async def manual_done(
    request: Request,
    task_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: DoneBody,
    x_api_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    ctx = context(request)
    who = await run_in_threadpool(_who, request, x_api_key)
    rid = await run_in_threadpool(
        lambda: complete_manual(
            ctx.writer(), ctx.clock, task_id, external_id=body.external_id, minutes=body.minutes, by=body.by, who=who
        )
    )
    return {"task": task_id, "service_request_id": str(rid), "state": "delivered"}
