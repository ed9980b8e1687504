"""The catalog's storage port (SQL: ``catalog/sql.py``; in-memory fake: ``catalog/memory.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.calendars import Calendar
from civicswitch.catalog.model import Body, Service
from civicswitch.catalog.rules import RoutingRule


class CatalogStore(Protocol):
    """Every write (``add_body``, ``add_calendar``, ``add_service``, ``add_layer_version``, ``replace_rules``) also
    moves :meth:`version` on, in the same transaction."""

    def version(self) -> int:
        """A number that changes with every committed catalog write (0 before the first): one cheap read that tells
        a process whether what it rendered from the catalog is still current. Seen from another transaction it
        moves only when the write commits."""
        ...

    def add_body(self, body: Body) -> Body: ...
    def bodies(self) -> list[Body]: ...
    def body(self, code: str) -> Body | None: ...
    def add_calendar(self, calendar: Calendar) -> Calendar:
        """Insert, or replace the calendar with the same code (holidays included)."""
        ...

    def calendars(self) -> list[Calendar]:
        """Every calendar with its holidays, by code."""
        ...

    def calendar(self, code: str) -> Calendar | None: ...
    def add_service(self, service: Service) -> Service:
        """Insert, or replace the service with the same code (attributes included). A target's calendar must be
        stored (:class:`Invalid` when not)."""
        ...

    def services(self, *, include_inactive: bool = False) -> list[Service]: ...
    def service_names(self) -> list[tuple[str, str]]:
        """(code, name) of every active service, by code: what a filter's choices need, without loading each
        service's attributes."""
        ...

    def service(self, code: str) -> Service | None: ...
    def add_layer_version(self, layer: AreaLayer, areas: Sequence[Area], valid_from: datetime | None) -> AreaLayer:
        """Store a layer's areas. Without ``valid_from`` they replace the current version; with it, the current
        version ends at ``valid_from`` and the new one starts there (history is kept)."""
        ...

    def layers(self) -> list[AreaLayer]: ...
    def replace_rules(self, rules: Sequence[RoutingRule]) -> None:
        """Replace every routing rule (they are checked by the caller against bodies, services and layers)."""
        ...

    def rules(self) -> list[RoutingRule]: ...
    def areas_version(self) -> tuple[int, int]:
        """A cheap fingerprint of the stored areas (changes whenever a layer is loaded)."""
        ...

    def areas(self, layer: str | None = None) -> list[Area]:
        """Every stored version of every area (of one layer), ordered by layer, key and valid_from."""
        ...
