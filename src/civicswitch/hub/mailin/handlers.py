"""Email in: the use cases. A message is stored first (the listener says 250 only after that commit), then handled:

1. an auto-reply or a bounce (``parse.automatic_reason``) → **ignored**, with the reason;
2. a reply to our mail to a resident (its ``In-Reply-To`` / ``References`` name the ``Message-ID`` of a message the
   residents' mail connector sent — ``<cs_…@…>``, 128 random bits only that message's reader has) from the address
   that message went to → a public note on that request with the photos, quoted text cut (**threaded**); the same
   reference from another address → triage;
3. a sender who already had :attr:`MailSettings.per_day` requests made from their mail in the last day →
   **rate_limited** (kept, nothing made);
4. exactly one service named and a place found (``guess.py``) → a new request through ``submit_request`` on channel
   ``email``, the sender as contact, the photos as media (**filed**); else, or when the filing is refused (a
   required question unanswered, a place outside the city), → **triage**: an agent picks the service and the place
   on the agent console (:func:`file_from_triage`) or says it is not a request (:func:`dismiss_mail`).

Each outcome and the record's new state are written in one transaction: a message is handled once, whatever
crashes (one left ``received`` is handled by :func:`handle_pending`). The same ``Message-ID`` twice is stored once
and handled once."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from civicswitch.core.clock import Clock
from civicswitch.core.errors import Conflict, DomainError, Invalid, NotFound
from civicswitch.core.i18n import chosen
from civicswitch.hub.mailin.guess import Place, find_place, named_services
from civicswitch.hub.mailin.model import COUNTED, MAX_TEXT, MailRecord, MailState
from civicswitch.hub.mailin.parse import InboundMail, parse_mail, split_name, strip_quoted
from civicswitch.hub.model import MessageType
from civicswitch.people import audit
from civicswitch.people.policy import Action, Principal, Role, authorize
from civicswitch.requests.access import authorize_on
from civicswitch.requests.commands import SubmitRequest, SubmitResult, Upload
from civicswitch.requests.handlers import MAX_DESCRIPTION, Limits, submit_request
from civicswitch.requests.media import accept_upload, sniff
from civicswitch.requests.model import Channel, Contact
from civicswitch.routing.intake import Geography

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)

# Who acts for a message: the resident who wrote it (files as the report form does; adds a note to a request only
# with the proof a reply carries).
MAIL_RESIDENT = Principal(kind="mail", name="resident by email", role=Role.RESIDENT)
MAX_PHOTOS = 5
DEFAULT_LIMITS = Limits()
_OUR_MESSAGE = re.compile(r"^(cs_[0-9a-f]{32})@")  # hub/residents.py keys, as message.py makes Message-IDs


@dataclass(frozen=True, slots=True)
class MailSettings:
    per_day: int = 10  # requests made from one sender's mail in 24 hours (0: no limit)
    limits: Limits = field(default_factory=Limits)  # the photos' size and types, as the API's
    geography: Geography | None = None  # routing by place, as the API's


@dataclass(frozen=True, slots=True)
class Received:
    record: MailRecord
    duplicate: bool  # the same Message-ID was stored before: nothing more was done


# -- receiving -----------------------------------------------------------------------------------------------------
def store_mail(uow: UnitOfWork, clock: Clock, raw: bytes, envelope_sender: str | None = None) -> Received:
    """Keep a message as received (committed before anything else is done with it); a Message-ID stored before is
    a duplicate and is not stored again."""
    mail = parse_mail(raw, envelope_sender)
    with uow:
        found = uow.mail.by_message_id(mail.message_id)
        if found is not None:
            log.info("mail %s from %s received again: handled once (mail %s, %s)", mail.message_id, mail.sender,
                     found.id, found.state)  # fmt: skip
            return Received(found, True)
        record = MailRecord(clock.now(), mail.sender or "(none)", mail.subject, mail.message_id, MailState.RECEIVED,
                            len(raw), mail.text[:MAX_TEXT], raw=raw)  # fmt: skip
        try:
            saved = uow.mail.add(record)
            uow.commit()
        except Conflict:  # the same message, delivered twice at once: the other delivery stored it
            uow.rollback()
            again = uow.mail.by_message_id(mail.message_id)
            if again is None:  # pragma: no cover - the clash was with a row that is gone
                raise
            return Received(again, True)
    log.info("mail %s stored: %d bytes from %s, subject %r", saved.id, len(raw), saved.sender, saved.subject[:80])
    return Received(saved, False)


def receive_mail(
    uow: UnitOfWork, clock: Clock, raw: bytes, settings: MailSettings, envelope_sender: str | None = None
) -> Received:
    """Store a message, then handle it (see the module's docstring). Returns its record as it ends."""
    received = store_mail(uow, clock, raw, envelope_sender)
    if received.duplicate or received.record.id is None:
        return received
    return Received(handle_mail(uow, clock, received.record.id, settings), False)


def handle_pending(uow: UnitOfWork, clock: Clock, settings: MailSettings, limit: int = 1000) -> int:
    """Handle the messages left ``received`` (a listener stopped while handling them); returns how many."""
    with uow:
        waiting = [m.id for m in uow.mail.in_state(MailState.RECEIVED, limit) if m.id is not None]
    for mail_id in waiting:
        handle_mail(uow, clock, mail_id, settings)
    return len(waiting)


def handle_mail(uow: UnitOfWork, clock: Clock, mail_id: int, settings: MailSettings) -> MailRecord:
    """Handle one stored message once; a message already handled is returned as it is."""
    with uow:
        record = uow.mail.get(mail_id)
    if record is None:
        raise NotFound(f"no mail {mail_id}")
    if record.state is not MailState.RECEIVED or record.raw is None:
        return record
    mail = parse_mail(record.raw)
    if mail.automatic is not None:
        return _settle(uow, clock, record, MailState.IGNORED, f"automatic: {mail.automatic}")
    if "@" not in mail.sender:
        return _settle(uow, clock, record, MailState.IGNORED, "no sender address to answer")
    thread = _thread(uow, mail)
    if thread is not None:
        return _reply(uow, clock, record, mail, thread, settings)
    if settings.per_day:
        with uow:
            made = uow.mail.count_from(record.sender, clock.now() - timedelta(days=1), COUNTED)
        if made >= settings.per_day:
            log.warning("mail %s from %s not filed: %d requests from this sender in 24 hours (limit %d)",
                        record.id, record.sender, made, settings.per_day)  # fmt: skip
            return _settle(
                uow,
                clock,
                record,
                MailState.RATE_LIMITED,
                f"{made} requests from this sender in the last 24 hours (the limit is {settings.per_day})",
            )
    return _file(uow, clock, record, mail, settings)


def _settle(uow: UnitOfWork, clock: Clock, record: MailRecord, state: MailState, reason: str,
            request_id: int | None = None) -> MailRecord:  # fmt: skip
    assert record.id is not None
    with uow:
        uow.mail.settle(record.id, state, clock.now(), reason=reason[:500], request_id=request_id)
        uow.commit()
    log.info("mail %s from %s: %s%s (%s)", record.id, record.sender, state,
             f" request {request_id}" if request_id else "", reason)  # fmt: skip
    with uow:
        found = uow.mail.get(record.id, raw=False)
    assert found is not None
    return found


def _description(mail: InboundMail) -> str:
    body = strip_quoted(mail.text) or mail.text.strip()
    text = f"{mail.subject}\n\n{body}".strip() if mail.subject else body
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1].rstrip() + "…"


