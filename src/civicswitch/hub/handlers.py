"""Use cases of the hub: connectors, health, dead letters and replay, the manual bridge, signed inbound updates."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson

from civicswitch.core.clock import Clock
from civicswitch.core.errors import Conflict, Forbidden, Invalid, NotFound
from civicswitch.core.timefmt import parse_datetime
from civicswitch.hub.connectors.registry import SIGNED, check_config
from civicswitch.hub.inbound import InboundResult, apply_update
from civicswitch.hub.model import (
    Connector,
    ConnectorKind,
    DeliveryState,
    InboundUpdate,
    ProblemKind,
    StatusMap,
    parse_retry_schedule,
)
from civicswitch.hub.signing import new_secret, verify
from civicswitch.hub.views import DeliveryView, ManualEffort, ProblemSummary
from civicswitch.people import audit
from civicswitch.people.auth import create_client
from civicswitch.people.clients import Scope
from civicswitch.people.policy import OPERATOR, Action, Principal, Target, allowed, authorize, needs_target
from civicswitch.requests.access import authorize_on
from civicswitch.requests.handlers import DEFAULT_CLOCK_SKEW, check_media_url

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=15)  # a connector whose oldest open message is older than this raises an alert
QUARANTINE_ALERT_WINDOW = timedelta(hours=24)  # quarantined inbound rows keep a connector on alert this long


@dataclass(frozen=True, slots=True)
class NewConnector:
    connector: Connector
    secret: str | None  # shown once: the signing secret generated for it
    api_key: str | None  # shown once: the key its back end may use for Open311 servicerequestupdates


def add_connector(
    uow: UnitOfWork,
    clock: Clock,
    *,
    code: str,
    kind: str,
    body: str,
    config: Mapping[str, Any] | None = None,
    status_map: object = None,
    retry_schedule: object = None,
    secret: str | None = None,
    enabled: bool = True,
    who: Principal = OPERATOR,
) -> NewConnector:
    """Create or update a connector. A new one gets its own API client (its inbound identity) and, for signed
    kinds, a fresh signing secret; an update keeps both (the secret changes only when one is given). The client's
    key belongs to the connector's body and is suspended while the connector is disabled."""
    authorize(who, Action.CONNECTOR_MANAGE)
    try:
        connector_kind = ConnectorKind(kind)
    except ValueError:
        raise Invalid(f"connector kind {kind!r} is not one of {', '.join(k.value for k in ConnectorKind)}") from None
    checked = check_config(connector_kind, config or {})
    with uow:
        if uow.catalog.body(body) is None:
            raise NotFound(f"body {body!r} does not exist; add it to the catalog first", field="body")
        existing = uow.hub.connector(code)
        if existing is not None and existing.kind != connector_kind:
            raise Conflict(f"connector {code!r} is a {existing.kind} connector; it cannot become {connector_kind}")
        made_secret = None
        if secret is None and existing is None and connector_kind in SIGNED:
            secret = made_secret = new_secret()
        connector = Connector(
            code=code,
            kind=connector_kind,
            body_code=body,
            config=checked,
            secret=secret,
            status_map=StatusMap.from_document(status_map),
            retry_schedule=parse_retry_schedule(retry_schedule),
            enabled=enabled,
            client_id=existing.client_id if existing else None,
        )
        uow.commit()
    key = None
    if connector.client_id is None:
        # A connector's key is the body's own system, which may post updates in bursts: no rate limit (an operator
        # can set one with `apikey limit`).
        client, key = create_client(
            uow, clock, f"connector:{code}", frozenset({Scope.UPDATE}), body_code=body, rate_limit=0, who=who
        )
        connector = replace(connector, client_id=client.id)
    with uow:
        stored = uow.hub.add_connector(connector, clock.now())
        if connector.client_id is not None:
            uow.clients.set_body(connector.client_id, body)
            uow.clients.suspend(connector.client_id, None if enabled else "connector disabled")
        audit.record(
            uow,
            clock.now(),
            who,
            Action.CONNECTOR_MANAGE,
            "connector",
            code,
            detail={
                "op": "update" if existing else "add",
                "kind": str(connector_kind),
                "body": body,
                "enabled": enabled,
            },
        )
        uow.commit()
    log.info("connector %s (%s) for %s %s", code, connector_kind, body, "updated" if existing else "added")
    return NewConnector(stored, made_secret, key)


