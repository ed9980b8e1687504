""" "Is it fixed?": what a resident answers after a request is closed, and how satisfied they are.

The closure message (hub/updates.py) asks its filer and followers, with a signed link each (people/links.py
FixedLinks); the request's page asks anyone. The answer is recorded at once (``request_answers``), whatever the
resident does next:

- **fixed** — counted;
- **still a problem**, from the filer or a follower (a link) within the service's reopen window
  (``residents.reopen_days`` in the catalog, counted from the closure) — the request is **reopened** and goes back
  to its owner with the resident's note and photo (the reopening is a status change like any other: the owner's
  systems hear of it through the outbox, and so do the request's residents);
- **still a problem** after the window, or from a visitor (who proves nothing about who they are, and so cannot
  reopen anyone's request) — a **new request** of the same service at the same place, linked to the closed one
  both ways, filed through the one intake path (requests/handlers.py ``submit_request``) with the note and photo.

A filer or follower is then asked one question: how satisfied they are with how it was handled (1–5). They may
change either answer later with the same link; a visitor's answer is counted once per press and is never rated.
Only closures that claim the problem is dealt with are asked about: fixed, or closed with no action possible (a
duplicate's own request asks; a referral or "not ours" is someone else's to fix; a cancellation fixes nothing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from civicswitch.catalog.model import PublicLocation
from civicswitch.core.clock import Clock
from civicswitch.core.errors import Invalid, NotFound
from civicswitch.people.links import AnswerClaim, FixedLinks, LinkProblem, address_digest
from civicswitch.people.policy import Action, Principal, authorize
from civicswitch.requests.commands import AnswerFix, AnswerResult, RateService, SubmitRequest
from civicswitch.requests.handlers import MAX_DESCRIPTION, Limits, submit_request
from civicswitch.requests.media import accept_upload
from civicswitch.requests.model import (
    ASKED_CLOSURES,
    RATINGS,
    Answer,
    Answerer,
    AnswerOutcome,
    Channel,
    CloseReason,
    Contact,
    Event,
    FixAnswer,
    ServiceRequest,
    Status,
)
from civicswitch.requests.reporting import check_email

if TYPE_CHECKING:
    from civicswitch.catalog.model import Service
    from civicswitch.routing.intake import Geography
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)

DEFAULT_LIMITS = Limits()
ANSWERED = "resident_answered"  # the staff-only timeline entry of an answer (who, what, what came of it)


@dataclass(frozen=True, slots=True)
class Person:
    """Who answers: the filer or a follower (by their link: their address and language), or a visitor."""

    answerer: Answerer
    digest: str | None = None
    email: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Question:
    """What the "Is it fixed?" page shows: the request, whether it can be answered now, and this person's answer."""

    request_id: int
    service_code: str
    service_name: str
    address: str | None
    status: Status
    close_reason: CloseReason | None
    closed_at: datetime | None
    closure_note: str | None
    askable: bool  # closed in a way residents are asked about
    reopen_until: datetime | None  # the end of the service's window (a link holder's "still a problem" reopens)
    window_open: bool  # now is within it
    answerer: Answerer
    email_needed: bool  # a visitor's "still a problem" files a request: this service needs an address for it
    previous: FixAnswer | None  # this filer's or follower's latest answer (None: none, or a visitor)
    parent_id: int | None  # closed as a duplicate of this request (answer there)


def _service(uow: UnitOfWork, request: ServiceRequest) -> Service | None:
    return uow.catalog.service(request.service_code)


def _window(service: Service | None, request: ServiceRequest) -> datetime | None:
    if request.closed_at is None:
        return None
    days = service.residents.reopen_days if service is not None else 0.0
    return request.closed_at + timedelta(days=days)


def _person(uow: UnitOfWork, request: ServiceRequest, claim: AnswerClaim | None) -> Person:
    """The filer or follower a link names (their address now), or a visitor; :class:`LinkProblem` when the link's
    address is no longer on the request (e.g. the follow was removed)."""
    if claim is None:
        return Person(Answerer.VISITOR)
    assert request.id is not None
    contact = uow.requests.contact(request.id)
    if contact is not None and contact.email and address_digest(contact.email) == claim.address_digest:
        return Person(Answerer.FILER, claim.address_digest, contact.email, request.language)
    for follower in uow.requests.followers(request.id):
        email = follower.contact.email
        if email and follower.confirmed_at is not None and address_digest(email) == claim.address_digest:
            return Person(Answerer.FOLLOWER, claim.address_digest, email, follower.language)
    raise LinkProblem(f"This link no longer matches anyone told about request {request.id}.")


def _claim(links: FixedLinks, token: str, request_id: int) -> AnswerClaim | None:
    return links.read(token, request_id) if token else None


