"""The agent console (``/staff/agent``) and the knowledge articles (``/staff/knowledge``). Server-rendered, every
control a plain form (no JavaScript).

Each page builds a command and calls a use case (``agent/handlers.py``; filing and following are the request use
cases ``submit_request`` and ``follow_request``, exactly as the API calls them); the use case asks the policy.
Searches and histories are POSTs: a caller's phone number or email never sits in an address (nor in access logs),
and each is an audited read of contact data."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from civicswitch.agent.handlers import (
    CONSENT_GIVEN,
    TOPIC_DAYS,
    FilingCheck,
    LogCall,
    SaveArticle,
    call_topics,
    caller_history,
    check_filing,
    delete_article,
    filing_channels,
    knowledge_article,
    knowledge_articles,
    log_call,
    save_article,
    search_callers,
)
from civicswitch.agent.model import CallerRow, KnowledgeArticle
from civicswitch.catalog.model import Datatype, Service
from civicswitch.core.errors import DomainError, Forbidden, Invalid
from civicswitch.people.policy import Action, Principal, Role, allowed, needs_target, reach_of
from civicswitch.requests.commands import FollowRequest, SubmitRequest
from civicswitch.requests.handlers import Limits, submit_request
from civicswitch.requests.model import Channel, Contact
from civicswitch.requests.staff import follow_request
from civicswitch.web.context import context
from civicswitch.web.maps import map_view
from civicswitch.web.open311.params import attributes_from
from civicswitch.web.principals import Session, check_csrf
from civicswitch.web.public import follow_links
from civicswitch.web.residents import mail_to_residents
from civicswitch.web.staffpages import refusal_page, render_page, signed_in_staff

log = logging.getLogger(__name__)
router = APIRouter(prefix="/staff", include_in_schema=False)

MAX_FORM_FIELDS = 300
CHANNEL_TEXT = {Channel.PHONE: "Phone", Channel.WALK_IN: "Walk-in"}  # the console's calls, an agent's filing
FILED_BY_TEXT = {**CHANNEL_TEXT, Channel.LIAISON: "In person, by a liaison"}
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone")
FILING_FIELDS = ("channel", "consent", *CONTACT_FIELDS, "address_string", "lat", "long", "description")
NOTICES = {
    "filed": "Request {request} filed for the caller.",
    "followed": "The caller was added as a follower of request {request}.",
    "logged": "Call logged.",
}
# The same, said to staff without the console (a liaison), on the filing start page.
RESIDENT_NOTICES = {
    "filed": "Request {request} filed for the resident.",
    "followed": "The resident was added as a follower of request {request}.",
}
# What a new follower hears, as follow_request left it (the API's answer says the same to apps).
CONFIRM_TEXT = {
    "email": "A link to confirm is on its way to their email: until they open it, nothing is sent to them.",
    "email-no-mail": "This instance sends no mail to residents: their email is kept unconfirmed and hears nothing.",
    "pending": "Their phone number is kept unconfirmed: nothing is sent to it until they confirm it.",
}

# Knowledge articles: CommonMark with raw HTML off (typed tags are shown as text, never run) and links only to
# the safe schemes markdown-it allows (no javascript:, vbscript:, file: or data: but images).
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def render_markdown(text: str) -> Markup:
    """An article's Markdown as HTML that is safe to put in a page."""
    return Markup(_markdown.render(text))  # noqa: S704 - raw HTML is off: every tag typed is escaped by the renderer


def _services(request: Request) -> list[tuple[str, str]]:
    with context(request).reader() as uow:
        return sorted(((s.code, s.name) for s in uow.catalog.services() if s.active), key=lambda s: s[1])


async def _form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)


