""" "Is it fixed?" (requests/answers.py) on the in-memory fake: what each answer records and does, who may rate,
and every refusal writing nothing."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import DomainError, Forbidden, Invalid, NotFound
from civicswitch.hub.handlers import add_connector
from civicswitch.people.links import LINK_HOLDER, FixedLinks, FollowLinks, LinkProblem
from civicswitch.people.policy import OPERATOR, RESIDENT_ON_THE_WEB, Principal
from civicswitch.requests.answers import answer_fix, fix_question, rate_service
from civicswitch.requests.commands import (
    AnswerFix,
    ConfirmFollow,
    FollowRequest,
    RateService,
    SubmitRequest,
    Upload,
    WorkRequest,
    WorkStep,
)
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Answer, Answerer, AnswerOutcome, Channel, Contact, Status
from civicswitch.requests.staff import confirm_follow, follow_request
from civicswitch.requests.work import work_request
from civicswitch.storage.memory import MemoryUnitOfWork

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LINKS = FixedLinks("answers-secret-" * 4, "https://311.example.gov")
FILER, FOLLOWER = "ana@example.org", "ben@example.org"
CATALOG: dict[str, Any] = {
    "bodies": [{"code": "DOT", "name": "Department of Transportation"}],
    "services": [
        {"code": "pothole", "name": "Pothole", "body": "DOT", "residents": {"reopen_days": 7},
         "attributes": [{"code": "size", "description": "How big?", "datatype": "string", "required": True}]},
        {"code": "sign", "name": "Damaged sign", "body": "DOT", "residents": {"anonymous": False}},
    ],
}  # fmt: skip


@dataclass
class City:
    uow: MemoryUnitOfWork
    clock: FixedClock

    def state(self) -> Any:
        db = self.uow.db
        return copy.deepcopy((db.requests, dict(db.events), db.answers, db.hub.deliveries, db.media))

    def closed(self, service: str = "pothole", reason: str = "fixed", **more: Any) -> int:
        """A request filed by Ana (in Spanish), followed by Ben (confirmed), closed by the department."""
        cmd = SubmitRequest(service_code=service, api_key=None, lat="40.71", long="-74.01", address_string="5 Elm St",
                            contact=Contact(email=FILER), principal=OPERATOR, language="es",
                            attributes={"size": ["large"]} if service == "pothole" else {}, **more)  # fmt: skip
        rid = submit_request(self.uow, self.clock, cmd).service_request_id
        assert rid is not None
        follow_links = _follow_links()
        follow_request(self.uow, self.clock, FollowRequest(None, rid, Contact(email=FOLLOWER), principal=OPERATOR,
                                                           language="en"), follow_links)  # fmt: skip
        token = follow_links.token(int(rid), FOLLOWER, self.clock.now())
        confirm_follow(self.uow, self.clock, ConfirmFollow(token, LINK_HOLDER), follow_links)
        self.clock.advance(timedelta(hours=1))
        work_request(self.uow, self.clock, WorkRequest(OPERATOR, rid, WorkStep.CLOSE, "Filled", close_reason=reason))
        self.clock.advance(timedelta(hours=1))
        return int(rid)

    def answer(self, rid: int, answer: str, who: str | None = FILER, **more: Any) -> Any:
        token = LINKS.token(rid, who) if who else ""
        principal: Principal = LINK_HOLDER if who else RESIDENT_ON_THE_WEB
        cmd = AnswerFix(rid, answer, principal, token=token, **more)
        return answer_fix(self.uow, self.clock, cmd, LINKS)

    def rate(self, rid: int, rating: str, who: str = FILER) -> Any:
        cmd = RateService(rid, rating, LINKS.token(rid, who), LINK_HOLDER)
        return rate_service(self.uow, self.clock, cmd, LINKS)


def _follow_links() -> FollowLinks:
    return FollowLinks("answers-secret-" * 4, "https://311.example.gov")


@pytest.fixture
def city() -> City:
    clock = FixedClock(NOW)
    uow = MemoryUnitOfWork(clock=clock)
    load_catalog(uow, copy.deepcopy(CATALOG))
    add_connector(uow, clock, code="dot-hook", kind="webhook", body="DOT",
                  config={"url": "https://dot.example.gov/hook"})  # fmt: skip
    return City(uow, clock)


def test_answer_fix__fixed_by_the_filer__recorded__request_stays_closed__nothing_sent(city: City) -> None:
    rid = city.closed()
    sent = len(city.uow.db.hub.deliveries)
    result = city.answer(rid, "fixed")
    assert (result.outcome, result.can_rate, result.new_request_id) == ("recorded", True, None)
    request = city.uow.db.requests[rid]
    assert request.status is Status.CLOSED
    [stored] = city.uow.db.answers.values()
    assert (stored.answer, stored.answerer, stored.outcome, stored.closed_at) == (
        Answer.FIXED, Answerer.FILER, AnswerOutcome.RECORDED, request.closed_at)  # fmt: skip
    assert stored.language == "es"  # the filer's language, when the page did not say
    entry = city.uow.db.events[rid][-1]
    assert (entry.kind, entry.public) == ("resident_answered", False)
    assert len(city.uow.db.hub.deliveries) == sent  # the owner's systems hear nothing of a "fixed"


def test_answer_fix__still_a_problem_within_the_window__reopens__back_to_the_owner_with_note_and_photo(
    city: City,
) -> None:
    rid = city.closed()
    sent = len(city.uow.db.hub.deliveries)
    photo = Upload("hole.png", "image/png", PNG)
    result = city.answer(rid, "not_fixed", note="The hole is back", uploads=(photo,))
    assert result.outcome == "reopened"
    request = city.uow.db.requests[rid]
    assert (request.status, request.body_code) == (Status.REOPENED, "DOT")
    reopened = city.uow.db.events[rid][-1]
    assert (reopened.kind, reopened.status_to, reopened.public) == ("status_changed", Status.REOPENED, True)
    assert reopened.description == "Still a problem, says the person who reported it: The hole is back"
    assert reopened.data["by"] == "resident" and reopened.data["resident_note"] == "The hole is back"
    assert reopened.media_url is not None and city.uow.db.media[reopened.media_url.rsplit("/", 1)[1]].request_id == rid
    rows = city.uow.db.hub.deliveries[sent:]
    assert [(r.connector_code, r.type) for r in rows if r.connector_code == "dot-hook"] == [
        ("dot-hook", "status_changed")]  # fmt: skip
    assert rows[0].payload["data"]["status"] == "reopened"
    [stored] = city.uow.db.answers.values()
    assert stored.outcome is AnswerOutcome.REOPENED


def test_answer_fix__still_a_problem_after_the_window__a_new_request_linked_both_ways(city: City) -> None:
    rid = city.closed()
    city.clock.advance(timedelta(days=8))  # pothole: reopen_days 7
    result = city.answer(rid, "not_fixed", who=FOLLOWER, note="Still there", uploads=(Upload("a.png", "image/png",
                                                                                              PNG),))  # fmt: skip
    assert result.outcome == "new_request" and result.new_request_id is not None
    old, new = city.uow.db.requests[rid], city.uow.db.requests[result.new_request_id]
    assert old.status is Status.CLOSED
    assert (new.service_code, new.lat, new.long, new.address, new.attributes) == (
        "pothole", old.lat, old.long, "5 Elm St", {"size": "large"})  # fmt: skip
    assert (new.description, new.channel, new.language, new.body_code) == ("Still there", Channel.WEB, "en", "DOT")
    assert new.media_url is not None
    assert city.uow.db.contacts[result.new_request_id].email == FOLLOWER  # the follower files it
    assert [(e.kind, e.data) for e in city.uow.db.events[rid] if e.kind == "reported_again"] == [
        ("reported_again", {"request": result.new_request_id})]  # fmt: skip
    assert [(e.kind, e.data) for e in city.uow.db.events[result.new_request_id] if e.kind == "follows_up"] == [
        ("follows_up", {"request": rid})]  # fmt: skip
    [stored] = city.uow.db.answers.values()
    assert (stored.answerer, stored.outcome, stored.new_request_id) == (
        Answerer.FOLLOWER, AnswerOutcome.NEW_REQUEST, result.new_request_id)  # fmt: skip


def test_answer_fix__visitor_still_a_problem__never_reopens__files_a_new_request(city: City) -> None:
    rid = city.closed()
    result = city.answer(rid, "not_fixed", who=None, email="cy@example.org", language="es")
    assert (result.outcome, result.can_rate) == ("new_request", False)
    assert city.uow.db.requests[rid].status is Status.CLOSED
    assert city.uow.db.contacts[result.new_request_id].email == "cy@example.org"
    assert city.uow.db.requests[result.new_request_id].language == "es"
    assert city.uow.db.requests[result.new_request_id].description == f"Still a problem after request {rid} was closed."


def test_answer_fix__visitor__service_needs_an_address__refused_without_one__nothing_written(city: City) -> None:
    rid = city.closed("sign")
    before = city.state()
    with pytest.raises(Invalid, match="email address is needed"):
        city.answer(rid, "not_fixed", who=None)
    with pytest.raises(Invalid, match="not valid"):
        city.answer(rid, "not_fixed", who=None, email="not an address")
    assert city.state() == before
    assert city.answer(rid, "fixed", who=None).outcome == "recorded"  # "fixed" needs no address


def test_answer_fix__answered_again__the_same_row_changed__rating_kept(city: City) -> None:
    rid = city.closed()
    city.answer(rid, "fixed")
    city.rate(rid, "4")
    city.clock.advance(timedelta(hours=1))
    result = city.answer(rid, "not_fixed")
    assert (result.outcome, result.rating) == ("reopened", 4)
    [stored] = city.uow.db.answers.values()
    assert (stored.answer, stored.rating) == (Answer.NOT_FIXED, 4)


@pytest.mark.parametrize(
    ("setup", "who", "error", "match"),
    [
        ("open", FILER, Invalid, "is not closed"),
        ("referred", FILER, Invalid, "no fix to confirm"),
        ("cancelled", FILER, Invalid, "no fix to confirm"),
        ("fixed", "stranger@example.org", LinkProblem, "no longer matches"),
        ("other-link", FILER, LinkProblem, "another request"),
        ("bad-link", FILER, LinkProblem, "not valid"),
        ("missing", FILER, NotFound, "no request"),
    ],
)
def test_answer_fix__refused__writes_nothing(
    city: City, setup: str, who: str, error: type[DomainError], match: str
) -> None:
    rid = city.closed(reason="cancelled" if setup == "cancelled" else "fixed")
    if setup == "open":
        work_request(city.uow, city.clock, WorkRequest(OPERATOR, str(rid), WorkStep.REOPEN))
    if setup == "referred":
        city.uow.db.requests[rid].close_reason = "referred"  # type: ignore[assignment]
    before = city.state()
    token = LINKS.token(rid, who)
    if setup == "other-link":
        token = LINKS.token(rid + 1, who)
    if setup == "bad-link":
        token = token[:-3] + "xyz"
    number = rid + 1000 if setup == "missing" else rid
    if setup == "missing":
        token = LINKS.token(number, who)
    with pytest.raises(error, match=match):
        answer_fix(city.uow, city.clock, AnswerFix(number, "not_fixed", LINK_HOLDER, token=token), LINKS)
    assert city.state() == before


def test_answer_fix__no_such_answer__or_a_staff_principal__refused(city: City) -> None:
    rid = city.closed()
    with pytest.raises(Invalid, match="choose an answer"):
        city.answer(rid, "maybe")
    with pytest.raises(Forbidden):
        answer_fix(city.uow, city.clock, AnswerFix(rid, "fixed", OPERATOR, token=LINKS.token(rid, FILER)), LINKS)
    assert city.uow.db.answers == {}


def test_rate_service__after_the_answer__1_to_5__changed_by_rating_again(city: City) -> None:
    rid = city.closed()
    with pytest.raises(Invalid, match="answer whether it is fixed first"):
        city.rate(rid, "5")
    city.answer(rid, "fixed")
    for wrong in ("0", "6", "x", "", "٣"):
        with pytest.raises(Invalid, match="from 1 to 5"):
            city.rate(rid, wrong)
    assert city.rate(rid, "2").rating == 2
    city.clock.advance(timedelta(minutes=1))
    assert city.rate(rid, "5").rating == 5
    [stored] = city.uow.db.answers.values()
    assert (stored.rating, stored.rated_at) == (5, city.clock.now())


def test_rate_service__visitor_without_a_link__refused(city: City) -> None:
    rid = city.closed()
    city.answer(rid, "fixed", who=None)
    with pytest.raises(LinkProblem):
        rate_service(city.uow, city.clock, RateService(rid, "5", "", LINK_HOLDER), LINKS)


def test_fix_question__filer_within_the_window__then_after_it(city: City) -> None:
    rid = city.closed()
    asked = fix_question(city.uow, city.clock, rid, LINKS.token(rid, FILER), LINKS, "es")
    assert (asked.askable, asked.answerer, asked.window_open, asked.previous) == (True, Answerer.FILER, True, None)
    assert asked.closure_note == "Filled"
    city.clock.advance(timedelta(days=8))
    later = fix_question(city.uow, city.clock, rid, "", LINKS)
    assert (later.window_open, later.answerer, later.email_needed) == (False, Answerer.VISITOR, False)
