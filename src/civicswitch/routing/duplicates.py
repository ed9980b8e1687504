"""Duplicate detection: which stored requests a new report (or a stored one) is probably the same problem as.

Candidates come from the store in one indexed query (same service, grid cells around the point, the service's
time window; see :class:`~civicswitch.requests.views.NearbyQuery`); they are then kept within the service's
radius and ranked here:

    score = 0.5 · closeness + 0.2 · recency + 0.3 · similarity        (each 0…1, so the score is 0…1)

closeness = 1 − distance / radius; recency = 1 − age / window; similarity = the token-set ratio of the two
descriptions (rapidfuzz, case and punctuation folded), 0 when either is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz, utils

from civicswitch.catalog.model import Service
from civicswitch.routing.grid import box_around, cells_in, distance_m
from civicswitch.routing.nearby import NOT_TARGETS, NearbyQuery, NearbyRequest, NearbySource

WEIGHTS = (0.5, 0.2, 0.3)  # closeness, recency, similarity
CANDIDATE_LIMIT = 200  # the newest this many in the box are ranked (a busy corner, not a whole borough)


@dataclass(frozen=True, slots=True)
class Match:
    request: NearbyRequest
    distance_m: float
    age_days: float
    similarity: float
    score: float

    def document(self) -> dict[str, object]:
        """The public, PII-free summary of a match (API and timeline)."""
        r = self.request
        return {
            "service_request_id": str(r.id),
            "status": "closed" if r.status == "closed" else "open",
            "close_reason": r.close_reason,
            "description": r.description,
            "address": r.address,
            "lat": r.lat,
            "long": r.long,
            "requested_datetime": r.requested_at.isoformat(),
            "distance_m": round(self.distance_m, 1),
            "age_days": round(self.age_days, 2),
            "similarity": round(self.similarity, 3),
            "score": round(self.score, 3),
        }


def similarity(a: str, b: str) -> float:
    if not a.strip() or not b.strip():
        return 0.0
    return float(fuzz.token_set_ratio(a, b, processor=utils.default_process)) / 100.0


def rank(
    candidates: list[NearbyRequest],
    lat: float,
    long: float,
    description: str,
    now: datetime,
    service: Service,
) -> list[Match]:
    """Keep the candidates within the service's radius and order them best first (ties: the older request,
    which is the one people have been following longest)."""
    policy = service.duplicates
    window = policy.open_days
    found = []
    for c in candidates:
        if c.requested_at > now:  # filed after the moment asked about (a replay of history)
            continue
        if c.status == "closed" and c.close_reason in NOT_TARGETS:  # whatever the source: never point at these
            continue
        distance = distance_m(lat, long, c.lat, c.long)
        if distance > policy.radius_m:
            continue
        age = max((now - c.requested_at).total_seconds() / 86400.0, 0.0)
        close = 1.0 - distance / policy.radius_m
        recent = max(1.0 - age / window, 0.0)
        alike = similarity(description, c.description)
        score = WEIGHTS[0] * close + WEIGHTS[1] * recent + WEIGHTS[2] * alike
        found.append(Match(c, distance, age, alike, score))
    found.sort(key=lambda m: (-m.score, m.request.requested_at, m.request.id))
    return found


def find_duplicates(
    store: NearbySource,
    service: Service,
    lat: float,
    long: float,
    description: str,
    now: datetime,
    *,
    exclude_id: int | None = None,
    limit: int = 5,
) -> list[Match]:
    """The likeliest duplicates of a report of ``service`` at (lat, long), best first; none when the service's
    duplicate check is off."""
    policy = service.duplicates
    if not policy.enabled:
        return []
    box = box_around(lat, long, policy.radius_m)
    candidates = store.nearby(
        NearbyQuery(
            service_code=service.code,
            south=box.south,
            west=box.west,
            north=box.north,
            east=box.east,
            cells=tuple(cells_in(box)),
            requested_since=now - timedelta(days=policy.open_days),
            closed_since=now - timedelta(days=policy.closed_days),
            exclude_id=exclude_id,
            limit=CANDIDATE_LIMIT,
        )
    )
    return rank(candidates, lat, long, description, now, service)[:limit]
