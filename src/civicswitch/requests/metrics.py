"""The measures a city leader reads (issue 12 §2; docs/metrics.md): volume and time to close so far, by service,
body, channel or the areas of one layer, over the requests filed in a date range.

The store gives the requests filed in the range as :class:`Filed` rows (group, filing and closing times, status,
close reason), read by the filing-time index; the figures are computed here, so every store gives the same ones.
Percentiles are linear between the closest ranks (numpy's default, "type 7")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import numpy as np

from civicswitch.core.errors import Invalid
from civicswitch.people.policy import Action, Principal, authorize
from civicswitch.requests.model import TIMED_CLOSURES, CloseReason, Status

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

Grouping = Literal["all", "service", "body", "channel", "area"]
GROUPINGS = ("all", "service", "body", "channel", "area")
NO_GROUP = "(none)"  # a request without a body, or outside every area of the layer
MAX_DAYS = 3660  # a range of at most about ten years


@dataclass(frozen=True, slots=True)
class MetricsQuery:
    """Requests filed at ``since`` ≤ t < ``until``, grouped ``by`` (``area``: by ``layer``)."""

    since: datetime
    until: datetime
    by: Grouping = "all"
    layer: str | None = None

    def __post_init__(self) -> None:
        if self.by not in GROUPINGS:
            raise Invalid(f"group by one of {', '.join(GROUPINGS)}, or area:LAYER", field="by")
        if (self.by == "area") != (self.layer is not None):
            raise Invalid("group by area names its layer: area:LAYER", field="by")
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise Invalid("the range's dates must be timezone-aware", field="from")
        if self.until <= self.since:
            raise Invalid("the range ends after it starts (--to after --from)", field="to")
        if (self.until - self.since).days > MAX_DAYS:
            raise Invalid(f"a range is at most {MAX_DAYS} days", field="to")


@dataclass(frozen=True, slots=True)
class Filed:
    """One request filed in the range, as the measures need it."""

    group: str | None
    requested_at: datetime
    closed_at: datetime | None
    status: Status
    close_reason: CloseReason | None


@dataclass(frozen=True, slots=True)
class Volume:
    group: str
    filed: int
    closed: int  # of those filed in the range, closed since (for any reason)
    open: int


@dataclass(frozen=True, slots=True)
class CloseTimes:
    group: str
    count: int  # closures timed: fixed or no action possible (a duplicate or a referral is not the time a fix takes)
    median_hours: float
    p80_hours: float
    p90_hours: float


def parse_by(text: str | None) -> tuple[Grouping, str | None]:
    """``service``, ``body``, ``channel``, ``area:LAYER`` or nothing (all) → (grouping, layer)."""
    if not text:
        return "all", None
    if text.startswith("area:") and text[5:].strip():
        return "area", text[5:].strip()
    if text in ("service", "body", "channel"):
        return text, None  # type: ignore[return-value]
    raise Invalid(f"--by {text!r}: use service, body, channel or area:LAYER", field="by")


def _filed(uow: UnitOfWork, who: Principal, query: MetricsQuery) -> list[Filed]:
    authorize(who, Action.METRICS_READ)
    with uow:
        if query.layer is not None and query.layer not in {layer.name for layer in uow.catalog.layers()}:
            raise Invalid(f"no layer {query.layer!r} is loaded", field="by")
        return uow.requests.filed_between(query.since, query.until, query.by, query.layer)


def _name(query: MetricsQuery, row: Filed) -> str:
    return "all" if query.by == "all" else (row.group or NO_GROUP)


def volume(uow: UnitOfWork, who: Principal, query: MetricsQuery) -> list[Volume]:
    """Per group: requests filed in the range, how many of them are closed now, how many open; by group name."""
    counts: dict[str, list[int]] = {}
    for row in _filed(uow, who, query):
        entry = counts.setdefault(_name(query, row), [0, 0])
        entry[0] += 1
        entry[1] += row.status is Status.CLOSED
    return [Volume(g, n, closed, n - closed) for g, (n, closed) in sorted(counts.items())]


def time_to_close(uow: UnitOfWork, who: Principal, query: MetricsQuery) -> list[CloseTimes]:
    """Per group, over the requests filed in the range and closed as fixed or with no action possible: how many,
    and the median, 80th and 90th percentile of the hours from filing to (the last) closing; by group name."""
    hours: dict[str, list[float]] = {}
    for row in _filed(uow, who, query):
        if row.status is Status.CLOSED and row.closed_at is not None and row.close_reason in TIMED_CLOSURES:
            span = max((row.closed_at - row.requested_at).total_seconds(), 0.0) / 3600
            hours.setdefault(_name(query, row), []).append(span)
    out = []
    for group, values in sorted(hours.items()):
        median, p80, p90 = (float(v) for v in np.percentile(np.asarray(values), [50, 80, 90]))
        out.append(CloseTimes(group, len(values), round(median, 2), round(p80, 2), round(p90, 2)))
    return out
