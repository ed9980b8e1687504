"""The report form's use cases (requests/reporting.py) on the in-memory store: each field's problem as a code, the
service's words in any language, the nearby open requests, and the usual time to close by area."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog, parse_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.requests.commands import SubmitRequest, Upload
from civicswitch.requests.handlers import Limits
from civicswitch.requests.model import Channel, CloseReason, Contact, ServiceRequest, Status
from civicswitch.requests.reporting import MIN_SAMPLE, Problem, check_report, matching, observed_times
from civicswitch.storage.memory import MemoryUnitOfWork

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def uow(catalog_data: dict[str, Any]) -> MemoryUnitOfWork:
    store = MemoryUnitOfWork()
    catalog_data["services"][0]["residents"] = {"anonymous": False}  # pothole: an email is needed
    catalog_data["services"][1]["name"] = {"en": "Graffiti", "es": "Pintadas en la pared"}
    load_catalog(store, catalog_data)
    return store


def _cmd(**kw: Any) -> SubmitRequest:
    return SubmitRequest(**{"service_code": "graffiti", "api_key": None, "address_string": "5 Elm St", **kw})


def test_check_report__everything_right__no_problem(uow: MemoryUnitOfWork) -> None:
    check = check_report(uow, FixedClock(NOW), _cmd(), None)
    assert check.problems == {} and check.service is not None and check.service.code == "graffiti"


def test_check_report__each_wrong_field__its_problem_code_all_at_once(uow: MemoryUnitOfWork) -> None:
    cmd = _cmd(service_code="pothole", address_string="", lat="40.7", description="x" * 4001,
               attributes={"depth": ["deep"], "seen": ["yesterday"], "landmark": ["a\nb"], "lanes": ["middle"]},
               contact=Contact(email="not an address"),
               uploads=(Upload("x.png", "image/png", b"MZ not a picture"),))  # fmt: skip
    problems = check_report(uow, FixedClock(NOW), cmd, None).problems
    assert problems == {
        "location": Problem("coordinates"), "description": Problem("too_long", "4000"), "photo": Problem("not_image"),
        "email": Problem("invalid"), "attribute:size": Problem("required"), "attribute:lanes": Problem("choose"),
        "attribute:depth": Problem("number"), "attribute:seen": Problem("datetime"),
        "attribute:landmark": Problem("one_line"),
    }  # fmt: skip


def test_check_report__no_service_no_place__choose_and_required(uow: MemoryUnitOfWork) -> None:
    problems = check_report(uow, FixedClock(NOW), _cmd(service_code="", address_string=" "), None).problems
    assert problems == {"service": Problem("choose"), "location": Problem("required")}
    unknown = check_report(uow, FixedClock(NOW), _cmd(service_code="nope"), None).problems
    assert unknown == {"service": Problem("unknown")}


def test_check_report__service_not_anonymous__email_required(uow: MemoryUnitOfWork) -> None:
    cmd = _cmd(service_code="pothole", attributes={"size": ["small"]})
    assert check_report(uow, FixedClock(NOW), cmd, None).problems == {"email": Problem("required")}
    with_email = _cmd(service_code="pothole", attributes={"size": ["small"]}, contact=Contact(email="a@example.org"))
    assert check_report(uow, FixedClock(NOW), with_email, None).problems == {}


def test_check_report__photo_over_the_limit__too_large_in_megabytes(uow: MemoryUnitOfWork) -> None:
    big = Upload("x.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"0" * 3_000_000)
    problems = check_report(uow, FixedClock(NOW), _cmd(uploads=(big,)), None, Limits(max_media_bytes=2_000_000))
    assert problems.problems == {"photo": Problem("too_large", "2")}


def test_matching__words_in_either_language_accents_and_case_ignored(catalog_data: dict[str, Any]) -> None:
    catalog_data["services"][1]["name"] = {"en": "Graffiti", "es": "Pintadas en la pared"}
    catalog_data["services"][0]["name"] = {"en": "Pothole", "es": "Bache en la calzada"}
    _, services = parse_catalog(catalog_data)
    assert [s.code for s in matching(services, "PARED", "es")] == ["graffiti"]
    assert [s.code for s in matching(services, "calzáda bache", "es")] == ["pothole"]
    assert [s.code for s in matching(services, "road", "es")] == ["pothole"]  # a keyword as written
    assert len(matching(services, "  ", "en")) == len(services)
    assert matching(services, "couch pothole", "en") == []


def _closed(hours: float, area: str, days_ago: float = 1) -> ServiceRequest:
    closed_at = NOW - timedelta(days=days_ago)
    areas = {"boroughs": "Brooklyn", "districts": area}
    r = ServiceRequest(service_code="graffiti", requested_at=closed_at - timedelta(hours=hours),
                       channel=Channel.OPEN311, address="x", areas=areas)  # fmt: skip
    r.transition(Status.CLOSED, closed_at, reason=CloseReason.FIXED)
    return r


def test_observed_times__smallest_area_with_enough_closures__else_the_service__else_nothing(
    uow: MemoryUnitOfWork,
) -> None:
    with uow:
        for i in range(MIN_SAMPLE):
            uow.requests.add(_closed(10 + i, "BK01"), None)  # 10..19 hours in district BK01
        for _ in range(MIN_SAMPLE - 1):
            uow.requests.add(_closed(100, "BK02"), None)  # too few in BK02
        uow.commit()
    here = observed_times(uow, "graffiti", {"boroughs": "Brooklyn", "districts": "BK01"}, NOW)
    assert here is not None and here.area == ("districts", "BK01") and here.count == MIN_SAMPLE
    assert here.median_hours == pytest.approx(14.5) and here.p80_hours == pytest.approx(17.2)
    few = observed_times(uow, "graffiti", {"boroughs": "Brooklyn", "districts": "BK02"}, NOW)
    assert few is not None and few.area == ("boroughs", "Brooklyn") and few.count == 2 * MIN_SAMPLE - 1
    assert observed_times(uow, "graffiti", None, NOW) == few.__class__(few.count, few.median_hours, few.p80_hours, None)
    assert observed_times(uow, "pothole", {"districts": "BK01"}, NOW) is None
    assert observed_times(uow, "graffiti", {"districts": "BK01"}, NOW + timedelta(days=120)) is None  # too old
