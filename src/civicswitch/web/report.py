"""The residents' report form, in their language (web/i18n.py): ``/report``.

One page, which works without JavaScript: what (the services, grouped, found by their words, only those taken at
the place once it is known), where ("Where is it?" — an address, an intersection or a description of the place —
and, to help, a map with a pin and the coordinates), the service's questions, a description, a photo and how to
reach the resident (optional where the service allows). Pressing "Send report":

1. everything is checked at once (requests/reporting.py ``check_report``); a problem sends the page back with a
   summary linking to each field, everything typed kept (a photo too: it is stored and carried by a signed id);
2. where open requests of the same service are near the point, they are shown first: the resident follows one
   instead (``/report/follow``: email, then a confirmation link), or sends the report anyway;
3. the report is filed by ``submit_request`` (the Open311 API's use case: one intake path, one set of rules), with
   the page's language, and the browser goes to ``/report/sent/{number}``: the number, who handles it, how long
   such reports usually take there, and the tracking link.

Without JavaScript a "Show the questions" button asks for the chosen service's questions; with it (static/report.js)
they come by themselves (``/report/questions``) and the list of services follows the pin (``/report/services``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from cachetools import TTLCache
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from civicswitch.catalog.model import Datatype, Service
from civicswitch.core.errors import DomainError, NotFound
from civicswitch.core.geo import parse_coordinate
from civicswitch.people.policy import RESIDENT_ON_THE_WEB
from civicswitch.requests.commands import FollowRequest, SubmitRequest, Upload
from civicswitch.requests.handlers import Limits, submit_request
from civicswitch.requests.model import Channel, Contact
from civicswitch.requests.reporting import (
    Observed,
    ObservedLookup,
    Problem,
    ReportCheck,
    check_email,
    check_photo,
    check_report,
    matching,
    observed_times,
    report_outcome,
    services_here,
    stage_photo,
)
from civicswitch.requests.staff import follow_request
from civicswitch.web import i18n
from civicswitch.web.context import AppContext, context
from civicswitch.web.maps import map_view
from civicswitch.web.open311.params import attributes_from
from civicswitch.web.principals import session_secret
from civicswitch.web.public import follow_links
from civicswitch.web.residents import _number, language, mail_to_residents, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

FIELDS = (
    "service_code",
    "q",
    "address_string",
    "lat",
    "long",
    "description",
    "first_name",
    "last_name",
    "email",
    "phone",
)
LIMITS = {
    "service_code": 100,
    "q": 200,
    "address_string": 500,
    "lat": 30,
    "long": 30,
    "description": 4000,
    "first_name": 200,
    "last_name": 200,
    "email": 320,
    "phone": 50,
}
PHOTO_SALT = "civicswitch.report-photo"
PHOTO_SECONDS = 24 * 3600  # a kept photo's id is good for a day (the form is filled in minutes)
MAX_ATTRIBUTE = 4000


@dataclass
class ReportForm:
    """What the resident typed so far (carried across the steps in the form's own fields)."""

    values: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, list[str]] = field(default_factory=dict)
    photo: str = ""  # the signed id of a photo already kept (stage_photo)
    photo_name: str = ""

    @classmethod
    def read(cls, form: FormData) -> ReportForm:
        values: dict[str, str] = {}
        for name in FIELDS:
            given = form.get(name)
            values[name] = given.strip()[: LIMITS[name] + 1] if isinstance(given, str) else ""
        attributes = {
            code: [v[: MAX_ATTRIBUTE + 1] for v in given if v.strip()] for code, given in attributes_from(form).items()
        }
        photo, photo_name = form.get("photo_id"), form.get("photo_name")
        return cls(
            values,
            {k: v for k, v in attributes.items() if v},
            photo if isinstance(photo, str) else "",
            photo_name[:255] if isinstance(photo_name, str) else "",
        )

    def point(self) -> tuple[float, float] | None:
        try:
            lat = parse_coordinate(self.values.get("lat") or None, "lat", 90.0)
            long = parse_coordinate(self.values.get("long") or None, "long", 180.0)
        except DomainError:
            return None
        return (lat, long) if lat is not None and long is not None else None

    def contact(self) -> Contact:
        v = self.values
        return Contact(
            v.get("first_name") or None, v.get("last_name") or None, v.get("email") or None, v.get("phone") or None
        )

    def command(self, lang: str, uploads: tuple[Upload, ...], staged: tuple[str, ...]) -> SubmitRequest:
        v = self.values
        return SubmitRequest(
            service_code=v.get("service_code", ""),
            api_key=None,
            lat=v.get("lat") or None,
            long=v.get("long") or None,
            address_string=v.get("address_string") or None,
            description=v.get("description", ""),
            attributes=self.attributes,
            contact=self.contact(),
            uploads=uploads,
            staged_media=staged,
            channel=Channel.WEB,
            principal=RESIDENT_ON_THE_WEB,
            language=lang,
        )

    def hidden(self) -> list[tuple[str, str]]:
        """Every value as (name, value) pairs, for the "send anyway" form of the nearby step."""
        pairs = [(name, value) for name, value in self.values.items() if value and name != "q"]
        for code, given in self.attributes.items():
            pairs += [(f"attribute[{code}]", v) for v in given]
        if self.photo:
            pairs += [("photo_id", self.photo), ("photo_name", self.photo_name)]
        return pairs


