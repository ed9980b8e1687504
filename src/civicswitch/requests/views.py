"""Read models: what the public API shows of a request and of its updates (no contact data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """Filters for listing requests. Lists are ``None`` for 'any'; ranges are inclusive."""

    ids: tuple[int, ...] | None = None
    service_codes: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    requested_from: datetime | None = None
    requested_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    limit: int = 1000
    offset: int = 0


class RequestView(NamedTuple):
    """One request as the public sees it. A named tuple: lists build a thousand of these per call."""

    id: int
    service_code: str
    service_name: str
    status: str
    close_reason: str | None
    status_notes: str | None
    description: str
    agency_responsible: str | None
    requested_at: datetime
    updated_at: datetime
    expected_at: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None
    token: str | None
    channel: str
    attributes: dict[str, Any]
    source_ref: str | None
    service_notice: str | None  # the service's target in words (catalog.calendars.sla_notice)
    areas: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class UpdateView:
    """A public timeline entry, as the FixMyStreet update extension lists it."""

    id: int
    request_id: int
    at: datetime
    kind: str
    status: str
    close_reason: str | None
    description: str
    external_status: str | None
    media_url: str | None


@dataclass(frozen=True, slots=True)
class MapQuery:
    """Recent requests for the public map and its list (requests/public_map.py): filed at or after ``since``, of
    ``service_codes`` and in ``statuses`` (None: any; the canonical statuses, the open ones or ``closed`` as a
    group using the index of the Open311 projection), and with ``box`` (south, west, north, east) only those whose
    point is in it; ``located``: only those with coordinates. Newest first (filing time, then id)."""

    since: datetime
    service_codes: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    box: tuple[float, float, float, float] | None = None
    located: bool = False
    limit: int = 50
    offset: int = 0


class MapRequest(NamedTuple):
    """What the public map and its list need of a request, nothing more (no description, no contact, no owner)."""

    id: int
    service_code: str
    status: str
    close_reason: str | None
    requested_at: datetime
    updated_at: datetime
    lat: float | None
    long: float | None
    address: str | None
