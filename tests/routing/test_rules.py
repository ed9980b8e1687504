"""Routing rules: which body owns a service where; overlapping rules without precedence are refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from shapely.geometry import box

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.loader import export_catalog, load_catalog
from civicswitch.catalog.rules import RoutingRule, check_rules, decide, parse_rules
from civicswitch.core.errors import Invalid
from civicswitch.storage.ports import UnitOfWork

AREAS = [
    Area("boroughs", "1", "Manhattan", box(0, 0, 1, 1)),
    Area("boroughs", "2", "Bronx", box(0, 1, 1, 2)),
    Area("districts", "101", "CD 101", box(0, 0, 0.5, 1)),
    Area("counties", "nassau", "Nassau", box(2, 0, 3, 1)),
]
KNOWN = {"services": {"pothole", "noise"}, "bodies": {"DOT", "DOT-MN", "NYPD", "NASSAU"}, "areas": AREAS}


def test_decide__most_specific_highest_priority_wins() -> None:
    rules = [
        RoutingRule("DOT", "boroughs"),
        RoutingRule("DOT-MN", "boroughs", area="1", service="pothole"),
        RoutingRule("NYPD", "boroughs", service="noise", priority=5),
    ]
    here = {"boroughs": "1", "districts": "101"}
    assert decide("pothole", here, rules).body == "DOT-MN"
    assert decide("noise", here, rules).body == "NYPD"
    assert decide("pothole", {"boroughs": "2"}, rules).body == "DOT"
    assert decide("pothole", {"boroughs": None}, rules) == decide("x", {}, [])


def test_check_rules__known_and_ranked__accepted() -> None:
    rules = [
        RoutingRule("DOT", "boroughs"),
        RoutingRule("NYPD", "districts", service="noise", priority=1),
        RoutingRule("NASSAU", "counties", area="nassau"),
    ]
    check_rules(rules, **KNOWN)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (RoutingRule("DOT", "boroughs", service="graffiti"), "unknown service 'graffiti'"),
        (RoutingRule("DSNY", "boroughs"), "unknown body 'DSNY'"),
        (RoutingRule("DOT", "wards"), "unknown layer 'wards'"),
        (RoutingRule("DOT", "boroughs", area="9"), "layer boroughs has no area '9'"),
    ],
)
def test_check_rules__unknown_names__invalid(rule: RoutingRule, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        check_rules([rule], **KNOWN)


def test_check_rules__overlap_same_rank_different_bodies__invalid() -> None:
    rules = [RoutingRule("DOT", "boroughs", area="1"), RoutingRule("NYPD", "districts", area="101")]
    with pytest.raises(Invalid, match="overlap with the same priority"):
        check_rules(rules, **KNOWN)
    check_rules([rules[0], RoutingRule("NYPD", "districts", area="101", priority=1)], **KNOWN)
    check_rules([rules[0], RoutingRule("NYPD", "boroughs", area="2")], **KNOWN)  # side by side, no overlap


def test_parse_rules__star_means_any__and_bad_entries_invalid() -> None:
    (rule,) = parse_rules([{"service": "*", "layer": "boroughs", "area": "*", "body": "DOT", "priority": "2"}])
    assert rule == RoutingRule("DOT", "boroughs", priority=2)
    with pytest.raises(Invalid, match="routing rule 0"):
        parse_rules([{"layer": "boroughs"}])
    with pytest.raises(Invalid, match="must be a list"):
        parse_rules({"body": "DOT"})


@pytest.fixture
def with_boroughs(store_uow_factory: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
    """A store holding the boroughs layer of AREAS, for rules to refer to."""
    with store_uow_factory() as uow:
        uow.catalog.add_layer_version(AreaLayer("boroughs", "code"), [a for a in AREAS if a.layer == "boroughs"], None)
        uow.commit()
    return store_uow_factory


def _document(catalog_data: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {**catalog_data, "routing_rules": rules}


def test_load_catalog__rules__stored_and_exported_round_trip(
    with_boroughs: Callable[[], UnitOfWork], catalog_data: dict[str, Any]
) -> None:
    rules = [
        {"service": "pothole", "layer": "boroughs", "area": "1", "body": "DOT", "priority": 1},
        {"service": "*", "layer": "boroughs", "area": "*", "body": "DSNY", "priority": 0},
    ]
    load_catalog(with_boroughs(), _document(catalog_data, rules))
    exported = export_catalog(with_boroughs())
    assert exported["routing_rules"] == rules
    assert {s["code"] for s in exported["services"]} == {s["code"] for s in catalog_data["services"]}
    load_catalog(with_boroughs(), exported)  # the export loads back unchanged
    assert export_catalog(with_boroughs()) == exported


def test_load_catalog__bad_rule__nothing_loaded(
    with_boroughs: Callable[[], UnitOfWork], catalog_data: dict[str, Any]
) -> None:
    bad = [{"service": "pothole", "layer": "boroughs", "body": "NOBODY"}]
    with pytest.raises(Invalid, match="unknown body 'NOBODY'"):
        load_catalog(with_boroughs(), _document(catalog_data, bad))
    with with_boroughs() as check:
        assert check.catalog.services() == [] and check.catalog.rules() == []