def _text(form: FormData, name: str, limit: int = 4000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


# -- the console ------------------------------------------------------------------------------------------------
def _console(request: Request, principal: Principal, session: Session, status: int = 200, **extra: Any) -> Response:
    ctx = context(request)
    try:
        topics = call_topics(ctx.reader(), ctx.clock, principal)
    except DomainError as exc:
        problem = exc
        return refusal_page(request, session, principal, problem)
    values: dict[str, Any] = {"q": "", "found": None, "error": "", "call_error": "", "call": {}, "notice": ""}
    values.update(extra)
    return render_page(
        request,
        "staff_agent.html",
        status,
        title="Agent console",
        csrf=session.csrf,
        principal=principal,
        topics=topics,
        days=TOPIC_DAYS,
        services=_services(request),
        channels=CHANNEL_TEXT,
        **values,
    )


@dataclass
class DoneParams:
    """What a filing or a follow did, as its redirect says it (``?done=…&request=…&confirm=…``): the console's and
    the filing start page's notice."""

    done: Annotated[str, Query(max_length=20)] = ""
    request_id: Annotated[str, Query(alias="request", max_length=12)] = ""
    confirm: Annotated[str, Query(max_length=20)] = ""

    @property
    def number(self) -> str:
        return self.request_id if self.request_id.isascii() and self.request_id.isdigit() else ""

    def notice(self, texts: dict[str, str]) -> str:
        notice = texts.get(self.done, "").format(request=self.number)
        if notice and self.done == "followed" and self.confirm in CONFIRM_TEXT:
            notice = f"{notice} {CONFIRM_TEXT[self.confirm]}"
        return notice


Done = Annotated[DoneParams, Depends()]


@router.get("/agent", response_class=HTMLResponse)
def console(request: Request, done: Done) -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    number, notice = done.number, done.notice(NOTICES)
    return _console(request, principal, session, notice=notice, filed=number if done.done == "filed" else "")


@router.post("/agent/search", response_class=HTMLResponse)
async def search(request: Request) -> Response:
    """The one search box, a page at a time (a POST: what is searched for is personal data, so even the next and
    previous pages are buttons that post it again, never links that would put it in an address)."""
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    form = await _form(request)
    check_csrf(session, _text(form, "csrf", 100))
    q = _text(form, "q", 300)
    given = _text(form, "page", 10).strip()
    page = int(given) if given.isascii() and given.isdigit() else 1
    ctx = context(request)
    try:
        result = await run_in_threadpool(lambda: search_callers(ctx.writer(), ctx.clock, principal, q, page))
    except DomainError as exc:
        problem = exc
        if problem.code == 403:
            return await run_in_threadpool(lambda: refusal_page(request, session, principal, problem))
        return await run_in_threadpool(
            lambda: _console(request, principal, session, problem.code, q=q, error=problem.description)
        )
    return await run_in_threadpool(lambda: _console(request, principal, session, q=q, found=result))


@router.post("/agent/history", response_class=HTMLResponse)
async def history(request: Request) -> Response:
    """A caller's requests across every department (filed or followed), and "file for this caller"."""
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    form = await _form(request)
    check_csrf(session, _text(form, "csrf", 100))
    caller = {name: _text(form, name, 320).strip() for name in CONTACT_FIELDS}
    ctx = context(request)
    try:
        rows = await run_in_threadpool(
            lambda: caller_history(ctx.writer(), ctx.clock, principal, caller["email"], caller["phone"])
        )
    except DomainError as exc:
        problem = exc
        return await run_in_threadpool(lambda: refusal_page(request, session, principal, problem))
    who = " ".join(p for p in (caller["first_name"], caller["last_name"]) if p) or caller["email"] or caller["phone"]
    bodies = sorted({r.body_code for r in rows if r.body_code})
    return await run_in_threadpool(
        lambda: render_page(
            request,
            "staff_agent_history.html",
            title=f"History of {who}",
            csrf=session.csrf,
            principal=principal,
            rows=rows,
            caller=caller,
            who=who,
            bodies=bodies,
            services=_services(request),
        )
    )


@router.post("/agent/calls")
async def calls(request: Request) -> Response:
    """Log an information-only call."""
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    form = await _form(request)
    check_csrf(session, _text(form, "csrf", 100))
    call = {name: _text(form, name) for name in ("topic", "service", "channel", "note")}
    ctx = context(request)
    cmd = LogCall(principal, call["topic"], call["channel"] or "phone", call["service"] or None, call["note"])
    try:
        await run_in_threadpool(lambda: log_call(ctx.writer(), ctx.clock, cmd))
    except DomainError as exc:
        problem = exc
        if problem.code == 403:
            return await run_in_threadpool(lambda: refusal_page(request, session, principal, problem))
        return await run_in_threadpool(
            lambda: _console(request, principal, session, problem.code, call=call, call_error=problem.description)
        )
    return RedirectResponse("/staff/agent?done=logged", status_code=303)


# -- filing for a caller ----------------------------------------------------------------------------------------
@dataclass
class Filing:
    """What the agent typed so far (kept across the steps in hidden fields)."""

    service: Service
    values: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def read(cls, service: Service, form: FormData | None, who: Principal) -> Filing:
        channels = filing_channels(who)
        if form is None:
            return cls(service, {"channel": str(channels[0])})
        values = {name: _text(form, name).strip() for name in FILING_FIELDS}
        if len(channels) == 1 or not values["channel"]:  # a liaison's is always "liaison"; an agent's is asked
            values["channel"] = str(channels[0])
        known = {a.code for a in service.attributes if a.variable}
        attributes = {}
        for code, given in attributes_from(form).items():
            answers = [v.strip() for v in given if v.strip()]
            if code in known and answers:
                attributes[code] = answers
        return cls(service, values, attributes)

    def hidden(self) -> list[tuple[str, str]]:
        """Every value as (name, value) pairs for hidden fields."""
        pairs = [(name, value) for name, value in self.values.items() if value]
        for code, given in self.attributes.items():
            pairs += [(f"attribute[{code}]", v) for v in given if v.strip()]
        return pairs

    def contact(self) -> Contact:
        v = self.values
        return Contact(
            v.get("first_name") or None, v.get("last_name") or None, v.get("email") or None, v.get("phone") or None
        )

    def command(self, who: Principal, contact: Contact) -> SubmitRequest:
        v = self.values
        allowed_here = {str(c) for c in filing_channels(who)}
        channel = Channel(v["channel"]) if v.get("channel") in allowed_here else Channel.OTHER
        return SubmitRequest(
            service_code=self.service.code,
            api_key=None,
            lat=v.get("lat") or None,
            long=v.get("long") or None,
            address_string=v.get("address_string") or None,
            description=v.get("description", ""),
            attributes=self.attributes,
            contact=contact,
            channel=channel,
            principal=who,
            # the resident's consent, as the liaison's tick box records it: a yes, at the time of filing
            consent=CONSENT_GIVEN if v.get("consent") == CONSENT_GIVEN else None,
        )


def _has_console(principal: Principal) -> bool:
    return allowed(principal, Action.AGENT_SEARCH)


def _may_file(principal: Principal) -> bool:
    """Whether this person may file on someone's behalf somewhere (a liaison: in its areas, checked on filing)."""
    return reach_of(principal, Action.REQUEST_SUBMIT) is not None


def _back(principal: Principal) -> tuple[str, str]:
    """Where the filing pages' "back" link goes: the agent console, or (a liaison) the choice of a service."""
    if _has_console(principal):
        return "/staff/agent", "Back to the agent console"
    return "/staff/file", "Back to choosing a service"


def _after(principal: Principal, done: str, number: str, confirm: str = "") -> str:
    """Where a filing or a follow lands: the console with its notice, or (no console: a liaison) the filing start."""
    start = "/staff/agent" if _has_console(principal) else "/staff/file"
    target = f"{start}?done={done}&request={quote(number)}"
    return f"{target}&confirm={quote(confirm)}" if confirm else target


def _start_page(
    request: Request,
    principal: Principal,
    session: Session,
    status: int = 200,
    *,
    error: str = "",
    done: DoneParams | None = None,
) -> Response:
    """The start of filing on a resident's behalf for staff without the agent console (a liaison): choose the
    service; after a filing or a follow, what was done."""
    done = done or DoneParams()
    number, notice = done.number, done.notice(RESIDENT_NOTICES)
    return render_page(
        request,
        "staff_file_start.html",
        status,
        title="File for a resident",
        csrf=session.csrf,
        principal=principal,
        services=_services(request),
        notice=notice,
        error=error,
        request_number=number if notice else "",
    )


@router.get("/file", response_class=HTMLResponse)
def file_start(request: Request, done: Done) -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    if not _may_file(principal):
        refusal = Forbidden(f"{principal.role} may not {Action.REQUEST_SUBMIT} for any resident ({principal.name})")
        return refusal_page(request, session, principal, refusal)
    return _start_page(request, principal, session, done=done)


def _no_service(request: Request, principal: Principal, session: Session) -> Response:
    """No (active) service chosen: back where one is chosen, the filing start page or (agents) the console."""
    if not _has_console(principal) and _may_file(principal):
        return _start_page(request, principal, session, 400, error="Choose a service to file.")
    return _console(request, principal, session, 400, error="Choose a service to file.")


def _service(request: Request, code: str) -> Service | None:
    with context(request).reader() as uow:
        service = uow.catalog.service(code.strip()) if code.strip() else None
    return service if service is not None and service.active else None


def _file_page(
    request: Request,
    principal: Principal,
    session: Session,
    filing: Filing,
    *,
    errors: dict[str, str] | None = None,
    check: FilingCheck | None = None,
    message: str = "",
    status: int = 200,
) -> Response:
    ctx = context(request)
    liaison = principal.role is Role.LIAISON
    try:
        articles = knowledge_articles(ctx.reader(), principal, service_code=filing.service.code, limit=10)
    except DomainError:
        articles = []
    questions = sorted(filing.service.attributes, key=lambda a: a.order)
    template = "staff_agent_check.html" if check is not None and not check.errors else "staff_agent_file.html"
    return render_page(
        request,
        template,
        status,
        title=f"File for {'a resident' if liaison else 'a caller'}: {filing.service.name}",
        liaison=liaison,
        back=_back(principal),
        csrf=session.csrf,
        principal=principal,
        filing=filing,
        service=filing.service,
        questions=questions,
        errors=errors or {},
        check=check,
        message=message,
        channels={c: FILED_BY_TEXT[c] for c in filing_channels(principal)},
        articles=articles,
        markdown=render_markdown,
        datatype=Datatype,
        services=_services(request),
        map=map_view(request),
    )


@router.get("/agent/file", response_class=HTMLResponse)
def file_form(request: Request, service: Annotated[str, Query(max_length=100)] = "") -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    chosen = _service(request, service)
    if chosen is None:
        return _no_service(request, principal, session)
    if not _may_file(principal):
        refusal = Forbidden(f"{principal.role} may not {Action.REQUEST_SUBMIT} for any caller ({principal.name})")
        return refusal_page(request, session, principal, refusal)
    return _file_page(request, principal, session, Filing.read(chosen, None, principal))


@router.post("/agent/file", response_class=HTMLResponse)
async def file_step(request: Request) -> Response:
    """The steps of "file on behalf": ``start`` (the form, e.g. from a caller's history), ``check`` (everything
    checked, nearby open requests shown; nothing written), ``edit`` (back to the form) and ``file``."""
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    form = await _form(request)
    check_csrf(session, _text(form, "csrf", 100))
    step = _text(form, "step", 10)
    chosen = await run_in_threadpool(_service, request, _text(form, "service_code", 100))
    if chosen is None:
        return await run_in_threadpool(_no_service, request, principal, session)
    filing = Filing.read(chosen, form, principal)
    if not filing.values.get("channel"):
        filing.values["channel"] = str(Channel.PHONE)
    if step in ("start", "edit"):
        return await run_in_threadpool(lambda: _file_page(request, principal, session, filing))
    try:
        contact = filing.contact()
    except Invalid as exc:
        problem: DomainError = exc
        return await run_in_threadpool(
            lambda: _file_page(request, principal, session, filing, errors={"contact": problem.description}, status=400)
        )
    ctx = context(request)
    cmd = filing.command(principal, contact)
    if step == "file":
        limits = Limits(
            max_media_bytes=ctx.settings.max_media_bytes,
            media_types=ctx.settings.media_types,
            clock_skew=timedelta(seconds=ctx.settings.clock_skew_seconds),
        )
        try:
            result = await run_in_threadpool(
                lambda: submit_request(ctx.writer(), ctx.clock, cmd, limits, ctx.geography())
            )
        except DomainError as exc:
            problem = exc
            if problem.code == 403 and not needs_target(principal, Action.REQUEST_SUBMIT):
                return await run_in_threadpool(lambda: refusal_page(request, session, principal, problem))
            # a liaison's place outside its areas: the form again, with where it may file
            return await run_in_threadpool(
                lambda: _file_page(
                    request, principal, session, filing, message=problem.description, status=problem.code
                )
            )
        number = result.service_request_id or ""
        return RedirectResponse(_after(principal, "filed", number), status_code=303)
    try:
        check = await run_in_threadpool(lambda: check_filing(ctx.reader(), ctx.clock, cmd))
    except DomainError as exc:
        problem = exc
        return await run_in_threadpool(lambda: refusal_page(request, session, principal, problem))
    status = 400 if check.errors else 200
    return await run_in_threadpool(
        lambda: _file_page(request, principal, session, filing, errors=check.errors, check=check, status=status)
    )


@router.post("/agent/follow")
async def follow(request: Request) -> Response:
    """ "Add this caller as a follower" of a nearby open request, instead of filing a new one."""
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    form = await _form(request)
    check_csrf(session, _text(form, "csrf", 100))
    number = _text(form, "request_id", 20).strip()
    ctx = context(request)
    chosen = await run_in_threadpool(_service, request, _text(form, "service_code", 100))
    try:
        filing = Filing.read(chosen, form, principal) if chosen is not None else None
        contact = filing.contact() if filing is not None else Contact()
        cmd = FollowRequest(None, number, contact, principal=principal)
        links = await run_in_threadpool(follow_links, request)
        result = await run_in_threadpool(lambda: follow_request(ctx.writer(), ctx.clock, cmd, links))
    except DomainError as exc:
        problem = exc
        if problem.code == 403 or filing is None:
            return await run_in_threadpool(lambda: refusal_page(request, session, principal, problem))
        check = await run_in_threadpool(
            lambda: check_filing(ctx.reader(), ctx.clock, filing.command(principal, Contact()))
        )
        return await run_in_threadpool(
            lambda: _file_page(
                request, principal, session, filing, check=check, message=problem.description, status=problem.code
            )
        )
    confirm = result.confirmation
    if confirm == "email" and not await run_in_threadpool(mail_to_residents, request):
        confirm = "email-no-mail"
    target = _after(principal, "followed", result.service_request_id, confirm)
    return RedirectResponse(target, status_code=303)


# -- knowledge articles -----------------------------------------------------------------------------------------
@router.get("/knowledge", response_class=HTMLResponse)
def knowledge(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    service: Annotated[str, Query(max_length=100)] = "",
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    ctx = context(request)
    try:
        articles = knowledge_articles(ctx.reader(), principal, q, service)
    except DomainError as exc:
        problem = exc
        return refusal_page(request, session, principal, problem)
    return render_page(
        request,
        "staff_knowledge.html",
        title="Knowledge articles",
        csrf=session.csrf,
        principal=principal,
        articles=articles,
        q=q,
        service=service,
        services=_services(request),
        may_manage=allowed(principal, Action.KNOWLEDGE_MANAGE),
        notice="Article deleted." if done == "deleted" else "",
    )


def _editor(
    request: Request,
    principal: Principal,
    session: Session,
    article: KnowledgeArticle | None,
    values: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    if not allowed(principal, Action.KNOWLEDGE_MANAGE):
        refusal = Forbidden(f"{principal.role} may not {Action.KNOWLEDGE_MANAGE} ({principal.name})")
        return refusal_page(request, session, principal, refusal)
    if values is None:
        values = (
            {
                "slug": article.slug,
                "title": article.title,
                "body": article.body_markdown,
                "services": list(article.services),
            }
            if article
            else {"slug": "", "title": "", "body": "", "services": []}
        )
    title = f"Edit: {article.title}" if article else "New knowledge article"
    return render_page(
        request,
        "staff_knowledge_edit.html",
        status,
        title=title,
        csrf=session.csrf,
        principal=principal,
        article=article,
        values=values,
        error=error,
        services=_services(request),
    )


@router.get("/knowledge/new", response_class=HTMLResponse)
def knowledge_new(request: Request) -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    return _editor(request, principal, session, None)


@router.get("/knowledge/{slug}", response_class=HTMLResponse)
def knowledge_page(request: Request, slug: str, done: str = "") -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    ctx = context(request)
    try:
        article = knowledge_article(ctx.reader(), principal, slug)
    except DomainError as exc:
        problem = exc
        return refusal_page(request, session, principal, problem)
    names = dict(_services(request))
    return render_page(
        request,
        "staff_knowledge_article.html",
        title=article.title,
        csrf=session.csrf,
        principal=principal,
        article=article,
        body=render_markdown(article.body_markdown),
        service_names=[names.get(c, c) for c in article.services],
        notice="Saved." if done == "saved" else "",
        may_manage=allowed(principal, Action.KNOWLEDGE_MANAGE),
    )


@router.get("/knowledge/{slug}/edit", response_class=HTMLResponse)
def knowledge_edit(request: Request, slug: str) -> Response:
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    ctx = context(request)
    try:
        article = knowledge_article(ctx.reader(), principal, slug)
    except DomainError as exc:
        problem = exc
        return refusal_page(request, session, principal, problem)
    return _editor(request, principal, session, article)


async def _save(request: Request, editing: str | None) -> Response:
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    form = await _form(request)
    check_csrf(session, _text(form, "csrf", 100))
    services = [v for k, v in form.multi_items() if k == "services" and isinstance(v, str)]
    slug, title, body = _text(form, "slug", 200), _text(form, "title", 300), _text(form, "body", 40_000)
    values = {"slug": slug, "title": title, "body": body, "services": services}
    ctx = context(request)
    cmd = SaveArticle(principal, slug, title, body, tuple(services), editing)
    try:
        saved = await run_in_threadpool(lambda: save_article(ctx.writer(), ctx.clock, cmd))
    except DomainError as exc:
        problem = exc
        if problem.code == 403:
            return await run_in_threadpool(lambda: refusal_page(request, session, principal, problem))
        article = None
        if editing is not None:
            try:
                article = await run_in_threadpool(lambda: knowledge_article(ctx.reader(), principal, editing))
            except DomainError:
                return await run_in_threadpool(lambda: refusal_page(request, session, principal, problem))
        return await run_in_threadpool(
            lambda: _editor(request, principal, session, article, values, problem.description, problem.code)
        )
    return RedirectResponse(f"/staff/knowledge/{quote(saved.slug)}?done=saved", status_code=303)


@router.get("/knowledge/{slug}/delete", response_class=HTMLResponse)
def knowledge_delete_page(request: Request, slug: str) -> Response:
    """The question before deleting an article (a plain page and form: works without JavaScript)."""
    found = signed_in_staff(request)
    if isinstance(found, Response):
        return found
    principal, session = found
    ctx = context(request)
    try:
        article = knowledge_article(ctx.reader(), principal, slug)
        if not allowed(principal, Action.KNOWLEDGE_MANAGE):
            raise Forbidden(f"{principal.role} may not {Action.KNOWLEDGE_MANAGE} ({principal.name})")
    except DomainError as exc:
        problem = exc
        return refusal_page(request, session, principal, problem)
    return render_page(request, "staff_knowledge_delete.html", title=f"Delete: {article.title}", csrf=session.csrf,
                 principal=principal, article=article)  # fmt: skip


@router.post("/knowledge/{slug}/delete")
async def knowledge_delete(request: Request, slug: str) -> Response:
    """Delete an article (``knowledge.manage``, audited), once the admin confirmed it."""
    found = await run_in_threadpool(signed_in_staff, request)
    if isinstance(found, Response):
        return found
    principal, session = found
    form = await _form(request)
    check_csrf(session, _text(form, "csrf", 100))
    ctx = context(request)
    try:
        await run_in_threadpool(lambda: delete_article(ctx.writer(), ctx.clock, principal, slug))
    except DomainError as exc:
        problem = exc
        log.info("knowledge article %r not deleted for %s: %s", slug[:120], principal.label, problem.description)
        return await run_in_threadpool(lambda: refusal_page(request, session, principal, problem))
    return RedirectResponse("/staff/knowledge?done=deleted", status_code=303)


@router.post("/knowledge/new")
async def knowledge_create(request: Request) -> Response:
    return await _save(request, None)


@router.post("/knowledge/{slug}/edit")
async def knowledge_update(request: Request, slug: str) -> Response:
    return await _save(request, slug)


__all__ = ["CallerRow", "render_markdown", "router"]