def _contact_problem(report: ReportForm) -> ReportCheck | None:
    """The contact fields' own checks (the stores' limits, no NUL): a crafted form, as the fields have maxlength."""
    try:
        report.contact()
    except DomainError as exc:
        field_ = exc.field if exc.field in ("email", "phone", "first_name", "last_name") else "email"
        log.info("report form refused: %s", exc.description)
        return ReportCheck(None, {field_: Problem("refused", exc.description)}, (), None)
    return None


def _limits(request: Request) -> Limits:
    settings = context(request).settings
    return Limits(
        max_media_bytes=settings.max_media_bytes,
        media_types=settings.media_types,
        clock_skew=timedelta(seconds=settings.clock_skew_seconds),
    )


def _photo_signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(session_secret(context(request)), salt=PHOTO_SALT)


def _kept_photo(request: Request, token: str) -> str | None:
    """The id of a photo this form kept, from its signed id (None: none, altered, or older than a day)."""
    if not token:
        return None
    try:
        media_id = _photo_signer(request).loads(token, max_age=PHOTO_SECONDS)
    except BadSignature:
        log.info("report form: a kept photo's id was altered or is too old; asked again")
        return None
    return media_id if isinstance(media_id, str) else None


async def _uploads(form: FormData) -> tuple[Upload, ...]:
    photo = form.get("photo")
    if not isinstance(photo, UploadFile):
        return ()
    data = await photo.read()
    if not data and not photo.filename:
        return ()  # no file chosen
    return (Upload(filename=photo.filename, content_type=photo.content_type or "", data=data),)


def _sorted_groups(services: list[Service], lang: str) -> list[tuple[str, list[Service]]]:
    """The services by group in the page's language, groups and services in alphabetical order there."""
    groups: dict[str, list[Service]] = {}
    for s in services:
        groups.setdefault(s.text("group", lang) or "", []).append(s)
    fold = i18n.sort_key
    return [
        (g, sorted(items, key=lambda s: fold(s.text("name", lang))))
        for g, items in sorted(groups.items(), key=lambda item: (not item[0], fold(item[0])))
    ]


def _anchors(service: Service | None) -> dict[str, str]:
    """Each field's element id (the error summary links to them)."""
    found = {
        "service": "r-service",
        "location": "r-where",
        "description": "r-description",
        "photo": "r-photo",
        "email": "r-email",
        "phone": "r-phone",
        "first_name": "r-first",
        "last_name": "r-last",
    }
    if service is not None:
        for index, a in enumerate(sorted(service.attributes, key=lambda a: a.order), start=1):
            found[f"attribute:{a.code}"] = f"r-q{index}"
    return found


def _form_page(
    request: Request,
    report: ReportForm,
    *,
    check: ReportCheck | None = None,
    status: int = 200,
    service: Service | None = None,
) -> HTMLResponse:
    ctx = context(request)
    lang = language(request)
    point = report.point()
    everything = services_here(ctx.reader(), ctx.geography(), point)
    offered = matching(everything, report.values.get("q", ""), lang)
    code = report.values.get("service_code", "")
    if service is None and code:
        service = next((s for s in everything if s.code == code), None)
        if service is None:
            with ctx.reader() as uow:
                found = uow.catalog.service(code)
            service = found if found is not None and found.active else None
    if service is not None and service not in offered:
        offered = [service, *offered]  # the chosen one stays in the list, whatever the words
    problems = check.problems if check is not None else {}
    return render(
        request,
        "report.html",
        status,
        nav="report",
        report=report,
        v=report.values,
        service=service,
        groups=_sorted_groups(offered, lang),
        offered=len(offered),
        total=len(everything),
        here=point is not None,
        problems=problems,
        anchors=_anchors(service),
        questions=_questions(service),
        datatype=Datatype,
        map=map_view(request),
        media_types=ctx.settings.media_types,
        max_mb=f"{ctx.settings.max_media_bytes / 1_000_000:.0f}",
    )


def _questions(service: Service | None) -> list[Any]:
    return sorted(service.attributes, key=lambda a: a.order) if service is not None else []