def photos(mail: InboundMail, limits: Limits, at: datetime) -> tuple[list[Upload], list[str]]:
    """The attachments that pass the API's photo checks (at most :data:`MAX_PHOTOS`), and what was left out."""
    kept: list[Upload] = []
    left: list[str] = []
    for item in mail.attachments:
        upload = Upload(item.filename, item.content_type, item.data)
        name = item.filename or item.content_type
        try:
            accept_upload(upload, max_bytes=limits.max_media_bytes, allowed=limits.media_types, at=at)
        except DomainError as exc:
            if sniff(item.data) is not None or item.content_type.startswith("image/"):
                left.append(f"{name}: {exc.description}")
            else:
                left.append(f"{name}: not a photo")
            continue
        if len(kept) >= MAX_PHOTOS:
            left.append(f"{name}: more than {MAX_PHOTOS} photos")
            continue
        kept.append(upload)
    return kept, left


def _contact(mail: InboundMail) -> Contact:
    first, last = split_name(mail.name)
    return Contact(first_name=first, last_name=last, email=mail.sender[:320])


def _file(uow: UnitOfWork, clock: Clock, record: MailRecord, mail: InboundMail, settings: MailSettings) -> MailRecord:
    assert record.id is not None
    with uow:
        services = named_services(uow.catalog.services(), mail.subject, mail.text)
    place = find_place(f"{mail.subject}\n{mail.text}")
    if len(services) != 1 or not place.found:
        why = []
        if not services:
            why.append("no service named")
        elif len(services) > 1:
            why.append(f"{len(services)} services named: " + ", ".join(s.code for s in services[:5]))
        if not place.found:
            why.append("no address or point found")
        return _settle(uow, clock, record, MailState.TRIAGE, "; ".join(why))
    uploads, left = photos(mail, settings.limits, clock.now())
    service = services[0]
    note = f" ({'; '.join(left)})"[:200] if left else ""
    cmd = _command(mail, service.code, place, uploads, MAIL_RESIDENT)
    mail_id = record.id

    def mark(work: UnitOfWork, request_id: int) -> None:
        work.mail.settle(mail_id, MailState.FILED, clock.now(), reason=f"service {service.code}{note}",
                         request_id=request_id)  # fmt: skip

    try:
        result = submit_request(uow, clock, cmd, settings.limits, settings.geography, after=mark)
    except DomainError as exc:
        return _settle(uow, clock, record, MailState.TRIAGE, f"not filed as {service.code}: {exc.description}")
    log.info("mail %s from %s: filed as request %s (%s)%s", mail_id, record.sender, result.request_id, service.code,
             note)  # fmt: skip
    with uow:
        found = uow.mail.get(mail_id, raw=False)
    assert found is not None
    return found


