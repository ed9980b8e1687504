"""The residents' report form (web/report.py): what it offers and what it checks before anything is filed.

- :func:`services_here` — the services a resident can report at a point (all of them inside the jurisdiction;
  outside, those a neighbouring body takes there), and :func:`matching` to find one by its words in any language;
- :func:`check_report` — every check ``submit_request`` makes, each wrong field reported at once as a
  :class:`Problem` (a code the page words in the resident's language, never an English sentence), plus the open
  requests of the same service nearby ("follow this one instead");
- :func:`stage_photo` — a photo kept while the resident fixes something else on the form (no data lost);
- :func:`observed_times` — how long the service usually takes to close there, as observed over the last
  :data:`OBSERVED_DAYS` days (median and 80th percentile), for the page after sending.

Filing is ``submit_request``, the Open311 API's own use case, which checks all of it again: one intake path.
"""

from __future__ import annotations

import logging
import re
import statistics
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from email_validator import EmailNotValidError, validate_email

from civicswitch.catalog.calendars import SlaTarget
from civicswitch.catalog.model import LIST_DATATYPES, Attribute, Datatype, Service
from civicswitch.core.clock import Clock
from civicswitch.core.errors import Invalid, NotFound, TooLarge, UnsupportedMediaType
from civicswitch.core.geo import parse_coordinate
from civicswitch.core.timefmt import parse_datetime
from civicswitch.requests.commands import SubmitRequest, Upload
from civicswitch.requests.handlers import MAX_DESCRIPTION, Limits
from civicswitch.requests.media import accept_upload
from civicswitch.requests.model import CloseReason
from civicswitch.requests.tracking import Tracked, track_request
from civicswitch.routing.duplicates import Match, find_duplicates
from civicswitch.routing.intake import Geography, available_services, route

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)

OBSERVED_DAYS = 90  # the window of "usually closed within"
MIN_SAMPLE = 10  # fewer closures than this say nothing (an area's: the next larger area's, then the service's)
SAMPLE = 2_000  # the most recent closures counted: plenty for a median and an 80th percentile
NEARBY = 5  # open requests of the same service shown before sending
MAX_ADDRESS = 500
DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one field, as a code (``required``, ``too_long`` …) and a value to show with it."""

    code: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ReportCheck:
    """The form's checks. ``problems``: field → problem (fields: ``service``, ``location``, ``description``,
    ``attribute:<code>``, ``email``, ``photo``); ``nearby``: open requests of the service near the point."""

    service: Service | None
    problems: dict[str, Problem]
    nearby: tuple[Match, ...]
    point: tuple[float, float] | None


def services_here(uow: UnitOfWork, geography: Geography | None, point: tuple[float, float] | None) -> list[Service]:
    """The active services, those a resident can report at ``point`` when one is given (and routing knows
    places), in catalog order."""
    with uow:
        services = uow.catalog.services()
        if point is None or geography is None:
            return services
        bodies = {b.code: b for b in uow.catalog.bodies()}
        return available_services(services, point[0], point[1], geography, uow.catalog.rules(), bodies)


def folded(text: str) -> str:
    """Lower case without accents: "Árbol" and "arbol" are the same word to a search box."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def matching(services: Iterable[Service], words: str, language: str) -> list[Service]:
    """The services whose name, group, description or keywords (as written and in ``language``) hold every word."""
    wanted = [w for w in re.split(r"\W+", folded(words)) if w]
    if not wanted:
        return list(services)
    found = []
    for s in services:
        texts = [
            s.name,
            s.group,
            s.description,
            *s.keywords,
            *(s.text(n, language) for n in ("name", "group", "description")),
        ]
        haystack = folded(" ".join(texts))
        if all(w in haystack for w in wanted):
            found.append(s)
    return found


