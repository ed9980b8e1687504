"""Following an area by email (people/area_follows), pages for residents in their language.

``GET /follow/area`` is the form (an area of any loaded layer, optionally one kind of problem, how often, an email;
``?layer=&area=&service=`` choose them already: the track page links here with the request's areas). ``POST`` stores
the follow unconfirmed and mails the link; the page says to check the mail, the same whether or not the address
followed before. ``/follow/area/confirm`` and ``/follow/area/stop`` are the links' pages: one button each (a POST),
since mail scanners open links; the stop link also takes a mail program's one click (RFC 8058).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from civicswitch.core.errors import DomainError, Invalid
from civicswitch.hub.area_follows import (
    AreaFollowView,
    ConfirmAreaFollow,
    FollowArea,
    StopAreaFollow,
    confirm_area_follow,
    follow_area,
    linked_follow,
    stop_area_follow,
)
from civicswitch.people.area_follows.model import Cadence
from civicswitch.people.links import LINK_HOLDER, AreaLinks, LinkProblem
from civicswitch.people.policy import RESIDENT_ON_THE_WEB
from civicswitch.requests.reporting import Problem
from civicswitch.web.context import context
from civicswitch.web.principals import session_secret
from civicswitch.web.residents import language, mail_to_residents, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
MAX_FIELD = 320


def area_links(request: Request) -> AreaLinks:
    """The signer of this instance's area links, rooted at its public URL (never an unchecked Host)."""
    ctx = context(request)
    return AreaLinks(session_secret(ctx), ctx.base_url(request))


def _choices(request: Request) -> dict[str, Any]:
    """The form's lists: each layer's areas by name, the services by name in the page's language."""
    ctx = context(request)
    index = ctx.area_index()
    lang = language(request)
    with ctx.reader() as uow:
        services = sorted(((s.code, s.text("name", lang)) for s in uow.catalog.services()), key=lambda s: s[1])
    layers = [(layer, index.areas_of(layer)) for layer in index.layers]
    return {"layers": [(name, areas) for name, areas in layers if areas], "services": services}