def set_enabled(
    uow: UnitOfWork,
    code: str,
    enabled: bool,
    reason: str | None = None,
    *,
    clock: Clock | None = None,
    who: Principal = OPERATOR,
) -> None:
    """Enable or disable a connector. Disabled, its key and its signatures are refused (403) and its messages
    wait; enabled again, both work again. ``clock`` and ``who`` go to the audit log (the worker, disabling a
    connector its system answered 410, passes neither and is logged instead)."""
    authorize(who, Action.CONNECTOR_MANAGE)
    with uow:
        connector = uow.hub.connector(code)
        if connector is None or not uow.hub.set_enabled(code, enabled, reason or "disabled by an operator"):
            raise NotFound(f"connector {code!r} does not exist", field="connector")
        if connector.client_id is not None:
            uow.clients.suspend(connector.client_id, None if enabled else "connector disabled")
        if clock is not None:
            audit.record(
                uow,
                clock.now(),
                who,
                Action.CONNECTOR_MANAGE,
                "connector",
                code,
                reason=None if enabled else reason,
                detail={"op": "enable" if enabled else "disable"},
            )
        uow.commit()


def manage_connectors(uow: UnitOfWork, clock: Clock, *, who: Principal = OPERATOR) -> list[dict[str, Any]]:
    """For the admin's connectors page: every connector (and each body's manual bridge) with its health, as
    :func:`health` reports it, to whoever may manage connectors."""
    authorize(who, Action.CONNECTOR_MANAGE)
    return health(uow, clock, who=who)


def connector_documents(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Connectors for the catalog file (no secrets)."""
    with uow:
        found = uow.hub.connectors()
    return [
        {
            "code": c.code,
            "kind": str(c.kind),
            "body": c.body_code,
            "config": dict(c.config),
            "status_map": c.status_map.document(),
            "retry_schedule": list(c.retry_schedule),
            "enabled": c.enabled,
        }
        for c in found
    ]


def check_connector_documents(documents: object, bodies: set[str]) -> list[dict[str, Any]]:
    """Check a catalog file's ``connectors`` list whole, before anything is loaded."""
    if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
        raise Invalid("connectors must be a list of objects")
    allowed = {"code", "kind", "body", "config", "status_map", "retry_schedule", "enabled"}
    for d in documents:
        unknown = set(d) - allowed
        if unknown or not {"code", "kind", "body"} <= set(d):
            raise Invalid(f"connector {d.get('code')!r}: needs code, kind and body; unknown {sorted(unknown)}")
        try:
            kind = ConnectorKind(d["kind"])
        except ValueError:
            raise Invalid(f"connector {d['code']!r}: unknown kind {d['kind']!r}") from None
        try:
            check_config(kind, d.get("config") or {})
            StatusMap.from_document(d.get("status_map"))
            parse_retry_schedule(d.get("retry_schedule"))
        except Invalid as exc:
            raise Invalid(f"connector {d['code']!r}: {exc.description}") from None
        if d["body"] not in bodies:
            raise Invalid(f"connector {d['code']!r}: unknown body {d['body']!r}")
    return documents


def load_connectors(uow: UnitOfWork, clock: Clock, documents: object) -> list[NewConnector]:
    """The ``connectors`` list of a catalog file, created or updated (checked by the caller)."""
    assert isinstance(documents, list)
    return [
        add_connector(
            uow,
            clock,
            code=d["code"],
            kind=d["kind"],
            body=d["body"],
            config=d.get("config"),
            status_map=d.get("status_map"),
            retry_schedule=d.get("retry_schedule"),
            enabled=bool(d.get("enabled", True)),
        )
        for d in documents
    ]


# -- health ------------------------------------------------------------------------------------------------
def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))], 3)


