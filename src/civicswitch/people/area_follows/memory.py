"""The in-memory fake of the area follows' store (the same promises as ``sql.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from civicswitch.people.area_follows.model import AreaFollow, Cadence


@dataclass
class AreaFollowData:
    follows: dict[int, AreaFollow] = field(default_factory=dict)
    next_id: int = 1


class MemoryAreaFollowStore:
    def __init__(self, data: AreaFollowData) -> None:
        self._d = data

    def add(self, follow: AreaFollow) -> AreaFollow:
        follow.id, self._d.next_id = self._d.next_id, self._d.next_id + 1
        self._d.follows[follow.id] = dataclasses.replace(follow)
        return follow

    def get(self, follow_id: int) -> AreaFollow | None:
        found = self._d.follows.get(follow_id)
        return None if found is None else dataclasses.replace(found)

    def save(self, follow: AreaFollow) -> None:
        assert follow.id is not None and follow.id in self._d.follows
        kept = self._d.follows[follow.id]
        self._d.follows[follow.id] = dataclasses.replace(follow, created_at=kept.created_at)

    def of_address(self, digest: str) -> list[AreaFollow]:
        return [dataclasses.replace(x) for _, x in sorted(self._d.follows.items()) if x.address_digest == digest]

    def every_change(self, areas: Sequence[tuple[str, str]]) -> list[AreaFollow]:
        wanted = set(areas)
        return [
            dataclasses.replace(x)
            for _, x in sorted(self._d.follows.items())
            if x.active and x.cadence is Cadence.EVERY_CHANGE and (x.layer, x.area_key) in wanted
        ]

    def due(self, now: datetime, limit: int) -> list[AreaFollow]:
        found = [x for x in self._d.follows.values() if x.active and x.due_at is not None and x.due_at <= now]
        found.sort(key=lambda x: (x.due_at or now, x.id or 0))
        return [dataclasses.replace(x) for x in found[:limit]]