def _form(
    request: Request, values: dict[str, str], problems: dict[str, Problem] | None = None, status: int = 200
) -> HTMLResponse:
    mail = mail_to_residents(request)
    cadences = [str(c) for c in Cadence]
    response = render(request, "follow_area.html", status, nav="follow", values=values, problems=problems or {},
                      mail=mail, cadences=cadences, **_choices(request))  # fmt: skip
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/follow/area", response_class=HTMLResponse)
async def area_form(
    request: Request,
    layer: Annotated[str, Query(max_length=64)] = "",
    area: Annotated[str, Query(max_length=100)] = "",
    service: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    chosen = f"{layer}:{area}" if layer and area else ""
    values = {"area": chosen, "service": service, "cadence": str(Cadence.DAILY), "email": ""}
    return await run_in_threadpool(_form, request, values)


_FIELDS = {"email": "follow_email", "cadence": "cadence", "area": "area", "service": "service"}


@router.post("/follow/area", response_class=HTMLResponse)
async def follow(request: Request) -> Response:
    ctx = context(request)
    form = await request.form()
    values = {k: str(form.get(k) or "")[:MAX_FIELD].strip() for k in ("area", "service", "cadence", "email")}
    layer, _, key = values["area"].partition(":")
    cmd = FollowArea(values["email"], layer, key, values["service"] or None, values["cadence"],
                     RESIDENT_ON_THE_WEB, language(request))  # fmt: skip
    links = await run_in_threadpool(area_links, request)
    index = await run_in_threadpool(ctx.area_index)  # a read of the areas' version: not in the event loop
    try:
        result = await run_in_threadpool(lambda: follow_area(ctx.writer(), ctx.clock, cmd, links, index.area_name))
    except Invalid as problem:
        field = _FIELDS.get(problem.field or "", "follow_email")
        code = "required" if field == "follow_email" and not values["email"] else "invalid"
        log.info("area follow refused: %s=%s", field, code)
        return await run_in_threadpool(_form, request, values, {field: Problem(code)}, 400)
    mail = await run_in_threadpool(mail_to_residents, request)
    return render(request, "follow_area_sent.html", nav="follow", area_name=result.area_name, mail=mail)


def _link_page(request: Request, template: str, *, status: int = 200, **values: object) -> HTMLResponse:
    response = render(request, template, status, **values)
    response.headers["cache-control"] = "no-store"
    return response


def _described(view: AreaFollowView, request: Request) -> dict[str, Any]:
    service = None
    if view.service_code is not None:
        with context(request).reader() as uow:
            found = uow.catalog.service(view.service_code)
            service = found.text("name", language(request)) if found else view.service_code
    return {"area_name": view.area_name, "service": service, "cadence": str(view.cadence), "changed": view.changed}


@router.get("/follow/area/confirm", response_class=HTMLResponse)
async def confirm_form(request: Request, token: Annotated[str, Query(max_length=1000)] = "") -> HTMLResponse:
    ctx = context(request)
    links = await run_in_threadpool(area_links, request)
    try:
        claim = links.read_confirm(token, ctx.clock.now())
    except LinkProblem as problem:
        log.info("area follow confirmation link refused (page): %s", problem)
        return _link_page(request, "follow_area_confirm.html", status=400, problem=str(problem))
    index = await run_in_threadpool(ctx.area_index)  # a read of the areas' version: not in the event loop
    try:
        view = await run_in_threadpool(linked_follow, ctx.reader(), claim, index.area_name)
    except LinkProblem as problem:
        log.info("area follow confirmation link refused (page): %s", problem)
        return _link_page(request, "follow_area_confirm.html", status=400, problem=str(problem))
    described = await run_in_threadpool(_described, view, request)
    return _link_page(request, "follow_area_confirm.html", token=token, **described)


@router.post("/follow/area/confirm", response_class=HTMLResponse)
async def confirm(request: Request, token: Annotated[str, Form(max_length=1000)] = "") -> HTMLResponse:
    ctx = context(request)
    links = await run_in_threadpool(area_links, request)
    cmd = ConfirmAreaFollow(token, LINK_HOLDER)
    index = await run_in_threadpool(ctx.area_index)  # a read of the areas' version: not in the event loop
    try:
        view = await run_in_threadpool(
            lambda: confirm_area_follow(ctx.writer(), ctx.clock, cmd, links, index.area_name)
        )
    except DomainError as problem:
        log.info("area follow confirmation refused: %s", problem)
        return _link_page(request, "follow_area_confirm.html", status=400, problem=str(problem))
    described = await run_in_threadpool(_described, view, request)
    return _link_page(request, "follow_area_confirm.html", done=True, **described)


@router.get("/follow/area/stop", response_class=HTMLResponse)
async def stop_form(request: Request, token: str = "") -> HTMLResponse:
    links = await run_in_threadpool(area_links, request)
    try:
        links.read_stop(token[:1000])
    except LinkProblem as problem:
        log.info("area stop link refused (page): %s", problem)
        return _link_page(request, "follow_area_stop.html", status=400, problem=str(problem))
    return _link_page(request, "follow_area_stop.html", token=token)


@router.post("/follow/area/stop", response_class=HTMLResponse)
async def stop(request: Request, token: str = "") -> HTMLResponse:
    """The button, or a mail program's one click (``List-Unsubscribe=One-Click`` posted to the link, the token in
    its query); the page's form sends the token in its body."""
    ctx = context(request)
    form = await request.form()
    given = form.get("token")
    token = given if isinstance(given, str) and given else token
    links = await run_in_threadpool(area_links, request)
    cmd = StopAreaFollow(token[:1000], LINK_HOLDER)
    index = await run_in_threadpool(ctx.area_index)  # a read of the areas' version: not in the event loop
    try:
        view = await run_in_threadpool(lambda: stop_area_follow(ctx.writer(), ctx.clock, cmd, links, index.area_name))
    except DomainError as problem:
        log.info("area stop refused: %s", problem)
        return _link_page(request, "follow_area_stop.html", status=400, problem=str(problem))
    described = await run_in_threadpool(_described, view, request)
    return _link_page(request, "follow_area_stop.html", done=True, **described)
