""" "Is it fixed?" answers in the request store (``answer_of``, ``save_answer``, ``answers``), against the fake,
SQLite and PostgreSQL: one per person per closure (a second is refused, the stored one is changed instead), the
latest of a person over closures, visitors' answers each their own, a rating only from 1 to 5."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.errors import Conflict, Invalid, NotFound
from civicswitch.people.links import address_digest
from civicswitch.requests.model import Answer, Answerer, AnswerOutcome, Channel, FixAnswer, ServiceRequest
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ANA = address_digest("ana@example.org")


def _request(new_uow: MakeUow, catalog: dict[str, Any]) -> int:
    load_catalog(new_uow(), catalog)
    with new_uow() as uow:
        rid = uow.requests.add(ServiceRequest(service_code="graffiti", requested_at=T0, channel=Channel.WEB,
                                              address="5 Elm St"), None)  # fmt: skip
        uow.commit()
    return rid


def _answer(rid: int, closed: datetime, **more: Any) -> FixAnswer:
    values: dict[str, Any] = {"request_id": rid, "closed_at": closed, "answered_at": closed + timedelta(hours=1),
                              "answer": Answer.FIXED, "answerer": Answerer.FILER, "outcome": AnswerOutcome.RECORDED,
                              "address_digest": ANA, "language": "es", **more}  # fmt: skip
    return FixAnswer(**values)


def test_answers__one_per_person_per_closure__changed_in_place__latest_over_closures(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    rid = _request(store_uow_factory, catalog_data)
    first, second = T0, T0 + timedelta(days=3)
    with store_uow_factory() as uow:
        made = _answer(rid, first)
        answer_id = uow.requests.save_answer(made)
        assert made.id == answer_id
        uow.commit()
    with store_uow_factory() as uow:
        stored = uow.requests.answer_of(rid, ANA, first)
        assert stored == made
        changed = dataclasses.replace(stored, answer=Answer.NOT_FIXED, outcome=AnswerOutcome.REOPENED, rating=2,
                                      rated_at=first + timedelta(hours=2))  # fmt: skip
        assert uow.requests.save_answer(changed) == answer_id
        uow.requests.save_answer(_answer(rid, second, answer=Answer.NOT_FIXED, outcome=AnswerOutcome.NEW_REQUEST))
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.requests.answer_of(rid, ANA, first) == changed
        latest = uow.requests.answer_of(rid, ANA)
        assert latest is not None and latest.closed_at == second and latest.outcome is AnswerOutcome.NEW_REQUEST
        assert uow.requests.answer_of(rid, address_digest("ben@example.org")) is None
        assert [a.id for a in uow.requests.answers(rid)] == [answer_id, latest.id]
        assert uow.requests.answers(rid + 1000) == []


def test_answers__second_of_the_same_person_about_a_closure__refused(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    rid = _request(store_uow_factory, catalog_data)
    with store_uow_factory() as uow:
        uow.requests.save_answer(_answer(rid, T0))
        uow.commit()
    with store_uow_factory() as uow, pytest.raises(Conflict):
        uow.requests.save_answer(_answer(rid, T0, answer=Answer.NOT_FIXED))
    with store_uow_factory() as uow:
        assert len(uow.requests.answers(rid)) == 1


def test_answers__visitors__each_their_own__for_a_stored_request_only(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    rid = _request(store_uow_factory, catalog_data)
    with store_uow_factory() as uow:
        for _ in range(2):
            uow.requests.save_answer(_answer(rid, T0, answerer=Answerer.VISITOR, address_digest=None))
        uow.commit()
    with store_uow_factory() as uow:
        assert [a.answerer for a in uow.requests.answers(rid)] == [Answerer.VISITOR, Answerer.VISITOR]
    with store_uow_factory() as uow, pytest.raises(NotFound):
        uow.requests.save_answer(_answer(rid + 1000, T0))


def test_fix_answer__rating_outside_1_to_5__or_a_visitor_with_an_address__refused() -> None:
    with pytest.raises(Invalid):
        _answer(1, T0, rating=6)
    with pytest.raises(Invalid):
        _answer(1, T0, answerer=Answerer.VISITOR)
    assert _answer(1, T0, rating=5).rating == 5