def _empty_health(c: Connector) -> dict[str, Any]:
    return {
        "connector": c.code,
        "kind": str(c.kind),
        "body": c.body_code,
        "status": "disabled" if not c.enabled else "idle",
        "problems": [] if c.enabled else [f"disabled: {c.disabled_reason}"],
        "counts": {s.value: 0 for s in DeliveryState},
        "oldest_open_age_s": None,
        "latency_p50_s": None,
        "latency_p95_s": None,
        "delivered_24h": 0,
        "last_success_at": None,
        "last_error_at": None,
        "last_error": None,
        "manual_minutes": None,
    }


def _inbound_problems(item: dict[str, Any], found: list[ProblemSummary]) -> None:
    """Failed polls (current until a poll succeeds) and rows quarantined in the last day turn a connector to
    ``alert``, naming the latest."""
    inbound: dict[str, Any] = {
        "poll_failures": 0,
        "failing_since": None,
        "quarantined_24h": 0,
        "last_quarantined": None,
    }
    for summary in found:
        latest = summary.latest
        if summary.kind == ProblemKind.POLL_FAILED:
            inbound["poll_failures"] = summary.count
            inbound["failing_since"] = summary.first_at.isoformat()
            item["problems"].append(
                f"polling failing since {summary.first_at.isoformat(timespec='seconds')} "
                f"({summary.count} failed poll(s)): {latest.detail[:300]}"
            )
        else:
            inbound["quarantined_24h"] = summary.count
            inbound["last_quarantined"] = {
                "at": latest.at.isoformat(),
                "file": latest.file,
                "line": latest.line,
                "reason": latest.detail,
            }
            where = f"{latest.file} line {latest.line}: " if latest.file else ""
            item["problems"].append(
                f"{summary.count} inbound row(s) quarantined in the last 24 h (latest: {where}{latest.detail[:300]})"
            )
    item["inbound"] = inbound


def health(uow: UnitOfWork, clock: Clock, *, who: Principal = OPERATOR) -> list[dict[str, Any]]:
    """Per connector (and per body's manual bridge): counts by state, oldest open message, delivery latency,
    last success and error, inbound problems, and a status — ``ok``, ``idle``, ``disabled`` or ``alert``.

    ``alert`` says something needs attention now: the connector is failing right now (its latest attempt failed
    after its latest success and messages are waiting to be retried, or its last poll failed), a message has
    waited more than 15 minutes, there are dead letters, or inbound rows were quarantined in the last 24 hours
    (a bad row, an unknown request, a status the map does not know)."""
    authorize(who, Action.CONNECTOR_HEALTH)
    now = clock.precise()
    with uow:
        rows = uow.hub.health_rows(now)
        connectors = {c.code: c for c in uow.hub.connectors()}
        summaries = uow.hub.problem_summaries(now - QUARANTINE_ALERT_WINDOW)
    by_connector: dict[str, list[ProblemSummary]] = {}
    for summary in summaries:
        by_connector.setdefault(summary.connector_code, []).append(summary)
    out: list[dict[str, Any]] = []
    seen = set()
    for r in rows:
        c = connectors.get(r.connector_code) if r.connector_code else None
        seen.add(r.connector_code)
        counts = {s.value: r.counts.get(s.value, 0) for s in DeliveryState}
        age = (now - r.oldest_pending_at).total_seconds() if r.oldest_pending_at else None
        problems = []
        if c is not None and not c.enabled:
            problems.append(f"disabled: {c.disabled_reason or 'by an operator'}")
        failing = (
            r.connector_code is not None
            and counts["retrying"] > 0
            and r.last_error_at is not None
            and (r.last_success_at is None or r.last_error_at >= r.last_success_at)
        )
        if failing:
            assert r.last_error_at is not None
            problems.append(
                f"failing now: the last attempt ({r.last_error_at.isoformat(timespec='seconds')}) failed: "
                f"{(r.last_error or '')[:300]}; {counts['retrying']} message(s) waiting to be retried"
            )
        if age is not None and r.connector_code and age > STUCK_AFTER.total_seconds():
            problems.append(f"oldest open message waiting {age / 60:.0f} min")
        if counts["dead"]:
            problems.append(f"{counts['dead']} dead message(s): replay after fixing the cause")
        out.append(
            {
                "connector": r.connector_code or "manual",
                "kind": str(c.kind) if c else "manual",
                "body": r.body_code,
                "status": "",
                "problems": problems,
                "counts": counts,
                "oldest_open_age_s": age,
                "latency_p50_s": _percentile(r.latencies_s, 0.5),
                "latency_p95_s": _percentile(r.latencies_s, 0.95),
                "delivered_24h": len(r.latencies_s),
                "last_success_at": r.last_success_at.isoformat() if r.last_success_at else None,
                "last_error_at": r.last_error_at.isoformat() if r.last_error_at else None,
                "last_error": r.last_error,
                "manual_minutes": r.effort_minutes if not r.connector_code else None,
            }
        )
    for code, c in connectors.items():
        if code not in seen:
            out.append(_empty_health(c))
    for item in out:
        c = connectors.get(item["connector"]) if item["kind"] != "manual" else None
        if c is not None:
            _inbound_problems(item, by_connector.get(c.code, []))
        if c is not None and not c.enabled:
            item["status"] = "disabled"
        elif [p for p in item["problems"] if not p.startswith("disabled")]:
            item["status"] = "alert"
        elif not item["status"]:
            item["status"] = "ok"
        if item["status"] == "alert":
            log.warning("connector %s alert: %s", item["connector"], "; ".join(map(str, item["problems"] or ())))
    return sorted(out, key=lambda i: (i["connector"], i["body"]))