def _attribute_problem(attribute: Attribute, given: list[str]) -> Problem | None:
    """The attribute's own check (``Attribute.clean``, the API's), worded as a code by what the answer lacks."""
    try:
        attribute.clean(given, parse_datetime=parse_datetime)
    except Invalid:
        answers = [v.strip() for v in given if v.strip()]
        if not answers:
            return Problem("required")
        if attribute.datatype in LIST_DATATYPES:
            return Problem("choose")
        if any(len(v) > 4000 or "\x00" in v for v in answers):
            return Problem("too_long", "4000")
        if attribute.datatype == Datatype.NUMBER:
            return Problem("number")
        if attribute.datatype == Datatype.DATETIME:
            return Problem("datetime")
        return Problem("one_line")
    return None


def check_email(text: str | None) -> Problem | None:
    """An address a resident typed: its syntax only (no DNS lookup: the confirmation mail proves it)."""
    if not text:
        return None
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return Problem("invalid")
    return None


def check_photo(upload: Upload, limits: Limits, at: datetime) -> Problem | None:
    """The API's limits and sniffing (``accept_upload``), as a problem of the ``photo`` field."""
    try:
        accept_upload(upload, max_bytes=limits.max_media_bytes, allowed=limits.media_types, at=at)
    except TooLarge:
        return Problem("too_large", f"{limits.max_media_bytes / 1_000_000:.0f}")
    except UnsupportedMediaType:
        return Problem("not_image")
    except Invalid:
        return Problem("empty")
    return None


