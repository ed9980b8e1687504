"""``/api/v1``: the platform's own API — geography, duplicates (check, follow, merge) and staff changes.

Writes take an API key in the ``X-Api-Key`` header (or ``api_key`` in the JSON body) and a JSON body; errors
are the Open311 JSON error list, as on ``/open311``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from civicswitch.core.errors import Invalid
from civicswitch.core.geo import parse_coordinate
from civicswitch.core.timefmt import format_datetime
from civicswitch.hub.residents import residents_connector
from civicswitch.people.clients import Scope
from civicswitch.requests.commands import ChangeRequest, FollowRequest, MergeRequests
from civicswitch.requests.model import Contact
from civicswitch.requests.queue import (
    MAX_TEXT,
    PAGE_SIZE,
    SlaFilter,
    Sort,
    StaffRequestView,
    queue_filter,
    row_sla,
    staff_queue,
    staff_request,
)
from civicswitch.requests.sla import due_soon
from civicswitch.requests.staff import (
    assign_request,
    change_request,
    check_duplicates,
    duplicates_of,
    follow_request,
    merge_requests,
    read_contact,
)
from civicswitch.routing.duplicates import Match
from civicswitch.web.context import context
from civicswitch.web.open311 import params
from civicswitch.web.principals import api_principal
from civicswitch.web.public import follow_links

router = APIRouter(prefix="/api/v1", tags=["Civic Switchboard API"])


def _required(value: str | None, name: str, bound: float) -> float:
    number = parse_coordinate(value, name, bound)
    if number is None:
        raise Invalid(f"{name} is required", field=name)
    return number


@router.get("/areas", summary="The area of every layer that holds a point")
def areas_at(
    request: Request,
    lat: Annotated[str | None, Query(description="WGS84 latitude")] = None,
    long: Annotated[str | None, Query(description="WGS84 longitude")] = None,
    layer: Annotated[str | None, Query(description="comma list of layers (default: all)")] = None,
) -> dict[str, Any]:
    point = (_required(lat, "lat", 90.0), _required(long, "long", 180.0))
    ctx = context(request)
    index = ctx.area_index()
    found = index.locate(point[0], point[1], params.csv_list(layer))
    return {
        "lat": point[0],
        "long": point[1],
        "areas": {name: None if hit is None else {"key": hit.key, "name": hit.name} for name, hit in found.items()},
    }


def _matches(request: Request, found: list[Match]) -> dict[str, Any]:
    base = context(request).base_url(request)  # never the unchecked Host header
    return {
        "duplicates": [
            {**m.document(), "follow_url": f"{base}/api/v1/requests/{m.request.id}/followers"} for m in found
        ]
    }


@router.get("/duplicates", summary="Before filing: open requests a report would likely duplicate, best first")
def duplicates_check(
    request: Request,
    service_code: Annotated[str, Query(description="the service the resident chose")],
    lat: Annotated[str | None, Query(description="WGS84 latitude")] = None,
    long: Annotated[str | None, Query(description="WGS84 longitude")] = None,
    description: Annotated[str, Query(max_length=4000, description="what the resident wrote so far")] = "",
    limit: Annotated[params.WholeNumber, Query(ge=1, le=50)] = 5,
) -> dict[str, Any]:
    ctx = context(request)
    found = check_duplicates(ctx.reader(), ctx.clock, service_code, lat, long, description, limit=limit)
    return _matches(request, found)


@router.get("/requests/{service_request_id}/duplicates", summary="A stored request's likely duplicates")
def request_duplicates(
    request: Request, service_request_id: str, limit: Annotated[params.WholeNumber, Query(ge=1, le=50)] = 5
) -> dict[str, Any]:
    ctx = context(request)
    return _matches(request, duplicates_of(ctx.reader(), ctx.clock, service_request_id, limit=limit))


class _Keyed(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    api_key: str | None = Field(default=None, description="or send it in the X-Api-Key header")


class FollowBody(_Keyed):
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    account_id: str | None = Field(default=None, max_length=200)


class MergeBody(_Keyed):
    into: str = Field(max_length=200, description="the service_request_id of the request to keep (the parent)")


class ChangeBody(_Keyed):
    service_code: str | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    note: str = Field(default="", max_length=4000)


def _key(body: _Keyed, header: str | None) -> str | None:
    return header or body.api_key


_FOLLOW_MESSAGES = {
    "email": "Unless this address already follows the request, a link to confirm it is on its way to it; nothing "
    "else is sent to it until its owner opens that link and confirms.",
    "email-no-mail": "Kept unconfirmed: this instance sends no mail to residents (no residents' mail connector), "
    "so nothing is sent to this address.",
    "pending": "Kept unconfirmed: nothing is sent to this number until its owner confirms it.",
    "none": "The account follows the request.",
}


def _mail_to_residents(request: Request) -> bool:
    """Whether this instance can mail residents at all (a fact about the instance, not about any address)."""
    with context(request).reader() as uow:
        return residents_connector(uow.hub.connectors()) is not None


@router.post(
    "/requests/{service_request_id}/followers",
    status_code=202,
    summary="Follow this request instead of filing a new one (submit scope)",
)
async def follow(
    request: Request, service_request_id: str, body: FollowBody, x_api_key: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    ctx = context(request)
    who = await run_in_threadpool(api_principal, request, _key(body, x_api_key), Scope.SUBMIT)
    cmd = FollowRequest(
        principal=who,
        api_key=None,
        service_request_id=service_request_id,
        contact=Contact(first_name=body.first_name, last_name=body.last_name, email=body.email, phone=body.phone),
        account_id=body.account_id,
    )
    links = await run_in_threadpool(follow_links, request)
    result = await run_in_threadpool(lambda: follow_request(ctx.writer(), ctx.clock, cmd, links))
    message = result.confirmation
    if message == "email" and not await run_in_threadpool(_mail_to_residents, request):
        message = "email-no-mail"
    return {
        "service_request_id": result.service_request_id,
        "confirmation": result.confirmation,
        "message": _FOLLOW_MESSAGES[message],
    }


@router.post("/requests/{service_request_id}/merge", summary="Staff: close this request as a duplicate of another")
async def merge(
    request: Request, service_request_id: str, body: MergeBody, x_api_key: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    ctx = context(request)
    who = await run_in_threadpool(api_principal, request, _key(body, x_api_key), Scope.ADMIN)
    cmd = MergeRequests(api_key=None, child_id=service_request_id, parent_id=body.into, principal=who)
    result = await run_in_threadpool(lambda: merge_requests(ctx.writer(), ctx.clock, cmd))
    return {
        "service_request_id": result.child_id,
        "merged_into": result.parent_id,
        "followers_moved": result.followers_moved,
        "notes_carried": result.notes_carried,
    }


@router.patch("/requests/{service_request_id}", summary="Staff: change service and/or location; routing runs again")
async def change(
    request: Request, service_request_id: str, body: ChangeBody, x_api_key: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    ctx = context(request)
    if (body.lat is None) != (body.long is None):
        raise Invalid("lat and long must be sent together", field="lat")
    who = await run_in_threadpool(api_principal, request, _key(body, x_api_key), Scope.ADMIN)
    cmd = ChangeRequest(
        principal=who,
        api_key=None,
        service_request_id=service_request_id,
        service_code=body.service_code,
        lat=None if body.lat is None else repr(body.lat),
        long=None if body.long is None else repr(body.long),
        note=body.note,
    )
    result = await run_in_threadpool(lambda: change_request(ctx.writer(), ctx.clock, cmd, ctx.geography()))
    return {
        "service_request_id": result.service_request_id,
        "owner": result.body,
        "transferred": result.transferred,
        "referred": result.referred,
    }


@router.get(
    "/requests/{service_request_id}/contact",
    summary="Staff: the filer's contact data (audited; agents, the owner's staff, an assigned partner, admin keys)",
)
def request_contact(
    request: Request,
    service_request_id: str,
    reason: Annotated[str | None, Query(max_length=500, description="why you need it (kept in the audit log)")] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    ctx = context(request)
    who = api_principal(request, x_api_key, Scope.ADMIN)
    found = read_contact(ctx.writer(), ctx.clock, service_request_id, who=who, reason=reason)
    fields = ("first_name", "last_name", "email", "phone")
    return {"service_request_id": service_request_id, "contact": None if found is None else {
        f: getattr(found, f) for f in fields}}  # fmt: skip


class AssignBody(_Keyed):
    org: str | None = Field(default=None, max_length=64, description="a partner body's code; null takes it back")
    note: str = Field(default="", max_length=4000)


@router.post("/requests/{service_request_id}/assign", summary="Staff: give the work to a partner organisation")
async def assign(
    request: Request, service_request_id: str, body: AssignBody, x_api_key: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    ctx = context(request)
    who = await run_in_threadpool(api_principal, request, _key(body, x_api_key), Scope.ADMIN)
    done = await run_in_threadpool(
        lambda: assign_request(ctx.writer(), ctx.clock, service_request_id, body.org, who=who, note=body.note)
    )
    return {"service_request_id": str(done.id), "assigned_org": done.assigned_org}


def _staff_view_json(view: StaffRequestView) -> dict[str, Any]:
    r = view.request
    return {
        "service_request_id": str(r.id),
        "service_code": r.service_code,
        "service_name": view.service_name,
        "status": str(r.status),
        "close_reason": None if r.close_reason is None else str(r.close_reason),
        "owner": None if r.body_code is None else {"code": r.body_code, "name": view.body_name},
        "assigned_org": r.assigned_org,
        "description": r.description,
        "address": r.address,
        "lat": r.lat,
        "long": r.long,
        "areas": r.areas or {},
        "attributes": r.attributes,
        "media_url": r.media_url,
        "channel": str(r.channel),
        "merged_into": None if r.parent_id is None else str(r.parent_id),
        "requested_datetime": format_datetime(r.requested_at),
        "updated_datetime": None if r.updated_at is None else format_datetime(r.updated_at),
        "expected_datetime": None if r.expected_at is None else format_datetime(r.expected_at),
        "timeline": [
            {
                "at": format_datetime(e.at),
                "kind": e.kind,
                "public": e.public,
                "description": e.description,
                "status_from": None if e.status_from is None else str(e.status_from),
                "status_to": None if e.status_to is None else str(e.status_to),
                "close_reason": None if e.close_reason is None else str(e.close_reason),
                "media_url": e.media_url,
            }
            for e in view.timeline
        ],
    }


@router.get(
    "/requests/{service_request_id}",
    summary="Staff: one request with its whole timeline, staff-only entries included (never contact data)",
)
def staff_view(
    request: Request, service_request_id: str, x_api_key: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    ctx = context(request)
    who = api_principal(request, x_api_key, Scope.ADMIN)
    return _staff_view_json(staff_request(ctx.reader(), who, service_request_id))


@router.get("/queue", summary="Staff: the requests you may work, filtered, sorted and paged, with counts per status")
def queue(
    request: Request,
    status: Annotated[list[str] | None, Query(description="statuses to show (repeat); default: all open ones")] = None,
    service_code: Annotated[str | None, Query(max_length=100)] = None,
    area: Annotated[str | None, Query(max_length=200, description="LAYER:KEY, e.g. boroughs:Brooklyn")] = None,
    body: Annotated[str | None, Query(max_length=64, description="one owning body, within your scope")] = None,
    q: Annotated[
        str | None, Query(max_length=MAX_TEXT, description="text in description or address, or a number")
    ] = None,
    sort: Annotated[Sort, Query()] = Sort.OLDEST,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
    sla: Annotated[
        SlaFilter | None,
        Query(description="due_soon (within the instance's sla_due_soon_hours) or overdue; open and not on hold"),
    ] = None,
    assignee: Annotated[
        str | None,
        Query(max_length=20, description="me (the signed-in account), none (nobody) or a staff account's number"),
    ] = None,
    bounced: Annotated[bool, Query(description="only requests transferred to another body at least once")] = False,
    filed: Annotated[
        str | None,
        Query(max_length=10, description="me: only the requests the signed-in account filed on residents' behalf"),
    ] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    ctx = context(request)
    who = api_principal(request, x_api_key, Scope.ADMIN)
    now, soon = ctx.clock.now(), due_soon(ctx.settings)
    mine = (filed or "").strip()
    if mine not in ("", "me"):
        raise Invalid(f"unknown filed {filed!r}: me (what the signed-in account filed)", field="filed")
    query = queue_filter(status, service_code, area, body, q, sort, page, page_size, sla=sla, assignee=assignee,
                         bounced=bounced, filed_by_me=mine == "me", me=who.user_id, now=now,
                         due_soon=soon)  # fmt: skip
    found = staff_queue(ctx.reader(), who, query)
    return {
        # each status is counted up to count_cap: past it, its count is count_cap + 1 and total is "at least"
        # (more: true), as the page's "10,000+"
        "total": found.total,
        "more": found.more,
        "count_cap": found.cap,
        "page": found.page,
        "pages": found.pages,
        "counts": {str(s): n for s, n in sorted(found.counts.items())},
        "requests": [
            {
                "service_request_id": str(row.id),
                "service_code": row.service_code,
                "service_name": row.service_name,
                "status": str(row.status),
                "owner": row.body_code,
                "assigned_org": row.assigned_org,
                "assignee": row.assignee_user_id,
                "transfers": row.transfers,
                "sla": str(row_sla(row, now, soon)),
                "address": row.address,
                "description": row.description,
                "requested_datetime": format_datetime(row.requested_at),
                "updated_datetime": format_datetime(row.updated_at),
                "expected_datetime": None if row.expected_at is None else format_datetime(row.expected_at),
            }
            for row in found.rows
        ],
    }
