"""Use cases of the agent console. Each takes a unit of work (and the clock where time matters), asks the policy
and commits what it writes. Filing and following for a caller are the request use cases themselves
(``requests/handlers.submit_request``, ``requests/staff.follow_request``); :func:`check_filing` is the step before:
everything checked, nothing written, and the open requests nearby that the caller could follow instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from civicswitch.agent.model import (
    MAX_NOTE,
    MAX_TOPIC,
    CallChannel,
    CallerPage,
    CallerRow,
    InfoCall,
    KnowledgeArticle,
    TopicCount,
)
from civicswitch.agent.ports import MIN_PHONE_DIGITS, CallerQuery, digits_of, phone_forms
from civicswitch.catalog.model import InvalidAttributes, Service
from civicswitch.core.clock import Clock
from civicswitch.core.errors import Invalid, NotFound
from civicswitch.core.geo import parse_coordinate
from civicswitch.core.timefmt import parse_datetime
from civicswitch.people import audit
from civicswitch.people.policy import Action, Principal, Role, authorize, needs_target
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import MAX_DESCRIPTION
from civicswitch.requests.model import Channel
from civicswitch.routing.duplicates import Match, find_duplicates

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

MAX_QUERY = 200
TOPIC_DAYS = 7
RESERVED_SLUGS = frozenset({"new"})  # /staff/knowledge/new is the form for a new article
NEARBY = 5
FILING_CHANNELS = (Channel.PHONE, Channel.WALK_IN)
LIAISON_CHANNELS = (Channel.LIAISON,)  # a liaison files in person, on the resident's behalf
CONSENT_GIVEN = "yes"  # what the filing form records when the liaison ticks the resident's consent


def filing_channels(who: Principal) -> tuple[Channel, ...]:
    """How a request filed by ``who`` on someone's behalf may have reached us: an agent's caller phoned or walked
    in; a liaison met the resident."""
    return LIAISON_CHANNELS if who.role is Role.LIAISON else FILING_CHANNELS


def search_callers(uow: UnitOfWork, clock: Clock, who: Principal, text: str, page: int = 1) -> CallerPage:
    """One search box: a request number, a phone number, an email, a name, an address or a department's
    reference; one page of what it finds, newest first. The rows carry the filers' contact data, so every search
    (every page of it) is audited, with what was searched."""
    authorize(who, Action.AGENT_SEARCH)
    text = " ".join((text or "").split())
    if not text:
        raise Invalid("type a phone number, an email, a name, an address or a request number", field="q")
    if len(text) > MAX_QUERY:
        raise Invalid(f"the search is longer than {MAX_QUERY} characters", field="q")
    query = CallerQuery.parse(text, page=page)
    with uow:
        found = uow.callers.find(query)
        detail: dict[str, object] = {"query": text, "found": found.total}
        if found.more:
            detail["more"] = True
        if page != 1:
            detail["page"] = page
        audit.record(uow, clock.now(), who, Action.AGENT_SEARCH, "caller_search", None, detail=detail)
        uow.commit()
    return found


def caller_history(uow: UnitOfWork, clock: Clock, who: Principal, email: str = "", phone: str = "") -> list[CallerRow]:
    """A caller's requests across every department: those filed with this email or phone number and those they
    follow, newest first (audited: it shows contact data)."""
    authorize(who, Action.AGENT_SEARCH)
    address = (email or "").strip().lower() or None
    digits = digits_of((phone or "").strip())
    if digits and (not digits.isdigit() or len(digits) < MIN_PHONE_DIGITS):
        raise Invalid(f"a phone number has at least {MIN_PHONE_DIGITS} digits", field="phone")
    if address is None and not digits:
        raise Invalid("give the caller's email or phone number", field="email")
    if address is not None and ("@" not in address or len(address) > 320):
        raise Invalid("that is not an email address", field="email")
    with uow:
        rows = uow.callers.history(address, phone_forms(digits) if digits else ())
        audit.record(uow, clock.now(), who, Action.AGENT_SEARCH, "caller_history", None,
                     detail={"email": address, "phone": digits or None, "found": len(rows)})  # fmt: skip
        uow.commit()
    return rows


@dataclass(frozen=True, slots=True)
class LogCall:
    who: Principal
    topic: str
    channel: str = CallChannel.PHONE
    service_code: str | None = None
    note: str = ""


def log_call(uow: UnitOfWork, clock: Clock, cmd: LogCall) -> InfoCall:
    """An information-only call: a topic (what they asked about), optionally the service, a note."""
    authorize(cmd.who, Action.CALL_LOG)
    topic = " ".join((cmd.topic or "").split())
    if not topic or len(topic) > MAX_TOPIC:
        raise Invalid(f"a topic is required (at most {MAX_TOPIC} characters)", field="topic")
    try:
        channel = CallChannel((cmd.channel or "").strip())
    except ValueError:
        raise Invalid(f"channel must be one of {', '.join(CallChannel)}", field="channel") from None
    note = (cmd.note or "").strip()
    if len(note) > MAX_NOTE:
        raise Invalid(f"the note is longer than {MAX_NOTE} characters", field="note")
    code = (cmd.service_code or "").strip() or None
    with uow:
        if code is not None and uow.catalog.service(code) is None:
            raise NotFound(f"service {code!r} is not in the service list", field="service")
        saved = uow.calls.add(InfoCall(topic, channel, clock.now(), code, note, cmd.who.user_id))
        uow.commit()
    return saved


def call_topics(uow: UnitOfWork, clock: Clock, who: Principal, days: int = TOPIC_DAYS) -> list[TopicCount]:
    """Information-only calls per topic over the last ``days`` days, most asked first."""
    authorize(who, Action.CALL_LOG)
    with uow:
        return uow.calls.topic_counts(clock.now() - timedelta(days=days))


# -- knowledge articles -------------------------------------------------------------------------------------------
def knowledge_articles(
    uow: UnitOfWork, who: Principal, text: str = "", service_code: str = "", limit: int = 50
) -> list[KnowledgeArticle]:
    authorize(who, Action.KNOWLEDGE_READ)
    if len(text or "") > MAX_QUERY:
        raise Invalid(f"the search is longer than {MAX_QUERY} characters", field="q")
    with uow:
        return uow.knowledge.search((text or "").strip() or None, (service_code or "").strip() or None, limit)


def knowledge_article(uow: UnitOfWork, who: Principal, slug: str) -> KnowledgeArticle:
    authorize(who, Action.KNOWLEDGE_READ)
    with uow:
        found = uow.knowledge.get(slug)
    if found is None:
        raise NotFound(f"knowledge article {slug[:120]!r} does not exist", field="slug")
    return found


@dataclass(frozen=True, slots=True)
class SaveArticle:
    who: Principal
    slug: str
    title: str
    body_markdown: str
    services: tuple[str, ...] = ()
    editing: str | None = None  # the slug of the article being edited; None: a new one


def save_article(uow: UnitOfWork, clock: Clock, cmd: SaveArticle) -> KnowledgeArticle:
    """Create or edit an article (admins). Its services must be in the catalog; a slug is never reused."""
    authorize(cmd.who, Action.KNOWLEDGE_MANAGE)
    with uow:
        existing = None
        if cmd.editing is not None:
            existing = uow.knowledge.get(cmd.editing)
            if existing is None:
                raise NotFound(f"knowledge article {cmd.editing[:120]!r} does not exist", field="slug")
        codes = tuple(dict.fromkeys(c.strip() for c in cmd.services if c.strip()))
        unknown = [c for c in codes if uow.catalog.service(c) is None]
        if unknown:
            raise NotFound(f"not in the service list: {', '.join(unknown)}", field="services")
        slug = existing.slug if existing else (cmd.slug or "").strip()
        article = KnowledgeArticle(slug, (cmd.title or "").strip(), (cmd.body_markdown or "").strip(), codes,
                                   clock.now(), cmd.who.label[:300], existing.id if existing else None)  # fmt: skip
        if existing is None and slug in RESERVED_SLUGS:
            raise Invalid(f"the address name {slug!r} is reserved for a page: choose another", field="slug")
        if existing is None and uow.knowledge.get(slug) is not None:
            raise Invalid(f"the address name {slug!r} is taken by another article: choose another", field="slug")
        saved = uow.knowledge.save(article)
        audit.record(uow, article.updated_at, cmd.who, Action.KNOWLEDGE_MANAGE, "knowledge_article", saved.id,
                     detail={"slug": slug, "new": existing is None})  # fmt: skip
        uow.commit()
    return saved


def delete_article(uow: UnitOfWork, clock: Clock, who: Principal, slug: str) -> KnowledgeArticle:
    """Remove an article (admins; the page asks for a confirmation first). Audited with its title."""
    authorize(who, Action.KNOWLEDGE_MANAGE)
    with uow:
        found = uow.knowledge.get(slug)
        if found is None:
            raise NotFound(f"knowledge article {slug[:120]!r} does not exist", field="slug")
        uow.knowledge.delete(slug)
        audit.record(uow, clock.now(), who, Action.KNOWLEDGE_MANAGE, "knowledge_article", found.id,
                     detail={"op": "delete", "slug": found.slug, "title": found.title})  # fmt: skip
        uow.commit()
    return found


def _said(problem: Invalid, question: str) -> str:
    """An answer's problem as the agent reads it: the question, not the attribute's code."""
    text = problem.description
    prefix = f"attribute[{problem.field}]"
    if not question or not text.startswith(prefix):
        return text
    if text.startswith(f"{prefix} is required"):
        return f"“{question}” needs an answer"
    rest = text[len(prefix) :]
    return f"“{question}”: {rest[1:].strip()}" if rest.startswith(":") else f"“{question}”{rest}"


# -- filing for a caller ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FilingCheck:
    """The first step of "file on behalf": what is wrong (field → message, none: it can be filed), and the open
    requests of the same service near the point that the caller may follow instead."""

    service: Service
    errors: dict[str, str] = field(default_factory=dict)
    nearby: tuple[Match, ...] = ()
    located: bool = False  # a point was given (the nearby check needs one)


def check_filing(uow: UnitOfWork, clock: Clock, cmd: SubmitRequest) -> FilingCheck:
    """Every check ``submit_request`` makes on what the agent typed, each wrong field reported at once, and the
    nearby open requests. Writes nothing (filing is ``submit_request``, which checks all of it again)."""
    who = cmd.principal
    if who is None:
        raise Invalid("who files is required")
    if not needs_target(who, Action.REQUEST_SUBMIT):  # a liaison's place is checked against its areas on filing
        authorize(who, Action.REQUEST_SUBMIT)
    errors: dict[str, str] = {}
    with uow:
        code = (cmd.service_code or "").strip()
        service = uow.catalog.service(code) if code else None
        if service is None or not service.active:
            raise NotFound(f"service {code!r} is not in the service list", field="service_code")
        if cmd.channel not in filing_channels(who):
            errors["channel"] = "choose how the caller reached you: phone or walk-in"
        if who.role is Role.LIAISON and not (cmd.consent or "").strip():
            errors["consent"] = "ask the resident whether you may file this for them, and tick the box if they agree"
        lat = long = None
        try:
            lat = parse_coordinate(cmd.lat, "lat", 90.0)
            long = parse_coordinate(cmd.long, "long", 180.0)
            if (lat is None) != (long is None):
                errors["location"] = "give both latitude and longitude, or neither"
        except Invalid as exc:
            errors["location"] = exc.description
        address = (cmd.address_string or "").strip()
        if lat is None and long is None and not address and "location" not in errors:
            errors["location"] = "a location is required: the address, or latitude and longitude"
        if len(address) > 500:
            errors["location"] = "the address is longer than 500 characters"
        if who.role is Role.LIAISON and lat is None and "location" not in errors:
            errors["location"] = (
                "give the point too (latitude and longitude, or a click on the map): a liaison files "
                "only in its areas, and the point says which area the place is in"
            )
        if len((cmd.description or "").strip()) > MAX_DESCRIPTION:
            errors["description"] = f"the description is longer than {MAX_DESCRIPTION} characters"
        try:
            service.clean_attributes(cmd.attributes, parse_datetime=parse_datetime)
        except InvalidAttributes as exc:
            questions = {a.code: a.description for a in service.attributes}
            for problem in exc.errors:
                errors[f"attribute:{problem.field}"] = _said(problem, questions.get(problem.field or "", ""))
        nearby: list[Match] = []
        if lat is not None and long is not None and "location" not in errors:
            found = find_duplicates(uow.requests, service, lat, long, (cmd.description or "").strip(), clock.now(),
                                    limit=50)  # fmt: skip
            nearby = [m for m in found if m.request.status != "closed"][:NEARBY]
    return FilingCheck(service, errors, tuple(nearby), lat is not None and long is not None)