# -- dead letters, replay, manual bridge ------------------------------------------------------------------------
def replay(
    uow: UnitOfWork,
    clock: Clock,
    *,
    ids: Sequence[int] | None = None,
    connector: str | None = None,
    who: Principal = OPERATOR,
) -> int:
    """Dead deliveries back to pending (all, these ids, or this connector's). Ids that do not name a dead delivery
    of a connector are refused, naming each, and nothing is replayed."""
    authorize(who, Action.DELIVERY_REPLAY)
    with uow:
        if ids:
            wanted = sorted(set(ids))
            found = {v.id: v for v in uow.hub.deliveries(ids=wanted, limit=len(wanted))}
            unknown = [i for i in wanted if i not in found]
            if unknown:
                raise NotFound(f"no delivery {', '.join(map(str, unknown))}; nothing was replayed", field="ids")
            wrong = [
                f"{v.id} is {'a manual bridge task' if v.connector_code is None else v.state}"
                for v in found.values()
                if v.connector_code is None or v.state != DeliveryState.DEAD
            ]
            if wrong:
                raise Conflict(f"only dead deliveries can be replayed: {'; '.join(wrong)}; nothing was replayed")
        n = uow.hub.replay(ids, connector, clock.now())
        audit.record(
            uow,
            clock.now(),
            who,
            Action.DELIVERY_REPLAY,
            "delivery",
            None,
            detail={"ids": list(ids) if ids is not None else None, "connector": connector, "replayed": n},
        )
        uow.commit()
    log.info("replayed %d dead deliveries (ids=%s connector=%s)", n, ids, connector)
    return n


def deliveries(
    uow: UnitOfWork,
    *,
    state: str | None = None,
    connector: str | None = None,
    manual: bool | None = None,
    body: str | None = None,
    limit: int = 100,
    after_id: int = 0,
    who: Principal = OPERATOR,
) -> list[DeliveryView]:
    """Deliveries, or (``manual=True``) the manual bridge's tasks, by id (oldest first), from after ``after_id`` (the
    next page). A department sees only its bodies' tasks."""
    action = Action.MANUAL_LIST if manual else Action.DELIVERY_LIST
    scoped = needs_target(who, action)  # e.g. a department: its own bodies' tasks, or one of them
    bodies: list[str | None] = [body] if body is not None or not scoped else [*sorted(who.bodies)] or [None]
    for code in bodies:
        authorize(who, action, Target(owner=code) if scoped else None)
    try:
        states = None if state is None else [DeliveryState(state)]
    except ValueError:
        raise Invalid(f"state must be one of {', '.join(s.value for s in DeliveryState)}", field="state") from None
    with uow:
        found = [
            row
            for code in bodies
            for row in uow.hub.deliveries(
                states=states, connector=connector, manual=manual, body=code, limit=limit, after_id=after_id
            )
        ]
    return sorted(found, key=lambda r: r.id)[:limit]


