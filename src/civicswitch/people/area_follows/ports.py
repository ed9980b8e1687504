"""The area follows' store port (``sql.py``; in-memory fake ``memory.py``;
``tests/people/area_follows/test_area_follow_store_contract.py`` holds both to the same promises)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from civicswitch.people.area_follows.model import AreaFollow


class AreaFollowStore(Protocol):
    def add(self, follow: AreaFollow) -> AreaFollow:
        """Store a new follow; returned with its id."""
        ...

    def get(self, follow_id: int) -> AreaFollow | None: ...

    def save(self, follow: AreaFollow) -> None:
        """Write back a stored follow's cadence, language, confirmation, stop and digest times."""
        ...

    def of_address(self, digest: str) -> list[AreaFollow]:
        """The follows of one address (by its digest, ``people/links.address_digest``), oldest first."""
        ...

    def every_change(self, areas: Sequence[tuple[str, str]]) -> list[AreaFollow]:
        """The active follows (confirmed, not stopped) told of every change in one of ``areas`` (layer, area key),
        by id."""
        ...

    def due(self, now: datetime, limit: int) -> list[AreaFollow]:
        """Active digest follows whose digest is due at ``now``, the longest due first, at most ``limit``."""
        ...
