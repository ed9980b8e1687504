"""Staff work on a request (requests/work.py), on the in-memory fake: every action's happy path, each refusal
writing nothing, the outbox rows and audit entries each change leaves, and bulk actions with partial failure."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import DomainError, Forbidden, IllegalTransition, Invalid, NotFound
from civicswitch.hub.handlers import add_connector
from civicswitch.people.policy import OPERATOR, Principal, Role
from civicswitch.people.users import StaffUser
from civicswitch.requests.commands import (
    AddNote,
    AssignColleague,
    BulkWork,
    ChangeRequest,
    PartnerStep,
    PartnerWork,
    SubmitRequest,
    TransferRequest,
    Upload,
    Verdict,
    VerifyFix,
    WorkRequest,
    WorkStep,
)
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import CloseReason, Event, ServiceRequest, Status
from civicswitch.requests.staff import change_request
from civicswitch.requests.work import (
    add_note,
    assign_colleague,
    bulk_work,
    partner_work,
    transfer_request,
    verify_fix,
    work_request,
)
from civicswitch.storage.memory import MemoryUnitOfWork

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

CATALOG: dict[str, Any] = {
    "bodies": [
        {"code": "DOT", "name": "Department of Transportation"},
        {"code": "DSNY", "name": "Department of Sanitation"},
        {"code": "FIXIT", "name": "Fixit Contractors", "kind": "partner"},
        {"code": "ELSEWHERE", "name": "Elsewhere Non-profit", "kind": "partner"},
    ],
    "services": [
        {"code": "pothole", "name": "Pothole", "body": "DOT", "sla_hours": 72},
        {"code": "streetlight", "name": "Street light out", "body": "DOT", "partners_may_close": True},
        {"code": "graffiti", "name": "Graffiti", "body": "DSNY"},
    ],
}


@dataclass
class City:
    uow: MemoryUnitOfWork
    clock: FixedClock
    users: dict[str, StaffUser]

    def who(self, name: str) -> Principal:
        return self.users[name].principal()

    def request(self, rid: str) -> ServiceRequest:
        found = self.uow.db.requests[int(rid)]
        return copy.deepcopy(found)

    def timeline(self, rid: str) -> list[Event]:
        return list(self.uow.db.events[int(rid)])

    def audit(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        return [(e.action, e.object_id, dict(e.detail)) for e in self.uow.db.audit]

    def deliveries(self, rid: str) -> list[tuple[str | None, str, str]]:
        return [(r.connector_code, r.body_code, r.type) for r in self.uow.db.hub.deliveries if r.request_id == int(rid)]

    def file(self, service: str = "pothole", *, area: str = "A") -> str:
        cmd = SubmitRequest(service_code=service, api_key=None, lat="40.71", long="-74.01", principal=OPERATOR)
        rid = submit_request(self.uow, self.clock, cmd).service_request_id
        assert rid is not None
        with self.uow as u:
            r = u.requests.get(int(rid))
            assert r is not None
            r.areas = {"districts": area}
            u.requests.save(r)
            u.requests.take_changes()
            u.commit()
        self.clock.advance(timedelta(minutes=1))
        return rid

    def state(self) -> Any:
        """Everything a use case could write."""
        db = self.uow.db
        return copy.deepcopy((db.requests, dict(db.events), db.audit, db.hub.deliveries, db.media, self.uow.committed))


STAFF = {
    "dana": dict(role=Role.DEPARTMENT, bodies=frozenset({"DOT"}), name="Dana"),
    "dave": dict(role=Role.DEPARTMENT, bodies=frozenset({"DOT"}), name="Dave"),
    "sam": dict(role=Role.DEPARTMENT, bodies=frozenset({"DSNY"}), name="Sam"),
    "ada": dict(role=Role.ADMIN, name="Ada"),
    "alex": dict(role=Role.AGENT, name="Alex"),
    "pat": dict(role=Role.PARTNER, org="FIXIT", name="Pat"),
    "lee": dict(role=Role.LIAISON, areas=frozenset({("districts", "A")}), name="Lee"),
    "eve": dict(role=Role.EXECUTIVE, name="Eve"),
    "gone": dict(role=Role.DEPARTMENT, bodies=frozenset({"DOT"}), name="Gone", disabled_at=NOW),
}


@pytest.fixture
def city() -> City:
    return make_city()


def make_city() -> City:
    """DOT and DSNY with a connector each, a partner organisation, and a staff account per role (``STAFF``)."""
    clock = FixedClock(NOW)
    uow = MemoryUnitOfWork(clock=clock)
    load_catalog(uow, copy.deepcopy(CATALOG))
    for body in ("DOT", "DSNY"):
        add_connector(uow, clock, code=f"{body.lower()}-hook", kind="webhook", body=body,
                      config={"url": f"https://{body.lower()}.example.gov/hook"})  # fmt: skip
    users = {}
    with uow:
        for name, fields in STAFF.items():
            users[name] = uow.users.add(
                StaffUser(email=f"{name}@city.gov", password_hash="x", created_at=NOW, password_changed_at=NOW,
                          **fields)  # type: ignore[arg-type]
            )  # fmt: skip
        uow.commit()
    return City(uow, clock, users)


def _new_rows(city: City, rid: str, before: list[tuple[str | None, str, str]]) -> list[tuple[str | None, str, str]]:
    after = city.deliveries(rid)
    return after[len(before) :]


# == status steps ====================================================================================================
def test_work_request__each_step_in_turn__moves_the_status_and_records_it(city: City) -> None:
    rid = city.file()
    dana = city.who("dana")
    steps = [
        (WorkStep.ACKNOWLEDGE, "", None, Status.ACKNOWLEDGED),
        (WorkStep.START, "Crew scheduled", None, Status.IN_PROGRESS),
        (WorkStep.HOLD, "Waiting for asphalt", None, Status.ON_HOLD),
        (WorkStep.START, "", None, Status.IN_PROGRESS),
        (WorkStep.CLOSE, "Filled", "fixed", Status.CLOSED),
        (WorkStep.REOPEN, "It opened again", None, Status.REOPENED),
    ]
    for step, note, reason, expected in steps:
        city.clock.advance(timedelta(minutes=5))
        result = work_request(city.uow, city.clock, WorkRequest(dana, rid, step, note, reason))
        assert result.status is expected
    changes = [e for e in city.timeline(rid) if e.kind == "status_changed"]
    assert [(e.status_from, e.status_to) for e in changes] == [
        (Status.NEW, Status.ACKNOWLEDGED),
        (Status.ACKNOWLEDGED, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, Status.ON_HOLD),
        (Status.ON_HOLD, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, Status.CLOSED),
        (Status.CLOSED, Status.REOPENED),
    ]
    assert all(e.public and e.data["user_id"] == city.users["dana"].id for e in changes)
    assert changes[2].description == "Waiting for asphalt"
    assert changes[4].close_reason is CloseReason.FIXED
    stored = city.request(rid)
    assert (stored.status, stored.status_notes, stored.closed_at) == (Status.REOPENED, "It opened again", None)


def test_work_request__close__public_status_note_and_close_reason(city: City) -> None:
    rid = city.file()
    work_request(city.uow, city.clock, WorkRequest(city.who("dana"), rid, WorkStep.CLOSE, "Not a city road",
                                                    "not_ours"))  # fmt: skip
    stored = city.request(rid)
    assert (stored.status, stored.close_reason, stored.status_notes) == (
        Status.CLOSED, CloseReason.NOT_OURS, "Not a city road")  # fmt: skip
    assert stored.closed_at == NOW + timedelta(minutes=1)


def test_work_request__status_change__outbox_row_for_the_owners_connector_and_an_audit_entry(city: City) -> None:
    rid = city.file()
    before = city.deliveries(rid)
    work_request(city.uow, city.clock, WorkRequest(city.who("dana"), rid, WorkStep.ACKNOWLEDGE, "On our list"))
    assert _new_rows(city, rid, before) == [("dot-hook", "DOT", "status_changed")]
    payload = city.uow.db.hub.deliveries[-1].payload["data"]
    assert (payload["status"], payload["note"]) == ("acknowledged", "On our list")
    action, object_id, detail = city.audit()[-1]
    assert (action, object_id) == ("request.work", rid)
    assert detail == {"step": "acknowledge", "status": ["new", "acknowledged"], "close_reason": None}
    assert city.uow.db.audit[-1].principal == f"staff:{city.users['dana'].id} dana@city.gov"


def test_work_request__admin__may_work_any_body(city: City) -> None:
    rid = city.file("graffiti")
    assert work_request(city.uow, city.clock, WorkRequest(city.who("ada"), rid, WorkStep.START)).status is (
        Status.IN_PROGRESS
    )


@pytest.mark.parametrize(
    ("who", "step", "note", "reason", "error", "match"),
    [
        ("sam", WorkStep.ACKNOWLEDGE, "", None, Forbidden, "only on requests owned by DSNY"),
        ("alex", WorkStep.ACKNOWLEDGE, "", None, Forbidden, "agent may not request.work"),
        ("pat", WorkStep.START, "", None, Forbidden, "partner may not request.work"),
        ("eve", WorkStep.CLOSE, "", "fixed", Forbidden, "executive may not"),
        ("dana", WorkStep.REOPEN, "", None, IllegalTransition, "cannot go from new to reopened"),
        ("dana", WorkStep.HOLD, "parts", None, IllegalTransition, "cannot go from new to on_hold"),
        ("dana", WorkStep.HOLD, "  ", None, Invalid, "needs a reason"),
        ("dana", WorkStep.CLOSE, "done", None, Invalid, "needs a close reason"),
        ("dana", WorkStep.CLOSE, "done", "duplicate", Invalid, "merging"),
        ("dana", WorkStep.CLOSE, "done", "referred", Invalid, "transferred"),
        ("dana", WorkStep.CLOSE, "done", "whatever", Invalid, "not one of"),
        ("dana", WorkStep.START, "", "fixed", Invalid, "only with closing"),
    ],
)
def test_work_request__refused__writes_nothing(
    city: City, who: str, step: WorkStep, note: str, reason: str | None, error: type[DomainError], match: str
) -> None:
    rid = city.file()
    before = city.state()
    with pytest.raises(error, match=match):
        work_request(city.uow, city.clock, WorkRequest(city.who(who), rid, step, note, reason))
    assert city.state() == before


def test_work_commands__steps_sent_as_form_text__taken_or_refused_by_name(city: City) -> None:
    rid = city.file()
    dana = city.who("dana")
    as_text = WorkRequest(dana, rid, " Acknowledge ")  # type: ignore[arg-type]
    assert work_request(city.uow, city.clock, as_text).status is Status.ACKNOWLEDGED
    before = city.state()
    with pytest.raises(Invalid, match="step 'finish' is not one of acknowledge, start"):
        work_request(city.uow, city.clock, WorkRequest(dana, rid, "finish"))  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="verdict 'maybe' is not one of confirmed, disputed"):
        verify_fix(city.uow, city.clock, VerifyFix(city.who("lee"), rid, "maybe"))  # type: ignore[arg-type]
    assert city.state() == before


def test_work_request__hold_from_acknowledged_with_a_reason__on_hold(city: City) -> None:
    rid = city.file()
    dana = city.who("dana")
    work_request(city.uow, city.clock, WorkRequest(dana, rid, WorkStep.ACKNOWLEDGE))
    work_request(city.uow, city.clock, WorkRequest(dana, rid, WorkStep.HOLD, "Gas works first"))
    assert city.request(rid).status is Status.ON_HOLD
    assert city.audit()[-1][2]["status"] == ["acknowledged", "on_hold"]


def test_work_request__unknown_request__not_found_and_nothing_written(city: City) -> None:
    before = city.state()
    with pytest.raises(NotFound):
        work_request(city.uow, city.clock, WorkRequest(city.who("dana"), "999", WorkStep.ACKNOWLEDGE))
    assert city.state() == before


# == notes ============================================================================================================
def test_add_note__public__on_the_public_timeline_as_status_notes_and_sent_to_the_owner(city: City) -> None:
    rid = city.file()
    before = city.deliveries(rid)
    add_note(city.uow, city.clock, AddNote(city.who("dana"), rid, "Crew booked for Tuesday", public=True))
    note = city.timeline(rid)[-1]
    assert (note.kind, note.public, note.description, note.status_from) == (
        "note", True, "Crew booked for Tuesday", Status.NEW)  # fmt: skip
    assert city.request(rid).status_notes == "Crew booked for Tuesday"
    assert _new_rows(city, rid, before) == [("dot-hook", "DOT", "note")]
    assert city.audit()[-1] == ("request.work", rid, {"step": "note", "public": True, "photo": False})
    with city.uow as u:
        public = u.requests.events([int(rid)])[int(rid)]
    assert public[-1].description == "Crew booked for Tuesday"


def test_add_note__internal__staff_only_never_sent_and_status_notes_unchanged(city: City) -> None:
    rid = city.file()
    work_request(city.uow, city.clock, WorkRequest(city.who("dana"), rid, WorkStep.ACKNOWLEDGE, "Seen"))
    before = city.deliveries(rid)
    add_note(city.uow, city.clock, AddNote(city.who("dana"), rid, "Resident sounded upset; call back", public=False))
    note = city.timeline(rid)[-1]
    assert (note.kind, note.public) == ("note", False)
    assert city.request(rid).status_notes == "Seen"
    assert city.deliveries(rid) == before
    with city.uow as u:
        assert all(e.description != note.description for e in u.requests.events([int(rid)])[int(rid)])
    assert city.audit()[-1][2] == {"step": "note", "public": False, "photo": False}


def test_add_note__with_an_uploaded_photo__stored_and_attached(city: City) -> None:
    rid = city.file()
    add_note(city.uow, city.clock, AddNote(city.who("dana"), rid, "Before", public=True,
                                           uploads=(Upload("hole.png", "image/png", PNG),)))  # fmt: skip
    note = city.timeline(rid)[-1]
    assert note.media_url is not None and note.media_url.startswith("/media/")
    stored = city.uow.db.media[note.media_url.removeprefix("/media/")]
    assert stored.request_id == int(rid)


@pytest.mark.parametrize(
    ("who", "text", "urls", "error", "match"),
    [
        ("sam", "hello", (), Forbidden, "owned by DSNY"),
        ("lee", "hello", (), Forbidden, "liaison may not"),
        ("dana", "   ", (), Invalid, "needs some text"),
        ("dana", "x" * 4001, (), Invalid, "longer than"),
        ("dana", "photo", ("ftp://x/y.jpg",), Invalid, "http"),
        ("dana", "photos", ("https://a/1.jpg", "https://a/2.jpg"), Invalid, "one photo"),
    ],
)
def test_add_note__refused__writes_nothing(
    city: City, who: str, text: str, urls: tuple[str, ...], error: type[DomainError], match: str
) -> None:
    rid = city.file()
    before = city.state()
    with pytest.raises(error, match=match):
        add_note(city.uow, city.clock, AddNote(city.who(who), rid, text, public=True, media_urls=urls))
    assert city.state() == before


# == assign to a colleague ============================================================================================
def test_assign_colleague__department_user_of_the_owner__assigned_with_a_staff_only_entry(city: City) -> None:
    rid = city.file()
    dave = city.users["dave"]
    before = city.deliveries(rid)
    result = assign_colleague(city.uow, city.clock, AssignColleague(city.who("dana"), rid, dave.id, "your patch"))
    assert result.assignee_user_id == dave.id
    assert city.request(rid).assignee_user_id == dave.id
    entry = city.timeline(rid)[-1]
    assert (entry.kind, entry.public, entry.description) == ("assigned", False, "Assigned to Dave: your patch")
    assert entry.data["user"] == [None, dave.id]
    assert city.deliveries(rid) == before  # staff-only: nothing sent
    assert city.audit()[-1] == ("request.assign", rid, {"user": [None, dave.id]})


def test_assign_colleague__admin_then_take_back__unassigned(city: City) -> None:
    rid = city.file()
    ada = city.users["ada"]
    assign_colleague(city.uow, city.clock, AssignColleague(city.who("dana"), rid, ada.id))
    result = assign_colleague(city.uow, city.clock, AssignColleague(city.who("dana"), rid, None))
    assert result.assignee_user_id is None
    assert city.timeline(rid)[-1].description == "Taken back from Ada"
    assert city.audit()[-1][2] == {"user": [ada.id, None]}


@pytest.mark.parametrize(
    ("who", "target", "error", "match"),
    [
        ("sam", "dave", Forbidden, "owned by DSNY"),
        ("pat", "dave", Forbidden, "partner may not request.assign"),
        ("dana", "sam", Invalid, "may not work request"),  # another body's clerk
        ("dana", "alex", Invalid, "may not work request"),  # an agent
        ("dana", "pat", Invalid, "may not work request"),  # a partner (assign the organisation instead)
        ("dana", "gone", Invalid, "disabled"),
        ("dana", None, Invalid, "not assigned to anyone"),
        ("dana", 4242, NotFound, "does not exist"),
    ],
)
def test_assign_colleague__refused__writes_nothing(
    city: City, who: str, target: str | int | None, error: type[DomainError], match: str
) -> None:
    rid = city.file()
    user_id = city.users[target].id if isinstance(target, str) else target
    before = city.state()
    with pytest.raises(error, match=match):
        assign_colleague(city.uow, city.clock, AssignColleague(city.who(who), rid, user_id))
    assert city.state() == before


def test_assign_colleague__same_colleague_again_or_closed_request__refused(city: City) -> None:
    rid = city.file()
    dave = city.users["dave"].id
    assign_colleague(city.uow, city.clock, AssignColleague(city.who("dana"), rid, dave))
    before = city.state()
    with pytest.raises(Invalid, match="already assigned to Dave"):
        assign_colleague(city.uow, city.clock, AssignColleague(city.who("dana"), rid, dave))
    work_request(city.uow, city.clock, WorkRequest(city.who("dana"), rid, WorkStep.CLOSE, "done", "fixed"))
    before = city.state()
    with pytest.raises(IllegalTransition, match="closed"):
        assign_colleague(city.uow, city.clock, AssignColleague(city.who("dana"), rid, None))
    assert city.state() == before


# == transfer (bounce) ================================================================================================
def test_transfer_request__to_another_body__public_entry_count_and_outbox_to_both_bodies(city: City) -> None:
    rid = city.file()
    assign_colleague(city.uow, city.clock, AssignColleague(city.who("dana"), rid, city.users["dave"].id))
    with city.uow as u:  # the owner had given the work to a contractor too
        r = u.requests.get(int(rid))
        assert r is not None
        r.assigned_org = "FIXIT"
        u.requests.save(r)
        u.commit()
    before = city.deliveries(rid)
    cmd = TransferRequest(city.who("dana"), rid, "DSNY", "Graffiti, not ours")
    result = transfer_request(city.uow, city.clock, cmd)
    assert (result.body, result.assignee_user_id) == ("DSNY", None)
    stored = city.request(rid)
    assert (stored.body_code, stored.transfers, stored.assignee_user_id, stored.assigned_org) == ("DSNY", 1, None, None)
    entry = city.timeline(rid)[-1]
    assert (entry.kind, entry.public) == ("transferred", True)
    assert entry.description == (
        "Transferred from Department of Transportation to Department of Sanitation: Graffiti, not ours"
    )
    assert entry.data["body"] == ["DOT", "DSNY"]
    assert (entry.data["reason"], entry.data["bounce"], entry.data["user_id"]) == (
        "Graffiti, not ours", True, city.users["dana"].id)  # fmt: skip
    assert _new_rows(city, rid, before) == [("dot-hook", "DOT", "transferred"), ("dsny-hook", "DSNY", "created")]
    assert city.audit()[-1] == ("request.transfer", rid, {"owner": ["DOT", "DSNY"], "transfers": 1})


def test_transfer_request__bounced_back__counts_each_transfer(city: City) -> None:
    rid = city.file()
    transfer_request(city.uow, city.clock, TransferRequest(city.who("dana"), rid, "DSNY", "not ours"))
    transfer_request(city.uow, city.clock, TransferRequest(city.who("sam"), rid, "DOT", "not ours either"))
    assert (city.request(rid).body_code, city.request(rid).transfers) == ("DOT", 2)
    with city.uow as u:
        assert u.requests.former_owners(int(rid)) == {"DOT", "DSNY"}


def test_change_request__service_of_another_body__counted_as_a_transfer_too(city: City) -> None:
    rid = city.file()
    change_request(city.uow, city.clock, ChangeRequest(None, rid, service_code="graffiti", principal=city.who("dana")))
    assert (city.request(rid).body_code, city.request(rid).transfers) == ("DSNY", 1)


def test_transfer_request__to_a_body_without_connector__a_manual_bridge_task_for_it(city: City) -> None:
    load_catalog(city.uow, {"bodies": [{"code": "DEP", "name": "Environmental Protection"}], "services": []})
    rid = city.file()
    before = city.deliveries(rid)
    transfer_request(city.uow, city.clock, TransferRequest(city.who("dana"), rid, "DEP", "A sewer problem"))
    assert _new_rows(city, rid, before) == [("dot-hook", "DOT", "transferred"), (None, "DEP", "created")]


@pytest.mark.parametrize(
    ("who", "body", "reason", "error", "match"),
    [
        ("sam", "DOT", "not ours", Forbidden, "owned by DSNY"),
        ("alex", "DSNY", "not ours", Forbidden, "agent may not request.transfer"),
        ("pat", "DSNY", "not ours", Forbidden, "partner may not"),
        ("dana", "DSNY", "  ", Invalid, "needs a reason"),
        ("dana", "", "not ours", Invalid, "choose the body"),
        ("dana", "NOPE", "not ours", NotFound, "does not exist"),
        ("dana", "FIXIT", "not ours", Invalid, "partner organisation"),
        ("dana", "DOT", "not ours", Invalid, "already owned by DOT"),
    ],
)
def test_transfer_request__refused__writes_nothing(
    city: City, who: str, body: str, reason: str, error: type[DomainError], match: str
) -> None:
    rid = city.file()
    before = city.state()
    with pytest.raises(error, match=match):
        transfer_request(city.uow, city.clock, TransferRequest(city.who(who), rid, body, reason))
    assert city.state() == before


def test_transfer_request__closed_request__illegal_and_nothing_written(city: City) -> None:
    rid = city.file()
    work_request(city.uow, city.clock, WorkRequest(city.who("dana"), rid, WorkStep.CLOSE, "done", "fixed"))
    before = city.state()
    with pytest.raises(IllegalTransition, match="reopen it"):
        transfer_request(city.uow, city.clock, TransferRequest(city.who("dana"), rid, "DSNY", "not ours"))
    assert city.state() == before


# == partners ========================================================================================================
def _assigned(city: City, service: str = "pothole", org: str = "FIXIT") -> str:
    rid = city.file(service)
    with city.uow as u:
        r = u.requests.get(int(rid))
        assert r is not None
        r.assigned_org = org
        u.requests.save(r)
        u.requests.take_changes()
        u.commit()
    return rid


def test_partner_work__start_and_progress_note_with_photo__in_progress_and_public_note(city: City) -> None:
    rid = _assigned(city)
    pat = city.who("pat")
    before = city.deliveries(rid)
    assert partner_work(city.uow, city.clock, PartnerWork(pat, rid, PartnerStep.START)).status is Status.IN_PROGRESS
    partner_work(city.uow, city.clock, PartnerWork(pat, rid, PartnerStep.NOTE, "Half done",
                                                   media_urls=("https://img.example.org/half.jpg",)))  # fmt: skip
    note = city.timeline(rid)[-1]
    assert (note.kind, note.public, note.media_url, note.data["org"]) == (
        "note", True, "https://img.example.org/half.jpg", "FIXIT")  # fmt: skip
    assert _new_rows(city, rid, before) == [("dot-hook", "DOT", "status_changed"), ("dot-hook", "DOT", "note")]
    assert [a[2]["step"] for a in city.audit()[-2:]] == ["start", "note"]
    assert city.audit()[-1][0] == "request.partner_work"


def test_partner_work__complete_where_partners_may_not_close__stays_open_for_the_owner_to_confirm(city: City) -> None:
    rid = _assigned(city)
    pat = city.who("pat")
    partner_work(city.uow, city.clock, PartnerWork(pat, rid, PartnerStep.START))
    before = city.deliveries(rid)
    photo = Upload("done.png", "image/png", PNG)
    cmd = PartnerWork(pat, rid, PartnerStep.COMPLETE, "Filled and rolled", uploads=(photo,))
    result = partner_work(city.uow, city.clock, cmd)
    assert result.status is Status.IN_PROGRESS
    entry = city.timeline(rid)[-1]
    assert (entry.kind, entry.public, entry.description) == ("work_completed", False, "Filled and rolled")
    assert entry.media_url is not None and entry.media_url.startswith("/media/")
    assert city.deliveries(rid) == before  # staff-only: the owning department confirms in its queue
    assert city.audit()[-1][2] == {"step": "complete", "org": "FIXIT", "photo": True, "closed": False}


def test_partner_work__complete_where_partners_may_close__closed_fixed_and_sent(city: City) -> None:
    rid = _assigned(city, "streetlight")
    before = city.deliveries(rid)
    result = partner_work(city.uow, city.clock, PartnerWork(city.who("pat"), rid, PartnerStep.COMPLETE))
    stored = city.request(rid)
    assert (result.status, stored.close_reason, stored.status_notes) == (Status.CLOSED, CloseReason.FIXED,
                                                                         "Work complete")  # fmt: skip
    assert _new_rows(city, rid, before) == [("dot-hook", "DOT", "status_changed")]


@pytest.mark.parametrize(
    ("who", "org", "step", "note", "error", "match"),
    [
        ("pat", "ELSEWHERE", PartnerStep.START, "", Forbidden, "assigned to FIXIT"),
        ("pat", None, PartnerStep.NOTE, "hi", Forbidden, "assigned to FIXIT"),
        ("dana", "FIXIT", PartnerStep.START, "", Forbidden, "department may not request.partner_work"),
        ("lee", "FIXIT", PartnerStep.COMPLETE, "", Forbidden, "liaison may not"),
        ("pat", "FIXIT", PartnerStep.NOTE, "", Invalid, "needs some text"),
    ],
)
def test_partner_work__refused__writes_nothing(
    city: City, who: str, org: str | None, step: PartnerStep, note: str, error: type[DomainError], match: str
) -> None:
    rid = _assigned(city, org=org) if org else city.file()
    before = city.state()
    with pytest.raises(error, match=match):
        partner_work(city.uow, city.clock, PartnerWork(city.who(who), rid, step, note))
    assert city.state() == before


def test_partner_work__start_twice_or_complete_when_closed__illegal_and_nothing_written(city: City) -> None:
    rid = _assigned(city, "streetlight")
    pat = city.who("pat")
    partner_work(city.uow, city.clock, PartnerWork(pat, rid, PartnerStep.START))
    before = city.state()
    with pytest.raises(IllegalTransition, match="in_progress to in_progress"):
        partner_work(city.uow, city.clock, PartnerWork(pat, rid, PartnerStep.START))
    assert city.state() == before
    partner_work(city.uow, city.clock, PartnerWork(pat, rid, PartnerStep.COMPLETE))
    before = city.state()
    with pytest.raises(IllegalTransition, match="already closed"):
        partner_work(city.uow, city.clock, PartnerWork(pat, rid, PartnerStep.COMPLETE))
    assert city.state() == before


# == liaisons ========================================================================================================
def test_verify_fix__closed_request_in_own_area__public_entry_sent_to_the_owner(city: City) -> None:
    rid = city.file()
    work_request(city.uow, city.clock, WorkRequest(city.who("dana"), rid, WorkStep.CLOSE, "Filled", "fixed"))
    before = city.deliveries(rid)
    verify_fix(city.uow, city.clock, VerifyFix(city.who("lee"), rid, Verdict.CONFIRMED, "Smooth now",
                                               media_urls=("https://img.example.org/ok.jpg",)))  # fmt: skip
    entry = city.timeline(rid)[-1]
    assert (entry.kind, entry.public, entry.description, entry.media_url) == (
        "fix_confirmed", True, "Fix confirmed on site: Smooth now", "https://img.example.org/ok.jpg")  # fmt: skip
    assert (entry.status_from, entry.close_reason) == (Status.CLOSED, CloseReason.FIXED)
    assert city.request(rid).status is Status.CLOSED  # no status change
    assert _new_rows(city, rid, before) == [("dot-hook", "DOT", "note")]
    assert city.audit()[-1] == ("request.verify_fix", rid, {"verdict": "confirmed", "photo": True})


def test_verify_fix__dispute_after_partner_work_complete__entry_and_status_unchanged(city: City) -> None:
    rid = _assigned(city)
    partner_work(city.uow, city.clock, PartnerWork(city.who("pat"), rid, PartnerStep.COMPLETE, "done"))
    verify_fix(city.uow, city.clock, VerifyFix(city.who("lee"), rid, Verdict.DISPUTED))
    entry = city.timeline(rid)[-1]
    assert (entry.kind, entry.description) == ("fix_disputed", "Fix disputed on site: not fixed")
    assert city.request(rid).status is Status.NEW


@pytest.mark.parametrize(
    ("who", "area", "closed", "error", "match"),
    [
        ("lee", "B", True, Forbidden, "in districts:A"),
        ("dana", "A", True, Forbidden, "department may not request.verify_fix"),
        ("pat", "A", True, Forbidden, "partner may not"),
        ("lee", "A", False, Invalid, "no fix to check"),
    ],
)
def test_verify_fix__refused__writes_nothing(
    city: City, who: str, area: str, closed: bool, error: type[DomainError], match: str
) -> None:
    rid = city.file(area=area)
    if closed:
        work_request(city.uow, city.clock, WorkRequest(city.who("ada"), rid, WorkStep.CLOSE, "done", "fixed"))
    before = city.state()
    with pytest.raises(error, match=match):
        verify_fix(city.uow, city.clock, VerifyFix(city.who(who), rid, Verdict.CONFIRMED))
    assert city.state() == before


# == bulk ============================================================================================================
def test_bulk_work__acknowledge_a_selection__each_done_or_refused_on_its_own(city: City) -> None:
    fresh, other_body, already = city.file(), city.file("graffiti"), city.file()
    work_request(city.uow, city.clock, WorkRequest(city.who("dana"), already, WorkStep.ACKNOWLEDGE))
    ids = (fresh, other_body, already, "999", fresh)
    items = bulk_work(city.uow, city.clock, BulkWork(ids, WorkRequest(city.who("dana"), "", WorkStep.ACKNOWLEDGE)))
    assert [(i.service_request_id, i.ok, i.status) for i in items] == [
        (fresh, True, Status.ACKNOWLEDGED),
        (other_body, False, None),
        (already, False, None),
        ("999", False, None),
    ]
    assert "owned by DOT" in (items[1].error or "")
    assert "cannot go from acknowledged to acknowledged" in (items[2].error or "")
    assert "does not exist" in (items[3].error or "")
    assert city.request(fresh).status is Status.ACKNOWLEDGED
    assert city.request(other_body).status is Status.NEW
    assert [a[1] for a in city.audit()[-1:]] == [fresh]


def test_bulk_work__close_with_one_note__partial_failure_keeps_the_others_closed(city: City) -> None:
    a, b, c = city.file(), city.file(), city.file()
    work_request(city.uow, city.clock, WorkRequest(city.who("dana"), b, WorkStep.CLOSE, "earlier", "fixed"))
    before_b = city.request(b)
    action = WorkRequest(city.who("dana"), "", WorkStep.CLOSE, "Resurfaced the whole street", "fixed")
    items = bulk_work(city.uow, city.clock, BulkWork((a, b, c), action))
    assert [i.ok for i in items] == [True, False, True]
    assert all(city.request(x).status_notes == "Resurfaced the whole street" for x in (a, c))
    assert city.request(b) == before_b


def test_bulk_work__assign_a_selection__per_item_result(city: City) -> None:
    a, b = city.file(), city.file("graffiti")
    action = AssignColleague(city.who("ada"), "", city.users["dave"].id)
    items = bulk_work(city.uow, city.clock, BulkWork((a, b), action))
    assert (items[0].ok, items[0].error) == (True, None)
    assert not items[1].ok and "may not work request" in (items[1].error or "")
    assert (city.request(a).assignee_user_id, city.request(b).assignee_user_id) == (city.users["dave"].id, None)


@pytest.mark.parametrize("ids", [(), ("  ",), tuple(str(i) for i in range(201))])
def test_bulk_work__no_ids_or_too_many__invalid_and_nothing_written(city: City, ids: tuple[str, ...]) -> None:
    before = city.state()
    with pytest.raises(Invalid):
        bulk_work(city.uow, city.clock, BulkWork(ids, WorkRequest(city.who("dana"), "", WorkStep.ACKNOWLEDGE)))
    assert city.state() == before


def test_work__hold_then_start__due_date_moves_by_the_time_on_hold(city: City) -> None:
    rid = city.file()  # a pothole: 72 hours
    due = city.request(rid).expected_at
    assert due is not None
    dana = city.who("dana")
    work_request(city.uow, city.clock, WorkRequest(dana, rid, WorkStep.ACKNOWLEDGE))
    work_request(city.uow, city.clock, WorkRequest(dana, rid, WorkStep.HOLD, note="waiting for the gas company"))
    city.clock.advance(timedelta(hours=5))
    work_request(city.uow, city.clock, WorkRequest(dana, rid, WorkStep.START))
    assert city.request(rid).expected_at == due + timedelta(hours=5)