def manual_task(uow: UnitOfWork, task_id: int, *, who: Principal = OPERATOR) -> DeliveryView:
    """One manual bridge task by its id (the bridge's task page), looked up by its key. Whoever may list the manual
    bridge sees it; a department only its own bodies' tasks: another body's task "does not exist", as it is absent
    from that department's list."""
    scoped = needs_target(who, Action.MANUAL_LIST)
    if not scoped:
        authorize(who, Action.MANUAL_LIST)  # a role that may not list the bridge at all: 403
    with uow:
        task = uow.hub.delivery(task_id)
    if (
        task is None
        or task.connector_code is not None
        or (scoped and not allowed(who, Action.MANUAL_LIST, Target(owner=task.body_code)))
    ):
        raise NotFound(f"manual task {task_id} does not exist", field="task")
    return task


#: How long a person's claim on a manual bridge task holds (claiming again renews it): long enough to re-key a
#: request, short enough that a task a clerk left behind goes back to the queue the same day.
CLAIM_FOR = timedelta(hours=2)


def claim_manual(
    uow: UnitOfWork, clock: Clock, task_id: int, *, who: Principal, release: bool = False
) -> DeliveryView | None:
    """A person takes a manual bridge task so that no one else re-keys the same request (``release``: lets go of
    it). Whoever may complete the task may claim it; someone else's live claim is a :class:`Conflict`."""
    with uow:
        now = clock.now()
        found = uow.hub.deliveries(manual=True, ids=[task_id], limit=1)
        if not found:
            raise NotFound(f"manual task {task_id} does not exist", field="task")
        assert found[0].request_id is not None  # a manual task is always about a request
        request = uow.requests.get(found[0].request_id)
        assert request is not None
        authorize_on(uow, who, Action.MANUAL_COMPLETE, request)
        if release:
            uow.hub.release_manual(task_id, who.label)
        else:
            uow.hub.claim_manual(task_id, who.label, now, now + CLAIM_FOR)
        uow.commit()
    with uow:
        after = uow.hub.deliveries(manual=True, ids=[task_id], limit=1)
    log.info("manual task %s %s by %s", task_id, "released" if release else "claimed", who.label)
    return after[0] if after else None


def manual_effort(uow: UnitOfWork, clock: Clock, *, days: int = 7, who: Principal = OPERATOR) -> list[ManualEffort]:
    """Per body, the manual bridge tasks done in the last ``days`` days and the minutes people spent on them: the
    visible cost of a department that is not integrated."""
    scoped = needs_target(who, Action.MANUAL_LIST)  # a department: its own bodies' figures only
    if not scoped:
        authorize(who, Action.MANUAL_LIST)
    with uow:
        found = uow.hub.manual_effort(clock.now() - timedelta(days=days))
    return [e for e in found if not scoped or e.body_code in who.bodies]


def complete_manual(
    uow: UnitOfWork,
    clock: Clock,
    task_id: int,
    *,
    external_id: str | None,
    minutes: float,
    by: str,
    who: Principal = OPERATOR,
    require_reference: bool = False,
) -> int:
    """A person re-keyed a request into the department's own system: record its reference and the minutes it
    took (the manual effort health reports per body), and note it on the request's timeline (staff only).
    A task someone else has claimed can't be completed by another person until the claim ends."""
    if not 0 < minutes <= 24 * 60:
        raise Invalid("minutes must be above 0 and at most 1440", field="minutes")
    by = by.strip()
    if not by or len(by) > 200:
        raise Invalid("say who did it (at most 200 characters)", field="by")
    ref = (external_id or "").strip() or None
    if ref is not None and len(ref) > 200:
        raise Invalid("external_id is longer than 200 characters", field="external_id")
    if ref is None and require_reference:
        raise Invalid("give the department's reference for the request you entered", field="external_id")
    with uow:
        now = clock.now()
        task = uow.hub.deliveries(manual=True, ids=[task_id], limit=1)
        if task and task[0].claimed_by not in (None, who.label) and (task[0].claimed_until or now) > now:
            raise Conflict(f"manual task {task_id} is claimed by {task[0].claimed_by}; ask them, or wait until "
                           f"{task[0].claimed_until:%H:%M} UTC")  # fmt: skip
        request_id = uow.hub.complete_manual(task_id, ref, minutes, by, now)
        request = uow.requests.get(request_id)
        assert request is not None
        authorize_on(uow, who, Action.MANUAL_COMPLETE, request)  # refused: rolled back, nothing written
        text = f"Entered into {request.body_code}'s own system by {by}" + (f" as {ref}" if ref else "")
        request.add_note(now, f"{text} ({minutes:g} min)", public=False)
        uow.requests.save(request)
        if who.is_staff:
            audit.record(
                uow,
                now,
                who,
                Action.MANUAL_COMPLETE,
                "delivery",
                task_id,
                detail={"request": request_id, "minutes": minutes, "by": by, "external_id": ref},
            )
        uow.commit()
    return request_id