def _command(
    mail: InboundMail,
    service_code: str,
    place: Place,
    uploads: list[Upload],
    who: Principal,
    description: str | None = None,
    attributes: dict[str, list[str]] | None = None,
) -> SubmitRequest:
    return SubmitRequest(
        service_code=service_code,
        api_key=None,
        lat=place.lat,
        long=place.long,
        address_string=place.address,
        description=_description(mail) if description is None else description,
        attributes=attributes or {},
        contact=_contact(mail),
        uploads=tuple(uploads),
        channel=Channel.EMAIL,
        principal=who,
        language=chosen(mail.language),
    )


# -- replies to our mail --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Thread:
    request_id: int
    to: str  # the address our message went to


def _thread(uow: UnitOfWork, mail: InboundMail) -> Thread | None:
    """The request a reply is about: the newest of our messages its references name (None: none of ours)."""
    keys = [m.group(1) for ref in mail.in_reply_to if (m := _OUR_MESSAGE.match(ref))]
    if not keys:
        return None
    with uow:
        found = {d.idempotency_key: d for d in uow.hub.deliveries(keys=keys[:50], limit=50)}
    for key in keys:
        delivery = found.get(key)
        if delivery is None or delivery.type != MessageType.RESIDENT_UPDATE or delivery.request_id is None:
            continue  # a confirmation, mail about an area: they take no replies
        data = delivery.payload.get("data")
        to = data.get("to") if isinstance(data, dict) else None
        if isinstance(to, str):
            return Thread(delivery.request_id, to)
    return None


