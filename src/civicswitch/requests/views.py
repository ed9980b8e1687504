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
