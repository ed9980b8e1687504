"""An area follow: who (an address, by digest too), which area of which layer, which service (None: all), how often."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from civicswitch.people.links import address_digest


class Cadence(StrEnum):
    EVERY_CHANGE = "every_change"  # a message per change, as it happens
    DAILY = "daily"  # one digest a day of the day's changes (none when nothing changed)
    WEEKLY = "weekly"  # one digest a week


PERIODS: dict[Cadence, timedelta] = {Cadence.DAILY: timedelta(days=1), Cadence.WEEKLY: timedelta(days=7)}

DIGEST_REQUESTS = 50  # the requests one digest lists (newest first); the rest are counted, with a link to the map


@dataclass(slots=True)
class AreaFollow:
    """``told_until``: changes up to this instant were told (or fell in an empty period); ``due_at``: when the next
    digest is due (None: every change, or not confirmed yet)."""

    email: str
    layer: str
    area_key: str
    service_code: str | None
    cadence: Cadence
    created_at: datetime
    language: str | None = None
    id: int | None = None
    confirmed_at: datetime | None = None
    stopped_at: datetime | None = None
    told_until: datetime | None = None
    due_at: datetime | None = None

    @property
    def address_digest(self) -> str:
        return address_digest(self.email)

    @property
    def active(self) -> bool:
        """Confirmed and not stopped: mail goes to it."""
        return self.confirmed_at is not None and self.stopped_at is None

    def same_follow(self, other: AreaFollow) -> bool:
        """The same address following the same area and service (how often aside)."""
        return (self.address_digest, self.layer, self.area_key, self.service_code) == (
            other.address_digest, other.layer, other.area_key, other.service_code,
        )  # fmt: skip

    def confirmed(self, at: datetime) -> AreaFollow:
        """Confirmed at ``at``: changes from then on are told; a digest is due a period later."""
        period = PERIODS.get(self.cadence)
        return dataclasses.replace(self, confirmed_at=at, stopped_at=None, told_until=at,
                                   due_at=at + period if period else None)  # fmt: skip

    def told(self, until: datetime) -> AreaFollow:
        """A digest of the changes up to ``until`` was made (or there were none): the next one a period on."""
        period = PERIODS[self.cadence]
        due = self.due_at or until
        while due <= until:
            due += period
        return dataclasses.replace(self, told_until=until, due_at=due)
