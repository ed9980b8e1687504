"""``QueueStore.queue``, the staff queue's read model, on memory, SQLite and PostgreSQL: the scope is applied in the
query (a page never holds a request outside it), filters, sorts, paging, totals and counts per status agree."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.requests import queue, queue_sql
from civicswitch.requests.model import Channel, CloseReason, ServiceRequest, Status
from civicswitch.requests.queue import QueueFilter, QueueScope, SlaFilter, Sort
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
EVERYTHING = QueueScope(everything=True)


def _request(i: int, service: str, body: str, **extra: Any) -> ServiceRequest:
    word = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")[i]
    fields: dict[str, Any] = {"description": f"report {word}", "address": f"{word.title()} Avenue", **extra}
    r = ServiceRequest(service_code=service, requested_at=T0 + i * H, channel=Channel.WEB, lat=40.7, long=-74.0,
                       body_code=body, **fields)  # fmt: skip
    r.record_submission(r.requested_at, client_id=None)
    return r


@pytest.fixture
def city(store_uow_factory: MakeUow, catalog_data: dict[str, Any]) -> tuple[MakeUow, dict[str, int]]:
    """Six requests: potholes (DOT) and graffiti (DSNY), in two areas, one assigned to a partner, one closed."""
    catalog_data["bodies"].append({"code": "FIXIT", "name": "Fixit Contractors", "kind": "partner"})
    load_catalog(store_uow_factory(), catalog_data)
    specs = {
        "dot_a": (0, "pothole", "DOT", {"areas": {"districts": "A"}}),
        "dot_b": (1, "pothole", "DOT", {"areas": {"districts": "B"}, "assigned_org": "FIXIT"}),
        "dot_due": (2, "pothole", "DOT", {"areas": {"districts": "A"}, "expected_at": T0 + 5 * H}),
        "dsny_a": (3, "graffiti", "DSNY", {"areas": {"districts": "A"}, "expected_at": T0 + 4 * H}),
        "dsny_b": (4, "graffiti", "DSNY", {"areas": {"districts": "B"}, "description": "Tags on the 50% wall_"}),
        "dot_closed": (5, "pothole", "DOT", {"areas": {"districts": "A"}}),
    }
    ids = {}
    with store_uow_factory() as uow:
        for name, (i, service, body, extra) in specs.items():
            ids[name] = uow.requests.add(_request(i, service, body, **extra), None)
        uow.commit()
    with store_uow_factory() as uow:
        closed = uow.requests.get(ids["dot_closed"])
        assert closed is not None
        closed.transition(Status.CLOSED, T0 + 9 * H, reason=CloseReason.FIXED)
        uow.requests.save(closed)
        uow.commit()
    return store_uow_factory, ids


def page(make: MakeUow, scope: QueueScope = EVERYTHING, **query: Any) -> tuple[list[int], int, dict[str, int]]:
    with make() as uow:
        found = uow.queue.queue(scope, QueueFilter(**query))
    return [r.id for r in found.rows], found.total, {str(k): v for k, v in found.counts.items()}


def test_queue__everything__open_requests_oldest_first_with_counts(city: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = city
    rows, total, counts = page(make)
    assert rows == [ids[n] for n in ("dot_a", "dot_b", "dot_due", "dsny_a", "dsny_b")]
    assert total == 5
    assert counts == {"new": 5, "closed": 1}


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (QueueScope(bodies=frozenset({"DOT"})), ["dot_a", "dot_b", "dot_due"]),
        (QueueScope(org="FIXIT"), ["dot_b"]),
        (QueueScope(areas=frozenset({("districts", "B")})), ["dot_b", "dsny_b"]),
        (QueueScope(bodies=frozenset({"DSNY"}), org="FIXIT"), ["dot_b", "dsny_a", "dsny_b"]),
        (QueueScope(), []),
    ],
    ids=["own-body", "assigned-org", "own-area", "body-or-org", "nothing"],
)
def test_queue__scope__only_requests_within_it(
    city: tuple[MakeUow, dict[str, int]], scope: QueueScope, expected: list[str]
) -> None:
    make, ids = city
    rows, total, _ = page(make, scope)
    assert rows == [ids[n] for n in expected]
    assert total == len(expected)


def test_queue__filters__service_area_body_status_and_text(city: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = city
    assert page(make, service_code="graffiti")[0] == [ids["dsny_a"], ids["dsny_b"]]
    assert page(make, area=("districts", "A"))[0] == [ids["dot_a"], ids["dot_due"], ids["dsny_a"]]
    assert page(make, body_code="DSNY")[0] == [ids["dsny_a"], ids["dsny_b"]]
    closed_rows, closed_total, counts = page(make, statuses=(Status.CLOSED,), service_code="pothole")
    assert (closed_rows, closed_total, counts) == ([ids["dot_closed"]], 1, {"new": 3, "closed": 1})
    # text: words of the description or address (case ignored, punctuation separates), or the request's number
    assert page(make, text="50% WALL_")[0] == [ids["dsny_b"]]
    assert page(make, text="delta avenue")[0] == [ids["dsny_a"]]
    assert str(ids["dot_b"]) not in "Tags on the 50% wall_"
    assert page(make, text=str(ids["dot_b"]))[0] == [ids["dot_b"]]
    assert page(make, text="%")[:2] == ([], 0)  # no word: nothing


def test_queue__text__every_word_is_a_word_of_the_description_or_address(
    city: tuple[MakeUow, dict[str, int]],
) -> None:
    make, ids = city
    assert page(make, text="REPORT")[0] == [ids[n] for n in ("dot_a", "dot_b", "dot_due", "dsny_a")]
    assert page(make, text="repo")[0] == []  # a whole word
    assert page(make, text="²")[:2] == ([], 0)  # a digit to Python, not a request number: a word nobody has
    assert page(make, text="repo*")[0] == [ids[n] for n in ("dot_a", "dot_b", "dot_due", "dsny_a")]  # its start
    assert page(make, text="ort*")[0] == []  # inside a word: no
    assert page(make, text="avenue report charlie")[0] == [ids["dot_due"]]  # all words, any order, both fields
    assert page(make, text="avenue report char*")[0] == [ids["dot_due"]]
    assert page(make, text="report zulu")[0] == []
    assert page(make, text="w*")[0] == []  # a prefix of one character: the whole word
    assert page(make, text="50 w")[0] == []
    assert page(make, text="50 wa*")[0] == [ids["dsny_b"]]
    dot = QueueScope(bodies=frozenset({"DOT"}))
    rows, total, counts = page(make, dot, text="report", statuses=(*Status,))
    assert (rows, total, counts) == ([ids[n] for n in ("dot_a", "dot_b", "dot_due", "dot_closed")], 4,
                                     {"new": 3, "closed": 1})  # fmt: skip
    assert page(make, dot, text="report", body_code="DSNY")[:2] == ([], 0)
    assert page(make, text="report", body_code="DOT", sort=Sort.NEWEST)[0] == [ids["dot_due"], ids["dot_b"],
                                                                               ids["dot_a"]]  # fmt: skip
    assert page(make, QueueScope(org="FIXIT"), text="report")[0] == [ids["dot_b"]]
    district_b = QueueScope(areas=frozenset({("districts", "B")}))
    assert page(make, district_b, text="avenue")[0] == [ids["dot_b"], ids["dsny_b"]]
    assert page(make, text="report", service_code="pothole", sort=Sort.DUE)[0] == [ids["dot_due"], ids["dot_a"],
                                                                                    ids["dot_b"]]  # fmt: skip


def test_queue__text__follows_changes_of_text_owner_and_status(city: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = city
    dot = QueueScope(bodies=frozenset({"DOT"}))
    _change(make, ids["dot_a"], description="Sinkhole near the school", address=None)
    assert page(make, text="alpha")[0] == []
    assert page(make, dot, text="sinkhole school")[0] == [ids["dot_a"]]
    _change(make, ids["dot_a"], body_code="DSNY")
    assert page(make, dot, text="sinkhole")[:2] == ([], 0)
    assert page(make, QueueScope(bodies=frozenset({"DSNY"})), text="sink*")[0] == [ids["dot_a"]]
    _change(make, ids["dot_a"], statuses=[Status.IN_PROGRESS])
    rows, total, counts = page(make, text="sinkhole", statuses=(Status.IN_PROGRESS,))
    assert (rows, total, counts) == ([ids["dot_a"]], 1, {"in_progress": 1})
    assert page(make, text="sinkhole", statuses=(Status.NEW,))[:2] == ([], 0)


@pytest.mark.parametrize(
    "scope",
    [
        EVERYTHING,
        QueueScope(bodies=frozenset({"DOT"})),
        QueueScope(org="FIXIT"),
        QueueScope(areas=frozenset({("districts", "B")})),
    ],
    ids=["everything", "own-body", "assigned-org", "own-area"],
)
def test_queue__text__a_status_change_moves_the_request_between_counts(
    city: tuple[MakeUow, dict[str, int]], scope: QueueScope
) -> None:
    """The indexes hold each request's status with its words (SQLite's FTS scope column, PostgreSQL's scoped
    words): a change of status is a change of what the index holds, in the same transaction."""
    make, ids = city
    every = (*Status,)
    assert page(make, scope, text="bravo avenue", statuses=every) == ([ids["dot_b"]], 1, {"new": 1})
    _change(make, ids["dot_b"], statuses=[Status.ACKNOWLEDGED, Status.IN_PROGRESS])
    assert page(make, scope, text="bravo avenue", statuses=every) == ([ids["dot_b"]], 1, {"in_progress": 1})
    assert page(make, scope, text="brav*")[:2] == ([ids["dot_b"]], 1)
    with make() as uow:
        found = uow.requests.get(ids["dot_b"])
        assert found is not None
        found.transition(Status.CLOSED, T0 + 7 * H, reason=CloseReason.FIXED)
        uow.requests.save(found)
        uow.commit()
    assert page(make, scope, text="bravo", statuses=every) == ([ids["dot_b"]], 1, {"closed": 1})
    assert page(make, scope, text="bravo")[:2] == ([], 0)  # the open requests: none
    assert page(make, scope, text="bravo", statuses=(Status.CLOSED,))[:2] == ([ids["dot_b"]], 1)
    _change(make, ids["dot_b"], statuses=[Status.REOPENED])
    assert page(make, scope, text="bravo", statuses=every) == ([ids["dot_b"]], 1, {"reopened": 1})
    assert page(make, scope, text="bravo", statuses=(Status.CLOSED,))[:2] == ([], 0)


@pytest.mark.parametrize(
    ("cap", "pg_few", "walk_above"),
    [(1000, 100, 10_000), (100, 100, 10_000), (100, 1000, 10_000), (1000, 100, 200)],
    ids=["uncapped-all-read", "capped-walked", "capped-read-again", "sqlite-words-tested"],
)
def test_queue__text__many_matches__pages_in_order_and_counts(
    store_uow_factory: MakeUow,
    catalog_data: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    cap: int,
    pg_few: int,
    walk_above: int,
) -> None:
    """Many matches (413), the search's count cap (queue.SEARCH_COUNT_CAP), PostgreSQL's few (queue_sql.PG_FEW) and
    SQLite's (queue_sql.FEW) lowered here: under the cap, every match is read once, sorted (PostgreSQL); over it, the
    count stops at the cap + 1 ("100+") and the matches are read again up to PG_FEW, or, more, the ordered walk gives
    the same pages. SQLite walks past FEW, testing each request's words past queue_sql.WALK_ABOVE matches
    (``sqlite-words-tested``), else looking each request up in the list of matches."""
    monkeypatch.setattr(queue_sql, "PG_FEW", pg_few)
    monkeypatch.setattr(queue, "SEARCH_COUNT_CAP", cap)
    monkeypatch.setattr(queue_sql, "FEW", 100)
    monkeypatch.setattr(queue_sql, "WALK_ABOVE", walk_above)
    load_catalog(store_uow_factory(), catalog_data)
    with store_uow_factory() as uow:
        ids = []
        for i in range(620):
            r = ServiceRequest(
                service_code="pothole",
                requested_at=T0 + (620 - i) * H,
                channel=Channel.WEB,
                lat=40.7,
                long=-74.0,
                body_code="DOT",
                description="deep pothole" if i % 3 else "a crack",
                address=f"{i} Main Street",
            )
            r.record_submission(r.requested_at, client_id=None)
            ids.append(uow.requests.add(r, None))
        uow.commit()  # fmt: skip
    wanted = [rid for i, rid in enumerate(ids) if i % 3][::-1]  # oldest first: filed in reverse
    dot = QueueScope(bodies=frozenset({"DOT"}))
    seen = []
    counted = min(len(wanted), cap + 1)  # each status counted up to one past the cap
    for number in (1, 2, 3, 9):
        rows, total, counts = page(store_uow_factory, dot, text="pothole", page=number, page_size=50)
        assert (total, counts) == (min(len(wanted), cap), {"new": counted})
        seen.extend(rows)
    assert seen == wanted[:150] + wanted[400:413]
    assert page(store_uow_factory, dot, text="main pot*", sort=Sort.NEWEST, page_size=3)[0] == wanted[::-1][:3]
    closed = page(store_uow_factory, dot, text="pothole", statuses=(Status.CLOSED,))
    assert closed[:2] == ([], 0)
    everything = page(store_uow_factory, text="pothole", page=2, page_size=50)
    assert everything[:2] == (wanted[50:100], min(len(wanted), cap))
    by_due = page(store_uow_factory, dot, text="pothole", sort=Sort.DUE, page=2, page_size=50)[0]
    assert by_due == sorted(wanted)[50:100]  # no due date: by number
    with store_uow_factory() as uow:
        found = uow.queue.queue(dot, QueueFilter(text="pothole"))
        plain = uow.queue.queue(dot, QueueFilter())
    assert (found.more, found.cap, found.count_text(found.counts[Status.NEW])) == (
        len(wanted) > cap,
        cap,
        f"{cap:,}+" if len(wanted) > cap else f"{len(wanted):,}",
    )
    assert (plain.more, plain.cap, plain.total) == (False, 10_000, 620)  # no search: counted up to 10,000


def test_queue__sorts__newest_updated_and_due_with_no_due_date_last(city: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = city
    assert page(make, sort=Sort.NEWEST)[0] == [ids[n] for n in ("dsny_b", "dsny_a", "dot_due", "dot_b", "dot_a")]
    assert page(make, sort=Sort.DUE)[0] == [ids[n] for n in ("dsny_a", "dot_due", "dot_a", "dot_b", "dsny_b")]
    with make() as uow:
        touched = uow.requests.get(ids["dot_a"])
        assert touched is not None
        touched.add_note(T0 + 20 * H, "crew on the way")
        uow.requests.save(touched)
        uow.commit()
    assert page(make, sort=Sort.UPDATED)[0][0] == ids["dot_a"]


def test_queue__paging__pages_cover_the_total_once(city: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = city
    seen = []
    for number in (1, 2, 3):
        rows, total, _ = page(make, page=number, page_size=2)
        assert total == 5
        seen.extend(rows)
    assert seen == [ids[n] for n in ("dot_a", "dot_b", "dot_due", "dsny_a", "dsny_b")]
    with make() as uow:
        found = uow.queue.queue(EVERYTHING, QueueFilter(page=3, page_size=2))
    assert found.pages == 3 and len(found.rows) == 1


def test_queue__row__carries_what_the_queue_shows(city: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = city
    with make() as uow:
        found = uow.queue.queue(EVERYTHING, QueueFilter(text=str(ids["dot_b"])))
    (row,) = found.rows
    assert dataclasses.asdict(row) | {"id": 0} == {
        "id": 0, "service_code": "pothole", "service_name": "Pothole", "status": Status.NEW, "body_code": "DOT",
        "address": "Bravo Avenue", "description": "report bravo", "requested_at": T0 + H, "updated_at": T0 + H,
        "expected_at": None, "assigned_org": "FIXIT", "assignee_user_id": None, "transfers": 0, "closed_at": None,
    }  # fmt: skip


def _change(make: MakeUow, request_id: int, **values: Any) -> None:
    with make() as uow:
        found = uow.requests.get(request_id)
        assert found is not None
        for name, value in values.items():
            if name == "statuses":
                for status in value:
                    found.transition(status, T0 + 6 * H, note="waiting" if status is Status.ON_HOLD else "")
            else:
                setattr(found, name, value)
        uow.requests.save(found)
        uow.commit()


def test_queue__sla_filter__due_soon_and_overdue_at_now_never_on_hold_or_closed(
    city: tuple[MakeUow, dict[str, int]],
) -> None:
    make, ids = city
    # due: dsny_a T0+4h, dot_due T0+5h; dot_a T0+9h; dsny_b T0+3h but on hold; dot_closed T0+1h but closed
    _change(make, ids["dot_a"], expected_at=T0 + 9 * H)
    _change(make, ids["dsny_b"], expected_at=T0 + 3 * H, statuses=[Status.ACKNOWLEDGED, Status.ON_HOLD])
    _change(make, ids["dot_closed"], expected_at=T0 + H)
    now, soon = T0 + 4 * H + 30 * timedelta(minutes=1), 2 * H
    everything = (*Status,)
    overdue = page(make, sla=SlaFilter.OVERDUE, now=now, due_soon=soon, statuses=everything)
    assert overdue[:2] == ([ids["dsny_a"]], 1)
    assert overdue[2] == {"new": 1}  # the counts per status apply the SLA filter too
    assert page(make, sla=SlaFilter.DUE_SOON, now=now, due_soon=soon)[0] == [ids["dot_due"]]
    later = T0 + 7 * H + 30 * timedelta(minutes=1)  # dot_a due in 1h30: due soon; dot_due now overdue too
    assert page(make, sla=SlaFilter.DUE_SOON, now=later, due_soon=soon)[0] == [ids["dot_a"]]
    assert page(make, sla=SlaFilter.OVERDUE, now=later, due_soon=soon)[0] == [ids["dot_due"], ids["dsny_a"]]
    assert page(make, sla=SlaFilter.OVERDUE, now=later, due_soon=soon, sort=Sort.DUE)[0] == [
        ids["dsny_a"], ids["dot_due"]
    ]  # fmt: skip
    # exactly at the due date: due soon, not yet overdue
    assert page(make, sla=SlaFilter.DUE_SOON, now=T0 + 5 * H, due_soon=soon)[0] == [ids["dot_due"]]


def test_queue__assignee_and_bounced_filters__narrow_within_the_scope(city: tuple[MakeUow, dict[str, int]]) -> None:
    make, ids = city
    _change(make, ids["dot_a"], assignee_user_id=7)
    _change(make, ids["dsny_a"], assignee_user_id=8, transfers=2)
    _change(make, ids["dot_b"], transfers=1)
    assert page(make, assignee=7)[0] == [ids["dot_a"]]
    assert page(make, QueueScope(bodies=frozenset({"DOT"})), assignee=8)[0] == []
    assert page(make, QueueScope(bodies=frozenset({"DOT"})), unassigned=True)[0] == [ids["dot_b"], ids["dot_due"]]
    assert page(make, bounced=True)[0] == [ids["dot_b"], ids["dsny_a"]]
    assert page(make, bounced=True, unassigned=True)[:2] == ([ids["dot_b"]], 1)
    with make() as uow:
        (row,) = uow.queue.queue(EVERYTHING, QueueFilter(assignee=8)).rows
    assert (row.assignee_user_id, row.transfers) == (8, 2)


def test_queue__filed_by__only_what_that_staff_member_filed_within_the_scope(
    city: tuple[MakeUow, dict[str, int]],
) -> None:
    """A liaison's "Filed by me": the requests filed on residents' behalf by that account, in its scope."""
    make, ids = city
    _change(make, ids["dot_a"], filed_by_user_id=41)
    _change(make, ids["dsny_b"], filed_by_user_id=41)
    _change(make, ids["dot_due"], filed_by_user_id=42)
    assert page(make, filed_by=41)[:2] == ([ids["dot_a"], ids["dsny_b"]], 2)
    assert page(make, QueueScope(areas=frozenset({("districts", "A")})), filed_by=41)[:2] == ([ids["dot_a"]], 1)
    assert page(make, filed_by=41, sort=Sort.NEWEST)[0] == [ids["dsny_b"], ids["dot_a"]]
    assert page(make, filed_by=43)[:2] == ([], 0)


AREA_A = QueueScope(areas=frozenset({("districts", "A")}))


@pytest.mark.parametrize("few", [1, 500], ids=["walked", "by_id"])
@pytest.mark.parametrize(
    ("scope", "query", "expected", "counts"),
    [
        (AREA_A, {}, ["dot_a", "dot_due", "dsny_a"], {"new": 3, "closed": 1}),
        (AREA_A, {"sort": Sort.NEWEST}, ["dsny_a", "dot_due", "dot_a"], {"new": 3, "closed": 1}),
        (AREA_A, {"sort": Sort.DUE}, ["dsny_a", "dot_due", "dot_a"], {"new": 3, "closed": 1}),
        (AREA_A, {"statuses": (Status.CLOSED,)}, ["dot_closed"], {"new": 3, "closed": 1}),
        (AREA_A, {"page_size": 1, "page": 2}, ["dot_due"], {"new": 3, "closed": 1}),
        (AREA_A, {"service_code": "graffiti"}, ["dsny_a"], {"new": 1}),
        (QueueScope(areas=frozenset({("districts", "A"), ("districts", "B")})), {},
         ["dot_a", "dot_b", "dot_due", "dsny_a", "dsny_b"], {"new": 5, "closed": 1}),
        (QueueScope(bodies=frozenset({"DOT"})), {"area": ("districts", "A")}, ["dot_a", "dot_due"],
         {"new": 2, "closed": 1}),
        (EVERYTHING, {"area": ("districts", "B"), "sort": Sort.NEWEST}, ["dsny_b", "dot_b"], {"new": 2}),
        (QueueScope(areas=frozenset({("districts", "C")})), {}, [], {}),
        (AREA_A, {"body_code": "DSNY"}, ["dsny_a"], {"new": 1}),
        (QueueScope(bodies=frozenset({"DOT", "DSNY"})), {"area": ("districts", "A"), "body_code": "DSNY"},
         ["dsny_a"], {"new": 1}),
        (EVERYTHING, {"area": ("districts", "A"), "body_code": "DOT", "statuses": (Status.CLOSED,)},
         ["dot_closed"], {"new": 2, "closed": 1}),
        (QueueScope(bodies=frozenset({"DOT"})), {"area": ("districts", "A"), "body_code": "DSNY"}, [], {}),
    ],
)  # fmt: skip
def test_queue__areas__pages_and_counts_alike_read_by_id_or_walked_in_order(
    city: tuple[MakeUow, dict[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    few: int,
    scope: QueueScope,
    query: dict[str, Any],
    expected: list[str],
    counts: dict[str, int],
) -> None:
    """A liaison's areas (or the area filter): the SQL stores read request_areas (migration 0019), by id when the
    page's statuses hold at most queue_sql.FEW requests, else walking the queue's order and testing each request
    (FEW lowered here to 1: every area with two requests or more is walked)."""
    monkeypatch.setattr(queue_sql, "FEW", few)
    make, ids = city
    rows, _, found = page(make, scope, **query)
    assert rows == [ids[n] for n in expected]
    assert found == counts


def test_queue__areas__follow_a_status_change_and_count_a_request_in_two_of_them_once(
    city: tuple[MakeUow, dict[str, int]],
) -> None:
    make, ids = city
    _change(make, ids["dsny_a"], statuses=(Status.ACKNOWLEDGED, Status.IN_PROGRESS))
    _change(make, ids["dot_a"], areas={"districts": "A", "wards": "7"})
    both = QueueScope(areas=frozenset({("districts", "A"), ("wards", "7")}))
    assert page(make, both) == ([ids["dot_a"], ids["dot_due"], ids["dsny_a"]], 3,
                                {"new": 2, "in_progress": 1, "closed": 1})  # fmt: skip
    assert page(make, QueueScope(areas=frozenset({("wards", "7")}))) == ([ids["dot_a"]], 1, {"new": 1})
    _change(make, ids["dot_a"], areas={"districts": "B"})
    assert page(make, QueueScope(areas=frozenset({("wards", "7")}))) == ([], 0, {})
    assert page(make, AREA_A, statuses=(Status.IN_PROGRESS,))[:2] == ([ids["dsny_a"]], 1)
    _change(make, ids["dot_due"], body_code="DSNY")  # a transfer: the area's counts per owner follow
    dsny = QueueScope(bodies=frozenset({"DSNY"}))
    assert page(make, dsny, area=("districts", "A")) == ([ids["dot_due"], ids["dsny_a"]], 2,
                                                          {"new": 1, "in_progress": 1})  # fmt: skip


@pytest.mark.parametrize(
    ("scope", "query", "expected", "counts"),
    [
        (AREA_A, {"text": "report"}, ["dot_a", "dot_due", "dsny_a"], {"new": 3, "closed": 1}),
        (AREA_A, {"text": "rep*", "statuses": (Status.CLOSED,)}, ["dot_closed"], {"new": 3, "closed": 1}),
        (AREA_A, {"text": "bravo"}, [], {}),  # a word of another area's request
        (AREA_A, {"text": "delta avenue", "sort": Sort.NEWEST}, ["dsny_a"], {"new": 1}),
        (QueueScope(areas=frozenset({("districts", "A"), ("districts", "B")})), {"text": "report", "sort": Sort.NEWEST},
         ["dsny_a", "dot_due", "dot_b", "dot_a"], {"new": 4, "closed": 1}),  # dsny_b's words: "Tags on the 50% wall_"
        (EVERYTHING, {"text": "report", "area": ("districts", "B")}, ["dot_b"], {"new": 1}),
        (EVERYTHING, {"text": "wall", "area": ("districts", "B")}, ["dsny_b"], {"new": 1}),
        (EVERYTHING, {"text": "report", "area": ("districts", "A"), "body_code": "DOT"}, ["dot_a", "dot_due"],
         {"new": 2, "closed": 1}),
        (QueueScope(bodies=frozenset({"DOT"})), {"text": "report", "area": ("districts", "A")}, ["dot_a", "dot_due"],
         {"new": 2, "closed": 1}),
        (AREA_A, {"text": "report", "body_code": "DSNY"}, ["dsny_a"], {"new": 1}),
        (AREA_A, {"text": "report", "service_code": "pothole"}, ["dot_a", "dot_due"], {"new": 2, "closed": 1}),
        (QueueScope(areas=frozenset({("districts", "C")})), {"text": "report"}, [], {}),
    ],
)  # fmt: skip
def test_queue__areas__text__finds_the_words_of_the_areas_requests_only(
    city: tuple[MakeUow, dict[str, int]],
    scope: QueueScope,
    query: dict[str, Any],
    expected: list[str],
    counts: dict[str, int],
) -> None:
    """A liaison's search (or a search with everyone's area filter): the indexes hold each request's areas with its
    status and its words (migration 0021), so the matches are those of the areas, counted per status."""
    make, ids = city
    rows, _, found = page(make, scope, **query)
    assert rows == [ids[n] for n in expected]
    assert found == counts


def test_queue__areas__text__follows_moved_areas_and_keys_with_spaces_and_quotes(
    city: tuple[MakeUow, dict[str, int]],
) -> None:
    """A change of a request's areas is a change of what the search indexes hold (the same transaction), and an
    area's key is matched as it is: spaces, quotes, backslashes, letters beyond ASCII, any case."""
    make, ids = city
    odd = ("neighbourhoods", "St. John's \\ Côte Park")
    liaison = QueueScope(areas=frozenset({odd}))
    assert page(make, liaison, text="bravo") == ([], 0, {})
    _change(make, ids["dot_b"], areas={"districts": "B", odd[0]: odd[1]})
    assert page(make, liaison, text="bravo") == ([ids["dot_b"]], 1, {"new": 1})
    assert page(make, QueueScope(areas=frozenset({(odd[0], odd[1].upper())})), text="bravo") == ([], 0, {})
    assert page(make, EVERYTHING, text="bravo avenue", area=odd) == ([ids["dot_b"]], 1, {"new": 1})
    _change(make, ids["dot_b"], statuses=[Status.ACKNOWLEDGED])
    assert page(make, liaison, text="brav*", statuses=(*Status,)) == ([ids["dot_b"]], 1, {"acknowledged": 1})
    _change(make, ids["dot_b"], areas={"districts": "A"})
    assert page(make, liaison, text="bravo") == ([], 0, {})
    assert page(make, AREA_A, text="bravo", statuses=(*Status,)) == ([ids["dot_b"]], 1, {"acknowledged": 1})


