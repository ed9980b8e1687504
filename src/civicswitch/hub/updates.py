"""What residents are told about a request, by email: its filer and its confirmed followers, in their language.

A message for each of these, as it happens (the outbox writer calls :func:`resident_updates` at commit):

- **acknowledged** — the department has it;
- a **public note** (a status change's public note goes with that change);
- **transferred** to another department (by name, with the public reason);
- **closed**, with why when it is not "fixed": a duplicate (of request N — the filer now follows N, as staff's
  merge made them), referred to another organisation (by name), nothing could be done (the note says why);
- **reopened**.

Each message names the request and what changed, links to its page, and carries a link that stops the mail about
this request for that address (people/links.py StopLinks). Messages leave through the outbox and the residents'
mail connector (hub/residents.py) like every other message: none without such a connector, and none without the
instance's public URL (the links must be absolute: a warning says so).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from civicswitch.catalog.model import Body
from civicswitch.core.i18n import SOURCE
from civicswitch.people.links import FixedLinks, StopLinks, instance_secret
from civicswitch.requests.model import ASKED_CLOSURES, NOTE_KINDS, Event, Notice, ServiceRequest, Status

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)

UPDATE = "update"  # the notice kind (hub/residents.py: MessageType.RESIDENT_UPDATE)
_STATUSES = {Status.ACKNOWLEDGED: "acknowledged", Status.CLOSED: "closed", Status.REOPENED: "reopened"}


def change_of(request: ServiceRequest, event: Event, bodies: dict[str, str]) -> dict[str, Any] | None:
    """What a resident is told of one timeline entry (None: nothing)."""
    if not event.public or "merged_from" in event.data:  # a merged request's notes, carried: told already
        return None
    if event.kind == "status_changed" and event.status_to in _STATUSES:
        change: dict[str, Any] = {"change": _STATUSES[event.status_to], "note": event.description or None}
        if event.status_to is Status.CLOSED:
            change["close_reason"] = str(event.close_reason) if event.close_reason else "fixed"
            change["duplicate_of"] = request.parent_id
            change["owner"] = bodies.get(request.body_code or "", request.body_code)
            change["owner_code"] = request.body_code
            # "Is it fixed?" (requests/answers.py): asked of the closures that say the problem is dealt with
            change["ask_fixed"] = event.close_reason in ASKED_CLOSURES and request.status is Status.CLOSED
        return change
    if event.kind in NOTE_KINDS and event.description:
        return {"change": "note", "note": event.description}
    if event.kind == "transferred":
        moved = event.data.get("body")
        new = moved[1] if isinstance(moved, list) and len(moved) == 2 else None
        reason = event.data.get("reason")
        return {"change": "transferred", "owner": bodies.get(new, new) if isinstance(new, str) else None,
                "owner_code": new if isinstance(new, str) else None,
                "note": reason if isinstance(reason, str) and reason else None}  # fmt: skip
    return None


def names_in(bodies: Sequence[Body], language: str | None) -> dict[str, str]:
    """Each body's name in ``language`` (as written where the catalog gives none)."""
    return {b.code: b.name_in(language) for b in bodies}


def _with(url: str, query: str) -> str:
    if not query:
        return url
    return url + ("&" if "?" in url else "?") + query


def in_language(language: str | None) -> str:
    """The query that opens our pages in the reader's language (and keeps it: web/i18n.py); none for the source's."""
    return f"lang={quote(language)}" if language and language != SOURCE else ""


def localised(url: str, language: str | None) -> str:
    """``url`` opening in ``language``."""
    return _with(url, in_language(language))


def resident_updates(
    uow: UnitOfWork, changes: Sequence[tuple[ServiceRequest, list[Event]]], base: str | None, at: datetime
) -> list[Notice]:
    """The notices of one unit of work's changes: for each change residents hear about, one per recipient."""
    if not any(change_of(r, e, {}) is not None for r, events in changes for e in events):
        return []
    catalog_bodies = uow.catalog.bodies()
    bodies = {b.code: b.name for b in catalog_bodies}
    links: StopLinks | None = None
    fixed: FixedLinks | None = None
    notices: list[Notice] = []
    for request, events in changes:
        assert request.id is not None
        said = [c for e in events if (c := change_of(request, e, bodies)) is not None]
        if not said:
            continue
        recipients = uow.requests.recipients(request.id)
        if not recipients:
            continue
        if not base:
            log.warning(
                "request %s: %d resident(s) not told of %d change(s): their mail needs the instance's public URL "
                "for its links (civicswitch settings set public_url https://…, or CIVICSWITCH_PUBLIC_URL)",
                request.id, len(recipients), len(said),
            )  # fmt: skip
            continue
        if links is None:
            secret = instance_secret(uow, at)
            links, fixed = StopLinks(secret, base), FixedLinks(secret, base)
        service = uow.catalog.service(request.service_code)
        for person in recipients:
            language = person.language
            name = service.text("name", language or "") if service is not None else request.service_code
            # the pages the message links to open in the reader's language (and keep it: web/i18n.py)
            lang_query = in_language(language)
            for change in said:
                if change.get("owner_code"):  # the body's name in the reader's language (the catalog's)
                    change = {
                        **change,
                        "owner": names_in(catalog_bodies, language).get(change["owner_code"], change.get("owner")),
                    }
                if change.get("ask_fixed") and fixed is not None:
                    change = {
                        **change,
                        "fixed_url": _with(fixed.url(request.id, person.email, "fixed"), lang_query),
                        "not_fixed_url": _with(fixed.url(request.id, person.email, "not_fixed"), lang_query),
                    }
                if change.get("duplicate_of"):
                    change["duplicate_url"] = _with(f"{base}/requests/{change['duplicate_of']}", lang_query)
                notices.append(Notice(request.id, UPDATE, person.email, at, {
                    **change, "language": language, "filer": person.filer, "service_name": name,
                    "address": request.address, "track_url": _with(f"{base}/requests/{request.id}", lang_query),
                    "stop_url": _with(links.url(request.id, person.email), lang_query),
                }))  # fmt: skip
    return notices
