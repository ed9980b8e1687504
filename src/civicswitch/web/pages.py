"""Human pages. For now: the front page a city official sees first, pointing at everything there is."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from civicswitch import __version__
from civicswitch.requests.model import open311_status
from civicswitch.requests.views import RequestQuery
from civicswitch.web.context import context

router = APIRouter(include_in_schema=False)
FIGURES_SECONDS = 60.0  # how long the front page's counts are kept (per process) before they are counted again
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


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
    ctx = context(request)
    zone = ZoneInfo(ctx.settings.timezone)
    counts, merged = _figures(request)
    with ctx.reader() as uow:
        services = uow.catalog.services()
        bodies = uow.catalog.bodies()
        recent = uow.requests.find(RequestQuery(limit=25))
    groups: dict[str, list[str]] = defaultdict(list)
    for s in services:
        groups[s.group or "Other"].append(s.name)
    newest = recent[0].requested_at if recent else ctx.clock.now()
    start = (newest - timedelta(days=7)).strftime("%Y-%m-%d")
    end = newest.strftime("%Y-%m-%d")
    base = ctx.base_url(request) + "/open311/v2"
    open_count = sum(n for status, n in counts.items() if open311_status(status) == "open")
    page = templates.get_template("home.html").render(
        name=ctx.settings.jurisdiction_name,
        version=__version__,
        base=base,
        services=services,
        bodies=bodies,
        groups=sorted(groups.items()),
        total=sum(counts.values()),
        open_count=open_count,
        closed_count=counts.get("closed", 0),
        merged=merged,
        zone=ctx.settings.timezone,
        recent=[
            {
                "id": v.id,
                "service": v.service_name,
                "status": open311_status(v.status),
                "detail": v.status.replace("_", " ")
                + (f" ({v.close_reason.replace('_', ' ')})" if v.close_reason else ""),
                "address": v.address
                or (f"{v.lat:.5f}, {v.long:.5f}" if v.lat is not None and v.long is not None else ""),
                "agency": v.agency_responsible or "",
                "when": _local(v.requested_at, zone),
                "notes": v.status_notes or "",
            }
            for v in recent
        ],
        start=start,
        end=end,
        example_service=next((s.code for s in services if not any(a.required for a in s.attributes)), ""),
    )
    return HTMLResponse(page)
