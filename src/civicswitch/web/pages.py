"""The front page: what residents (and a city official) see first, in the visitor's language."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from civicswitch import __version__
from civicswitch.requests.model import open311_status
from civicswitch.requests.views import RequestQuery
from civicswitch.web.context import context
from civicswitch.web.i18n import sort_key
from civicswitch.web.residents import language, render

router = APIRouter(include_in_schema=False)
# the staff pages' and the API docs' templates (English; the residents' pages use web/i18n.py's environments)
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)
FIGURES_SECONDS = 60.0  # how long the front page's counts are kept (per process) before they are counted again


def _figures(request: Request) -> tuple[dict[str, int], int]:
    """The front page's counts per status and of merged reports, computed at most once every
    :data:`FIGURES_SECONDS` per process: at a city's size the count reads every request (270 ms on SQLite, 70 ms on
    PostgreSQL at 1,000,000: bench/staff_pages.py), and the page's figures need not be live to the second."""
    state = request.app.state
    kept: tuple[float, dict[str, int], int] | None = getattr(state, "home_figures", None)
    now = time.monotonic()
    if kept is not None and now - kept[0] < FIGURES_SECONDS:
        return kept[1], kept[2]
    with context(request).reader() as uow:
        counts = uow.requests.status_counts()
        merged = uow.requests.merged_count()
    state.home_figures = (now, counts, merged)
    return counts, merged


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """The front page, in the visitor's language (web/residents.py ``render``): report, track by number, the latest
    requests, and what the installation holds."""
    ctx = context(request)
    lang = language(request)
    counts, merged = _figures(request)
    with ctx.reader() as uow:
        services = uow.catalog.services()
        bodies = uow.catalog.bodies()
        recent = uow.requests.find(RequestQuery(limit=25))
    names = {s.code: s.text("name", lang) for s in services}
    agencies = {b.name: b.name_in(lang) for b in bodies}  # the API's agency_responsible is the body's own name
    groups: dict[str, list[str]] = defaultdict(list)
    for s in services:
        groups[s.text("group", lang) if s.group else ""].append(names[s.code])
    newest = recent[0].requested_at if recent else ctx.clock.now()
    start = (newest - timedelta(days=7)).strftime("%Y-%m-%d")
    end = newest.strftime("%Y-%m-%d")
    base = ctx.base_url(request) + "/open311/v2"
    open_count = sum(n for status, n in counts.items() if open311_status(status) == "open")
    return render(
        request,
        "home.html",
        version=__version__,
        base=base,
        services=services,
        bodies=sorted((b.name_in(lang) for b in bodies), key=sort_key),
        # by name in the page's language, the services in no group last (the template names them "Other")
        groups=sorted(
            ((g, sorted(n, key=sort_key)) for g, n in groups.items()), key=lambda item: (not item[0], sort_key(item[0]))
        ),
        total=sum(counts.values()),
        open_count=open_count,
        closed_count=counts.get("closed", 0),
        merged=merged,
        number=lambda n: format_decimal(n, locale=lang),
        recent=[
            {
                "id": v.id,
                "service": names.get(v.service_code, v.service_name),
                "status": v.status,
                "close_reason": v.close_reason,
                "address": v.address
                or (f"{v.lat:.5f}, {v.long:.5f}" if v.lat is not None and v.long is not None else ""),
                "agency": agencies.get(v.agency_responsible or "", v.agency_responsible or ""),
                "when": v.requested_at,
            }
            for v in recent
        ],
        start=start,
        end=end,
        example_service=next((s.code for s in services if not any(a.required for a in s.attributes)), ""),
    )
