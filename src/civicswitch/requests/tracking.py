"""What a resident sees of a request: the track page (``/requests/{id}``), privacy-safe.

The same public data as Open311's ``GET requests/{id}`` (the report, its place, status, owner, due date), with the
public timeline as structured entries, so that the page words each in the resident's language (a status change is
its new status, a transfer names the new owner, a closure its reason) and shows the notes as they were written.
A service whose place is generalised (private property, sensitive services: ``residents.public_location`` in the
catalog) is shown as on the public map: the point at its grid cell's centre, no address. Never the filer's contact
data, never a staff-only entry (routing, internal notes, possible duplicates, who did
what), never an entry's internal data beyond the new owner of a transfer and its public reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from civicswitch.catalog.model import PublicLocation
from civicswitch.core.errors import NotFound
from civicswitch.core.geo import generalised
from civicswitch.requests.model import ASKED_CLOSURES, CloseReason, Event, Status

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

# The public entries the page words by their kind; any other public entry is an update with its text.
SUBMITTED, STATUS, NOTE, TRANSFERRED, FIX_CONFIRMED, FIX_DISPUTED, UPDATE = (
    "submitted", "status", "note", "transferred", "fix_confirmed", "fix_disputed", "update")  # fmt: skip
REPORTED_AGAIN, FOLLOWS_UP = "reported_again", "follows_up"  # "still a problem" as a new request (answers.py)
_KINDS = {"submitted": SUBMITTED, "status_changed": STATUS, "note": NOTE, "transferred": TRANSFERRED,
          "fix_confirmed": FIX_CONFIRMED, "fix_disputed": FIX_DISPUTED, "reported_again": REPORTED_AGAIN,
          "follows_up": FOLLOWS_UP}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TrackEntry:
    at: datetime
    kind: str  # one of the constants above
    status: Status | None = None  # STATUS: the status it moved to
    close_reason: CloseReason | None = None
    text: str = ""  # the public note as written, or a transfer's reason
    media_url: str | None = None
    to_body: str | None = None  # TRANSFERRED: the new owner's name
    other: int | None = None  # REPORTED_AGAIN: the new request; FOLLOWS_UP: the closed one it reports again
    by_resident: bool = False  # STATUS reopened: a resident said it is still a problem (``text``: their note)


@dataclass(frozen=True, slots=True)
class Tracked:
    id: int
    service_name: str
    service_names: dict[str, str]  # the service's name in other languages (the catalog's translations)
    description: str
    status: Status
    close_reason: CloseReason | None
    owner: str | None  # the owning body's name
    reference: str | None  # the owner's own reference for it (its system's id), where one came back
    address: str | None
    lat: float | None
    long: float | None
    media_url: str | None
    requested_at: datetime
    updated_at: datetime
    expected_at: datetime | None
    duplicate_of: int | None  # closed as a duplicate: the request to follow instead
    askable: bool  # closed as dealt with: the page asks "Is it fixed?" (requests/answers.py)
    # the service's place is generalised (catalog residents.public_location): the point is its grid cell's centre
    # and the address is not shown, as on the public map (requests/public_map.py)
    approximate: bool
    entries: tuple[TrackEntry, ...]  # oldest first
    service_code: str = ""
    areas: tuple[tuple[str, str], ...] = ()  # (layer, area key) it is in: "follow the reports there" (area follows)


def _entry(event: Event, names: dict[str, str]) -> TrackEntry:
    kind = _KINDS.get(event.kind, UPDATE)
    if kind == TRANSFERRED:
        moved = event.data.get("body")
        new = moved[1] if isinstance(moved, list) and len(moved) == 2 else None
        reason = event.data.get("reason")
        return TrackEntry(event.at, kind, text=reason if isinstance(reason, str) else "",
                          to_body=names.get(new, new) if isinstance(new, str) else None)  # fmt: skip
    if kind == SUBMITTED:
        return TrackEntry(event.at, kind)
    if kind in (REPORTED_AGAIN, FOLLOWS_UP):
        other = event.data.get("request")
        return TrackEntry(event.at, kind, other=other if isinstance(other, int) else None)
    if kind == STATUS and event.data.get("by") == "resident":
        said = event.data.get("resident_note")
        return TrackEntry(event.at, kind, status=event.status_to, text=said if isinstance(said, str) else "",
                          media_url=event.media_url, by_resident=True)  # fmt: skip
    status = event.status_to if kind == STATUS else None
    return TrackEntry(event.at, kind, status=status, close_reason=event.close_reason if kind == STATUS else None,
                      text=event.description, media_url=event.media_url)  # fmt: skip


def track_request(uow: UnitOfWork, request_id: int, language: str | None = None) -> Tracked:
    """The track page's request, or :class:`NotFound` (the same answer for a number never used). Bodies are named
    in ``language`` where the catalog gives their name in it."""
    with uow:
        request = uow.requests.get(request_id)
        if request is None or request.id is None:
            raise NotFound(f"no request number {request_id}")
        service = uow.catalog.service(request.service_code)
        names = {b.code: b.name_in(language) for b in uow.catalog.bodies()}
        events = uow.requests.events([request.id], public_only=True).get(request.id, [])
        reference = uow.hub.external_id(request.id, request.body_code) if request.body_code else None
    lat, long, address = request.lat, request.long, request.address
    approximate = service is not None and service.residents.public_location is PublicLocation.GENERALISED
    if approximate:
        address = None
        if lat is not None and long is not None:
            lat, long = generalised(lat, long)
    return Tracked(
        id=request.id,
        service_name=service.name if service is not None else request.service_code,
        service_names={lang: text for lang, name, text in (service.translations if service else ()) if name == "name"},
        description=request.description,
        status=request.status,
        close_reason=request.close_reason,
        owner=names.get(request.body_code, request.body_code) if request.body_code else None,
        reference=reference,
        address=address,
        lat=lat,
        long=long,
        media_url=request.media_url,
        requested_at=request.requested_at,
        updated_at=request.updated_at or request.requested_at,
        expected_at=request.expected_at if request.status is not Status.CLOSED else None,
        duplicate_of=request.parent_id if request.close_reason is CloseReason.DUPLICATE else None,
        askable=request.status is Status.CLOSED and request.close_reason in ASKED_CLOSURES,
        approximate=approximate,
        entries=tuple(_entry(e, names) for e in sorted(events, key=lambda e: (e.at, e.id or 0)) if e.public),
        service_code=request.service_code,
        areas=tuple(sorted((layer, key) for layer, key in (request.areas or {}).items() if key)),
    )