def _reply(uow: UnitOfWork, clock: Clock, record: MailRecord, mail: InboundMail, thread: Thread,
           settings: MailSettings) -> MailRecord:  # fmt: skip
    """A reply to our mail about a request: a public note on it, when it comes from the address we wrote to."""
    assert record.id is not None
    if mail.sender.casefold() != thread.to.strip().casefold():
        return _settle(
            uow,
            clock,
            record,
            MailState.TRIAGE,
            f"a reply to our mail about request {thread.request_id}, from an address it was not sent to",
        )
    text = strip_quoted(mail.text)
    now = clock.now()
    uploads, left = photos(mail, settings.limits, now)
    if not text and not uploads:
        return _settle(
            uow,
            clock,
            record,
            MailState.IGNORED,
            f"a reply about request {thread.request_id} with nothing new in it",
            thread.request_id,
        )
    if len(text) > MAX_DESCRIPTION:
        text = text[: MAX_DESCRIPTION - 1].rstrip() + "…"
    stored = [accept_upload(u, max_bytes=settings.limits.max_media_bytes, allowed=settings.limits.media_types, at=now)
              for u in uploads]  # fmt: skip
    with uow:
        request = uow.requests.get(thread.request_id)
        if request is None:
            uow.rollback()
        else:
            authorize_on(uow, MAIL_RESIDENT, Action.REQUEST_REPLY, request)
            request.add_note(now, text, media_url=f"/media/{stored[0].id}" if stored else None,
                             data={"via": "email", "mail_id": record.id})  # fmt: skip
            for item in stored:
                uow.requests.add_media(item)
            uow.requests.save(request)
            uow.requests.attach_media([m.id for m in stored], thread.request_id)
            extra = f" ({'; '.join(left)})"[:200] if left else ""
            uow.mail.settle(record.id, MailState.THREADED, now, reason=f"a public note{extra}",
                            request_id=thread.request_id)  # fmt: skip
            uow.commit()
    if request is None:
        return _settle(uow, clock, record, MailState.TRIAGE, f"a reply about request {thread.request_id}, "
                       "which no longer exists")  # fmt: skip
    log.info("mail %s from %s: a public note on request %s", record.id, record.sender, thread.request_id)
    with uow:
        found = uow.mail.get(record.id, raw=False)
    assert found is not None
    return found


def add_reply(uow: UnitOfWork, clock: Clock, who: Principal, request_id: int, text: str) -> None:
    """A resident's reply as a public note (what :func:`handle_mail` does for a threaded reply), for ``who``."""
    with uow:
        request = uow.requests.get(request_id)
        if request is None:
            raise NotFound(f"no request {request_id}")
        authorize_on(uow, who, Action.REQUEST_REPLY, request)
        request.add_note(clock.now(), text[:MAX_DESCRIPTION], data={"via": "email"})
        uow.requests.save(request)
        uow.commit()


# -- the triage queue (the agent console) ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AttachmentView:
    index: int
    filename: str | None
    content_type: str  # the sniffed image type, else as declared
    size: int
    photo: bool  # passes the photo checks: it is attached when the mail is filed


@dataclass(frozen=True, slots=True)
class TriageView:
    """One message as the agent reads it: the text, the attachments, and what email-in made of it."""

    record: MailRecord
    name: str
    text: str
    attachments: tuple[AttachmentView, ...]
    services: tuple[str, ...]  # the services the mail names (codes)
    place: Place


def triage_queue(uow: UnitOfWork, clock: Clock, who: Principal, limit: int = 100) -> list[MailRecord]:
    """The messages waiting for an agent, oldest first (audited: their senders are residents' addresses)."""
    authorize(who, Action.MAIL_TRIAGE)
    with uow:
        found = uow.mail.in_state(MailState.TRIAGE, limit)
        audit.record(uow, clock.now(), who, Action.MAIL_TRIAGE, "mail_queue", None, detail={"listed": len(found)})
        uow.commit()
    return found


def _waiting(uow: UnitOfWork, mail_id: int) -> tuple[MailRecord, InboundMail]:
    record = uow.mail.get(mail_id)
    if record is None:
        raise NotFound(f"no mail {mail_id}")
    if record.state is not MailState.TRIAGE or record.raw is None:
        raise Conflict(f"mail {mail_id} is not waiting for an agent: it is {record.state}"
                       + (f" (request {record.request_id})" if record.request_id else ""))  # fmt: skip
    return record, parse_mail(record.raw)


def triage_mail(
    uow: UnitOfWork, clock: Clock, who: Principal, mail_id: int, limits: Limits = DEFAULT_LIMITS
) -> TriageView:
    """One waiting message for the agent (audited: a resident's mail and address)."""
    authorize(who, Action.MAIL_TRIAGE)
    with uow:
        record, mail = _waiting(uow, mail_id)
        services = named_services(uow.catalog.services(), mail.subject, mail.text)
        audit.record(uow, clock.now(), who, Action.MAIL_TRIAGE, "mail", mail_id, detail={"read": True})
        uow.commit()
    views = []
    for index, item in enumerate(mail.attachments):
        real = sniff(item.data)
        upload = Upload(item.filename, item.content_type, item.data)
        try:
            accept_upload(upload, max_bytes=limits.max_media_bytes, allowed=limits.media_types, at=clock.now())
            photo = True
        except DomainError:
            photo = False
        views.append(AttachmentView(index, item.filename, real or item.content_type, len(item.data), photo))
    return TriageView(dataclasses.replace(record, raw=None), mail.name, mail.text, tuple(views),
                      tuple(s.code for s in services), find_place(f"{mail.subject}\n{mail.text}"))  # fmt: skip