def _load(uow: UnitOfWork, request_id: int) -> ServiceRequest:
    request = uow.requests.get(request_id)
    if request is None or request.id is None:
        raise NotFound(f"no request number {request_id}")
    return request


def fix_question(uow: UnitOfWork, clock: Clock, request_id: int, token: str, links: FixedLinks,
                 language: str = "") -> Question:  # fmt: skip
    """What the page asks about request ``request_id`` (``token``: the link's, or empty for a visitor)."""
    claim = _claim(links, token, request_id)
    with uow:
        request = _load(uow, request_id)
        person = _person(uow, request, claim)
        service = _service(uow, request)
        previous = uow.requests.answer_of(request_id, person.digest) if person.digest else None
    name = service.text("name", language) if service is not None else request.service_code
    window = _window(service, request)
    # a generalised service's address is not shown (as on the map and the track page)
    hidden = service is not None and service.residents.public_location is PublicLocation.GENERALISED
    askable = request.status is Status.CLOSED and request.close_reason in ASKED_CLOSURES
    return Question(
        request_id=request_id, service_code=request.service_code, service_name=name,
        address=None if hidden else request.address,
        status=request.status, close_reason=request.close_reason, closed_at=request.closed_at,
        closure_note=request.status_notes if request.status is Status.CLOSED else None, askable=askable,
        reopen_until=window, window_open=window is not None and clock.now() <= window, answerer=person.answerer,
        email_needed=person.answerer is Answerer.VISITOR and service is not None and not service.residents.anonymous,
        previous=previous, parent_id=request.parent_id,
    )  # fmt: skip


def _askable(request: ServiceRequest) -> None:
    """Refuses an answer about a request that is not closed in a way residents are asked about, saying why."""
    if request.status is not Status.CLOSED:
        raise Invalid(f"request {request.id} is not closed: it is being worked on ({request.status})", field="status")
    if request.close_reason is CloseReason.DUPLICATE and request.parent_id is not None:
        raise Invalid(f"request {request.id} is the same problem as request {request.parent_id}: answer there",
                      field="status")  # fmt: skip
    if request.close_reason not in ASKED_CLOSURES:
        raise Invalid(f"request {request.id} was closed as {request.close_reason}: there is no fix to confirm",
                      field="status")  # fmt: skip


def _note(text: str) -> str:
    note = (text or "").strip()
    if len(note) > MAX_DESCRIPTION:
        raise Invalid(f"the note is longer than {MAX_DESCRIPTION} characters", field="note")
    return note


def answer_fix(
    uow: UnitOfWork,
    clock: Clock,
    cmd: AnswerFix,
    links: FixedLinks,
    limits: Limits = DEFAULT_LIMITS,
    geography: Geography | None = None,
) -> AnswerResult:
    """Records the answer, then does what it asks (see the module's text). Nothing is recorded when the answer is
    refused (not closed, a bad link, a bad photo, a missing address where the service needs one)."""
    who = cmd.principal
    authorize(who, Action.REQUEST_ANSWER)
    try:
        answer = Answer((cmd.answer or "").strip().lower())
    except ValueError:
        raise Invalid("choose an answer: fixed, or still a problem", field="answer") from None
    note = _note(cmd.note)
    email = (cmd.email or "").strip()
    claim = _claim(links, cmd.token, cmd.service_request_id)
    now = clock.now()
    with uow:
        request = _load(uow, cmd.service_request_id)
        _askable(request)
        assert request.id is not None and request.closed_at is not None
        person = _person(uow, request, claim)
        service = _service(uow, request)
        window = _window(service, request)
        reopen = answer is Answer.NOT_FIXED and person.answerer is not Answerer.VISITOR and window is not None \
            and now <= window  # fmt: skip
        if answer is Answer.FIXED:
            outcome = AnswerOutcome.RECORDED
        else:
            outcome = AnswerOutcome.REOPENED if reopen else AnswerOutcome.NEW_REQUEST
        if outcome is AnswerOutcome.NEW_REQUEST:
            if service is None or not service.active:
                raise Invalid(f"the service of request {request.id} no longer takes reports: report it anew",
                              field="answer")  # fmt: skip
            if person.answerer is Answerer.VISITOR and not email and not service.residents.anonymous:
                raise Invalid("an email address is needed to report this again", field="email")
        if email and person.answerer is Answerer.VISITOR and check_email(email) is not None:
            raise Invalid("this email address is not valid", field="email")
        photo = None
        if reopen and cmd.uploads:
            photo = accept_upload(cmd.uploads[0], max_bytes=limits.max_media_bytes, allowed=limits.media_types,
                                  at=now)  # fmt: skip
        previous = uow.requests.answer_of(request.id, person.digest, request.closed_at) if person.digest else None
        record = FixAnswer(
            request_id=request.id, closed_at=request.closed_at, answered_at=now, answer=answer,
            answerer=person.answerer, outcome=outcome, address_digest=person.digest,
            language=cmd.language or person.language,
        )  # fmt: skip
        if previous is not None:
            record = replace(record, id=previous.id, rating=previous.rating, rated_at=previous.rated_at)
        uow.requests.save_answer(record)
        said = {"answer": str(answer), "answerer": str(person.answerer), "outcome": str(outcome)}
        if reopen:
            if photo is not None:
                uow.requests.add_media(photo)
            words = "the person who reported it" if person.answerer is Answerer.FILER else "a follower"
            request.transition(
                Status.REOPENED, max(now, request.updated_at or now),
                note=f"Still a problem, says {words}" + (f": {note}" if note else ""),
                media_url=f"/media/{photo.id}" if photo is not None else None,
                data={"by": "resident", **said, **({"resident_note": note} if note else {})},
            )  # fmt: skip
        else:
            request.pending_events.append(Event(at=max(now, request.updated_at or now), kind=ANSWERED, public=False,
                                                description=_told(answer, person, outcome), data=said))  # fmt: skip
        uow.requests.save(request)
        if photo is not None:
            uow.requests.attach_media([photo.id], request.id)
        uow.commit()
    log.info("request %s: %s answered %s → %s", request.id, person.answerer, answer, outcome)
    new_id = None
    if outcome is AnswerOutcome.NEW_REQUEST:
        new_id = _report_again(uow, clock, cmd, request, person, note, email, limits, geography)
        with uow:
            stored = uow.requests.answers(request.id)
            mine = next((a for a in reversed(stored) if a.id == record.id), None)
            if mine is not None:
                uow.requests.save_answer(replace(mine, new_request_id=new_id))
                uow.commit()
    rated = previous.rating if previous is not None else None
    return AnswerResult(request.id, str(answer), str(outcome), new_id, person.answerer is not Answerer.VISITOR, rated)


