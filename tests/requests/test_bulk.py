"""A bulk action's result kept for its page (requests/bulk.py), on the in-memory fake: stored for the staff member
who ran it, read back the same any number of times, refused to anyone else, expired after its time, purged later."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from test_work import City, make_city

from civicswitch.core.errors import Forbidden, Gone, Invalid, NotFound
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.bulk import KEEP_EXPIRED_FOR, RESULT_FOR, bulk_result, run_bulk
from civicswitch.requests.commands import BulkWork, WorkRequest, WorkStep
from civicswitch.requests.model import Status


@pytest.fixture
def city() -> City:
    return make_city()


def _acknowledge(city: City, name: str, *ids: str) -> BulkWork:
    return BulkWork(ids, WorkRequest(city.who(name), "", WorkStep.ACKNOWLEDGE))


def test_run_bulk__acts_once_and_keeps_the_outcome_for_whoever_ran_it(city: City) -> None:
    mine, other_body = city.file(), city.file("graffiti")
    result = run_bulk(city.uow, city.clock, _acknowledge(city, "dana", mine, other_body), "acknowledge")
    assert len(result.token) == 43 and result.user_id == city.users["dana"].id and result.action == "acknowledge"
    assert [(i.service_request_id, i.ok, i.status) for i in result.items] == [
        (mine, True, Status.ACKNOWLEDGED),
        (other_body, False, None),
    ]
    assert result.expires_at - result.created_at == RESULT_FOR
    before = city.state()
    for _ in range(2):  # reading it again and again does nothing to any request
        assert bulk_result(city.uow, city.clock, city.who("dana"), result.token) == result
    assert city.state() == before and city.request(mine).status is Status.ACKNOWLEDGED


def test_bulk_result__someone_else_or_a_wrong_token__not_found_and_a_role_that_works_nothing__forbidden(
    city: City,
) -> None:
    result = run_bulk(city.uow, city.clock, _acknowledge(city, "dana", city.file()), "acknowledge")
    for name in ("dave", "ada"):  # the same body's colleague, an admin: not theirs, told as for a wrong link
        with pytest.raises(NotFound, match="does not exist, or it is not yours"):
            bulk_result(city.uow, city.clock, city.who(name), result.token)
    for token in ("nope", "", result.token + "x", "x" * 500):
        with pytest.raises(NotFound):
            bulk_result(city.uow, city.clock, city.who("dana"), token)
    for name in ("eve", "pat", "lee", "alex"):
        with pytest.raises(Forbidden):
            bulk_result(city.uow, city.clock, city.who(name), result.token)
    with pytest.raises(Forbidden):  # the CLI's operator has no staff session to keep a result for
        run_bulk(city.uow, city.clock, BulkWork(("1",), WorkRequest(OPERATOR, "", WorkStep.ACKNOWLEDGE)), "x")


def test_bulk_result__past_its_time__gone_with_the_reason_then_purged_by_a_later_action(city: City) -> None:
    result = run_bulk(city.uow, city.clock, _acknowledge(city, "dana", city.file()), "acknowledge")
    city.clock.advance(RESULT_FOR - timedelta(seconds=1))
    assert bulk_result(city.uow, city.clock, city.who("dana"), result.token).token == result.token
    city.clock.advance(timedelta(seconds=1))
    with pytest.raises(Gone, match="expired: results are kept for 30 minutes"):
        bulk_result(city.uow, city.clock, city.who("dana"), result.token)
    city.clock.advance(KEEP_EXPIRED_FOR)
    later = run_bulk(city.uow, city.clock, _acknowledge(city, "dave", city.file()), "acknowledge")
    assert set(city.uow.db.bulk_results) == {later.token}  # the old one went with the next action
    with pytest.raises(NotFound):
        bulk_result(city.uow, city.clock, city.who("dana"), result.token)


def test_run_bulk__nothing_chosen__invalid_and_nothing_kept(city: City) -> None:
    with pytest.raises(Invalid, match="choose at least one request"):
        run_bulk(city.uow, city.clock, _acknowledge(city, "dana"), "acknowledge")
    assert city.uow.db.bulk_results == {}
    dana = dataclasses.replace(city.users["dana"], role=city.users["eve"].role)
    with pytest.raises(Forbidden):
        run_bulk(city.uow, city.clock, BulkWork(("1",), WorkRequest(dana.principal(), "", WorkStep.ACKNOWLEDGE)), "x")