@router.get("/report", response_class=HTMLResponse)
def report_form(
    request: Request,
    service: Annotated[str, Query()] = "",
    where: Annotated[str, Query()] = "",
    lat: Annotated[str, Query()] = "",
    long: Annotated[str, Query()] = "",
    q: Annotated[str, Query()] = "",
) -> Response:
    """The empty form, or one begun elsewhere (``?service=``, ``?lat=&long=`` from the map, ``?where=``)."""
    values = {
        "service_code": service[:100],
        "address_string": where[:500],
        "lat": lat[:30],
        "long": long[:30],
        "q": q[:200],
    }
    return _form_page(request, ReportForm(values))


@router.get("/report/questions", response_class=HTMLResponse)
def questions_fragment(request: Request, service: Annotated[str, Query()] = "") -> Response:
    """The chosen service's questions as a piece of the form (static/report.js puts it in the page)."""
    lang = language(request)
    with context(request).reader() as uow:
        found = uow.catalog.service(service[:100]) if service.strip() else None
    chosen = found if found is not None and found.active else None
    html = (
        i18n.environment(lang)
        .get_template("_report_questions.html")
        .render(
            lang=lang,
            questions=_questions(chosen),
            report=ReportForm(),
            problems={},
            anchors=_anchors(chosen),
            datatype=Datatype,
        )
    )
    return HTMLResponse(
        html, headers={"cache-control": "no-cache", "content-language": lang, "vary": "Accept-Language, Cookie"}
    )


@router.get("/report/services")
def services_json(request: Request, lat: Annotated[str, Query()] = "", long: Annotated[str, Query()] = "") -> Response:
    """The codes of the services taken at a point (static/report.js narrows the list to them): all of them for no
    point or a point that is not one."""
    ctx = context(request)
    point = ReportForm({"lat": lat[:30], "long": long[:30]}).point()
    services = services_here(ctx.reader(), ctx.geography(), point)
    return JSONResponse({"services": [s.code for s in services]}, headers={"cache-control": "no-cache"})


@router.post("/report", response_class=HTMLResponse)
async def send(request: Request) -> Response:
    """The form's steps: ``find`` (the words narrow the list), ``questions`` (the chosen service's questions),
    ``send`` (checked; nearby open requests shown once; filed) and ``anyway`` (sent after the nearby ones)."""
    ctx = context(request)
    form = await request.form()
    report = ReportForm.read(form)
    step = form.get("step")
    lang = language(request)
    limits = await run_in_threadpool(_limits, request)
    uploads = await _uploads(form)
    kept = await run_in_threadpool(_kept_photo, request, report.photo)
    if report.photo and kept is None:
        report.photo = report.photo_name = ""
    staged = (kept,) if kept is not None else ()
    if uploads and check_photo(uploads[0], limits, ctx.clock.now()) is None:
        # kept from now on, whatever step this is and whatever else must be fixed: never chosen twice
        media_id = await run_in_threadpool(lambda: stage_photo(ctx.writer(), ctx.clock, uploads[0], limits))
        report.photo = await run_in_threadpool(lambda: str(_photo_signer(request).dumps(media_id)))
        report.photo_name = uploads[0].filename or ""
        staged, uploads = (media_id,), ()
    if step in ("find", "questions"):
        return await run_in_threadpool(lambda: _form_page(request, report))
    wrong = _contact_problem(report)
    if wrong is not None:  # a name or number no store can hold (a crafted form): said on the form, nothing kept
        return await run_in_threadpool(lambda: _form_page(request, report, check=wrong, status=400))
    cmd = report.command(lang, uploads, () if uploads else staged)  # a photo still here is not a picture: refused
    check = await run_in_threadpool(lambda: check_report(ctx.reader(), ctx.clock, cmd, ctx.geography(), limits))
    problems = check.problems
    if problems:
        log.info("report form refused: %s", ", ".join(f"{k}={p.code}" for k, p in sorted(problems.items())))
        return await run_in_threadpool(
            lambda: _form_page(request, report, check=check, status=400, service=check.service)
        )
    if check.nearby and step != "anyway":
        return await run_in_threadpool(lambda: _nearby_page(request, report, check))
    try:
        result = await run_in_threadpool(lambda: submit_request(ctx.writer(), ctx.clock, cmd, limits, ctx.geography()))
    except DomainError as exc:  # changed meanwhile (the service closed, the photo went): the form says so
        log.info("report refused on filing: %s", exc.description)
        field_ = {"media": "photo", "service_code": "service", "lat": "location"}.get(
            exc.field or "", exc.field or "location"
        )
        refused = ReportCheck(check.service, {field_: Problem("refused", exc.description)}, (), check.point)
        status = exc.code
        return await run_in_threadpool(
            lambda: _form_page(request, report, check=refused, status=status, service=check.service)
        )
    number = result.request_id
    log.info("report %s sent from the residents' form (language %s)", number, lang)
    asked = i18n.chosen(request.query_params.get("lang"))
    return RedirectResponse(f"/report/sent/{number}" + (f"?lang={asked}" if asked else ""), status_code=303)


