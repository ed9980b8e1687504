"""SQL implementation of the catalog store."""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

import shapely
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.calendars import Calendar, Holiday, SlaTarget, SlaUnit
from civicswitch.catalog.model import (
    Attribute,
    AttributeValue,
    Body,
    BodyKind,
    Datatype,
    DuplicatePolicy,
    ResidentSettings,
    Service,
    ServiceType,
    sla_notice,
    translations_document,
    translations_of,
)
from civicswitch.catalog.rules import RoutingRule
from civicswitch.catalog.tables import (
    area_layers,
    bodies,
    calendar_holidays,
    calendars,
    catalog_version,
    routing_rules,
    service_attributes,
    services,
)
from civicswitch.catalog.tables import areas as areas_table
from civicswitch.core.db import storable
from civicswitch.core.errors import Invalid

# Read on every cacheable Open311 GET: built once (building a statement costs more than running this one).
_VERSION = select(catalog_version.c.version).where(catalog_version.c.id == 1)
_SERVICE = (
    select(services, bodies.c.code.label("body_code"))
    .outerjoin(bodies, bodies.c.id == services.c.body_id)
    .where(services.c.code == bindparam("code"))
)
_ATTRIBUTES = (
    select(service_attributes)
    .where(service_attributes.c.service_id.in_(bindparam("ids", expanding=True)))
    .order_by(service_attributes.c.service_id, service_attributes.c.order, service_attributes.c.id)
)
# Services as read at a catalog version, per engine: every catalog write moves the version (``_changed``), so a
# service read after the version is at least as new as it. Service is frozen: the same object is shared.
_SERVICES_AT: weakref.WeakKeyDictionary[Engine, tuple[int, dict[str, Service | None]]] = weakref.WeakKeyDictionary()
_SERVICES_KEPT = 1000  # codes remembered per version at most (unknown codes are remembered too, as None)


# A body's id never changes (bodies are updated in place, never deleted), so every store reads it once per engine.
_BODY_IDS: weakref.WeakKeyDictionary[Engine, dict[str, int]] = weakref.WeakKeyDictionary()
_BODY_ID = select(bodies.c.id).where(bodies.c.code == bindparam("code"))


def body_id(conn: Connection, code: str) -> int:
    """The id of the body with this code (:class:`Invalid` if there is none), read once per engine."""
    known = _BODY_IDS.setdefault(conn.engine, {})
    found = known.get(code)
    if found is None:
        found = conn.execute(_BODY_ID, {"code": code}).scalar() if storable(code) else None
        if found is None:
            raise Invalid(f"unknown body {code!r}", field="body")
        known[code] = found = int(found)
    return found


class SqlCatalogStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._services: dict[str, Service | None] | None = None  # service(): what this unit has read

    # -- version ---------------------------------------------------------------------------------------
    def version(self) -> int:
        found = self._conn.execute(_VERSION).scalar()
        return int(found or 0)

    def _changed(self) -> None:
        """Move the version on, in the writer's transaction (an upsert: a truncated table starts again at 1)."""
        self._services = {}  # what this unit reads from here on is its own (uncommitted), not a version's
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(catalog_version).values(id=1, version=1)
        self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[catalog_version.c.id], set_={"version": catalog_version.c.version + 1}
            )
        )

    def add_body(self, body: Body) -> Body:
        existing = self._conn.execute(select(bodies.c.id).where(bodies.c.code == body.code)).scalar()
        values = {"code": body.code, "name": body.name, "kind": str(body.kind),
                  "translations": translations_document(body.translations)}  # fmt: skip
        if existing is None:
            new_id = self._conn.execute(insert(bodies).values(values).returning(bodies.c.id)).scalar_one()
        else:
            self._conn.execute(update(bodies).where(bodies.c.id == existing).values(values))
            new_id = existing
        self._changed()
        return Body(code=body.code, name=body.name, kind=body.kind, id=new_id, translations=body.translations)

    def bodies(self) -> list[Body]:
        rows = self._conn.execute(select(bodies).order_by(bodies.c.code))
        return [_body(r) for r in rows]

    def body(self, code: str) -> Body | None:
        if not storable(code):
            return None
        r = self._conn.execute(select(bodies).where(bodies.c.code == code)).first()
        return None if r is None else _body(r)

    # -- calendars -------------------------------------------------------------------------------------
    def add_calendar(self, calendar: Calendar) -> Calendar:
        values = {
            "code": calendar.code,
            "name": calendar.name,
            "timezone": calendar.timezone,
            "workdays": sorted(calendar.workdays),
            "opens": None if calendar.hours is None else calendar.hours[0].strftime("%H:%M"),
            "closes": None if calendar.hours is None else calendar.hours[1].strftime("%H:%M"),
        }
        found = self._conn.execute(select(calendars.c.id).where(calendars.c.code == calendar.code)).scalar()
        if found is None:
            found = self._conn.execute(insert(calendars).values(values).returning(calendars.c.id)).scalar_one()
        else:
            self._conn.execute(update(calendars).where(calendars.c.id == found).values(values))
            self._conn.execute(delete(calendar_holidays).where(calendar_holidays.c.calendar_id == found))
        if calendar.holidays:
            self._conn.execute(
                insert(calendar_holidays),
                [{"calendar_id": found, "day": h.day, "name": h.name} for h in calendar.holidays],
            )
        self._changed()
        stored = self.calendar(calendar.code)
        assert stored is not None
        return stored

    def calendars(self) -> list[Calendar]:
        return self._calendars(None)

    def calendar(self, code: str) -> Calendar | None:
        if not storable(code):
            return None
        found = self._calendars(code)
        return found[0] if found else None

    def _calendars(self, code: str | None) -> list[Calendar]:
        query = select(calendars).order_by(calendars.c.code)
        if code is not None:
            query = query.where(calendars.c.code == code)
        rows = list(self._conn.execute(query))
        if not rows:
            return []
        days: dict[int, list[Holiday]] = defaultdict(list)
        for h in self._conn.execute(
            select(calendar_holidays)
            .where(calendar_holidays.c.calendar_id.in_([r.id for r in rows]))
            .order_by(calendar_holidays.c.day)
        ):
            days[h.calendar_id].append(Holiday(h.day, h.name))
        return [
            Calendar(
                code=r.code,
                name=r.name,
                timezone=r.timezone,
                workdays=frozenset(r.workdays),
                hours=None if r.opens is None else (time.fromisoformat(r.opens), time.fromisoformat(r.closes)),
                holidays=tuple(days.get(r.id, ())),
                id=r.id,
            )
            for r in rows
        ]

    # -- services --------------------------------------------------------------------------------------
    def add_service(self, service: Service) -> Service:
        sla = service.sla
        if sla is not None and sla.calendar is not None:
            known = self._conn.execute(select(calendars.c.id).where(calendars.c.code == sla.calendar)).scalar()
            if known is None:
                raise Invalid(f"service {service.code!r}: unknown calendar {sla.calendar!r}", field="sla")
        body_id = None
        if service.body_code is not None:
            body = self.body(service.body_code)
            if body is None:
                raise Invalid(f"service {service.code!r}: unknown body {service.body_code!r}")
            body_id = body.id
        values: dict[str, Any] = {
            "code": service.code,
            "name": service.name,
            "description": service.description,
            "group": service.group,
            "keywords": list(service.keywords),
            "type": str(service.type),
            "body_id": body_id,
            "sla_hours": service.sla_hours,
            "sla_amount": None if sla is None else sla.amount,
            "sla_unit": None if sla is None else str(sla.unit),
            "sla_calendar": None if sla is None else sla.calendar,
            "service_notice": sla_notice(sla),
            "active": service.active,
            "duplicates": None if service.duplicates == DuplicatePolicy() else service.duplicates.document(),
            "partners_may_close": service.partners_may_close,
            "translations": translations_document(service.translations),
            "residents": service.residents.document(),
        }
        existing = self._conn.execute(select(services.c.id).where(services.c.code == service.code)).scalar()
        if existing is None:
            service_id = self._conn.execute(insert(services).values(values).returning(services.c.id)).scalar_one()
        else:
            service_id = existing
            self._conn.execute(update(services).where(services.c.id == service_id).values(values))
            self._conn.execute(delete(service_attributes).where(service_attributes.c.service_id == service_id))
        if service.attributes:
            self._conn.execute(
                insert(service_attributes),
                [
                    {
                        "service_id": service_id,
                        "code": a.code,
                        "datatype": str(a.datatype),
                        "required": a.required,
                        "variable": a.variable,
                        "order": a.order,
                        "description": a.description,
                        "datatype_description": a.datatype_description,
                        "values": [{"key": v.key, "name": v.name} for v in a.values],
                        "translations": translations_document(a.translations),
                    }
                    for a in service.attributes
                ],
            )
        self._changed()
        found = self.service(service.code)
        assert found is not None
        return found

    def services(self, *, include_inactive: bool = False) -> list[Service]:
        query = select(services, bodies.c.code.label("body_code")).outerjoin(bodies, bodies.c.id == services.c.body_id)
        if not include_inactive:
            query = query.where(services.c.active.is_(True))
        return self._load(list(self._conn.execute(query.order_by(services.c.code))))

    def service_names(self) -> list[tuple[str, str]]:
        query = select(services.c.code, services.c.name).where(services.c.active.is_(True)).order_by(services.c.code)
        return [(r.code, r.name) for r in self._conn.execute(query)]

    def service(self, code: str) -> Service | None:
        """One service as this unit sees it: read once per unit, and from the engine's copy of the catalog version
        this unit reads (one primary-key read instead of two queries and the objects they make)."""
        if not storable(code):
            return None
        mine = self._services
        if mine is None:
            version = self.version()
            engine = self._conn.engine
            kept = _SERVICES_AT.get(engine)
            if kept is None or kept[0] != version:
                kept = (version, {})
                _SERVICES_AT[engine] = kept
            mine = self._services = kept[1]
        if code in mine:
            return mine[code]
        loaded = self._load(list(self._conn.execute(_SERVICE, {"code": code})))
        found = loaded[0] if loaded else None
        if len(mine) < _SERVICES_KEPT:
            mine[code] = found
        return found

    def _load(self, rows: list[Any]) -> list[Service]:
        if not rows:
            return []
        attrs: dict[int, list[Attribute]] = defaultdict(list)
        ids = [r.id for r in rows]
        for a in self._conn.execute(_ATTRIBUTES, {"ids": ids}):
            attrs[a.service_id].append(
                Attribute(
                    code=a.code,
                    datatype=Datatype(a.datatype),
                    description=a.description,
                    required=a.required,
                    variable=a.variable,
                    order=a.order,
                    datatype_description=a.datatype_description,
                    values=tuple(AttributeValue(key=v["key"], name=v["name"]) for v in a.values),
                    translations=translations_of(a.translations),
                )
            )
        return [
            Service(
                code=r.code,
                name=r.name,
                description=r.description,
                group=r.group,
                keywords=tuple(r.keywords),
                type=ServiceType(r.type),
                body_code=r.body_code,
                sla=None if r.sla_unit is None else SlaTarget(r.sla_amount, SlaUnit(r.sla_unit), r.sla_calendar),
                sla_hours=r.sla_hours if r.sla_unit is None else None,  # a row written before 0008's columns
                attributes=tuple(attrs.get(r.id, ())),
                active=r.active,
                duplicates=DuplicatePolicy.from_document(r.duplicates),
                partners_may_close=r.partners_may_close,
                id=r.id,
                translations=translations_of(r.translations),
                residents=ResidentSettings.from_document(r.residents),
            )
            for r in rows
        ]

    # -- areas ---------------------------------------------------------------------------------------
    def add_layer_version(self, layer: AreaLayer, areas: Sequence[Area], valid_from: datetime | None) -> AreaLayer:
        values = {"name": layer.name, "key_property": layer.key_property, "name_property": layer.name_property}
        layer_id = self._conn.execute(select(area_layers.c.id).where(area_layers.c.name == layer.name)).scalar()
        if layer_id is None:
            layer_id = self._conn.execute(insert(area_layers).values(values).returning(area_layers.c.id)).scalar_one()
        else:
            self._conn.execute(update(area_layers).where(area_layers.c.id == layer_id).values(values))
        current = (areas_table.c.layer_id == layer_id) & areas_table.c.valid_to.is_(None)
        if valid_from is None:
            self._conn.execute(delete(areas_table).where(current))
        else:
            latest = self._conn.execute(select(func.max(areas_table.c.valid_from)).where(current)).scalar()
            if latest is not None and latest >= valid_from:
                raise Invalid(
                    f"layer {layer.name}: a version valid from {latest:%Y-%m-%d} is loaded; a new version must "
                    "start later",
                    field="valid_from",
                )
            self._conn.execute(update(areas_table).where(current).values(valid_to=valid_from))
        if areas:
            self._conn.execute(
                insert(areas_table),
                [
                    {
                        "layer_id": layer_id, "key": a.key, "name": a.name, "valid_from": valid_from,
                        "valid_to": None, "geometry": shapely.to_wkb(a.geometry), "repaired": a.repaired,
                    }
                    for a in areas
                ],
            )  # fmt: skip
        self._changed()
        return AreaLayer(layer.name, layer.key_property, layer.name_property, id=layer_id)

    def areas_version(self) -> tuple[int, int]:
        count, top = self._conn.execute(select(func.count(), func.max(areas_table.c.id))).one()
        return int(count), int(top or 0)

    def layers(self) -> list[AreaLayer]:
        rows = self._conn.execute(select(area_layers).order_by(area_layers.c.name))
        return [AreaLayer(r.name, r.key_property, r.name_property, id=r.id) for r in rows]

    def areas(self, layer: str | None = None) -> list[Area]:
        query = (
            select(areas_table, area_layers.c.name.label("layer"))
            .join(area_layers, area_layers.c.id == areas_table.c.layer_id)
            .order_by(
                area_layers.c.name, areas_table.c.key, areas_table.c.valid_from.asc().nulls_first(), areas_table.c.id
            )
        )
        if layer is not None:
            query = query.where(area_layers.c.name == layer)
        return [
            Area(
                layer=r.layer, key=r.key, name=r.name, geometry=shapely.from_wkb(r.geometry), valid_from=r.valid_from,
                valid_to=r.valid_to, repaired=r.repaired, id=r.id,
            )
            for r in self._conn.execute(query)
        ]  # fmt: skip

    # -- routing rules ---------------------------------------------------------------------------------
    def replace_rules(self, rules: Sequence[RoutingRule]) -> None:
        self._conn.execute(delete(routing_rules))
        self._changed()
        if not rules:
            return
        body_ids = {k: v for k, v in self._conn.execute(select(bodies.c.code, bodies.c.id))}
        layer_ids = {k: v for k, v in self._conn.execute(select(area_layers.c.name, area_layers.c.id))}
        service_ids = {k: v for k, v in self._conn.execute(select(services.c.code, services.c.id))}
        try:
            rows = [
                {
                    "body_id": body_ids[r.body], "layer_id": layer_ids[r.layer], "area_key": r.area,
                    "service_id": None if r.service is None else service_ids[r.service], "priority": r.priority,
                }
                for r in rules
            ]  # fmt: skip
        except KeyError as exc:
            raise Invalid(f"routing rule names unknown {exc.args[0]!r}") from None
        self._conn.execute(insert(routing_rules), rows)

    def rules(self) -> list[RoutingRule]:
        query = (
            select(
                routing_rules.c.id, bodies.c.code.label("body"), area_layers.c.name.label("layer"),
                routing_rules.c.area_key, services.c.code.label("service"), routing_rules.c.priority,
            )
            .join(bodies, bodies.c.id == routing_rules.c.body_id)
            .join(area_layers, area_layers.c.id == routing_rules.c.layer_id)
            .outerjoin(services, services.c.id == routing_rules.c.service_id)
            .order_by(routing_rules.c.id)
        )  # fmt: skip
        return [
            RoutingRule(body=r.body, layer=r.layer, area=r.area_key, service=r.service, priority=r.priority, id=r.id)
            for r in self._conn.execute(query)
        ]


def _body(r: Any) -> Body:
    return Body(code=r.code, name=r.name, kind=BodyKind(r.kind), id=r.id, translations=translations_of(r.translations))
