"""The permission matrix, generated from the policy table: every action × every role × a request (or body) in
the principal's scope and one outside it. Each case runs the action through its real use case, so a use case
that forgets to ask the policy, asks about the wrong request, or asks the wrong action fails its cases.

A new action in ``people/policy.py`` needs an entry in ``INVOKERS`` here: ``test_every_action_has_an_invoker``
fails until it has one.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import shapely

from civicswitch.agent.handlers import LogCall, SaveArticle, knowledge_articles, log_call, save_article, search_callers
from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.loader import load_catalog
from civicswitch.catalog.settings import set_settings
from civicswitch.core.clock import FixedClock
from civicswitch.hub.area_follows import FollowArea, follow_area
from civicswitch.hub.handlers import add_connector, complete_manual, deliveries, health, replay
from civicswitch.hub.mailin.handlers import add_reply, triage_queue
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.people.handlers import AddUser, add_user, audit_entries
from civicswitch.people.links import AreaLinks, FixedLinks, FollowLinks, StopLinks
from civicswitch.people.policy import POLICY, Action, Principal, Reach, Role
from civicswitch.requests.answers import answer_fix
from civicswitch.requests.commands import (
    AnswerFix,
    ChangeRequest,
    ConfirmFollow,
    FollowRequest,
    MergeRequests,
    PartnerStep,
    PartnerWork,
    PostUpdate,
    StopUpdates,
    SubmitRequest,
    TransferRequest,
    Verdict,
    VerifyFix,
    WorkRequest,
    WorkStep,
)
from civicswitch.requests.escalation import EscalationRule, escalation_queue
from civicswitch.requests.handlers import post_update, submit_request
from civicswitch.requests.imports.mapping import parse_mapping
from civicswitch.requests.imports.run import ImportHistory, import_history
from civicswitch.requests.metrics import MetricsQuery, volume
from civicswitch.requests.model import Contact
from civicswitch.requests.queue import staff_request
from civicswitch.requests.staff import (
    assign_request,
    change_request,
    confirm_follow,
    follow_request,
    merge_requests,
    read_contact,
    stop_updates,
)
from civicswitch.requests.work import partner_work, transfer_request, verify_fix, work_request
from civicswitch.responses.handlers import SaveTemplate, save_template
from civicswitch.routing.geography import AreaIndex
from civicswitch.routing.intake import Geography
from civicswitch.storage.memory import MemoryUnitOfWork

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LAYER = "districts"
# Two squares side by side: district A (DOT's pothole, the principal's scope) and B (DSNY's graffiti, not).
SQUARE_A = shapely.box(-74.02, 40.70, -74.00, 40.72)
SQUARE_B = shapely.box(-74.00, 40.70, -73.98, 40.72)
POINT_A = ("40.71", "-74.01")
POINT_B = ("40.71", "-73.99")
OWN_BODY, OTHER_BODY = "DOT", "DSNY"
OWN_ORG, OTHER_ORG = "FIXIT", "ELSEWHERE"
STAFF_ID = 41  # the user id of the principal under test (the liaison who filed the own requests)

CATALOG: dict[str, Any] = {
    "bodies": [
        {"code": "DOT", "name": "Department of Transportation"},
        {"code": "DSNY", "name": "Department of Sanitation"},
        {"code": "FIXIT", "name": "Fixit Contractors", "kind": "partner"},
        {"code": "ELSEWHERE", "name": "Elsewhere Non-profit", "kind": "partner"},
    ],
    "services": [
        {"code": "pothole", "name": "Pothole", "body": "DOT", "sla_hours": 72, "attributes": []},
        {"code": "graffiti", "name": "Graffiti", "body": "DSNY", "attributes": []},
    ],
}

ROLES = [*Role]


def principal(role: Role) -> Principal:
    """A principal of ``role`` whose scope is the 'own' side: body DOT, organisation FIXIT, district A."""
    kind = "client" if role in (Role.APP, Role.BACKEND) else "link" if role is Role.RESIDENT else "staff"
    return Principal(
        kind=kind,
        name=f"{role} under test",
        role=role,
        bodies=frozenset({OWN_BODY}) if role in (Role.DEPARTMENT, Role.BACKEND) else frozenset(),
        org=OWN_ORG if role is Role.PARTNER else None,
        areas=frozenset({(LAYER, "A")}) if role is Role.LIAISON else frozenset(),
        client_id=900 if kind == "client" else None,
        user_id=STAFF_ID if kind == "staff" else None,
    )


ADMIN = Principal(kind="operator", name="setup", role=Role.ADMIN)
FOLLOWER = "follower@example.org"
LINKS = FollowLinks("matrix-secret-" * 4, "https://matrix.example.gov")
STOPS = StopLinks("matrix-secret-" * 4, "https://matrix.example.gov")
ANSWERS = FixedLinks("matrix-secret-" * 4, "https://matrix.example.gov")
AREAS = AreaLinks("matrix-secret-" * 4, "https://matrix.example.gov")
CLOSED_FILER = "closed@example.org"
FILER = dataclasses.replace(principal(Role.LIAISON), name="the liaison who filed")


@dataclass
class World:
    """A fresh in-memory city with two requests on each side and a manual bridge task each."""

    uow: MemoryUnitOfWork
    clock: FixedClock
    geography: Geography
    ids: dict[str, str]  # own, own2, other, other2 → service_request_id
    tasks: dict[str, int]  # own, other → manual bridge task id

    def writes(self) -> int:
        return self.uow.committed


def world() -> World:
    uow = MemoryUnitOfWork()
    clock = FixedClock(NOW)
    load_catalog(uow, CATALOG)
    with uow:
        uow.catalog.add_layer_version(
            AreaLayer(LAYER, "key"),
            [Area(LAYER, "A", "District A", SQUARE_A), Area(LAYER, "B", "District B", SQUARE_B)],
            None,
        )
        uow.commit()
    geography = Geography(AreaIndex([Area(LAYER, "A", "A", SQUARE_A), Area(LAYER, "B", "B", SQUARE_B)]), LAYER)
    ids = {}
    for name, service, (lat, long), who in (
        ("own", "pothole", POINT_A, FILER),
        ("own2", "pothole", POINT_A, FILER),
        ("other", "graffiti", POINT_B, ADMIN),
        ("other2", "graffiti", POINT_B, ADMIN),
    ):
        cmd = SubmitRequest(service_code=service, api_key=None, lat=lat, long=long, principal=who, consent="yes",
                            contact=Contact(email=f"{name}@example.org"))  # fmt: skip
        rid = submit_request(uow, clock, cmd, geography=geography).service_request_id
        assert rid is not None
        ids[name] = rid
    assign_request(uow, clock, ids["own"], OWN_ORG, who=ADMIN)
    assign_request(uow, clock, ids["own2"], OWN_ORG, who=ADMIN)
    assign_request(uow, clock, ids["other"], OTHER_ORG, who=ADMIN)
    tasks = {}
    for side, body in (("own", OWN_BODY), ("other", OTHER_BODY)):
        found = deliveries(uow, manual=True, state="pending", body=body, who=ADMIN)
        tasks[side] = next(t.id for t in found if str(t.request_id) == ids[side])
    # the partner reported the work on the second requests complete: a liaison may check those fixes on site
    for name in ("own2", "other2"):
        partner_work(uow, clock, PartnerWork(ADMIN, ids[name], PartnerStep.COMPLETE, "done"))
    # a request closed as fixed: its filer's link from the closure mail answers "Is it fixed?"
    cmd = SubmitRequest(service_code="pothole", api_key=None, lat=POINT_A[0], long=POINT_A[1], principal=ADMIN,
                        contact=Contact(email=CLOSED_FILER))  # fmt: skip
    closed = submit_request(uow, clock, cmd, geography=geography).service_request_id
    assert closed is not None
    ids["closed"] = closed
    work_request(uow, clock, WorkRequest(ADMIN, closed, WorkStep.CLOSE, "filled", close_reason="fixed"))
    # someone follows the 'own' request by email, unconfirmed: the resident's link confirms it
    follow_request(uow, clock, FollowRequest(None, ids["own"], Contact(email=FOLLOWER), principal=ADMIN))
    clock.advance(timedelta(minutes=5))
    return World(uow, clock, geography, ids, tasks)


Invoker = Callable[[World, Principal, str], object]


def _submit(w: World, p: Principal, side: str) -> object:
    lat, long = POINT_A if side == "own" else POINT_B
    cmd = SubmitRequest(service_code="pothole", api_key=None, lat=lat, long=long, principal=p, consent="agreed")
    return submit_request(w.uow, w.clock, cmd, geography=w.geography)


def _update(w: World, p: Principal, side: str) -> object:
    cmd = PostUpdate(None, w.ids[side], f"u-{side}", "IN_PROGRESS", w.clock.now(), "crew sent", principal=p)
    return post_update(w.uow, w.clock, cmd)


def _manual_list(w: World, p: Principal, side: str) -> object:
    return deliveries(w.uow, manual=True, body=OWN_BODY if side == "own" else OTHER_BODY, who=p)


def _connector(w: World, p: Principal, side: str) -> object:
    return add_connector(w.uow, w.clock, code="dot-hook", kind="webhook", body=OWN_BODY,
                         config={"url": "https://dot.example.gov/hook"}, who=p)  # fmt: skip


def _catalog(w: World, p: Principal, side: str) -> object:
    return load_catalog(w.uow, {"bodies": [{"code": "NEW", "name": "New body"}], "services": []}, who=p)


def _import_history(w: World, p: Principal, side: str) -> object:
    export = Path(tempfile.mkdtemp()) / "export.json"
    export.write_text(json.dumps([{"service_request_id": "H-1", "service_code": "pothole",
                                   "requested_datetime": "2024-01-02T03:04:05Z", "address": "1 Main St"}]))  # fmt: skip
    mapping = parse_mapping({"source": "history", "format": "open311", "columns": {
        "id": "service_request_id", "service": "service_code", "requested_at": "requested_datetime",
        "address": "address"}})  # fmt: skip
    return import_history(w.uow, ImportHistory([export], mapping, p))


def _settings(w: World, p: Principal, side: str) -> object:
    return set_settings(w.uow, w.clock, {"jurisdiction_name": "Renamed"}, who=p)


def _user(w: World, p: Principal, side: str) -> object:
    return add_user(w.uow, w.clock, AddUser("new@city.gov", "agent", password="a long enough password"), who=p)


def _confirm(w: World, p: Principal, side: str) -> object:
    token = LINKS.token(int(w.ids["own"]), FOLLOWER, w.clock.now())
    return confirm_follow(w.uow, w.clock, ConfirmFollow(token, p), LINKS)


def _stop(w: World, p: Principal, side: str) -> object:
    return stop_updates(w.uow, w.clock, StopUpdates(STOPS.token(int(w.ids["own"]), FOLLOWER), p), STOPS)


def _answer(w: World, p: Principal, side: str) -> object:
    token = ANSWERS.token(int(w.ids["closed"]), CLOSED_FILER)
    return answer_fix(w.uow, w.clock, AnswerFix(int(w.ids["closed"]), "fixed", p, token=token), ANSWERS)


def _follow_area(w: World, p: Principal, side: str) -> object:
    index = AreaIndex([Area(LAYER, "A", "District A", SQUARE_A)])
    cmd = FollowArea("n@example.org", LAYER, "A", None, "daily", p)
    return follow_area(w.uow, w.clock, cmd, AREAS, index.area_name)


def _apikey(w: World, p: Principal, side: str) -> object:
    return create_client(w.uow, w.clock, "New app", frozenset({Scope.SUBMIT}), who=p)


INVOKERS: dict[Action, Invoker] = {
    Action.REQUEST_SUBMIT: _submit,
    Action.REQUEST_FOLLOW: lambda w, p, side: follow_request(
        w.uow, w.clock, FollowRequest(None, w.ids[side], Contact(email="n@example.org"), principal=p)
    ),
    Action.REQUEST_UPDATE: _update,
    Action.REQUEST_CHANGE: lambda w, p, side: change_request(
        w.uow,
        w.clock,
        ChangeRequest(
            None, w.ids[side], note="moved", lat="40.711", long="-74.011" if side == "own" else "-73.989", principal=p
        ),
        w.geography,
    ),
    Action.REQUEST_MERGE: lambda w, p, side: merge_requests(
        w.uow, w.clock, MergeRequests(None, w.ids[side], w.ids[f"{side}2"], principal=p)
    ),
    Action.REQUEST_ASSIGN: lambda w, p, side: assign_request(w.uow, w.clock, w.ids[side], None, who=p),
    Action.REQUEST_WORK: lambda w, p, side: work_request(
        w.uow, w.clock, WorkRequest(p, w.ids[side], WorkStep.ACKNOWLEDGE, "on our list")
    ),
    Action.REQUEST_TRANSFER: lambda w, p, side: transfer_request(
        w.uow, w.clock, TransferRequest(p, w.ids[side], OTHER_BODY if side == "own" else OWN_BODY, "not ours")
    ),
    Action.REQUEST_PARTNER_WORK: lambda w, p, side: partner_work(
        w.uow, w.clock, PartnerWork(p, w.ids[side], PartnerStep.START, "crew on site")
    ),
    Action.REQUEST_VERIFY_FIX: lambda w, p, side: verify_fix(
        w.uow, w.clock, VerifyFix(p, w.ids[f"{side}2"], Verdict.CONFIRMED, "looks good")
    ),
    Action.REQUEST_READ_CONTACT: lambda w, p, side: read_contact(w.uow, w.clock, w.ids[side], who=p),
    Action.REQUEST_VIEW: lambda w, p, side: staff_request(w.uow, p, w.ids[side]),
    Action.MANUAL_LIST: _manual_list,
    Action.MANUAL_COMPLETE: lambda w, p, side: complete_manual(
        w.uow, w.clock, w.tasks[side], external_id="X-1", minutes=4, by="clerk", who=p
    ),
    Action.DELIVERY_LIST: lambda w, p, side: deliveries(w.uow, state="dead", who=p),
    Action.DELIVERY_REPLAY: lambda w, p, side: replay(w.uow, w.clock, ids=[], who=p),
    Action.CONNECTOR_HEALTH: lambda w, p, side: health(w.uow, w.clock, who=p),
    Action.CONNECTOR_MANAGE: _connector,
    Action.CATALOG_MANAGE: _catalog,
    Action.SETTINGS_MANAGE: _settings,
    Action.USER_MANAGE: _user,
    Action.APIKEY_MANAGE: _apikey,
    Action.AUDIT_READ: lambda w, p, side: audit_entries(w.uow, who=p),
    Action.ESCALATION_VIEW: lambda w, p, side: escalation_queue(w.uow, w.clock, p, EscalationRule()),
    Action.FOLLOW_CONFIRM: _confirm,
    Action.FOLLOW_STOP: _stop,
    Action.REQUEST_ANSWER: _answer,
    Action.AGENT_SEARCH: lambda w, p, side: search_callers(w.uow, w.clock, p, "own@example.org"),
    Action.CALL_LOG: lambda w, p, side: log_call(w.uow, w.clock, LogCall(p, "Trash day", "phone", "pothole")),
    Action.KNOWLEDGE_READ: lambda w, p, side: knowledge_articles(w.uow, p, "pothole"),
    Action.KNOWLEDGE_MANAGE: lambda w, p, side: save_article(
        w.uow, w.clock, SaveArticle(p, "potholes", "Potholes", "Filled in **3 days**.", ("pothole",))
    ),
    Action.TEMPLATE_MANAGE: lambda w, p, side: save_template(
        w.uow, w.clock, SaveTemplate(p, "Crew scheduled", "Fixed at {address} by {due_date}.", "public", "pothole")
    ),
    # a reply to our mail (hub/mailin: only with the proof the reply carries), as the note it becomes
    Action.REQUEST_REPLY: lambda w, p, side: add_reply(w.uow, w.clock, p, int(w.ids["own"]), "Bigger now"),
    Action.MAIL_TRIAGE: lambda w, p, side: triage_queue(w.uow, w.clock, p),
    Action.AREA_FOLLOW: _follow_area,
    Action.REQUEST_IMPORT: _import_history,
    Action.METRICS_READ: lambda w, p, side: volume(
        w.uow, p, MetricsQuery(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    ),
}


@dataclass(frozen=True)
class Case:
    action: Action
    role: Role
    side: str  # "own": in the principal's scope; "other": outside it; "any": an action on no request
    allowed: bool

    @property
    def id(self) -> str:
        return f"{self.action}-{self.role}-{self.side}-{'allow' if self.allowed else 'deny'}"


def cases() -> list[Case]:
    """Every action × role × side, with what the table says must happen."""
    out = []
    for action, row in POLICY.items():
        scoped = any(reach is not Reach.ANY for reach in row.values())
        for role in ROLES:
            reach = row.get(role)
            for side in ("own", "other") if scoped else ("any",):
                allowed = reach is not None and (reach is Reach.ANY or side == "own")
                out.append(Case(action, role, side, allowed))
    return out