# -- signed inbound updates ------------------------------------------------------------------------------------
def receive_signed_update(
    uow: UnitOfWork,
    clock: Clock,
    code: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> InboundResult:
    """A body's system pushes an update, signed with the connector's secret (Standard Webhooks). Tampered, stale
    or unsigned messages are refused (403); a replayed message id is refused (409); a body that is not a sane
    update (deep, huge numbers, lone surrogates, oversized ids, a time outside the request's life) is refused
    (400); nothing is written then."""
    now = clock.now()
    with uow:
        connector = uow.hub.connector(code)
        if connector is None:
            raise NotFound(f"connector {code!r} does not exist", field="connector")
        if not connector.secret:
            raise Invalid(f"connector {code!r} has no signing secret: it cannot receive signed updates")
        if not connector.enabled:
            raise Forbidden(f"connector {code!r} is disabled: its updates are refused until it is enabled again")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("the body is not UTF-8") from None
        message_id = verify(connector.secret, headers, text, now)
        if uow.hub.seen_message(code, message_id, now):
            raise Conflict(f"message {message_id!r} was already received (a replay); nothing was applied")
        update = parse_update(text)
        result = apply_update(uow, connector, update, now=now, clock_skew=clock_skew)
        uow.commit()
    return result


def parse_update(text: str) -> InboundUpdate:
    """One update from a JSON body. orjson, not :mod:`json`: it refuses lone surrogates, nesting deeper than 1024
    and integers beyond 64 bits with one error (where :mod:`json` raises RecursionError or ValueError, or returns
    text no database can store)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"the body is not JSON a database can store: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("data"), dict) and "specversion" in data:
        data = data["data"]  # a CloudEvent envelope around the update
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object")
    unknown = set(data) - {
        "update_id",
        "service_request_id",
        "external_id",
        "status",
        "updated_datetime",
        "description",
        "media_url",
    }
    if unknown:
        raise Invalid(f"unknown field(s) {', '.join(sorted(unknown))}")
    for name in ("update_id", "updated_datetime"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise Invalid(f"{name} is required (a string)", field=name)
    try:
        at = parse_datetime(data["updated_datetime"])
    except ValueError as exc:
        raise Invalid(f"updated_datetime: {exc}", field="updated_datetime") from None
    texts = {k: data.get(k) for k in ("service_request_id", "external_id", "status", "description", "media_url")}
    for k, v in texts.items():
        if v is not None and (not isinstance(v, str | int) or isinstance(v, bool)):
            raise Invalid(f"{k} must be a string", field=k)
    if isinstance(texts["media_url"], str) and texts["media_url"].strip():
        check_media_url(texts["media_url"])
    return InboundUpdate(
        update_id=data["update_id"],
        status=str(texts["status"] or ""),
        at=at,
        service_request_id=None if texts["service_request_id"] is None else str(texts["service_request_id"]),
        external_id=None if texts["external_id"] is None else str(texts["external_id"]),
        description=str(texts["description"] or ""),
        media_url=None if texts["media_url"] is None else str(texts["media_url"]),
    )
