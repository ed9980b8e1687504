"""The duplicate check's read model: what it asks a request store for and what it gets back. It lives in
routing so that routing needs nothing from the requests package (requests uses routing, not the reverse)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

# A closed request is a duplicate target only if it was closed for what it reported (fixed, no action, not ours):
# one closed as a duplicate points elsewhere, one referred went to another government, one cancelled never was.
NOT_TARGETS: frozenset[str] = frozenset({"duplicate", "cancelled", "referred"})


@dataclass(frozen=True, slots=True)
class NearbyQuery:
    """Requests of one service whose point lies in ``box`` (routing/grid.py), filed at or after
    ``requested_since``, still open or closed at or after ``closed_since`` (not for a reason in :data:`NOT_TARGETS`),
    and not merged into another request; newest first, at most ``limit``."""

    service_code: str
    south: float
    west: float
    north: float
    east: float
    cells: tuple[int, ...]
    requested_since: datetime
    closed_since: datetime
    exclude_id: int | None = None
    limit: int = 200


class NearbyRequest(NamedTuple):
    id: int
    status: str
    close_reason: str | None
    description: str
    lat: float
    long: float
    address: str | None
    requested_at: datetime
    closed_at: datetime | None


class NearbySource(Protocol):
    """Where candidates come from: a request store (``requests/ports.py``) satisfies it."""

    def nearby(self, query: NearbyQuery) -> list[NearbyRequest]: ...
