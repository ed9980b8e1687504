"""The residents' public map and its list (``/map``, web/public_map.py): recent requests, privacy-safe.

What is public of a request here is less than the track page shows (requests/tracking.py): its number, service,
status (with a closure's reason), when it was filed and last changed, and its place. Never a description, a photo,
the owner, a note, or anything of the filer. The place depends on the service's ``residents.public_location``
(catalog/model.py):

- ``exact``: the point reported and the address as given, as the track page shows them;
- ``generalised`` (private property, sensitive services): the centre of the grid cell holding the point
  (core/geo.py, 0.002° by 0.002°: about 222 m by 168 m in New York) and no address at all. A box asked for by the
  map is tested on that centre, never on the point reported (panning a box a metre at a time says nothing more).

A request without coordinates is in the list (by its address, or its generalised service's lack of one) but not on
the map. Nothing is asked of the permission policy: like the track page and Open311's ``GET requests``, these are
public reads by anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from civicswitch.catalog.model import PublicLocation, Service
from civicswitch.core.geo import GENERALISED_DEGREES, generalised
from civicswitch.requests.model import OPEN_STATUSES, Status
from civicswitch.requests.views import MapQuery, MapRequest

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

WINDOW_DAYS = 90  # "recent": filed in the last 90 days
PAGE_SIZE = 50  # the list's rows a page
MAX_PAGE = 200  # the list's pages (10,000 rows): beyond, narrow the filters
MAP_CAP = 1_000  # the map's points at once (the newest): zoom in or filter for the rest

# The status filter: a group (open, closed) or one canonical status; "" is any.
STATUS_FILTERS: dict[str, tuple[str, ...] | None] = {
    "": None,
    "open": tuple(str(s) for s in OPEN_STATUSES),
    "closed": (str(Status.CLOSED),),
    **{str(s): (str(s),) for s in Status if s is not Status.CLOSED},
}


@dataclass(frozen=True, slots=True)
class MapFilters:
    """What the resident chose: services (empty: all) and a key of :data:`STATUS_FILTERS`."""

    services: tuple[str, ...] = ()
    status: str = ""

    def query(self, since: datetime, *, box: tuple[float, float, float, float] | None = None, located: bool = False,
              limit: int = PAGE_SIZE, offset: int = 0) -> MapQuery:  # fmt: skip
        return MapQuery(since, self.services or None, STATUS_FILTERS[self.status], box, located, limit, offset)


@dataclass(frozen=True, slots=True)
class PublicEntry:
    """One request as the map and the list show it. ``approximate``: its service's place is generalised (the point
    is a cell's centre and there is no address)."""

    id: int
    service_code: str
    status: str
    close_reason: str | None
    requested_at: datetime
    updated_at: datetime
    lat: float | None
    long: float | None
    address: str | None
    approximate: bool


@dataclass(frozen=True, slots=True)
class PublicPage:
    entries: tuple[PublicEntry, ...]
    more: bool  # there are more rows (the list: a next page; the map: past its cap)


def shown(row: MapRequest, place: PublicLocation) -> PublicEntry:
    """What may be shown of a row, by its service's setting."""
    if place is PublicLocation.EXACT:
        return PublicEntry(*row, approximate=False)
    lat = long = None
    if row.lat is not None and row.long is not None:
        lat, long = generalised(row.lat, row.long)
    return PublicEntry(row.id, row.service_code, row.status, row.close_reason, row.requested_at, row.updated_at,
                       lat, long, None, approximate=True)  # fmt: skip


Places = Mapping[str, PublicLocation]  # each service's public_location, by code


def places_of(services: Iterable[Service]) -> dict[str, PublicLocation]:
    return {s.code: s.residents.public_location for s in services}


def _place(places: Places, code: str) -> PublicLocation:
    return places.get(code, PublicLocation.GENERALISED)  # a service we do not know: the careful way


def public_list(uow: UnitOfWork, filters: MapFilters, now: datetime, page: int = 1, page_size: int = PAGE_SIZE,
                places: Places | None = None) -> PublicPage:  # fmt: skip
    """The list's page (from 1) of requests filed in the last :data:`WINDOW_DAYS` days, newest first. ``places``:
    the catalog's settings when the caller keeps them (else they are read)."""
    since = now - timedelta(days=WINDOW_DAYS)
    with uow:
        places = places if places is not None else places_of(uow.catalog.services(include_inactive=True))
        rows = uow.requests.map_requests(filters.query(since, limit=page_size + 1, offset=(page - 1) * page_size))
    entries = tuple(shown(r, _place(places, r.service_code)) for r in rows[:page_size])
    return PublicPage(entries, len(rows) > page_size)


def public_points(uow: UnitOfWork, filters: MapFilters, now: datetime,
                  box: tuple[float, float, float, float] | None = None, cap: int = MAP_CAP,
                  places: Places | None = None) -> PublicPage:  # fmt: skip
    """The map's points: the newest ``cap`` located requests of the window (in ``box``, south, west, north, east,
    when given), each where it may be shown. The store is asked for a box one cell larger all round, and the box
    is then tested on the points shown: a generalised request is in it when its cell's centre is."""
    since = now - timedelta(days=WINDOW_DAYS)
    wider = None
    if box is not None:
        south, west, north, east = box
        d = GENERALISED_DEGREES
        wider = (max(south - d, -90.0), max(west - d, -180.0), min(north + d, 90.0), min(east + d, 180.0))
    with uow:
        places = places if places is not None else places_of(uow.catalog.services(include_inactive=True))
        rows = uow.requests.map_requests(filters.query(since, box=wider, located=True, limit=cap + 1))
    entries = []
    for row in rows[:cap]:
        entry = shown(row, _place(places, row.service_code))
        if entry.lat is None or entry.long is None:
            continue
        if box is not None and not (box[0] <= entry.lat <= box[2] and box[1] <= entry.long <= box[3]):
            continue
        entries.append(entry)
    return PublicPage(tuple(entries), len(rows) > cap)
