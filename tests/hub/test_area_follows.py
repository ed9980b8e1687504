"""Following an area (hub/area_follows.py) on the in-memory fake: the confirmation first and nothing
before it, every change told as it happens, digests grouped by request and newest first and never empty, one-click
stop, and every refusal writing nothing."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from shapely.geometry import box

from civicswitch.catalog.areas import Area
from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import Forbidden, Invalid
from civicswitch.hub.area_follows import (
    ConfirmAreaFollow,
    FollowArea,
    StopAreaFollow,
    confirm_area_follow,
    follow_area,
    send_digests,
    stop_area_follow,
)
from civicswitch.hub.handlers import add_connector
from civicswitch.hub.model import MessageType
from civicswitch.people.area_follows.model import Cadence
from civicswitch.people.links import LINK_HOLDER, AreaLinks, LinkProblem
from civicswitch.people.policy import OPERATOR, RESIDENT_ON_THE_WEB
from civicswitch.requests.commands import SubmitRequest, WorkRequest, WorkStep
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.requests.work import work_request
from civicswitch.routing.geography import AreaIndex
from civicswitch.routing.intake import Geography
from civicswitch.storage.memory import MemoryUnitOfWork

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BASE = "https://311.example.gov"
LINKS = AreaLinks("area-secret-" * 4, BASE)
ANA, BEN = "ana@example.org", "ben@example.org"
CATALOG: dict[str, Any] = {
    "bodies": [{"code": "DOT", "name": "Department of Transportation"}],
    "services": [{"code": "pothole", "name": {"en": "Pothole", "es": "Bache"}, "body": "DOT"},
                 {"code": "graffiti", "name": "Graffiti", "body": "DOT"},
                 {"code": "hiv", "name": "HIV testing site", "body": "DOT",
                  "residents": {"public_location": "generalised"}}],
}  # fmt: skip
# two districts side by side: D1 west of -74.00, D2 east of it
INDEX = AreaIndex([
    Area("districts", "D1", "Riverside", box(-74.10, 40.60, -74.00, 40.80)),
    Area("districts", "D2", "Hilltop", box(-74.00, 40.60, -73.90, 40.80)),
])  # fmt: skip
GEOGRAPHY = Geography(INDEX, "districts")


@dataclass
class City:
    uow: MemoryUnitOfWork
    clock: FixedClock

    def follow(self, email: str = ANA, cadence: str = "every_change", area: str = "D1", **more: Any) -> Any:
        cmd = FollowArea(email, "districts", area, more.pop("service", None), cadence, RESIDENT_ON_THE_WEB,
                         more.pop("language", "es"))  # fmt: skip
        return follow_area(self.uow, self.clock, cmd, LINKS, INDEX.area_name)

    def mail(self, type_: MessageType | None = None) -> list[dict[str, Any]]:
        return [d.payload["data"] for d in self.uow.db.hub.deliveries if type_ is None or d.type == type_]

    def confirm(self, email: str = ANA) -> Any:
        [data] = [m for m in self.mail(MessageType.AREA_FOLLOW_CONFIRMATION) if m["to"] == email][-1:]
        token = parse_qs(urlsplit(data["confirm_url"]).query)["token"][0]
        return confirm_area_follow(self.uow, self.clock, ConfirmAreaFollow(token, LINK_HOLDER), LINKS,
                                   INDEX.area_name)  # fmt: skip

    def report(self, service: str = "pothole", long: str = "-74.05", address: str = "5 Elm St") -> int:
        cmd = SubmitRequest(service_code=service, api_key=None, lat="40.70", long=long, address_string=address,
                            contact=Contact(), principal=OPERATOR)  # fmt: skip
        rid = submit_request(self.uow, self.clock, cmd, geography=GEOGRAPHY).service_request_id
        assert rid is not None
        return int(rid)


@pytest.fixture
def city(monkeypatch: pytest.MonkeyPatch) -> City:
    monkeypatch.setenv("CIVICSWITCH_SECRET_KEY", "area-secret-" * 4)  # what signs the links the outbox makes
    clock = FixedClock(NOW)
    uow = MemoryUnitOfWork(clock=clock)
    load_catalog(uow, copy.deepcopy(CATALOG))
    add_connector(uow, clock, code="residents-mail", kind="email", body="DOT",
                  config={"from": "City 311 <noreply@example.gov>", "smtp_host": "mail.example.gov",
                          "audience": "residents"})  # fmt: skip
    with uow:
        uow.settings.set("public_url", BASE, NOW)
        uow.commit()
    return City(uow, clock)


def test_follow_area__mails_a_confirmation_link__tells_nothing_before_it_is_confirmed(city: City) -> None:
    result = city.follow()
    assert (result.area_name, result.mailed) == ("Riverside", True)
    [data] = city.mail()
    assert data["to"] == ANA and data["area_name"] == "Riverside" and data["cadence"] == "every_change"
    assert data["confirm_url"].startswith(f"{BASE}/follow/area/confirm?token=") and data["language"] == "es"
    city.report()
    assert city.mail(MessageType.AREA_UPDATE) == []  # unconfirmed: nothing


def test_follow_area__asked_again__no_second_link_within_the_hour__none_once_confirmed(city: City) -> None:
    city.follow()
    assert city.follow().mailed is False
    city.clock.advance(timedelta(hours=2))
    assert city.follow().mailed is True  # the mail may have been lost: a new link
    city.confirm()
    assert city.follow().mailed is False
    assert len(city.mail(MessageType.AREA_FOLLOW_CONFIRMATION)) == 2


def test_confirm__then_every_change_in_the_area_is_told__not_others(city: City) -> None:
    city.follow()
    view = city.confirm()
    assert (view.area_name, view.cadence, view.changed) == ("Riverside", Cadence.EVERY_CHANGE, True)
    assert city.confirm().changed is False  # the same link again: nothing more
    city.clock.advance(timedelta(minutes=5))
    rid = city.report()
    city.report(long="-73.95")  # Hilltop
    [told] = city.mail(MessageType.AREA_UPDATE)
    assert told["to"] == ANA and told["request"]["number"] == rid and told["request"]["service_name"] == "Bache"
    assert told["changes"] == [{"change": "new"}]
    assert told["stop_url"].startswith(f"{BASE}/follow/area/stop?token=")
    assert told["request"]["track_url"] == f"{BASE}/requests/{rid}?lang=es"
    city.clock.advance(timedelta(hours=1))
    work_request(city.uow, city.clock, WorkRequest(OPERATOR, str(rid), WorkStep.CLOSE, "Filled",
                                                   close_reason="fixed"))  # fmt: skip
    closed = city.mail(MessageType.AREA_UPDATE)[-1]
    assert closed["changes"][-1]["change"] == "closed" and closed["changes"][-1]["close_reason"] == "fixed"
    assert closed["changes"][-1]["note"] == "Filled"


def test_follow_area__one_service__told_of_it_only__a_generalised_service_without_its_address(city: City) -> None:
    city.follow(service="hiv")
    city.confirm()
    city.report("pothole")
    rid = city.report("hiv", address="12 Clinic Rd")
    [told] = city.mail(MessageType.AREA_UPDATE)
    assert told["request"]["number"] == rid and told["request"]["address"] is None


def test_stop__by_the_link_of_a_message__no_more_mail(city: City) -> None:
    city.follow()
    city.confirm()
    city.report()
    [told] = city.mail(MessageType.AREA_UPDATE)
    token = parse_qs(urlsplit(told["stop_url"]).query)["token"][0]
    view = stop_area_follow(city.uow, city.clock, StopAreaFollow(token, LINK_HOLDER), LINKS, INDEX.area_name)
    assert view.changed is True
    assert stop_area_follow(city.uow, city.clock, StopAreaFollow(token, LINK_HOLDER), LINKS,
                            INDEX.area_name).changed is False  # fmt: skip
    city.report()
    assert len(city.mail(MessageType.AREA_UPDATE)) == 1


def test_daily_digest__grouped_by_request__newest_first__never_empty(city: City) -> None:
    city.follow(cadence="daily")
    city.confirm()
    city.clock.advance(timedelta(hours=1))
    first = city.report()
    city.clock.advance(timedelta(hours=1))
    second = city.report("graffiti")
    city.clock.advance(timedelta(hours=1))
    work_request(city.uow, city.clock, WorkRequest(OPERATOR, str(first), WorkStep.CLOSE, "Filled",
                                                   close_reason="fixed"))  # fmt: skip
    city.report(long="-73.95")  # Hilltop: not in it
    assert city.mail(MessageType.AREA_UPDATE) == []  # a digest follow hears nothing as it happens
    assert send_digests(city.uow, city.clock, area_name=INDEX.area_name) == 0  # not due yet
    city.clock.advance(timedelta(days=1))
    assert send_digests(city.uow, city.clock, area_name=INDEX.area_name) == 1
    [digest] = city.mail(MessageType.AREA_DIGEST)
    assert [r["number"] for r in digest["requests"]] == [first, second]  # the latest change first
    assert [c["change"] for c in digest["requests"][0]["changes"]] == ["closed", "new"]
    assert digest["more"] == 0 and digest["area_name"] == "Riverside" and digest["cadence"] == "daily"
    city.clock.advance(timedelta(days=1))
    assert (
        send_digests(city.uow, city.clock, area_name=INDEX.area_name) == 1
    )  # due, handled, but nothing happened: no mail
    assert len(city.mail(MessageType.AREA_DIGEST)) == 1
    city.clock.advance(timedelta(hours=2))
    city.report()
    assert (
        send_digests(city.uow, city.clock, area_name=INDEX.area_name) == 0
    )  # the next is a day after the last, not now
    city.clock.advance(timedelta(days=1))
    send_digests(city.uow, city.clock, area_name=INDEX.area_name)
    assert len(city.mail(MessageType.AREA_DIGEST)) == 2


def test_follow_area__another_cadence__replaces_the_old_follow_once_confirmed(city: City) -> None:
    city.follow(cadence="daily")
    city.confirm()
    city.follow(cadence="weekly")
    assert city.confirm().cadence is Cadence.WEEKLY
    follows = list(city.uow.db.area_follows.follows.values())
    assert [(f.cadence, f.active) for f in follows] == [(Cadence.DAILY, False), (Cadence.WEEKLY, True)]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"email": "not-an-address"}, "email"), ({"email": ""}, "email"), ({"cadence": "hourly"}, "cadence"),
     ({"area": "D9"}, "area"), ({"service": "no-such"}, "service")],
)  # fmt: skip
def test_follow_area__bad_input__refused_by_field__nothing_written(
    city: City, change: dict[str, str], field: str
) -> None:
    before = (copy.deepcopy(city.uow.db.area_follows), len(city.uow.db.hub.deliveries))
    values = {"email": ANA, "cadence": "daily", "area": "D1", **change}
    with pytest.raises(Invalid) as refused:
        city.follow(values.pop("email"), values.pop("cadence"), values.pop("area"), **values)
    assert refused.value.field == field
    assert (city.uow.db.area_follows, len(city.uow.db.hub.deliveries)) == before


def test_confirm__a_link_for_another_address_or_altered__refused(city: City) -> None:
    city.follow()
    [data] = city.mail()
    token = parse_qs(urlsplit(data["confirm_url"]).query)["token"][0]
    forged = AreaLinks("area-secret-" * 4, BASE).confirm_url(1, BEN, NOW)
    with pytest.raises(LinkProblem, match="no longer matches"):
        confirm_area_follow(city.uow, city.clock, ConfirmAreaFollow(parse_qs(urlsplit(forged).query)["token"][0],
                                                                    LINK_HOLDER), LINKS, INDEX.area_name)  # fmt: skip
    with pytest.raises(LinkProblem, match="not valid"):
        confirm_area_follow(city.uow, city.clock, ConfirmAreaFollow(token[:-3] + "abc", LINK_HOLDER), LINKS,
                            INDEX.area_name)  # fmt: skip
    city.clock.advance(timedelta(days=8))
    with pytest.raises(LinkProblem, match="expired"):
        confirm_area_follow(city.uow, city.clock, ConfirmAreaFollow(token, LINK_HOLDER), LINKS, INDEX.area_name)
    assert not any(f.active for f in city.uow.db.area_follows.follows.values())


def test_follow_area__staff_principal__forbidden(city: City) -> None:
    cmd = FollowArea(ANA, "districts", "D1", None, "daily", OPERATOR)
    with pytest.raises(Forbidden):
        follow_area(city.uow, city.clock, cmd, LINKS, INDEX.area_name)


def test_follow_area__many_areas_for_one_address__at_most_five_links_a_day(city: City) -> None:
    asked = [(area, cadence) for area in ("D1", "D2") for cadence in ("every_change", "daily", "weekly")]
    results = [city.follow(cadence=cadence, area=area).mailed for area, cadence in asked]
    assert results == [True, True, True, True, True, False]  # the same answer on the page; no sixth mail
    assert len(city.mail(MessageType.AREA_FOLLOW_CONFIRMATION)) == 5
    city.clock.advance(timedelta(days=1, minutes=1))
    assert city.follow(cadence="weekly", area="D2").mailed is True
