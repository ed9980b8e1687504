"""The in-memory catalog store (a fake of ``catalog/sql.py``), over the database of ``storage/memory.py``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.calendars import Calendar
from civicswitch.catalog.model import Body, Service
from civicswitch.catalog.rules import RoutingRule
from civicswitch.core.errors import Invalid

if TYPE_CHECKING:
    from civicswitch.storage.memory import MemoryDatabase


class MemoryCatalogStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def version(self) -> int:
        return self._db.catalog_version

    def _changed(self) -> None:
        self._db.catalog_version += 1

    def add_body(self, body: Body) -> Body:
        existing = self._db.bodies.get(body.code)
        stored = dataclasses.replace(body, id=existing.id if existing else self._db.take_id("body"))
        self._db.bodies[body.code] = stored
        self._changed()
        return stored

    def bodies(self) -> list[Body]:
        return sorted(self._db.bodies.values(), key=lambda b: b.code)

    def body(self, code: str) -> Body | None:
        return self._db.bodies.get(code)

    def add_calendar(self, calendar: Calendar) -> Calendar:
        existing = self._db.calendars.get(calendar.code)
        stored = dataclasses.replace(calendar, id=existing.id if existing else self._db.take_id("calendar"))
        self._db.calendars[calendar.code] = stored
        self._changed()
        return stored

    def calendars(self) -> list[Calendar]:
        return [self._db.calendars[k] for k in sorted(self._db.calendars)]

    def calendar(self, code: str) -> Calendar | None:
        return self._db.calendars.get(code)

    def add_service(self, service: Service) -> Service:
        calendar = service.sla.calendar if service.sla is not None else None
        if calendar is not None and calendar not in self._db.calendars:
            raise Invalid(f"service {service.code!r}: unknown calendar {calendar!r}", field="sla")
        if service.body_code is not None and service.body_code not in self._db.bodies:
            raise Invalid(f"service {service.code!r}: unknown body {service.body_code!r}")
        existing = self._db.services.get(service.code)
        attributes = tuple(sorted(service.attributes, key=lambda a: a.order))
        stored = dataclasses.replace(
            service, attributes=attributes, id=existing.id if existing else self._db.take_id("service")
        )
        self._db.services[service.code] = stored
        self._changed()
        return stored

    def services(self, *, include_inactive: bool = False) -> list[Service]:
        found = [s for s in self._db.services.values() if include_inactive or s.active]
        return sorted(found, key=lambda s: s.code)

    def service_names(self) -> list[tuple[str, str]]:
        return [(s.code, s.name) for s in self.services()]

    def service(self, code: str) -> Service | None:
        return self._db.services.get(code)

    def add_layer_version(self, layer: AreaLayer, areas: Sequence[Area], valid_from: datetime | None) -> AreaLayer:
        existing = self._db.layers.get(layer.name)
        stored = dataclasses.replace(layer, id=existing.id if existing else self._db.take_id("layer"))
        current = [a for a in self._db.areas if a.layer == layer.name and a.valid_to is None]
        if valid_from is None:
            self._db.areas = [a for a in self._db.areas if a not in current]
        else:
            latest = max((a.valid_from for a in current if a.valid_from is not None), default=None)
            if latest is not None and latest >= valid_from:
                raise Invalid(
                    f"layer {layer.name}: a version valid from {latest:%Y-%m-%d} is loaded; a new version must "
                    "start later",
                    field="valid_from",
                )
            self._db.areas = [
                dataclasses.replace(a, valid_to=valid_from) if a in current else a for a in self._db.areas
            ]
        self._db.layers[layer.name] = stored
        for a in areas:
            self._db.areas.append(
                dataclasses.replace(
                    a, layer=layer.name, valid_from=valid_from, valid_to=None, id=self._db.take_id("area")
                )
            )
        self._changed()
        return stored

    def areas_version(self) -> tuple[int, int]:
        return len(self._db.areas), max((a.id or 0 for a in self._db.areas), default=0)

    def replace_rules(self, rules: Sequence[RoutingRule]) -> None:
        for r in rules:
            unknown = (
                r.body if r.body not in self._db.bodies
                else r.layer if r.layer not in self._db.layers
                else r.service if r.service is not None and r.service not in self._db.services
                else None
            )  # fmt: skip
            if unknown is not None:
                raise Invalid(f"routing rule names unknown {unknown!r}")
        self._db.rules = [dataclasses.replace(r, id=self._db.take_id("rule")) for r in rules]
        self._changed()

    def rules(self) -> list[RoutingRule]:
        return list(self._db.rules)

    def layers(self) -> list[AreaLayer]:
        return [self._db.layers[k] for k in sorted(self._db.layers)]

    def areas(self, layer: str | None = None) -> list[Area]:
        found = [a for a in self._db.areas if layer is None or a.layer == layer]
        return sorted(found, key=lambda a: (a.layer, a.key, a.valid_from is not None, a.valid_from or 0, a.id or 0))
