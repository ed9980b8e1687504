"""The generated permission matrix over HTTP, on SQLite and PostgreSQL: API keys (app, a DOT back end, admin)
and signed-in staff accounts of every role call the real endpoints. Allowed cases answer 2xx; refused ones 403
with nothing written (every table's row count is unchanged).

Staff work (acknowledge, transfer, a partner's start, a liaison's check of a fix) is the staff workspace's forms:
signed-in accounts post the real form with the session's CSRF token; an allowed form answers with its redirect
back to the request page (POST, redirect, GET). Without a session (an API key, a resident) a form sends to the
sign-in page and writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from policy_cases import (
    CATALOG,
    LAYER,
    OTHER_BODY,
    OTHER_ORG,
    OWN_BODY,
    OWN_ORG,
    POINT_A,
    POINT_B,
    SQUARE_A,
    SQUARE_B,
    Case,
    cases,
)
from sqlalchemy import Engine

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.calendars import Calendar
from civicswitch.catalog.loader import load_catalog
from civicswitch.core.clock import FixedClock
from civicswitch.hub.handlers import add_connector, deliveries
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.people.links import FixedLinks, FollowLinks, StopLinks
from civicswitch.people.policy import OPERATOR, POLICY, Action, Reach, Role
from civicswitch.requests.commands import PartnerStep, PartnerWork, SubmitRequest, WorkRequest, WorkStep
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.requests.staff import assign_request
from civicswitch.requests.work import partner_work, work_request
from civicswitch.responses.handlers import SaveTemplate, save_template
from civicswitch.routing.geography import AreaIndex
from civicswitch.routing.intake import Geography
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from civicswitch.web.principals import session_secret
from row_counts import row_counts

PASSWORD = "correct horse battery staple"
KEY_ROLES = {Role.APP: "app", Role.BACKEND: "backend", Role.ADMIN: "admin"}
# Actions people reach only through the CLI on the server today (no HTTP endpoint yet): the memory matrix
# covers them.
# request.import: `civicswitch import`, on the server; metrics.read: `civicswitch metrics` (the dashboard is next)
CLI_ONLY = {Action.SETTINGS_MANAGE, Action.REQUEST_IMPORT, Action.METRICS_READ}
# A resident's reply to our mail reaches us by mail (hub/mailin: the SMTP listener, `civicswitch mail import`), not
# HTTP; the memory matrix covers it, tests/web/test_mail_in_end_to_end.py the listener.
MAIL_ONLY = {Action.REQUEST_REPLY}
# Actions whose endpoint is a staff page or form (web/admin.py): only a signed-in account reaches it. The admin
# role is tested as a signed-in admin account; an app, a back end or a resident has no account, so the page sends
# it to sign in (and writes nothing).
STAFF_PAGES = {
    Action.AGENT_SEARCH,  # web/agent.py: the agent console and the knowledge articles
    Action.CALL_LOG,
    Action.KNOWLEDGE_READ,
    Action.KNOWLEDGE_MANAGE,
    Action.TEMPLATE_MANAGE,
    Action.USER_MANAGE,
    Action.APIKEY_MANAGE,
    Action.CONNECTOR_MANAGE,
    Action.CATALOG_MANAGE,
    Action.ESCALATION_VIEW,
    Action.MAIL_TRIAGE,  # web/mail.py: the agent console's mail triage
}
# Staff work (requests/work.py) has no API endpoint: the staff workspace's forms (web/workspace.py) call it, with a
# session (an admin signs in for these rather than sending its key).
FORMS = {
    Action.REQUEST_WORK,
    Action.REQUEST_TRANSFER,
    Action.REQUEST_PARTNER_WORK,
    Action.REQUEST_VERIFY_FIX,
}
# The confirmation page takes no key and no session: whoever holds the signed link acts as a resident, so only
# the resident's case has an HTTP form (the memory matrix covers every role).
# Following an area is the residents' page only (no key, no session either): the page acts as a resident.
LINK_ONLY = {Action.FOLLOW_CONFIRM, Action.FOLLOW_STOP, Action.REQUEST_ANSWER, Action.AREA_FOLLOW}
# Open311 POSTs take API keys only: staff file and update through their workspace (next issue), not Open311.
KEYS_ONLY = {Action.REQUEST_SUBMIT, Action.REQUEST_UPDATE}


@dataclass
class City:
    client: TestClient
    engine: Engine
    ids: dict[str, str]
    tasks: dict[str, int]
    keys: dict[str, str]
    template: int = 0  # a response template for every service
    csrf: str = ""

    def counts(self) -> dict[str, int]:
        return row_counts(self.engine)


def _city(engine: Engine, clock: FixedClock, role: Role) -> City:
    uow = lambda: SqlUnitOfWork(engine)  # noqa: E731
    load_catalog(uow(), CATALOG)
    with uow() as u:
        u.catalog.add_layer_version(
            AreaLayer(LAYER, "key"), [Area(LAYER, "A", "A", SQUARE_A), Area(LAYER, "B", "B", SQUARE_B)], None
        )
        u.commit()
    geography = Geography(AreaIndex([Area(LAYER, "A", "A", SQUARE_A), Area(LAYER, "B", "B", SQUARE_B)]), LAYER)
    # The person under test, when a staff role: scope on the 'own' side (as policy_cases.principal).
    scope: dict[str, Any] = {
        Role.DEPARTMENT: {"bodies": (OWN_BODY,)},
        Role.PARTNER: {"org": OWN_ORG},
        Role.LIAISON: {"areas": (f"{LAYER}:A",)},
    }.get(role, {})
    staff_role = role if role not in (*KEY_ROLES, Role.RESIDENT) or role is Role.ADMIN else Role.AGENT
    user = add_user(uow(), clock, AddUser("me@city.gov", str(staff_role), password=PASSWORD, **scope)).user
    filer = user.principal() if role is Role.LIAISON else OPERATOR  # the liaison filed the 'own' requests
    ids: dict[str, str] = {}
    for name, service, (lat, long) in (
        ("own", "pothole", POINT_A),
        ("own2", "pothole", POINT_A),
        ("other", "graffiti", POINT_B),
        ("other2", "graffiti", POINT_B),
    ):
        who = filer if name.startswith("own") else OPERATOR
        cmd = SubmitRequest(
            service_code=service,
            api_key=None,
            lat=lat,
            long=long,
            principal=who,
            consent="yes",
            contact=Contact(email=f"{name}@example.org"),
        )
        rid = submit_request(uow(), clock, cmd, geography=geography).service_request_id
        assert rid is not None
        ids[name] = rid
    for name, org in (("own", OWN_ORG), ("own2", OWN_ORG), ("other", OTHER_ORG)):
        assign_request(uow(), clock, ids[name], org, who=OPERATOR)
    # a request closed as fixed: its filer's link from the closure mail answers "Is it fixed?"
    closed = submit_request(uow(), clock, SubmitRequest(
        service_code="pothole", api_key=None, lat=POINT_A[0], long=POINT_A[1], principal=OPERATOR,
        contact=Contact(email="closed@example.org")), geography=geography).service_request_id  # fmt: skip
    assert closed is not None
    ids["closed"] = closed
    work_request(uow(), clock, WorkRequest(OPERATOR, closed, WorkStep.CLOSE, "filled", close_reason="fixed"))
    # the partner reported the work on the second requests complete: a liaison may check those fixes on site
    for name in ("own2", "other2"):
        partner_work(uow(), clock, PartnerWork(OPERATOR, ids[name], PartnerStep.COMPLETE, "done"))
    tasks = {}
    for side, body in (("own", OWN_BODY), ("other", OTHER_BODY)):
        found = deliveries(uow(), manual=True, state="pending", body=body)
        tasks[side] = next(t.id for t in found if str(t.request_id) == ids[side])
    # for the admin pages' forms: a connector to disable and a calendar to add a holiday to
    add_connector(uow(), clock, code="dot-hook", kind="webhook", body=OWN_BODY,
                  config={"url": "https://dot.example.gov/hook"})  # fmt: skip
    with uow() as u:
        u.catalog.add_calendar(Calendar("city", "City hall"))
        u.commit()
    keys = {
        "app": create_client(uow(), clock, "App", frozenset({Scope.SUBMIT}))[1],
        "backend": create_client(uow(), clock, "DOT system", frozenset({Scope.UPDATE}), body_code=OWN_BODY)[1],
        "admin": create_client(uow(), clock, "Admin", frozenset({Scope.ADMIN}))[1],
    }
    made = save_template(uow(), clock, SaveTemplate(OPERATOR, "Thanks", "Thanks for reporting {address}.", "public"))
    assert made.id is not None
    settings = Settings(database_url="sqlite:///unused.db", coverage_layer=LAYER, jurisdiction_name="Matrixville")
    client = TestClient(create_app(settings, engine=engine, clock=clock), raise_server_exceptions=False)
    return City(client, engine, ids, tasks, keys, made.id)


def _sign_in(city: City) -> None:
    form = city.client.get("/staff/login")
    token = form.cookies.get("cs_login") or city.client.cookies.get("cs_login")
    reply = city.client.post(
        "/staff/login",
        data={"email": "me@city.gov", "password": PASSWORD, "csrf": token, "next": "/staff/me"},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    me = city.client.get("/api/v1/whoami")
    assert me.status_code == 200, me.text
    # the session's CSRF token, as the staff pages embed it
    page = city.client.get("/staff/me").text
    city.csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


Call = Callable[[City, dict[str, str], str], httpx.Response]


def _form(c: City, h: dict[str, str], data: dict[str, str]) -> dict[str, str]:
    return {**data, "api_key": h["X-Api-Key"]} if "X-Api-Key" in h else data


def _page_form(c: City, request: str, form: str, data: dict[str, str], photo: bool = False) -> httpx.Response:
    """A staff workspace form on a request, posted as the page does (with the session's CSRF token; a form with a
    photo field as multipart, no file chosen)."""
    files = {"photo": ("", b"", "application/octet-stream")} if photo else None
    return c.client.post(f"/staff/requests/{request}/{form}", data={**data, "csrf": c.csrf}, files=files,
                         follow_redirects=False)  # fmt: skip


CALLS: dict[Action, Call] = {
    Action.REQUEST_SUBMIT: lambda c, h, side: c.client.post(
        "/open311/v2/requests.json",
        data=_form(
            c,
            h,
            {
                "service_code": "pothole",
                "lat": (POINT_A if side == "own" else POINT_B)[0],
                "long": (POINT_A if side == "own" else POINT_B)[1],
            },
        ),
    ),
    Action.REQUEST_UPDATE: lambda c, h, side: c.client.post(
        "/open311/v2/servicerequestupdates.json",
        data=_form(
            c,
            h,
            {
                "service_request_id": c.ids[side],
                "update_id": "u1",
                "status": "IN_PROGRESS",
                "updated_datetime": "2026-11-28T12:01:00Z",
                "description": "crew sent",
            },
        ),
    ),
    # a resident (no key, no session) follows from the residents' report pages (web/report.py); others by the API
    Action.REQUEST_FOLLOW: lambda c, h, side: (
        c.client.post(f"/api/v1/requests/{c.ids[side]}/followers", json={"email": "n@example.org"}, headers=h)
        if h
        else c.client.post("/report/follow", data={"request_id": c.ids[side], "email": "n@example.org"})
    ),
    Action.REQUEST_CHANGE: lambda c, h, side: c.client.patch(
        f"/api/v1/requests/{c.ids[side]}",
        json={"note": "moved", "lat": 40.711, "long": -74.011 if side == "own" else -73.989},
        headers=h,
    ),
    Action.REQUEST_MERGE: lambda c, h, side: c.client.post(
        f"/api/v1/requests/{c.ids[side]}/merge", json={"into": c.ids[f"{side}2"]}, headers=h
    ),
    Action.REQUEST_ASSIGN: lambda c, h, side: c.client.post(
        f"/api/v1/requests/{c.ids[side]}/assign", json={"org": None}, headers=h
    ),
    Action.REQUEST_READ_CONTACT: lambda c, h, side: c.client.get(f"/api/v1/requests/{c.ids[side]}/contact", headers=h),
    Action.REQUEST_VIEW: lambda c, h, side: c.client.get(f"/api/v1/requests/{c.ids[side]}", headers=h),
    Action.MANUAL_LIST: lambda c, h, side: c.client.get(
        "/api/v1/manual", params={"body": OWN_BODY if side == "own" else OTHER_BODY}, headers=h
    ),
    Action.MANUAL_COMPLETE: lambda c, h, side: c.client.post(
        f"/api/v1/manual/{c.tasks[side]}/done", json={"minutes": 4, "by": "clerk"}, headers=h
    ),
    Action.DELIVERY_LIST: lambda c, h, side: c.client.get("/api/v1/deliveries", headers=h),
    Action.DELIVERY_REPLAY: lambda c, h, side: c.client.post("/api/v1/deliveries/replay", json={"ids": []}, headers=h),
    Action.CONNECTOR_HEALTH: lambda c, h, side: c.client.get("/api/v1/connectors/health", headers=h),
    Action.AUDIT_READ: lambda c, h, side: c.client.get("/api/v1/audit", headers=h),
    # the staff pages' forms (web/admin.py), posted with the session's CSRF token
    Action.USER_MANAGE: lambda c, h, side: c.client.post(
        "/staff/admin/users", data={"email": "new@city.gov", "role": "agent", "csrf": c.csrf}
    ),
    Action.APIKEY_MANAGE: lambda c, h, side: c.client.post(
        "/staff/admin/keys", data={"name": "New app", "scope": "submit", "csrf": c.csrf}
    ),
    Action.CONNECTOR_MANAGE: lambda c, h, side: c.client.post(
        "/staff/admin/connectors/dot-hook/disable", data={"csrf": c.csrf}
    ),
    Action.CATALOG_MANAGE: lambda c, h, side: c.client.post(
        "/staff/admin/calendars/holidays", data={"calendar": "city", "day": "2026-12-25", "name": "X", "csrf": c.csrf}
    ),
    Action.ESCALATION_VIEW: lambda c, h, side: c.client.get("/staff/escalations"),
    Action.MAIL_TRIAGE: lambda c, h, side: c.client.get("/staff/agent/mail"),
    Action.FOLLOW_CONFIRM: lambda c, h, side: c.client.post("/follow/confirm", data={"token": _link(c)}),
    Action.FOLLOW_STOP: lambda c, h, side: c.client.post("/follow/stop", data={"token": _stop_link(c)}),
    Action.AREA_FOLLOW: lambda c, h, side: c.client.post(
        "/follow/area", data={"area": "districts:A", "cadence": "daily", "email": "n@example.org"}
    ),
    Action.REQUEST_ANSWER: lambda c, h, side: c.client.post(
        f"/requests/{c.ids['closed']}/fixed", data={"token": _answer_link(c), "answer": "fixed"}
    ),
    Action.REQUEST_WORK: lambda c, h, side: _page_form(c, c.ids[side], "work", {"step": "acknowledge"}),
    Action.REQUEST_TRANSFER: lambda c, h, side: _page_form(
        c, c.ids[side], "transfer", {"body": OTHER_BODY if side == "own" else OWN_BODY, "reason": "not ours"}
    ),
    Action.REQUEST_PARTNER_WORK: lambda c, h, side: _page_form(
        c, c.ids[side], "partner", {"step": "start", "note": "crew on site"}, photo=True
    ),
    Action.REQUEST_VERIFY_FIX: lambda c, h, side: _page_form(
        c, c.ids[f"{side}2"], "verify", {"verdict": "confirmed", "note": "looks good"}, photo=True
    ),
    Action.AGENT_SEARCH: lambda c, h, side: c.client.post(
        "/staff/agent/search", data={"csrf": c.csrf, "q": "own@example.org"}
    ),
    Action.CALL_LOG: lambda c, h, side: c.client.post(
        "/staff/agent/calls", data={"csrf": c.csrf, "topic": "Trash day", "channel": "phone"}
    ),
    Action.KNOWLEDGE_READ: lambda c, h, side: c.client.get("/staff/knowledge", params={"q": "pothole"}),
    Action.KNOWLEDGE_MANAGE: lambda c, h, side: c.client.post(
        "/staff/knowledge/new",
        data={
            "csrf": c.csrf,
            "slug": "potholes",
            "title": "Potholes",
            "body": "Filled in 3 days.",
            "services": "pothole",
        },
    ),
    Action.TEMPLATE_MANAGE: lambda c, h, side: c.client.post(
        "/staff/admin/templates",
        data={
            "csrf": c.csrf,
            "name": "Crew scheduled",
            "service": "pothole",
            "visibility": "public",
            "body": "A crew will fix {address} by {due_date}.",
        },
    ),
}


# Actions with a staff page besides their API endpoint: the page is run through the same cases.
ALSO_PAGES: dict[Action, Call] = {
    Action.AUDIT_READ: lambda c, h, side: c.client.get(
        "/staff/admin/audit", params={"who": "me@city.gov", "action": "session.sign_in"}
    ),
    # "Use template" on the request page's note form: the note filled in from a response template (a read that
    # needs the note-adding permission on the request)
    Action.REQUEST_WORK: lambda c, h, side: c.client.get(
        f"/staff/requests/{c.ids[side]}/note", params={"template": str(c.template)}
    ),
}


def _stop_link(c: City) -> str:
    """A "stop these emails" link's token for the 'own' request's filer (as the outbox signs it)."""
    ctx = c.client.app.state.ctx  # type: ignore[attr-defined]
    return StopLinks(session_secret(ctx), "http://testserver").token(int(c.ids["own"]), "own@example.org")


def _answer_link(c: City) -> str:
    """An "Is it fixed?" link's token for the closed request's filer (as the outbox signs it)."""
    ctx = c.client.app.state.ctx  # type: ignore[attr-defined]
    return FixedLinks(session_secret(ctx), "http://testserver").token(int(c.ids["closed"]), "closed@example.org")


def _link(c: City) -> str:
    """A confirmation link's token for a follow of the 'own' request (made through the API, as a resident's app)."""
    app_key = {"X-Api-Key": c.keys["app"]}
    url = f"/api/v1/requests/{c.ids['own']}/followers"
    reply = c.client.post(url, json={"email": "n@example.org"}, headers=app_key)
    assert reply.status_code == 202, reply.text
    ctx = c.client.app.state.ctx  # type: ignore[attr-defined]
    links = FollowLinks(ctx.session_secret, "http://testserver")
    return links.token(int(c.ids["own"]), "n@example.org", ctx.clock.now())


def _http_cases() -> list[Case]:
    out = []
    for case in cases():
        if case.action in CLI_ONLY | MAIL_ONLY:
            continue
        if case.action in KEYS_ONLY and case.role not in KEY_ROLES:
            continue
        if case.action in LINK_ONLY and case.role is not Role.RESIDENT:
            continue
        out.append(case)
    return out


def test_http_matrix__every_action_has_an_endpoint_or_is_named_cli_only() -> None:
    assert set(CALLS) | CLI_ONLY | MAIL_ONLY == set(Action)


@pytest.fixture
def city_factory(database_url: str, clock: FixedClock) -> Iterator[Callable[[Role], City]]:
    from civicswitch.core.db import make_engine

    engine = make_engine(database_url)
    yield lambda role: _city(engine, clock, role)
    engine.dispose()


def _on_the_databases(found: list[Case]) -> list[Any]:
    """Every case on SQLite; on PostgreSQL the cases whose answer rests on the stored data (an allowed action: it
    reads and writes; a scoped one: the request's owner, area, organisation or filer decide). A role the table
    denies an action is refused by the policy before any store is read, the same on either database: those run
    once (they were a third of CI's time)."""
    out = []
    for case in found:
        out.append(pytest.param("sqlite", case, id=f"sqlite-{case.id}"))
        if case.allowed or POLICY[case.action].get(case.role) not in (None, Reach.ANY):
            out.append(pytest.param("postgres", case, id=f"postgres-{case.id}", marks=pytest.mark.postgres))
    return out


@pytest.mark.parametrize(("database_url", "case"), _on_the_databases(_http_cases()), indirect=["database_url"])
def test_policy_matrix__http__endpoint_allows_or_refuses_as_the_table_says(
    case: Case, city_factory: Callable[[Role], City]
) -> None:
    _run(city_factory(case.role), case, CALLS[case.action], page=case.action in STAFF_PAGES)


@pytest.mark.parametrize("case", [c for c in cases() if c.action in ALSO_PAGES], ids=lambda c: c.id)
def test_policy_matrix__http__staff_page_allows_or_refuses_as_the_table_says(
    case: Case, city_factory: Callable[[Role], City]
) -> None:
    _run(city_factory(case.role), case, ALSO_PAGES[case.action], page=True, form=False)


def _file_for_a_resident(c: City, h: dict[str, str], side: str) -> httpx.Response:
    """The staff filing form's last step (web/agent.py): a pothole at the side's point, filed on a resident's behalf
    with their consent (the channel is the agent's; a liaison's is always "liaison")."""
    lat, long = POINT_A if side == "own" else POINT_B
    data = {"csrf": c.csrf, "step": "file", "service_code": "pothole", "channel": "phone", "consent": "yes",
            "lat": str(lat), "long": str(long), "description": "Hole by the kerb"}  # fmt: skip
    return c.client.post("/staff/agent/file", data=data, follow_redirects=False)


@pytest.mark.parametrize(
    "case",
    [c for c in cases() if c.action is Action.REQUEST_SUBMIT and (c.role not in KEY_ROLES or c.role is Role.ADMIN)
     and c.role is not Role.RESIDENT],
    ids=lambda c: c.id,
)  # fmt: skip
def test_policy_matrix__http__staff_filing_page_allows_or_refuses_as_the_table_says(
    case: Case, city_factory: Callable[[Role], City]
) -> None:
    """Filing on a resident's behalf from the staff pages: signed in, each staff role, inside and outside its
    scope (a liaison's areas). Allowed: filed, and sent to the console (agents, admins) or the filing start page
    with the new number. Refused: 403, nothing written."""
    city = city_factory(case.role)
    with city.client:
        _sign_in(city)
        before = city.counts()
        reply = _file_for_a_resident(city, {}, "own" if case.side == "any" else case.side)
        if case.allowed:
            assert reply.status_code == 303, (reply.status_code, reply.text)
            assert "?done=filed&request=" in reply.headers["location"], reply.headers["location"]
            assert city.counts() != before
        else:
            assert reply.status_code == 403, (reply.status_code, reply.text)
            assert city.counts() == before, "a refused request wrote something"


def _run(city: City, case: Case, call: Call, *, page: bool, form: bool | None = None) -> None:
    """``page``: the call is a staff page or an admin form (it follows its redirect); staff work forms (FORMS, unless
    ``form`` says otherwise) are posted without following theirs. Both take a session only: an admin signs in
    rather than sending its key."""
    form = case.action in FORMS if form is None else form
    with city.client:
        if case.role in KEY_ROLES and not ((form or page) and case.role is Role.ADMIN):
            headers = {"X-Api-Key": city.keys[KEY_ROLES[case.role]]}
        elif case.role is Role.RESIDENT:
            headers = {}  # a member of the public: no key, no session (only a signed link, where one applies)
        else:
            _sign_in(city)
            headers = {"X-CSRF-Token": city.csrf}
        before = city.counts()
        reply = call(city, headers, "own" if case.side == "any" else case.side)
        signed_in = "X-CSRF-Token" in headers
        if case.allowed:
            if form:  # the form's redirect back to the request page, with what was done
                assert reply.status_code == 303, (reply.status_code, reply.text)
                assert reply.headers["location"].startswith("/staff/requests/"), reply.headers["location"]
                assert "?done=" in reply.headers["location"], reply.headers["location"]
            else:
                assert 200 <= reply.status_code < 300, (reply.status_code, reply.text)
        else:
            if form and not signed_in:  # a key or a resident: the form sends to the sign-in page
                assert reply.status_code == 303 and reply.headers["location"].startswith("/staff/login"), reply
            elif page and not signed_in:  # the same, followed: the sign-in page, never data
                assert reply.url.path == "/staff/login", (reply.status_code, reply.url)
            else:
                assert reply.status_code == 403, (reply.status_code, reply.text)
            assert city.counts() == before, "a refused request wrote something"


@pytest.mark.parametrize(
    "case", [c for c in cases() if c.action is Action.REQUEST_SUBMIT and c.role is Role.RESIDENT], ids=lambda c: c.id
)
def test_policy_matrix__http__residents_report_form_allows_or_refuses_as_the_table_says(
    case: Case, city_factory: Callable[[Role], City]
) -> None:
    """A member of the public (no key, no session) reports on the residents' form (web/report.py)."""
    city = city_factory(case.role)
    with city.client:
        before = city.counts()
        lat, long = POINT_A
        data = {"step": "anyway", "service_code": "pothole", "lat": str(lat), "long": str(long),
                "description": "Hole by the kerb", "attribute[size]": "small"}  # fmt: skip
        reply = city.client.post("/report", data=data, follow_redirects=False)
        if case.allowed:
            assert reply.status_code == 303 and reply.headers["location"].startswith("/report/sent/"), reply.text
            assert city.counts() != before
        else:
            assert reply.status_code == 403, (reply.status_code, reply.text)
            assert city.counts() == before, "a refused request wrote something"
