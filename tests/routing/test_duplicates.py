"""Ranking likely duplicates, and the per-service duplicate policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from civicswitch.catalog.loader import parse_catalog
from civicswitch.catalog.model import DuplicatePolicy, Service
from civicswitch.core.errors import Invalid
from civicswitch.routing.duplicates import rank, similarity
from civicswitch.routing.nearby import NearbyRequest

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HERE = (40.7359, -73.9911)
SERVICE = Service(code="graffiti", name="Graffiti", duplicates=DuplicatePolicy(radius_m=100, open_days=10))


def _nearby(rid: int, dlat: float, age_days: float, description: str = "", status: str = "new") -> NearbyRequest:
    at = NOW - timedelta(days=age_days)
    return NearbyRequest(rid, status, None, description, HERE[0] + dlat, HERE[1], None, at, None)


def test_rank__closer_and_newer__ranks_first_and_beyond_radius_is_dropped() -> None:
    found = rank(
        [_nearby(1, 0.0008, 5), _nearby(2, 0.0001, 1), _nearby(3, 0.0010, 1)], *HERE, "", NOW, SERVICE
    )  # 89 m, 11 m, 111 m
    assert [m.request.id for m in found] == [2, 1]
    assert found[0].distance_m == pytest.approx(11.1, abs=0.2) and found[0].age_days == pytest.approx(1)
    assert 0 < found[1].score < found[0].score <= 1


def test_rank__same_words__beats_a_closer_unrelated_report() -> None:
    near = _nearby(1, 0.0001, 1, "abandoned bicycle chained to the rail")
    alike = _nearby(2, 0.0003, 1, "Graffiti tags on the blue mailbox!")
    found = rank([near, alike], *HERE, "graffiti on blue mailbox", NOW, SERVICE)
    assert [m.request.id for m in found] == [2, 1] and found[0].similarity > 0.8 > found[1].similarity


def test_similarity__empty_text__zero_and_case_is_folded() -> None:
    assert similarity("", "anything") == 0.0 and similarity("  ", "x") == 0.0
    assert similarity("Loud MUSIC", "loud music") == 1.0


def test_policy__from_document__defaults_off_and_custom_values() -> None:
    assert DuplicatePolicy.from_document(None) == DuplicatePolicy()
    assert DuplicatePolicy.from_document(False).enabled is False
    assert DuplicatePolicy.from_document({"radius_m": 30}).radius_m == 30.0
    assert DuplicatePolicy.from_document({"radius_m": 30, "open_days": 7}).document() == {
        "radius_m": 30.0, "open_days": 7.0, "closed_days": 3.0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"radius_m": 0}, "radius_m must be above 0"),
        ({"radius_m": 5000}, "at most 1000"),
        ({"radius_m": "50"}, "must be a number"),
        ({"open_days": 400}, "open_days"),
        ({"closed_days": -1}, "closed_days"),
        ({"radius": 50}, "unknown setting radius"),
        ("yes", "must be an object"),
    ],
)
def test_policy__bad_document__clear_error_naming_the_service(document: object, message: str) -> None:
    catalog = {"bodies": [], "services": [{"code": "graffiti", "name": "Graffiti", "duplicates": document}]}
    with pytest.raises(Invalid, match=message) as caught:
        parse_catalog(catalog)
    assert "'graffiti'" in caught.value.description


@pytest.mark.parametrize(("reason", "offered"), [("fixed", True), ("referred", False), ("cancelled", False)])
def test_rank__closed_as_referred_or_cancelled__never_offered_whatever_the_source(reason: str, offered: bool) -> None:
    closed = _nearby(1, 0.0001, 1, status="closed")._replace(close_reason=reason)
    assert [m.request.id for m in rank([closed], *HERE, "", NOW, SERVICE)] == ([1] if offered else [])