def triage_photo(uow: UnitOfWork, who: Principal, mail_id: int, index: int) -> tuple[str, bytes]:
    """One attachment of a waiting message, when it is an image (its sniffed type and bytes), for the agent's page."""
    authorize(who, Action.MAIL_TRIAGE)
    with uow:
        _, mail = _waiting(uow, mail_id)
    if not 0 <= index < len(mail.attachments):
        raise NotFound(f"mail {mail_id} has no attachment {index}")
    data = mail.attachments[index].data
    real = sniff(data)
    if real is None or real == "image/heic":  # shown only as what browsers show
        raise NotFound(f"attachment {index} of mail {mail_id} is not an image a page can show")
    return real, data


@dataclass(frozen=True, slots=True)
class FileMail:
    """An agent files a waiting message: the service and the place they chose, the description as they left it."""

    principal: Principal
    mail_id: int
    service_code: str
    address: str = ""
    lat: str = ""
    long: str = ""
    description: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DismissMail:
    principal: Principal
    mail_id: int
    reason: str


def file_from_triage(
    uow: UnitOfWork, clock: Clock, cmd: FileMail, limits: Limits = DEFAULT_LIMITS, geography: Geography | None = None
) -> SubmitResult:
    """File a waiting message as a request on channel ``email`` (the sender as contact, its photos attached), through
    ``submit_request`` as the agent; the message is marked filed in the same transaction."""
    who = cmd.principal
    authorize(who, Action.MAIL_TRIAGE)
    with uow:
        record, mail = _waiting(uow, cmd.mail_id)
    uploads, _ = photos(mail, limits, clock.now())
    place = Place(cmd.address.strip() or None, cmd.lat.strip() or None, cmd.long.strip() or None)
    description = cmd.description.strip() or _description(mail)
    submit = _command(mail, cmd.service_code, place, uploads, who, description, cmd.attributes)
    mail_id = cmd.mail_id

    def mark(work: UnitOfWork, request_id: int) -> None:
        now = clock.now()
        again = work.mail.get(mail_id, raw=False)
        if again is None or again.state is not MailState.TRIAGE:  # another agent filed or dismissed it meanwhile
            raise Conflict(f"mail {mail_id} was just handled by someone else")
        work.mail.settle(mail_id, MailState.FILED_FROM_TRIAGE, now, reason=f"filed by {who.name}"[:500],
                         request_id=request_id, by=who.label[:300])  # fmt: skip
        audit.record(work, now, who, Action.MAIL_TRIAGE, "mail", mail_id, detail={"filed": request_id})

    result = submit_request(uow, clock, submit, limits, geography, after=mark)
    log.info("mail %s from %s filed as request %s by %s", mail_id, record.sender, result.request_id, who.label)
    return result


def dismiss_mail(uow: UnitOfWork, clock: Clock, cmd: DismissMail) -> MailRecord:
    """An agent says a waiting message is not a request (the reason is kept)."""
    authorize(cmd.principal, Action.MAIL_TRIAGE)
    reason = " ".join(cmd.reason.split())
    if not reason:
        raise Invalid("say why it is not a request", field="reason")
    if len(reason) > 400:
        raise Invalid("the reason is longer than 400 characters", field="reason")
    now = clock.now()
    with uow:
        _waiting(uow, cmd.mail_id)
        uow.mail.settle(cmd.mail_id, MailState.DISMISSED, now, reason=reason, by=cmd.principal.label[:300])
        audit.record(uow, now, cmd.principal, Action.MAIL_TRIAGE, "mail", cmd.mail_id, reason=reason)
        uow.commit()
        found = uow.mail.get(cmd.mail_id, raw=False)
    assert found is not None
    log.info("mail %s dismissed by %s: %s", cmd.mail_id, cmd.principal.label, reason)
    return found