@pytest.mark.parametrize(
    ("few", "walk_above", "pg_few"),
    [(500, 10_000, 5_000), (10, 10_000, 5_000), (10, 50, 50), (10, 50, 10_000)],
    ids=["by-id", "listed", "walked", "pg-read-from-index"],
)
def test_queue__areas__text__many_matches__pages_in_order_and_counts(
    store_uow_factory: MakeUow,
    catalog_data: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    few: int,
    walk_above: int,
    pg_few: int,
) -> None:
    """An area's search with many matches: read by id (at most queue_sql.FEW), listed from the index (at most
    WALK_ABOVE, SQLite) or the queue walked in order (PostgreSQL past PG_FEW): the same pages and counts."""
    monkeypatch.setattr(queue_sql, "FEW", few)
    monkeypatch.setattr(queue_sql, "WALK_ABOVE", walk_above)
    monkeypatch.setattr(queue_sql, "PG_FEW", pg_few)
    load_catalog(store_uow_factory(), catalog_data)
    with store_uow_factory() as uow:
        ids = []
        for i in range(240):
            r = ServiceRequest(service_code="pothole", requested_at=T0 + (240 - i) * H, channel=Channel.WEB,
                               lat=40.7, long=-74.0, body_code="DOT" if i % 4 else "DSNY",
                               description="deep pothole" if i % 3 else "a crack", address=f"{i} Main Street",
                               areas={"districts": "A" if i % 2 else "B", "boroughs": "North"})  # fmt: skip
            r.record_submission(r.requested_at, client_id=None)
            ids.append(uow.requests.add(r, None))
        uow.commit()
    wanted = [rid for i, rid in enumerate(ids) if i % 3 and i % 2][::-1]  # oldest first: filed in reverse
    area = QueueScope(areas=frozenset({("districts", "A")}))
    seen = []
    for number in (1, 2, 3):
        rows, total, counts = page(store_uow_factory, area, text="pothole", page=number, page_size=30)
        assert (total, counts) == (len(wanted), {"new": len(wanted)})
        seen.extend(rows)
    assert seen == wanted
    assert page(store_uow_factory, area, text="main pot*", sort=Sort.NEWEST, page_size=3)[0] == wanted[::-1][:3]
    assert page(store_uow_factory, area, text="pothole", statuses=(Status.CLOSED,))[:2] == ([], 0)
    everyone = page(store_uow_factory, text="pothole", area=("districts", "A"), page=2, page_size=30)
    assert everyone[:2] == (wanted[30:60], len(wanted))
    both = QueueScope(areas=frozenset({("districts", "A"), ("boroughs", "North")}))
    every = [rid for i, rid in enumerate(ids) if i % 3][::-1]
    assert page(store_uow_factory, both, text="pothole", page=2, page_size=50)[:2] == (every[50:100], len(every))