def check_report(
    uow: UnitOfWork, clock: Clock, cmd: SubmitRequest, geography: Geography | None, limits: Limits = DEFAULT_LIMITS
) -> ReportCheck:
    """Every check the report makes, each field's problem at once, and the open requests of the service nearby.
    Writes nothing."""
    problems: dict[str, Problem] = {}
    now = clock.now()
    point: tuple[float, float] | None = None
    try:
        lat = parse_coordinate(cmd.lat, "lat", 90.0)
        long = parse_coordinate(cmd.long, "long", 180.0)
        if (lat is None) != (long is None):
            problems["location"] = Problem("coordinates")
        elif lat is not None and long is not None:
            point = (lat, long)
    except Invalid:
        problems["location"] = Problem("coordinates")
    address = (cmd.address_string or "").strip()
    if len(address) > MAX_ADDRESS:
        problems["location"] = Problem("too_long", str(MAX_ADDRESS))
    elif point is None and not address and "location" not in problems:
        problems["location"] = Problem("required")
    description = (cmd.description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        problems["description"] = Problem("too_long", str(MAX_DESCRIPTION))
    for upload in cmd.uploads:
        found = check_photo(upload, limits, now)
        if found is not None:
            problems["photo"] = found
    email = check_email(cmd.contact.email)
    if email is not None:
        problems["email"] = email
    nearby: list[Match] = []
    with uow:
        code = (cmd.service_code or "").strip()
        service = uow.catalog.service(code) if code else None
        if service is None or not service.active:
            problems["service"] = Problem("choose" if not code else "unknown")
            return ReportCheck(None, problems, (), point)
        if not service.residents.anonymous and not cmd.contact.email and "email" not in problems:
            problems["email"] = Problem("required")
        for attribute in sorted(service.attributes, key=lambda a: a.order):
            if attribute.variable:
                found = _attribute_problem(attribute, cmd.attributes.get(attribute.code, []))
                if found is not None:
                    problems[f"attribute:{attribute.code}"] = found
        if point is not None and geography is not None:
            bodies = {b.code: b for b in uow.catalog.bodies()}
            try:
                route(service, point[0], point[1], geography, uow.catalog.rules(), bodies)
            except Invalid:
                here = available_services(uow.catalog.services(), point[0], point[1], geography,
                                          uow.catalog.rules(), bodies)  # fmt: skip
                if here:
                    problems["service"] = Problem("not_here")
                else:
                    problems["location"] = Problem("outside")
        if point is not None and "location" not in problems:
            found_nearby = find_duplicates(uow.requests, service, point[0], point[1], description, now, limit=50)
            nearby = [m for m in found_nearby if m.request.status != "closed"][:NEARBY]
    return ReportCheck(service, problems, tuple(nearby), point)


def stage_photo(uow: UnitOfWork, clock: Clock, upload: Upload, limits: Limits = DEFAULT_LIMITS) -> str:
    """Keep a photo the form received while something else must be fixed: stored now (checked as the API
    checks), attached to the request when it is sent (``SubmitRequest.staged_media``). Returns its id."""
    item = accept_upload(upload, max_bytes=limits.max_media_bytes, allowed=limits.media_types, at=clock.now())
    with uow:
        uow.begin_writes()
        uow.requests.add_media(item)
        uow.commit()
    log.info("report form: photo %s kept (%d bytes) while the form is fixed", item.id, item.size)
    return item.id


@dataclass(frozen=True, slots=True)
class Observed:
    """How long a service took to close lately: ``count`` closures (fixed, or nothing could be done) in the
    window, their median and 80th percentile in hours; ``area`` the (layer, key) they were counted in (None: the
    whole service)."""

    count: int
    median_hours: float
    p80_hours: float
    area: tuple[str, str] | None


def _summary(hours: Sequence[float], area: tuple[str, str] | None) -> Observed:
    ordered = sorted(hours)
    p80 = statistics.quantiles(ordered, n=5, method="inclusive")[3] if len(ordered) > 1 else ordered[0]
    return Observed(len(ordered), statistics.median(ordered), p80, area)


def observed_times(uow: UnitOfWork, service_code: str, areas: dict[str, str] | None, now: datetime) -> Observed | None:
    """The service's time to close over the last :data:`OBSERVED_DAYS` days (its :data:`SAMPLE` most recent
    closures) in the smallest of ``areas`` with at least :data:`MIN_SAMPLE` closures among them (the area with the
    fewest closures among those with enough), else over the whole service; None when even that has fewer."""
    wanted = sorted((areas or {}).items())
    layers = [layer for layer, _ in wanted]
    with uow:
        closures = uow.requests.recent_closures(service_code, now - timedelta(days=OBSERVED_DAYS), layers,
                                                limit=SAMPLE)  # fmt: skip
    best: tuple[list[float], tuple[str, str]] | None = None
    for index, (layer, key) in enumerate(wanted):
        hours = [h for h, where in closures if where[index] == key]
        if len(hours) >= MIN_SAMPLE and (best is None or len(hours) < len(best[0])):
            best = (hours, (layer, key))
    if best is not None:
        return _summary(*best)
    return _summary([h for h, _ in closures], None) if len(closures) >= MIN_SAMPLE else None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the page after sending shows: the request as the track page has it, the service's target, and how
    long such reports took lately."""

    tracked: Tracked
    sla: SlaTarget | None
    observed: Observed | None
    referred: bool  # passed at once to another organisation, which looks after the place


ObservedLookup = Callable[[str, "dict[str, str] | None"], "Observed | None"]


def report_outcome(
    uow: UnitOfWork, request_id: int, now: datetime, observed: ObservedLookup | None = None, language: str | None = None
) -> Outcome:
    """The page after sending (public data only, as the track page): :class:`NotFound` for an unknown number.
    ``observed``: how the usual times are found (a cache of :func:`observed_times`; none: read now); ``language``:
    the page's (bodies are named in it)."""
    tracked = track_request(uow, request_id, language)
    with uow:
        request = uow.requests.get(request_id)
        service = uow.catalog.service(request.service_code) if request is not None else None
    if request is None:  # pragma: no cover - deleted between the two reads
        raise NotFound(f"no request number {request_id}")
    if observed is None:
        usual = observed_times(uow, request.service_code, request.areas, now)
    else:
        usual = observed(request.service_code, request.areas)
    referred = request.close_reason is CloseReason.REFERRED
    return Outcome(tracked, service.sla if service is not None else None, usual, referred)
