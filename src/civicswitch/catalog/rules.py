"""Routing rules: which body owns a service in which area. Rules are data (catalog file, CLI).

A rule names a body, a layer, optionally one area of it (otherwise any area of the layer) and optionally one
service (otherwise every service), with a priority. At a point, the matching rule with the highest priority
wins; among equal priorities the more specific one (a named service, then a named area) wins. Two rules that
could both win at one place for one service with different bodies are refused when the rules are loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import shapely
from shapely.geometry.base import BaseGeometry

from civicswitch.catalog.areas import Area
from civicswitch.core.errors import Invalid

ANY = "*"


@dataclass(frozen=True, slots=True)
class RoutingRule:
    body: str
    layer: str
    area: str | None = None  # None: any area of the layer
    service: str | None = None  # None: every service
    priority: int = 0
    id: int | None = None

    @property
    def rank(self) -> tuple[int, int, int]:
        return (self.priority, self.service is not None, self.area is not None)

    def matches(self, service: str, areas: Mapping[str, str | None]) -> bool:
        key = areas.get(self.layer)
        return key is not None and self.service in (None, service) and self.area in (None, key)

    def describe(self) -> str:
        service = self.service or "every service"
        where = f"{self.layer} {self.area}" if self.area else f"any {self.layer} area"
        return f"{service} in {where} → {self.body} (priority {self.priority})"


@dataclass(frozen=True, slots=True)
class Decision:
    body: str | None
    rule: RoutingRule | None


def decide(service: str, areas: Mapping[str, str | None], rules: Sequence[RoutingRule]) -> Decision:
    """The winning rule at a point whose areas (layer → key) are known; no rule: Decision(None, None)."""
    best: RoutingRule | None = None
    for rule in rules:
        if rule.matches(service, areas) and (best is None or rule.rank > best.rank):
            best = rule
    return Decision(None, None) if best is None else Decision(best.body, best)


def parse_rules(items: object) -> list[RoutingRule]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise Invalid("routing_rules must be a list")
    rules = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise Invalid(f"routing rule {index}: expected an object")
        try:
            priority = int(item.get("priority", 0))
            body, layer = str(item["body"]).strip(), str(item["layer"]).strip()
        except (KeyError, TypeError, ValueError) as exc:
            raise Invalid(
                f"routing rule {index}: needs body and layer, and a whole-number priority ({exc!r})"
            ) from None
        area = item.get("area")
        service = item.get("service")
        rules.append(
            RoutingRule(
                body=body,
                layer=layer,
                area=None if area in (None, "", ANY) else str(area),
                service=None if service in (None, "", ANY) else str(service),
                priority=priority,
            )
        )
    return rules


def rule_document(rule: RoutingRule) -> dict[str, object]:
    return {
        "service": rule.service or ANY, "layer": rule.layer, "area": rule.area or ANY, "body": rule.body,
        "priority": rule.priority,
    }  # fmt: skip


def check_rules(rules: Sequence[RoutingRule], *, services: set[str], bodies: set[str], areas: Sequence[Area]) -> None:
    """Refuse rules naming unknown things, and rules that could tie: same rank, different bodies, a service in
    common and areas that overlap."""
    current = [a for a in areas if a.valid_to is None]
    layers: dict[str, dict[str, BaseGeometry]] = {}
    for a in current:
        layers.setdefault(a.layer, {})[a.key] = a.geometry
    for index, rule in enumerate(rules):
        where = f"routing rule {index} ({rule.describe()})"
        if rule.service is not None and rule.service not in services:
            raise Invalid(f"{where}: unknown service {rule.service!r}")
        if rule.body not in bodies:
            raise Invalid(f"{where}: unknown body {rule.body!r}")
        if rule.layer not in layers:
            raise Invalid(f"{where}: unknown layer {rule.layer!r}; load it with `civicswitch areas load`")
        if rule.area is not None and rule.area not in layers[rule.layer]:
            raise Invalid(f"{where}: layer {rule.layer} has no area {rule.area!r}")

    def footprint(rule: RoutingRule) -> BaseGeometry:
        shapes = layers[rule.layer]
        return shapes[rule.area] if rule.area is not None else shapely.union_all(list(shapes.values()))

    for (i, one), (j, two) in combinations(enumerate(rules), 2):
        if one.rank != two.rank or one.body == two.body or (one.service and two.service and one.service != two.service):
            continue
        if one.layer == two.layer:
            overlap = one.area is None or two.area is None or one.area == two.area
        else:
            overlap = footprint(one).intersection(footprint(two)).area > 1e-12
        if overlap:
            raise Invalid(
                f"routing rules {i} ({one.describe()}) and {j} ({two.describe()}) overlap with the same priority; "
                "give one a higher priority"
            )
