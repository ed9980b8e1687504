"""Pages for residents, in their language (web/i18n.py): tracking a request by its number.

``GET /requests`` is the lookup form (``?number=`` sends the browser to that request's page); ``GET
/requests/{number}`` is the track page: the report, its status in plain words, who owns it and their reference,
the expected date, the public timeline and a map (requests/tracking.py says what is shown and what never is). Both
are public, like Open311's ``GET requests/{id}``, and work without JavaScript (the map only adds to the address
and coordinates beside it).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from civicswitch.core.errors import NotFound
from civicswitch.hub.residents import residents_connector
from civicswitch.requests.model import Status
from civicswitch.requests.tracking import Tracked, track_request
from civicswitch.web import i18n
from civicswitch.web.context import context
from civicswitch.web.maps import map_view

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
MAX_NUMBER = 10**18  # a request number: digits, at most 18 of them
MAX_TYPED = 100  # what of a typed number is kept (to show it back)


def _number(text: str) -> bool:
    """Whether ``text`` is a request number: ASCII digits only ("²" and "①" are digits to Python, not to int()),
    at most 18, not zero."""
    return text.isascii() and text.isdigit() and 0 < int(text) < MAX_NUMBER


def language(request: Request) -> str:
    """The page's language (i18n.negotiate): ``?lang=``, the cookie, ``Accept-Language``, English."""
    return i18n.negotiate(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE),
                          request.headers.get("accept-language"))  # fmt: skip


def _switch(request: Request) -> list[tuple[str, str, str]]:
    """The language switcher's links: this page (its other parameters kept) in each language."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return [(code, label, request.url.path + "?" + urlencode([*params, ("lang", code)]))
            for code, label in i18n.languages().items()]  # fmt: skip


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A resident page in the request's language. A ``?lang=`` we have is kept in a cookie for the next pages."""
    ctx = context(request)
    lang = language(request)
    dates = i18n.Dates(lang, ZoneInfo(ctx.settings.timezone))
    html = (
        i18n.environment(lang)
        .get_template(template)
        .render(name=ctx.settings.jurisdiction_name, lang=lang, switch=_switch(request), dates=dates, **values)
    )
    response = HTMLResponse(html, status_code=status, headers={
        "cache-control": "no-cache", "content-language": lang, "vary": "Accept-Language, Cookie"})  # fmt: skip
    asked = i18n.chosen(request.query_params.get("lang"))
    if asked is not None and request.cookies.get(i18n.COOKIE) != asked:
        response.set_cookie(i18n.COOKIE, asked, max_age=i18n.COOKIE_SECONDS, path="/", samesite="lax",
                            httponly=True, secure=request.url.scheme == "https")  # fmt: skip
    return response


@router.get("/requests", response_class=HTMLResponse)
def lookup(request: Request, number: str = "") -> Response:
    """The lookup form; with a number, that request's page (the number as people type it: "#123", " 123 "). What
    is not a number is answered on the form, in the page's language (never a validation error in JSON)."""
    number = number[:MAX_TYPED]
    typed = number.strip().lstrip("#").strip()
    if not number:
        return render(request, "track_lookup.html", nav="track")
    if _number(typed):
        lang = i18n.chosen(request.query_params.get("lang"))
        query = f"?{urlencode({'lang': lang})}" if lang else ""
        return RedirectResponse(f"/requests/{int(typed)}{query}", status_code=303)
    log.info("track lookup refused: %r is not a request number", number[:40])
    return render(request, "track_lookup.html", 400, nav="track", number=number, problem="not_a_number")


@router.get("/requests/{number}", response_class=HTMLResponse)
async def track(request: Request, number: str) -> Response:
    """A request's page for residents, or the lookup form saying no request has that number (404)."""
    ctx = context(request)
    number = number[:MAX_TYPED]
    found: Tracked | None = None
    if _number(number):
        try:
            found = await run_in_threadpool(track_request, ctx.reader(), int(number), language(request))
        except NotFound:
            found = None
    if found is None:
        log.info("track page: no request %r", number[:40])
        return render(request, "track_lookup.html", 404, nav="track", number=number, problem="unknown")
    point = (found.lat, found.long) if found.lat is not None and found.long is not None else None
    view = await run_in_threadpool(map_view, request, point) if point is not None else None
    index = await run_in_threadpool(ctx.area_index)  # a read of the areas' version: not in the event loop
    areas = [(layer, key, name) for layer, key in found.areas if (name := index.area_name(layer, key)) is not None]
    mail = found.status is not Status.CLOSED and await run_in_threadpool(mail_to_residents, request)
    return render(request, "track.html", r=found, map=view if view is not None and view.useful else None,
                  areas=areas, followable=mail)  # fmt: skip


def mail_to_residents(request: Request) -> bool:
    """Whether this instance mails residents (it has a residents' mail connector, hub/residents.py)."""
    with context(request).reader() as uow:
        return residents_connector(uow.hub.connectors()) is not None
