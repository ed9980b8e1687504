"""The escalation queue and the admin pages over HTTP (both databases): each page and form calls the CLI's use
case, is audited as the signed-in admin, shows a one-time password or a new key once, refuses every other role
with a 403 page and nothing written, and keeps what was typed when it refuses bad input."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.catalog.calendars import Calendar, Holiday
from civicswitch.core.clock import FixedClock
from civicswitch.hub.handlers import add_connector
from civicswitch.people import audit
from civicswitch.people.handlers import AddUser, add_user, audit_entries
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import SubmitRequest, TransferRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.requests.work import transfer_request
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from staff_client import csrf_of, sign_in

PASSWORD = "a long enough password"


@pytest.fixture
def staff(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> dict[str, int]:
    ids = {}
    for email, role, scope in (
        ("admin@city.gov", "admin", {}),
        ("exec@city.gov", "executive", {}),
        ("dot@city.gov", "department", {"bodies": ("DOT",)}),
        ("dsny@city.gov", "department", {"bodies": ("DSNY",)}),
        ("agent@city.gov", "agent", {}),
    ):
        cmd = AddUser(email, role, password=PASSWORD, name=email.split("@")[0].upper(), **scope)  # type: ignore[arg-type]
        user = add_user(SqlUnitOfWork(engine), clock, cmd).user
        assert user.id is not None
        ids[email] = user.id
    return ids


def _file(engine: Engine, clock: FixedClock, keys: dict[str, str], text: str, service: str = "pothole") -> str:
    answers = {"size": ["large"]} if service == "pothole" else {}
    cmd = SubmitRequest(service_code=service, api_key=keys["submit"], lat="40.71", long="-74.0", description=text,
                        attributes=answers, contact=Contact(email="rosa@example.org"))  # fmt: skip
    rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
    assert rid is not None
    return rid


def _count_audit(engine: Engine) -> int:
    return len(audit_entries(SqlUnitOfWork(engine, writing=False), limit=1000))


# -- escalations ----------------------------------------------------------------------------------------------------
def test_escalations__executive__bounced_and_overdue_requests_with_who_and_why(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], staff: dict[str, int]
) -> None:
    bounced = _file(engine, clock, keys, "Hole near the depot")
    late = _file(engine, clock, keys, "Hole by the school")  # 72 h target
    calm = _file(engine, clock, keys, "Paint on the bridge", "graffiti")
    dot = add_user(SqlUnitOfWork(engine), clock, AddUser("dot3@city.gov", "department", bodies=("DOT",),
                                                        password=PASSWORD)).user.principal()  # fmt: skip
    cmd = AddUser("dsny3@city.gov", "department", bodies=("DSNY",), password=PASSWORD, name="Sam Lee")
    dsny = add_user(SqlUnitOfWork(engine), clock, cmd).user.principal()
    transfer_request(SqlUnitOfWork(engine), clock, TransferRequest(dot, bounced, "DSNY", "looks like dumping"))
    transfer_request(SqlUnitOfWork(engine), clock, TransferRequest(dsny, bounced, "DOT", "it is a road defect"))
    clock.advance(timedelta(hours=72 + 49))
    sign_in(client, "exec@city.gov")
    page = client.get("/staff/escalations")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert "2 requests escalated" in text
    assert text.index(f'href="/staff/requests/{bounced}"') < text.index(f'href="/staff/requests/{late}"')
    assert f'href="/staff/requests/{calm}"' not in text
    assert "Bounced 2 times" in text and "Overdue by 2 days 1 h" in text
    assert "DOT → DSNY, by dot3@city.gov: “looks like dumping”" in text
    assert "DSNY → DOT, by Sam Lee: “it is a road defect”" in text
    assert "transferred between bodies 2 times or more, or overdue by more than 48 hours" in text


def test_escalations__thresholds_from_the_settings(
    engine: Engine, clock: FixedClock, keys: dict[str, str], staff: dict[str, int]
) -> None:
    late = _file(engine, clock, keys, "Hole by the school")
    clock.advance(timedelta(hours=72 + 2))
    settings = Settings(database_url="sqlite:///unused.db", escalation_bounces=0, escalation_overdue_hours=1)
    with TestClient(create_app(settings, engine=engine, clock=clock)) as client:
        sign_in(client, "admin@city.gov")
        text = client.get("/staff/escalations").text
    assert "1 request escalated" in text and f'href="/staff/requests/{late}"' in text
    assert "Overdue by 2 h 0 min" in text and "transferred between" not in text


@pytest.mark.parametrize("email", ["dot@city.gov", "agent@city.gov"])
def test_escalations__other_roles__403_page_without_data(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], staff: dict[str, int], email: str
) -> None:
    rid = _file(engine, clock, keys, "Hole near the depot")
    clock.advance(timedelta(days=30))
    sign_in(client, email)
    reply = client.get("/staff/escalations")
    assert reply.status_code == 403 and "may not escalation.view" in reply.text
    assert f"/staff/requests/{rid}" not in reply.text


def test_nav__admin_and_executive_links__only_for_their_roles(
    client: TestClient, staff: dict[str, int], app: FastAPI
) -> None:
    sign_in(client, "admin@city.gov")
    me = client.get("/staff/me").text
    assert 'href="/staff/escalations"' in me and 'href="/staff/admin/users"' in me
    with TestClient(app) as other:
        sign_in(other, "exec@city.gov")
        me = other.get("/staff/me").text
        assert 'href="/staff/escalations"' in me and 'href="/staff/admin/users"' not in me
    with TestClient(app) as other:
        sign_in(other, "dot@city.gov")
        me = other.get("/staff/me").text
        assert 'href="/staff/escalations"' not in me and 'href="/staff/admin/users"' not in me


# -- staff accounts --------------------------------------------------------------------------------------------------
def test_users__admin_adds_a_user__one_time_password_shown_once_and_it_signs_in(
    client: TestClient, engine: Engine, staff: dict[str, int], app: FastAPI
) -> None:
    csrf = sign_in(client, "admin@city.gov")
    reply = client.post("/staff/admin/users", data={"email": "New@City.gov", "name": "Nia", "role": "department",
                                                    "body": ["DSNY"], "csrf": csrf})  # fmt: skip
    assert reply.status_code == 200 and reply.headers["cache-control"] == "no-store"
    found = re.search(r'<code id="one-time-password"[^>]*>([^<]+)</code>', reply.text)
    assert found, reply.text
    password = found.group(1)
    assert "new@city.gov" in reply.text and "DSNY" in reply.text
    listing = client.get("/staff/admin/users").text
    assert password not in listing and "Active (one-time password)" in listing
    with TestClient(app) as nia:
        form = nia.get("/staff/login")
        signed = nia.post("/staff/login", data={"email": "new@city.gov", "password": password,
                                                "csrf": csrf_of(form.text)}, follow_redirects=False)  # fmt: skip
        assert signed.status_code == 303 and signed.headers["location"] == "/staff/password"
    (entry,) = audit_entries(SqlUnitOfWork(engine), action="user.manage", principal="admin@city.gov")
    assert entry.detail["op"] == "add" and entry.detail["email"] == "new@city.gov"
    assert entry.principal == f"staff:{staff['admin@city.gov']} admin@city.gov"


def test_users__refused_input__400_with_the_reason_and_the_form_kept(
    client: TestClient, engine: Engine, staff: dict[str, int]
) -> None:
    csrf = sign_in(client, "admin@city.gov")
    before = _count_audit(engine)
    reply = client.post("/staff/admin/users", data={"email": "clerk@city.gov", "name": "Clerk", "role": "department",
                                                    "csrf": csrf})  # fmt: skip
    assert reply.status_code == 400 and "role department needs --body" in reply.text
    assert 'value="clerk@city.gov"' in reply.text and "one-time-password" not in reply.text
    taken = client.post("/staff/admin/users", data={"email": "dot@city.gov", "role": "agent", "csrf": csrf})
    assert taken.status_code == 409 and "already exists" in taken.text
    assert _count_audit(engine) == before


def test_users__disable_and_reset_password__the_account_stops_then_gets_a_new_one_time_password(
    client: TestClient, engine: Engine, staff: dict[str, int], app: FastAPI
) -> None:
    with TestClient(app) as dot:
        sign_in(dot, "dot@city.gov")
        csrf = sign_in(client, "admin@city.gov")
        reset = client.post("/staff/admin/users/reset", data={"email": "dot@city.gov", "csrf": csrf})
        assert reset.status_code == 200 and 'id="one-time-password"' in reset.text
        assert dot.get("/staff/queue", follow_redirects=False).status_code == 303  # its session ended
        done = client.post("/staff/admin/users/disable", data={"email": "dot@city.gov", "csrf": csrf},
                           follow_redirects=False)  # fmt: skip
        assert done.status_code == 303 and done.headers["location"] == "/staff/admin/users?notice=disabled"
        listing = client.get(done.headers["location"]).text
        assert "The account is disabled" in listing and "Disabled 2026-11-28" in listing
    ops = [e.detail["op"] for e in audit_entries(SqlUnitOfWork(engine), action="user.manage") if e.object_id == str(
        staff["dot@city.gov"])]  # fmt: skip
    assert ops == ["add", "reset-password", "disable"]


def test_users__without_csrf__refused(client: TestClient, engine: Engine, staff: dict[str, int]) -> None:
    sign_in(client, "admin@city.gov")
    before = _count_audit(engine)
    reply = client.post("/staff/admin/users", data={"email": "x@city.gov", "role": "agent", "csrf": "forged"})
    assert reply.status_code == 403 and _count_audit(engine) == before


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/staff/admin/users", {"email": "x@city.gov", "role": "agent"}),
        ("/staff/admin/users/disable", {"email": "dsny@city.gov"}),
        ("/staff/admin/users/reset", {"email": "dsny@city.gov"}),
        ("/staff/admin/keys", {"name": "Sneaky", "scope": "admin"}),
        ("/staff/admin/keys/1/revoke", {}),
        ("/staff/admin/calendars/holidays", {"calendar": "city", "day": "2026-12-24", "name": "Eve"}),
        ("/staff/admin/calendars/holidays/remove", {"calendar": "city", "day": "2026-12-25"}),
        ("/staff/admin/connectors/dot-hook/disable", {}),
    ],
)
@pytest.mark.parametrize("email", ["exec@city.gov", "dot@city.gov"])
def test_admin_forms__other_roles__403_and_nothing_written(
    client: TestClient, engine: Engine, clock: FixedClock, staff: dict[str, int], path: str, form: dict[str, str],
    email: str,
) -> None:  # fmt: skip
    _calendar(engine)
    add_connector(SqlUnitOfWork(engine), clock, code="dot-hook", kind="webhook", body="DOT",
                  config={"url": "https://dot.example.gov/hook"})  # fmt: skip
    csrf = sign_in(client, email)
    before = _count_audit(engine)
    reply = client.post(path, data={**form, "csrf": csrf})
    assert reply.status_code == 403, reply.text
    assert "may not" in reply.text and "one-time-password" not in reply.text and "cs_" not in reply.text
    assert _count_audit(engine) == before


@pytest.mark.parametrize(
    "path", ["/staff/admin/users", "/staff/admin/keys", "/staff/admin/connectors", "/staff/admin/calendars",
             "/staff/admin/audit"]
)  # fmt: skip
def test_admin_pages__executive__403_page(client: TestClient, staff: dict[str, int], path: str) -> None:
    sign_in(client, "exec@city.gov")
    reply = client.get(path)
    assert reply.status_code == 403 and "may not" in reply.text
    assert "dot@city.gov" not in reply.text


def test_admin_pages__not_signed_in__sent_to_sign_in(client: TestClient) -> None:
    reply = client.get("/staff/admin/keys", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/staff/login?next=/staff/admin/keys"


# -- API keys --------------------------------------------------------------------------------------------------------
def test_keys__create_shows_the_key_once_it_works_then_revoke_stops_it(
    client: TestClient, engine: Engine, staff: dict[str, int]
) -> None:
    csrf = sign_in(client, "admin@city.gov")
    reply = client.post("/staff/admin/keys", data={"name": "Street app", "scope": "submit", "csrf": csrf})
    assert reply.status_code == 200
    found = re.search(r'<code id="new-key"[^>]*>(cs_[^<]+)</code>', reply.text)
    assert found, reply.text
    key = found.group(1)
    assert client.get("/staff/admin/keys").text.count(key) == 0
    with TestClient(client.app) as app_client:
        assert app_client.get("/api/v1/whoami", headers={"X-Api-Key": key}).json()["role"] == "app"
        with SqlUnitOfWork(engine, writing=False) as uow:
            client_id = next(c.id for c in uow.clients.all() if c.name == "Street app")
        revoked = client.post(f"/staff/admin/keys/{client_id}/revoke", data={"csrf": csrf}, follow_redirects=False)
        assert revoked.status_code == 303
        assert app_client.get("/api/v1/whoami", headers={"X-Api-Key": key}).status_code == 403
    page = client.get("/staff/admin/keys?notice=revoked").text
    assert "The key is revoked" in page and "Revoked 2026-11-28" in page
    mine = f"staff:{staff['admin@city.gov']}"
    ops = [e.detail["op"] for e in audit_entries(SqlUnitOfWork(engine), action="apikey.manage", principal=mine)]
    assert ops == ["create", "revoke"]


def test_keys__update_key_without_body__400_with_the_reason(client: TestClient, staff: dict[str, int]) -> None:
    csrf = sign_in(client, "admin@city.gov")
    reply = client.post("/staff/admin/keys", data={"name": "DOT system", "scope": "update", "csrf": csrf})
    assert reply.status_code == 400 and "an update key belongs to a body" in reply.text
    ok = client.post("/staff/admin/keys", data={"name": "DOT system", "scope": "update", "body": "DOT", "csrf": csrf})
    assert ok.status_code == 200 and 'id="new-key"' in ok.text


# -- connectors ------------------------------------------------------------------------------------------------------
def test_connectors__list_with_health__disable_and_enable(
    client: TestClient, engine: Engine, clock: FixedClock, staff: dict[str, int]
) -> None:
    add_connector(SqlUnitOfWork(engine), clock, code="dot-hook", kind="webhook", body="DOT",
                  config={"url": "https://dot.example.gov/hook"})  # fmt: skip
    csrf = sign_in(client, "admin@city.gov")
    page = client.get("/staff/admin/connectors").text
    assert "dot-hook" in page and "webhook" in page and 'aria-label="Disable dot-hook"' in page
    done = client.post("/staff/admin/connectors/dot-hook/disable", data={"csrf": csrf})
    assert done.status_code == 200 and "Connector disabled" in done.text
    assert "<strong>Disabled</strong>" in done.text and 'aria-label="Enable dot-hook"' in done.text
    again = client.post("/staff/admin/connectors/dot-hook/enable", data={"csrf": csrf})
    assert "Connector enabled" in again.text and 'aria-label="Disable dot-hook"' in again.text
    ops = [e.detail["op"] for e in audit_entries(SqlUnitOfWork(engine), action="connector.manage") if e.principal
           .startswith("staff:")]  # fmt: skip
    assert ops == ["disable", "enable"]
    missing = client.post("/staff/admin/connectors/nope/disable", data={"csrf": csrf})
    assert missing.status_code == 404 and "does not exist" in missing.text


# -- calendars -------------------------------------------------------------------------------------------------------
def _calendar(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.catalog.add_calendar(Calendar("city", "City hall", holidays=(Holiday(date(2026, 12, 25), "Christmas"),)))
        uow.commit()


def test_calendars__add_and_remove_a_holiday(client: TestClient, engine: Engine, staff: dict[str, int]) -> None:
    _calendar(engine)
    csrf = sign_in(client, "admin@city.gov")
    page = client.get("/staff/admin/calendars").text
    assert "City hall" in page and "2026-12-25" in page and "Christmas" in page
    added = client.post("/staff/admin/calendars/holidays",
                        data={"calendar": "city", "day": "2027-01-01", "name": "New Year", "csrf": csrf})  # fmt: skip
    assert added.status_code == 200 and "Holiday saved" in added.text and "New Year" in added.text
    removed = client.post("/staff/admin/calendars/holidays/remove",
                          data={"calendar": "city", "day": "2026-12-25", "csrf": csrf})  # fmt: skip
    assert "Holiday removed" in removed.text and "Christmas" not in removed.text
    with SqlUnitOfWork(engine, writing=False) as uow:
        stored = uow.catalog.calendar("city")
    assert stored is not None and [h.name for h in stored.holidays] == ["New Year"]
    bad = client.post("/staff/admin/calendars/holidays",
                      data={"calendar": "city", "day": "01/02/2027", "name": "X", "csrf": csrf})  # fmt: skip
    assert bad.status_code == 400 and "a date is YYYY-MM-DD" in bad.text
    ops = [e.detail["op"] for e in audit_entries(SqlUnitOfWork(engine), action="catalog.manage")]
    assert ops == ["add_holiday", "remove_holiday"]


# -- the audit log ---------------------------------------------------------------------------------------------------
def test_audit__filters_by_who_action_request_and_dates(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], staff: dict[str, int]
) -> None:
    rid = _file(engine, clock, keys, "Hole near the depot")
    clock.advance(timedelta(days=3))
    sign_in(client, "dot@city.gov")  # a sign-in three days later
    csrf = sign_in(client, "admin@city.gov")
    client.post(f"/staff/requests/{rid}/contact", data={"reason": "call back", "csrf": csrf})

    def ids(**params: str) -> list[str]:
        reply = client.get("/staff/admin/audit", params=params)
        assert reply.status_code == 200, reply.text
        return re.findall(r"<tr>\s*<td>(\d+)</td>", reply.text)

    everything = ids()
    assert everything == sorted(everything, key=int, reverse=True) and len(everything) >= 8
    by_admin = ids(who="admin@city.gov")
    page = client.get("/staff/admin/audit", params={"who": "admin@city.gov"}).text
    assert by_admin and "dot@city.gov</td>" not in page
    assert len(ids(action="request.read_contact")) == 1
    assert ids(request=rid) == ids(action="request.read_contact")
    today = (clock.now()).date().isoformat()
    recent = ids(**{"from": today, "to": today})
    assert set(recent) < set(everything) and len(ids(action="session.sign_in", **{"from": today})) == 2
    assert ids(**{"to": (clock.now() - timedelta(days=10)).date().isoformat()}) == []
    unknown = client.get("/staff/admin/audit", params={"who": "nobody@city.gov"})
    assert unknown.status_code == 404 and "no staff account" in unknown.text
    backwards = client.get("/staff/admin/audit", params={"from": today, "to": "2020-01-01"})
    assert backwards.status_code == 400 and "must come after its start" in backwards.text


def test_audit__paged__older_entries_continue_from_the_last_one(
    client: TestClient, engine: Engine, clock: FixedClock, staff: dict[str, int]
) -> None:
    with SqlUnitOfWork(engine) as uow:
        for i in range(60):
            audit.record(uow, clock.now(), OPERATOR, "catalog.manage", "calendar", f"c{i}")
        uow.commit()
    sign_in(client, "admin@city.gov")
    first = client.get("/staff/admin/audit")
    rows = re.findall(r"<tr>\s*<td>(\d+)</td>", first.text)
    assert len(rows) == 50
    older = re.search(r'<a href="([^"]+)">Older entries</a>', first.text)
    assert older, first.text
    second = client.get(older.group(1).replace("&amp;", "&"))
    more = re.findall(r"<tr>\s*<td>(\d+)</td>", second.text)
    assert more and int(more[0]) == int(rows[-1]) - 1 and "Newest entries" in second.text


def test_users__disable_self__refused(client: TestClient, engine: Engine, staff: dict[str, int]) -> None:
    csrf = sign_in(client, "admin@city.gov")
    before = _count_audit(engine)
    reply = client.post("/staff/admin/users/disable", data={"email": "Admin@city.gov", "csrf": csrf})
    assert reply.status_code == 400 and "cannot disable your own account" in reply.text
    assert _count_audit(engine) == before and client.get("/staff/admin/users").status_code == 200
