"""Routing at intake: a new request's areas, its owning body, and referral outside the jurisdiction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from civicswitch.catalog.model import Body, BodyKind, Service
from civicswitch.catalog.rules import RoutingRule, decide
from civicswitch.core.errors import Invalid
from civicswitch.routing.geography import AreaIndex, Hit


@dataclass(frozen=True, slots=True)
class Geography:
    """What intake needs to route by location: the current areas and the layer that is this jurisdiction."""

    index: AreaIndex
    coverage_layer: str


def geography_for(index: AreaIndex, coverage_layer: str) -> Geography | None:
    """Routing by location for the configured coverage layer: None when none is set, or when it is not loaded (it
    would refuse every request; the caller says so)."""
    if not coverage_layer or coverage_layer not in index.layers:
        return None
    return Geography(index, coverage_layer)


@dataclass(frozen=True, slots=True)
class Routing:
    body: str | None
    areas: dict[str, str]
    rule: RoutingRule | None
    referred_to: Body | None = None
    outside: str | None = None  # the area (of the referring rule's layer) the point lies in

    def note(self) -> str:
        where = ", ".join(f"{layer} {key}" for layer, key in self.areas.items()) or "no known area"
        how = f"rule: {self.rule.describe()}" if self.rule else "the service's default owner"
        return f"Routed to {self.body or 'no body'} ({how}); areas: {where}"


def route(
    service: Service,
    lat: float,
    long: float,
    geography: Geography,
    rules: Sequence[RoutingRule],
    bodies: Mapping[str, Body],
    *,
    hits: Mapping[str, Hit | None] | None = None,
) -> Routing:
    """The owner of a request at a point; a point outside the jurisdiction is referred to the external body whose
    rule covers it, and a point nobody covers is refused (400) naming the area served. ``hits``: the point's areas
    when the caller has already looked them up."""
    if hits is None:
        hits = geography.index.locate(lat, long)
    areas = {layer: hit.key for layer, hit in hits.items() if hit is not None}
    decision = decide(service.code, areas, rules)
    if areas.get(geography.coverage_layer) is not None:
        return Routing(decision.body or service.body_code, areas, decision.rule)
    body = bodies.get(decision.body) if decision.body else None
    if body is not None and body.kind == BodyKind.EXTERNAL and decision.rule is not None:
        hit = hits.get(decision.rule.layer)
        return Routing(body.code, areas, decision.rule, referred_to=body, outside=hit.name if hit else None)
    served = ", ".join(geography.index.area_names(geography.coverage_layer)) or geography.coverage_layer
    raise Invalid(
        f"the location ({lat:.5f}, {long:.5f}) is outside the area this service covers ({served}), "
        "and no neighbouring body takes this kind of request there",
        field="location",
    )


def referral_note(routing: Routing) -> str:
    assert routing.referred_to is not None
    place = f"in {routing.outside}" if routing.outside else "outside our area"
    return (
        f"This location is {place}, which {routing.referred_to.name} looks after: "
        f"your request was referred to {routing.referred_to.name}."
    )


def available_services(
    services: Sequence[Service],
    lat: float,
    long: float,
    geography: Geography,
    rules: Sequence[RoutingRule],
    bodies: Mapping[str, Body],
) -> list[Service]:
    """The services a resident can file at a point: all of them inside the jurisdiction; outside it, those an
    external body takes there (they will be referred); none where nobody serves."""
    hits = geography.index.locate(lat, long)  # once for the point, not once per service
    found = []
    for service in services:
        try:
            route(service, lat, long, geography, rules, bodies, hits=hits)
        except Invalid:
            continue
        found.append(service)
    return found
