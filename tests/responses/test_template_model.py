"""Response templates: placeholders checked at save (unknown names and unbalanced braces refused, with the name or
the place), filled in from a request, and the use cases' permissions (admins keep them, staff who may add a note
fill them in; filling writes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import Forbidden, Invalid, NotFound
from civicswitch.people.policy import OPERATOR, Action, Principal, Role
from civicswitch.requests.commands import AddNote, SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.work import add_note
from civicswitch.responses.handlers import (
    SaveTemplate,
    delete_template,
    fill_note,
    list_templates,
    note_templates,
    save_template,
)
from civicswitch.responses.model import PLACEHOLDERS, ResponseTemplate, check_placeholders, fill
from civicswitch.storage.memory import MemoryUnitOfWork

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")
CATALOG = {
    "bodies": [{"code": "DOT", "name": "Department of Transportation"}, {"code": "DSNY", "name": "Sanitation"}],
    "services": [
        {"code": "pothole", "name": "Pothole", "body": "DOT", "sla_hours": 72, "attributes": []},
        {"code": "graffiti", "name": "Graffiti", "body": "DSNY", "attributes": []},
    ],
}
DOT_CLERK = Principal(kind="staff", name="dot@city.gov", role=Role.DEPARTMENT, bodies=frozenset({"DOT"}), user_id=7)
AGENT = Principal(kind="staff", name="agent@city.gov", role=Role.AGENT, user_id=8)


# -- placeholders -----------------------------------------------------------------------------------------------------
def test_check_placeholders__known_names__returned_in_order() -> None:
    text = "Request {request_id} ({service_name}) at {address} is {status}, due {due_date}, owner {body_name}."
    assert check_placeholders(text) == list(PLACEHOLDERS)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("We fixed it at {adress}.", "unknown placeholder {adress} at line 1, column 16"),
        ("Hello {First Name}", "unknown placeholder {First Name}"),
        ("Due {}", "unknown placeholder {} at line 1, column 5"),
        ("Due {due_date", "an unbalanced “{” at line 1, column 5"),
        ("Fixed}\nthanks", "an unbalanced “}” at line 1, column 6"),
        ("ok\n  {status} {{ {", "an unbalanced “{” at line 2, column 15"),
    ],
)
def test_check_placeholders__unknown_or_unbalanced__refused_naming_it(text: str, said: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_placeholders(text)
    assert said in refused.value.description and refused.value.field == "body"


def test_check_placeholders__unknown__message_lists_the_known_ones() -> None:
    with pytest.raises(Invalid) as refused:
        check_placeholders("{name}")
    assert all(f"{{{name}}}" in refused.value.description for name in PLACEHOLDERS)


def test_fill__placeholders_replaced_and_doubled_braces_kept_as_one() -> None:
    filled = fill("{{note}} {address}: {status}{{x}}", {"address": "1 Main St", "status": "closed"})
    assert filled == "{note} 1 Main St: closed{x}"


def test_fill__a_value_with_braces__is_not_filled_again() -> None:
    assert fill("at {address}", {"address": "{status}"}) == "at {status}"


def test_template__bad_text__refused_when_made() -> None:
    with pytest.raises(Invalid, match=r"unknown placeholder \{when\}"):
        ResponseTemplate("Fixed", "Fixed {when}", True, None, NOW, "admin")


# -- use cases ------------------------------------------------------------------------------------------------------
@pytest.fixture
def uow() -> MemoryUnitOfWork:
    u = MemoryUnitOfWork()
    load_catalog(u, CATALOG)
    return u


def _file(uow: MemoryUnitOfWork, clock: FixedClock, service: str, address: str | None = "12 Elm Street") -> str:
    cmd = SubmitRequest(service_code=service, api_key=None, lat="40.71", long="-74.0", address_string=address,
                        principal=OPERATOR)  # fmt: skip
    rid = submit_request(uow, clock, cmd).service_request_id
    assert rid is not None
    return rid


def _save(uow: MemoryUnitOfWork, clock: FixedClock, name: str, body: str, service: str = "",
          visibility: str = "public", who: Principal = OPERATOR) -> ResponseTemplate:  # fmt: skip
    return save_template(uow, clock, SaveTemplate(who, name, body, visibility, service))


def test_save_template__admin__stored_and_audited(uow: MemoryUnitOfWork) -> None:
    clock = FixedClock(NOW)
    saved = _save(uow, clock, "  Crew  scheduled ", "A crew will fix {address} by {due_date}.", "pothole")
    assert (saved.name, saved.service_code, saved.public, saved.updated_by) == (
        "Crew scheduled", "pothole", True, OPERATOR.label)  # fmt: skip
    entry = uow.db.audit[-1]
    assert (entry.action, entry.object_type, entry.object_id) == (Action.TEMPLATE_MANAGE, "response_template",
                                                                   str(saved.id))  # fmt: skip
    assert entry.detail == {"op": "add", "name": "Crew scheduled", "service": "pothole", "public": True}


@pytest.mark.parametrize(
    ("name", "body", "service", "visibility", "field"),
    [
        ("Bad", "Fixed by {when}", "", "public", "body"),
        ("Bad", "Fixed {", "", "public", "body"),
        ("", "Fixed", "", "public", "name"),
        ("Bad", "   ", "", "public", "body"),
        ("Bad", "Fixed", "no-such-service", "public", "service"),
        ("Bad", "Fixed", "", "everyone", "visibility"),
    ],
)
def test_save_template__bad_input__refused_with_its_field_and_nothing_written(
    uow: MemoryUnitOfWork, name: str, body: str, service: str, visibility: str, field: str
) -> None:
    before = uow.committed
    with pytest.raises((Invalid, NotFound)) as refused:
        _save(uow, FixedClock(NOW), name, body, service, visibility)
    assert refused.value.field == field
    assert uow.committed == before and uow.db.responses.templates == {}


def test_save_template__name_taken__refused(uow: MemoryUnitOfWork) -> None:
    clock = FixedClock(NOW)
    _save(uow, clock, "Fixed", "Fixed.")
    with pytest.raises(Invalid, match="taken by another template"):
        _save(uow, clock, "Fixed", "Fixed again.")


def test_save_template__edit__replaces_it(uow: MemoryUnitOfWork) -> None:
    clock = FixedClock(NOW)
    first = _save(uow, clock, "Fixed", "Fixed.")
    clock.advance(timedelta(hours=1))
    cmd = SaveTemplate(OPERATOR, "Fixed", "Fixed at {address}.", "internal", "graffiti", first.id)
    edited = save_template(uow, clock, cmd)
    assert edited.id == first.id
    assert (edited.body, edited.public, edited.service_code) == ("Fixed at {address}.", False, "graffiti")
    assert list_templates(uow, OPERATOR) == [edited] and uow.db.audit[-1].detail["op"] == "edit"


def test_delete_template__gone_and_audited(uow: MemoryUnitOfWork) -> None:
    clock = FixedClock(NOW)
    saved = _save(uow, clock, "Fixed", "Fixed.")
    assert saved.id is not None
    delete_template(uow, clock, OPERATOR, saved.id)
    assert list_templates(uow, OPERATOR) == []
    assert uow.db.audit[-1].detail == {"op": "delete", "name": "Fixed", "service": None}
    with pytest.raises(NotFound):
        delete_template(uow, clock, OPERATOR, saved.id)


@pytest.mark.parametrize("who", [DOT_CLERK, AGENT])
def test_manage__not_admin__forbidden_and_nothing_written(uow: MemoryUnitOfWork, who: Principal) -> None:
    clock = FixedClock(NOW)
    before = uow.committed
    with pytest.raises(Forbidden):
        _save(uow, clock, "Fixed", "Fixed.", who=who)
    with pytest.raises(Forbidden):
        list_templates(uow, who)
    assert uow.committed == before


def test_note_templates__the_services_and_the_all_services_ones_by_name(uow: MemoryUnitOfWork) -> None:
    clock = FixedClock(NOW)
    _save(uow, clock, "Thanks", "Thank you for reporting it.")
    _save(uow, clock, "Crew scheduled", "A crew is on its way.", "pothole")
    _save(uow, clock, "Paint booked", "Painters are booked.", "graffiti")
    rid = _file(uow, clock, "pothole")
    assert [t.name for t in note_templates(uow, DOT_CLERK, rid)] == ["Crew scheduled", "Thanks"]


def test_fill_note__placeholders_from_the_request_in_local_time(uow: MemoryUnitOfWork) -> None:
    clock = FixedClock(NOW)
    body = "#{request_id} {service_name} at {address} is {status}; due {due_date}. {body_name}"
    saved = _save(uow, clock, "Everything", body, "pothole", "internal")
    assert saved.id is not None
    rid = _file(uow, clock, "pothole")
    before = uow.committed
    filled = fill_note(uow, DOT_CLERK, rid, saved.id, NEW_YORK)
    # filed 15:00 UTC on 7 December with a 72 h target: due 10 December, 10:00 in New York
    assert filled.text == (f"#{rid} Pothole at 12 Elm Street is new; due 10 December 2026. "
                           "Department of Transportation")  # fmt: skip
    assert filled.public is False and filled.template == saved
    assert uow.committed == before  # a read


def test_fill_note__no_address_or_target__the_coordinates_and_not_set(uow: MemoryUnitOfWork) -> None:
    clock = FixedClock(NOW)
    saved = _save(uow, clock, "Where", "{address}, due {due_date}")
    assert saved.id is not None
    rid = _file(uow, clock, "graffiti", address=None)
    admin = Principal(kind="staff", name="admin@city.gov", role=Role.ADMIN, user_id=1)
    assert fill_note(uow, admin, rid, saved.id, NEW_YORK).text == "40.71000, -74.00000, due not set"


def test_fill_note__template_of_another_service__refused(uow: MemoryUnitOfWork) -> None:
    clock = FixedClock(NOW)
    saved = _save(uow, clock, "Paint booked", "Painters are booked.", "graffiti")
    assert saved.id is not None
    rid = _file(uow, clock, "pothole")
    with pytest.raises(Invalid, match="for another service"):
        fill_note(uow, DOT_CLERK, rid, saved.id, NEW_YORK)
    with pytest.raises(NotFound):
        fill_note(uow, DOT_CLERK, rid, 999, NEW_YORK)


@pytest.mark.parametrize("who", [AGENT, Principal(kind="staff", name="dsny@city.gov", role=Role.DEPARTMENT,
                                                   bodies=frozenset({"DSNY"}), user_id=9)])  # fmt: skip
def test_fill_note__without_request_work_on_it__forbidden(uow: MemoryUnitOfWork, who: Principal) -> None:
    clock = FixedClock(NOW)
    saved = _save(uow, clock, "Thanks", "Thank you.")
    assert saved.id is not None
    rid = _file(uow, clock, "pothole")
    with pytest.raises(Forbidden):
        fill_note(uow, who, rid, saved.id, NEW_YORK)
    with pytest.raises(Forbidden):
        note_templates(uow, who, rid)


def test_filled_note__added_through_the_add_note_use_case(uow: MemoryUnitOfWork) -> None:
    clock = FixedClock(NOW)
    saved = _save(uow, clock, "Crew scheduled", "A crew will fix the pothole at {address}.", "pothole")
    assert saved.id is not None
    rid = _file(uow, clock, "pothole")
    filled = fill_note(uow, DOT_CLERK, rid, saved.id, NEW_YORK)
    add_note(uow, clock, AddNote(DOT_CLERK, rid, filled.text + " Thanks!", public=filled.public))
    events = uow.db.events[int(rid)]
    assert events[-1].description == "A crew will fix the pothole at 12 Elm Street. Thanks!" and events[-1].public