def _nearby_page(
    request: Request,
    report: ReportForm,
    check: ReportCheck,
    problems: dict[str, Problem] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The open requests of the service nearby: follow one of them (email), or send the report anyway."""
    lang = language(request)
    assert check.service is not None
    return render(
        request,
        "report_nearby.html",
        status,
        nav="report",
        report=report,
        service=check.service,
        nearby=check.nearby,
        hidden=report.hidden(),
        email=report.values.get("email", ""),
        problems=problems or {},
        map=map_view(request),
        point=check.point,
        service_name=check.service.text("name", lang),
        mail=mail_to_residents(request),
    )


@router.post("/report/follow", response_class=HTMLResponse)
async def follow(request: Request) -> Response:
    """ "Follow this one instead": the resident's email follows the chosen request (confirmed by a link we send:
    nothing else reaches the address before that)."""
    ctx = context(request)
    form = await request.form()
    report = ReportForm.read(form)
    chosen = form.get("request_id")
    number = chosen.strip() if isinstance(chosen, str) else ""
    email = report.values.get("email", "")
    problems: dict[str, Problem] = {}
    if not _number(number):
        problems["request_id"] = Problem("choose")
    found = check_email(email) if email else Problem("required")
    if found is not None:
        problems["follow_email"] = found
    if problems or _contact_problem(report) is not None:
        report.values.update(first_name="", last_name="", phone="")  # not needed to follow
        log.info("follow instead refused: %s", ", ".join(f"{k}={p.code}" for k, p in sorted(problems.items())))
        check = await run_in_threadpool(
            lambda: check_report(
                ctx.reader(), ctx.clock, report.command(language(request), (), ()), ctx.geography(), _limits(request)
            )
        )
        if check.service is None:
            return await run_in_threadpool(lambda: _form_page(request, report, check=check, status=400))
        return await run_in_threadpool(lambda: _nearby_page(request, report, check, problems, 400))
    links = await run_in_threadpool(follow_links, request)
    cmd = FollowRequest(None, number, Contact(email=email), principal=RESIDENT_ON_THE_WEB, language=language(request))
    try:
        result = await run_in_threadpool(lambda: follow_request(ctx.writer(), ctx.clock, cmd, links))
    except NotFound:
        return render(request, "track_lookup.html", 404, nav="track", number=number, problem="unknown")
    if report.photo:
        log.info("follow instead: the photo kept for the report is left unused")
    mail = await run_in_threadpool(mail_to_residents, request)
    return render(request, "report_followed.html", nav="report", number=result.service_request_id, mail=mail)


OBSERVED_SECONDS = 600.0  # how long a service's usual times in an area are kept (per process): 90 days' figures


class ObservedCache:
    """Each process's usual times by (service, areas) for :data:`OBSERVED_SECONDS`: counting a busy service's
    closures takes tens of milliseconds at a city's size (bench/staff_pages.py), and the figure of 90 days does
    not change in ten minutes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: TTLCache[tuple[str, tuple[tuple[str, str], ...]], Observed | None] = TTLCache(
            maxsize=4096, ttl=OBSERVED_SECONDS
        )

    def lookup(self, ctx: AppContext) -> ObservedLookup:
        def found(service_code: str, areas: dict[str, str] | None) -> Observed | None:
            key = (service_code, tuple(sorted((areas or {}).items())))
            with self._lock:
                if key in self._kept:
                    return self._kept[key]
            usual = observed_times(ctx.reader(), service_code, areas, ctx.clock.now())
            with self._lock:
                self._kept[key] = usual
            return usual

        return found


def _observed(request: Request) -> ObservedLookup:
    state = request.app.state
    cache: ObservedCache | None = getattr(state, "observed", None)
    if cache is None:
        cache = state.observed = ObservedCache()
    return cache.lookup(context(request))


@router.get("/report/sent/{number}", response_class=HTMLResponse)
async def sent(request: Request, number: str) -> Response:
    """After sending: the number, who handles it, how long such reports take there, the tracking link. Public
    data only (as the track page): anyone with the number sees the same."""
    ctx = context(request)
    outcome = None
    if _number(number[:30]):
        try:
            lookup = _observed(request)
            outcome = await run_in_threadpool(report_outcome, ctx.reader(), int(number), ctx.clock.now(), lookup,
                                              language(request))  # fmt: skip
        except NotFound:
            outcome = None
    if outcome is None:
        return render(request, "track_lookup.html", 404, nav="track", number=number[:100], problem="unknown")
    area = None
    if outcome.observed is not None and outcome.observed.area is not None:
        layer, key = outcome.observed.area
        area = ctx.area_index().area_name(layer, key) or key
    return render(request, "report_sent.html", nav="report", o=outcome, r=outcome.tracked, area=area)