def _told(answer: Answer, person: Person, outcome: AnswerOutcome) -> str:
    who = {"filer": "The person who reported it", "follower": "A follower", "visitor": "A visitor to its page"}
    said = "it is fixed" if answer is Answer.FIXED else "it is still a problem"
    then = " (reported again as a new request)" if outcome is AnswerOutcome.NEW_REQUEST else ""
    return f"{who[str(person.answerer)]} says {said}{then}"


def _report_again(
    uow: UnitOfWork,
    clock: Clock,
    cmd: AnswerFix,
    request: ServiceRequest,
    person: Person,
    note: str,
    email: str,
    limits: Limits,
    geography: Geography | None,
) -> int:
    """The new, linked request for "still a problem" (the same service, place and answers to its questions), filed
    through the one intake path; the person who answered is its filer (a visitor only with the address they gave)."""
    assert request.id is not None
    contact = Contact(email=person.email) if person.email else Contact(email=email or None)
    attributes = {k: [v] if isinstance(v, str) else list(v) for k, v in request.attributes.items()}
    submitted = submit_request(uow, clock, SubmitRequest(
        service_code=request.service_code, api_key=None,
        lat=None if request.lat is None else repr(request.lat),
        long=None if request.long is None else repr(request.long),
        address_string=request.address, address_id=request.address_id, zipcode=request.zipcode,
        description=note or f"Still a problem after request {request.id} was closed.", attributes=attributes,
        contact=contact, uploads=cmd.uploads[:1], channel=Channel.WEB, principal=cmd.principal,
        language=cmd.language or person.language, follows_up=request.id,
    ), limits, geography)  # fmt: skip
    assert submitted.request_id is not None
    return submitted.request_id


def rate_service(uow: UnitOfWork, clock: Clock, cmd: RateService, links: FixedLinks) -> AnswerResult:
    """A filer's or follower's rating (1–5) of how the request was handled, on their latest answer (they answer
    "Is it fixed?" first). Rating again changes it."""
    who: Principal = cmd.principal
    authorize(who, Action.REQUEST_ANSWER)
    text = (cmd.rating or "").strip()
    if not (text.isascii() and text.isdigit() and int(text) in RATINGS):
        raise Invalid("choose a rating from 1 to 5", field="rating")
    claim = links.read(cmd.token, cmd.service_request_id)
    now = clock.now()
    with uow:
        request = _load(uow, cmd.service_request_id)
        person = _person(uow, request, claim)
        assert person.digest is not None
        answer = uow.requests.answer_of(cmd.service_request_id, person.digest)
        if answer is None:
            raise Invalid("answer whether it is fixed first", field="answer")
        rated = replace(answer, rating=int(text), rated_at=now)
        uow.requests.save_answer(rated)
        uow.commit()
    log.info("request %s: rated %s by its %s", cmd.service_request_id, text, person.answerer)
    return AnswerResult(cmd.service_request_id, str(answer.answer), str(answer.outcome), answer.new_request_id,
                        True, rated.rating)  # fmt: skip
