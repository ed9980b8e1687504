"""Confirming a follow by email (the link in the confirmation mail) and stopping the mail about a request (the link in
every update), and following a request from its page, pages for residents in their language.

The link opens a page with one button (a POST) rather than confirming on sight: mail scanners open links, and a
scanner must not subscribe anyone. The token in the form is the only credential (it is signed and names the
address), so the form needs no other CSRF token. Tracking a request is web/residents.py."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from civicswitch.core.errors import DomainError, NotFound
from civicswitch.people.links import LINK_HOLDER, FollowLinks, LinkProblem, StopLinks
from civicswitch.people.policy import RESIDENT_ON_THE_WEB
from civicswitch.requests.commands import ConfirmFollow, FollowRequest, StopUpdates
from civicswitch.requests.model import Contact
from civicswitch.requests.reporting import Problem, check_email
from civicswitch.requests.staff import confirm_follow, follow_request, stop_updates
from civicswitch.web.context import context
from civicswitch.web.principals import session_secret
from civicswitch.web.residents import _number, language, mail_to_residents, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


def follow_links(request: Request) -> FollowLinks:
    """The signer of this instance's follow links, rooted at its public URL (never an unchecked Host)."""
    ctx = context(request)
    return FollowLinks(session_secret(ctx), ctx.base_url(request))


def _page(request: Request, status: int = 200, **values: object) -> HTMLResponse:
    response = render(request, "follow_confirm.html", status, **values)
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/follow/confirm", response_class=HTMLResponse)
async def confirm_form(request: Request, token: Annotated[str, Query(max_length=1000)] = "") -> HTMLResponse:
    ctx = context(request)
    links = await run_in_threadpool(follow_links, request)
    try:
        claim = links.read(token, ctx.clock.now())
    except LinkProblem as problem:
        log.info("follow confirmation link refused (page): %s", problem)
        return _page(request, 400, problem=str(problem))
    with ctx.reader() as uow:
        found = uow.requests.get(claim.request_id)
        service = uow.catalog.service(found.service_code) if found is not None else None
    return _page(request, request_id=claim.request_id, service=service.name if service else "", token=token)


@router.post("/follow/confirm", response_class=HTMLResponse)
async def confirm(request: Request, token: Annotated[str, Form(max_length=1000)] = "") -> HTMLResponse:
    ctx = context(request)
    links = await run_in_threadpool(follow_links, request)
    cmd = ConfirmFollow(token=token, principal=LINK_HOLDER)
    try:
        result = await run_in_threadpool(lambda: confirm_follow(ctx.writer(), ctx.clock, cmd, links))
    except DomainError as problem:  # a LinkProblem, or e.g. the request was deleted meanwhile
        log.info("follow confirmation refused: %s", problem)
        return _page(request, 400, problem=str(problem))
    return _page(request, done=True, newly=result.newly_confirmed, request_id=result.service_request_id)


def stop_links(request: Request) -> StopLinks:
    """The signer of this instance's "stop these emails" links (the outbox signs them with the same secret)."""
    ctx = context(request)
    return StopLinks(session_secret(ctx), ctx.base_url(request))


def _stop_page(request: Request, status: int = 200, **values: object) -> HTMLResponse:
    response = render(request, "follow_stop.html", status, **values)
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/follow/stop", response_class=HTMLResponse)
async def stop_form(request: Request, token: str = "") -> HTMLResponse:
    """The link in every update: a page with one button (a mail scanner opening links stops nothing)."""
    links = await run_in_threadpool(stop_links, request)
    try:
        claim = links.read(token[:1000])  # a longer one is refused by read(), on the page (never a JSON error)
    except LinkProblem as problem:
        log.info("stop link refused (page): %s", problem)
        return _stop_page(request, 400, problem=str(problem))
    return _stop_page(request, request_id=claim.request_id, token=token)


@router.post("/follow/stop", response_class=HTMLResponse)
async def stop(request: Request, token: str = "") -> HTMLResponse:
    """The button, or a mail program's one click (RFC 8058: ``List-Unsubscribe=One-Click`` posted to the link,
    the token in its query); the page's form sends the token in its body."""
    ctx = context(request)
    form = await request.form()
    given = form.get("token")
    token = given if isinstance(given, str) and given else token
    links = await run_in_threadpool(stop_links, request)
    cmd = StopUpdates(token=token[:1000], principal=LINK_HOLDER)
    try:
        result = await run_in_threadpool(lambda: stop_updates(ctx.writer(), ctx.clock, cmd, links))
    except DomainError as problem:
        log.info("stop refused: %s", problem)
        return _stop_page(request, 400, problem=str(problem))
    return _stop_page(request, done=True, stopped=result.stopped, request_id=result.service_request_id)


def _follow_page(request: Request, number: str, email: str, problems: dict[str, Problem], status: int) -> HTMLResponse:
    response = render(request, "track_follow.html", status, nav="track", number=number, email=email,
                      problems=problems, mail=mail_to_residents(request))  # fmt: skip
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/requests/{number}/follow", response_class=HTMLResponse)
async def follow_form(request: Request, number: str) -> HTMLResponse:
    """The track page's "Get emails" form on a page of its own (where a refusal is said)."""
    if not _number(number[:100]):
        return render(request, "track_lookup.html", 404, nav="track", number=number[:100], problem="unknown")
    return await run_in_threadpool(_follow_page, request, number, "", {}, 200)


@router.post("/requests/{number}/follow", response_class=HTMLResponse)
async def follow(request: Request, number: str) -> HTMLResponse:
    """Follow a request from its page: the address is sent a confirmation link (requests/staff.follow_request), the
    same answer whether or not it followed before."""
    ctx = context(request)
    if not _number(number[:100]):
        return render(request, "track_lookup.html", 404, nav="track", number=number[:100], problem="unknown")
    form = await request.form()
    given = form.get("email")
    email = given.strip()[:320] if isinstance(given, str) else ""
    problem = check_email(email) if email else Problem("required")
    if problem is not None:
        log.info("follow from the track page refused: follow_email=%s", problem.code)
        return await run_in_threadpool(_follow_page, request, number, email, {"follow_email": problem}, 400)
    links = await run_in_threadpool(follow_links, request)
    cmd = FollowRequest(None, number, Contact(email=email), principal=RESIDENT_ON_THE_WEB, language=language(request))
    try:
        result = await run_in_threadpool(lambda: follow_request(ctx.writer(), ctx.clock, cmd, links))
    except NotFound:
        return render(request, "track_lookup.html", 404, nav="track", number=number, problem="unknown")
    mail = await run_in_threadpool(mail_to_residents, request)
    return render(request, "report_followed.html", nav="track", number=result.service_request_id, mail=mail)
