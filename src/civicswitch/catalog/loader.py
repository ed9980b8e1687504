"""Load a catalog file (bodies and services) into the store: idempotent, all or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from civicswitch.catalog.model import Attribute, AttributeValue, Body, BodyKind, Datatype, Service, ServiceType
from civicswitch.core.errors import Invalid
from civicswitch.core.ports import UnitOfWork


def parse_catalog(data: Mapping[str, Any]) -> tuple[list[Body], list[Service]]:
    """Validate a catalog document; raises :class:`Invalid` naming the first bad entry."""
    try:
        bodies = [
            Body(code=b["code"], name=b["name"], kind=BodyKind(b.get("kind", "department"))) for b in data["bodies"]
        ]
        services = [
            Service(
                code=s["code"],
                name=s["name"],
                description=s.get("description", ""),
                group=s.get("group", ""),
                keywords=tuple(s.get("keywords", ())),
                type=ServiceType(s.get("type", "realtime")),
                body_code=s.get("body"),
                sla_hours=s.get("sla_hours"),
                attributes=tuple(
                    Attribute(
                        code=a["code"],
                        datatype=Datatype(a["datatype"]),
                        description=a.get("description") or a["code"],
                        required=bool(a.get("required", False)),
                        variable=bool(a.get("variable", True)),
                        order=int(a.get("order", i + 1)),
                        datatype_description=a.get("datatype_description", ""),
                        values=tuple(AttributeValue(key=v["key"], name=v["name"]) for v in a.get("values", ())),
                    )
                    for i, a in enumerate(s.get("attributes", ()))
                ),
            )
            for s in data["services"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid(f"catalog file is not valid: {exc!r}") from None
    known = {b.code for b in bodies}
    for s in services:
        if s.body_code is not None and s.body_code not in known:
            raise Invalid(f"service {s.code!r} names unknown body {s.body_code!r}")
    return bodies, services


def load_catalog(uow: UnitOfWork, data: Mapping[str, Any]) -> tuple[int, int]:
    """Upsert every body and service of ``data`` in one transaction; returns (bodies, services)."""
    bodies, services = parse_catalog(data)
    with uow:
        for body in bodies:
            uow.catalog.add_body(body)
        for service in services:
            uow.catalog.add_service(service)
        uow.commit()
    return len(bodies), len(services)
