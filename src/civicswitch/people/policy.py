"""The one permission policy: a table of action × role → reach, and the check every entry point asks.

A principal (an API client, a connector's client, a staff member, the operator at the CLI) has one role and a
scope: the bodies it works for, the partner organisation it belongs to, the areas it covers. An action on a
request is allowed when the role's reach for that action covers the request (its owner, the organisation it is
assigned to, its areas, who filed it). Actions on no particular request (deliveries, settings, users …) are
allowed when the reach is ``ANY``. Everything not in the table is denied.

``docs/security.md`` prints this table; ``tests/people/test_policy_matrix.py`` is generated from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from civicswitch.core.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"  # everything (an admin key, an admin account, the operator at the CLI)
    AGENT = "agent"  # 311 call-takers: file for callers, read their contact data, work the manual bridge
    DEPARTMENT = "department"  # staff of one or more bodies: work only the requests those bodies own
    PARTNER = "partner"  # a contractor or non-profit: sees and works only requests assigned to its organisation
    LIAISON = "liaison"  # a volunteer for some areas: files on behalf of residents there, with consent recorded
    EXECUTIVE = "executive"  # reads everything except contact data; changes nothing
    APP = "app"  # an Open311 app's key (scope submit): files and follows
    BACKEND = "backend"  # a body's own system (an update key or a connector's key): updates that body's requests
    RESIDENT = "resident"  # a member of the public, proven only by a signed link we sent (no account, no key)


STAFF_ROLES = (Role.ADMIN, Role.AGENT, Role.DEPARTMENT, Role.PARTNER, Role.LIAISON, Role.EXECUTIVE)


class Action(StrEnum):
    REQUEST_SUBMIT = "request.submit"
    REQUEST_FOLLOW = "request.follow"
    REQUEST_UPDATE = "request.update"  # a status change or a note (Open311 servicerequestupdates, signed updates)
    REQUEST_CHANGE = "request.change"  # change service or location: routing runs again (re-route, transfer)
    REQUEST_MERGE = "request.merge"  # close as a duplicate of another request
    REQUEST_ASSIGN = "request.assign"  # give the work to a partner organisation or a colleague (or take it back)
    REQUEST_WORK = "request.work"  # staff: acknowledge, start, hold, close, reopen, public and internal notes
    REQUEST_TRANSFER = "request.transfer"  # staff: hand it to another body with a reason (a "bounce")
    REQUEST_PARTNER_WORK = "request.partner_work"  # a partner: start, progress notes with photos, work complete
    REQUEST_VERIFY_FIX = "request.verify_fix"  # a liaison: confirm or dispute a fix on site
    REQUEST_READ_CONTACT = "request.read_contact"  # the filer's name, email and phone (audited)
    REQUEST_VIEW = "request.view"  # the staff view: queue, request page, whole timeline (not contact data)
    MANUAL_LIST = "manual.list"
    MANUAL_COMPLETE = "manual.complete"
    DELIVERY_LIST = "delivery.list"
    DELIVERY_REPLAY = "delivery.replay"
    CONNECTOR_HEALTH = "connector.health"
    CONNECTOR_MANAGE = "connector.manage"
    CATALOG_MANAGE = "catalog.manage"  # catalog file, area layers, routing rules, SLA calendars
    SETTINGS_MANAGE = "settings.manage"  # instance settings stored in the database
    USER_MANAGE = "user.manage"
    APIKEY_MANAGE = "apikey.manage"
    AUDIT_READ = "audit.read"
    ESCALATION_VIEW = "escalation.view"  # the escalation queue: requests bounced too often or long overdue
    FOLLOW_CONFIRM = "follow.confirm"  # the owner of an address confirms a follow (the signed link names it)
    FOLLOW_STOP = "follow.stop"  # the owner of an address stops the mail about a request (the link in each message)
    REQUEST_ANSWER = "request.answer"  # a resident answers "Is it fixed?" after a closure, and rates how it went
    AGENT_SEARCH = "agent.search"  # the agent console: find callers and their history (reads contact data: audited)
    CALL_LOG = "call.log"  # log an information-only call (a question, no request) and see the counts per topic
    KNOWLEDGE_READ = "knowledge.read"  # knowledge articles: what staff tell callers, per service
    KNOWLEDGE_MANAGE = "knowledge.manage"  # write, edit and delete knowledge articles
    TEMPLATE_MANAGE = "template.manage"  # response templates for notes (staff fill them in with request.work)
    REQUEST_REPLY = "request.reply"  # a resident's reply to our mail about a request: a public note (hub/mailin)
    MAIL_TRIAGE = "mail.triage"  # residents' mail no service was clear for: read it, file it or dismiss it
    AREA_FOLLOW = "area.follow"  # a resident asks for mail about an area (confirmed by the link: follow.confirm)
    REQUEST_IMPORT = "request.import"  # load another system's history (requests/imports: `civicswitch import`)
    METRICS_READ = "metrics.read"  # the measures across every agency: volume, time to close … (requests/metrics)


class Reach(StrEnum):
    ANY = "any"
    OWN_BODY = "own body"  # requests owned by one of the principal's bodies
    OWN_BODY_OR_FORMER = "own body, or transferred away from it"  # a back end's outstanding updates
    ASSIGNED_ORG = "assigned to own organisation"
    OWN_AREA = "in own areas"
    FILED_BY_SELF = "filed by self"


_A, _R, _ = Action, Role, Reach

# The table. A role missing from an action's row is denied that action.
POLICY: Mapping[Action, Mapping[Role, Reach]] = {
    _A.REQUEST_SUBMIT: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY, _R.DEPARTMENT: _.ANY, _R.LIAISON: _.OWN_AREA,
                        _R.APP: _.ANY, _R.RESIDENT: _.ANY},  # a resident: the report form (web/report.py)
    _A.REQUEST_FOLLOW: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY, _R.LIAISON: _.OWN_AREA, _R.APP: _.ANY,
                        _R.RESIDENT: _.ANY},
    _A.REQUEST_UPDATE: {_R.ADMIN: _.ANY, _R.DEPARTMENT: _.OWN_BODY, _R.PARTNER: _.ASSIGNED_ORG,
                        _R.BACKEND: _.OWN_BODY_OR_FORMER},
    _A.REQUEST_CHANGE: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY, _R.DEPARTMENT: _.OWN_BODY},
    _A.REQUEST_MERGE: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY, _R.DEPARTMENT: _.OWN_BODY},
    _A.REQUEST_ASSIGN: {_R.ADMIN: _.ANY, _R.DEPARTMENT: _.OWN_BODY},
    _A.REQUEST_WORK: {_R.ADMIN: _.ANY, _R.DEPARTMENT: _.OWN_BODY},
    _A.REQUEST_TRANSFER: {_R.ADMIN: _.ANY, _R.DEPARTMENT: _.OWN_BODY},
    _A.REQUEST_PARTNER_WORK: {_R.ADMIN: _.ANY, _R.PARTNER: _.ASSIGNED_ORG},
    _A.REQUEST_VERIFY_FIX: {_R.ADMIN: _.ANY, _R.LIAISON: _.OWN_AREA},
    _A.REQUEST_READ_CONTACT: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY, _R.DEPARTMENT: _.OWN_BODY,
                              _R.PARTNER: _.ASSIGNED_ORG, _R.LIAISON: _.FILED_BY_SELF},
    _A.REQUEST_VIEW: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY, _R.DEPARTMENT: _.OWN_BODY, _R.PARTNER: _.ASSIGNED_ORG,
                      _R.LIAISON: _.OWN_AREA, _R.EXECUTIVE: _.ANY},
    _A.MANUAL_LIST: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY, _R.EXECUTIVE: _.ANY, _R.DEPARTMENT: _.OWN_BODY},
    _A.MANUAL_COMPLETE: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY, _R.DEPARTMENT: _.OWN_BODY},
    _A.DELIVERY_LIST: {_R.ADMIN: _.ANY, _R.EXECUTIVE: _.ANY},
    _A.DELIVERY_REPLAY: {_R.ADMIN: _.ANY},
    _A.CONNECTOR_HEALTH: {_R.ADMIN: _.ANY, _R.EXECUTIVE: _.ANY},
    _A.CONNECTOR_MANAGE: {_R.ADMIN: _.ANY},
    _A.CATALOG_MANAGE: {_R.ADMIN: _.ANY},
    _A.SETTINGS_MANAGE: {_R.ADMIN: _.ANY},
    _A.USER_MANAGE: {_R.ADMIN: _.ANY},
    _A.APIKEY_MANAGE: {_R.ADMIN: _.ANY},
    _A.AUDIT_READ: {_R.ADMIN: _.ANY},
    _A.ESCALATION_VIEW: {_R.ADMIN: _.ANY, _R.EXECUTIVE: _.ANY},
    _A.FOLLOW_CONFIRM: {_R.RESIDENT: _.ANY},  # consent comes from the address's owner, never from staff
    _A.FOLLOW_STOP: {_R.RESIDENT: _.ANY},  # so does its withdrawal
    _A.REQUEST_ANSWER: {_R.RESIDENT: _.ANY},  # the resident's own verdict (staff record theirs as notes)
    _A.AGENT_SEARCH: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY},
    _A.CALL_LOG: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY},
    _A.KNOWLEDGE_READ: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY, _R.DEPARTMENT: _.ANY, _R.PARTNER: _.ANY,
                        _R.LIAISON: _.ANY, _R.EXECUTIVE: _.ANY},
    _A.KNOWLEDGE_MANAGE: {_R.ADMIN: _.ANY},
    _A.TEMPLATE_MANAGE: {_R.ADMIN: _.ANY},
    _A.REQUEST_REPLY: {_R.RESIDENT: _.ANY},  # only from the address our mail went to, quoting it (hub/mailin)
    _A.MAIL_TRIAGE: {_R.ADMIN: _.ANY, _R.AGENT: _.ANY},
    _A.AREA_FOLLOW: {_R.RESIDENT: _.ANY},  # the address's owner, from the residents' pages (people/area_follows)
    _A.REQUEST_IMPORT: {_R.ADMIN: _.ANY},  # history from another system's export: the operator, on the server
    _A.METRICS_READ: {_R.ADMIN: _.ANY, _R.EXECUTIVE: _.ANY},  # leadership's figures, across every agency
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Principal:
    """Who acts. ``kind`` is ``client`` (an API key), ``staff`` (a signed-in account), ``operator`` (the CLI) or
    ``link`` (a resident holding a signed link we sent)."""

    kind: str
    name: str
    role: Role
    bodies: frozenset[str] = frozenset()
    org: str | None = None
    areas: frozenset[tuple[str, str]] = frozenset()  # (layer, area key)
    client_id: int | None = None
    user_id: int | None = None

    @property
    def label(self) -> str:
        """How the audit log names it, e.g. ``staff:3 ana@city.gov`` or ``client:7 connector:dsny``."""
        ident = self.user_id if self.kind == "staff" else self.client_id
        return f"{self.kind}:{ident} {self.name}" if ident is not None else f"{self.kind} {self.name}"

    @property
    def is_staff(self) -> bool:
        return self.kind in ("staff", "operator")


OPERATOR = Principal(kind="operator", name="operator (CLI)", role=Role.ADMIN)
# A member of the public on the residents' pages (web/report.py): no account, no key. Reports and follows what
# anyone may (as an app's key does), within the rate limits of the pages; never reads contact data.
RESIDENT_ON_THE_WEB = Principal(kind="web", name="resident on the residents' pages", role=Role.RESIDENT)


@dataclass(frozen=True, slots=True)
class Target:
    """The request an action is on, as the policy sees it."""

    owner: str | None = None  # the owning body's code
    former_owners: frozenset[str] = frozenset()  # bodies it was transferred away from
    assigned_org: str | None = None
    areas: Mapping[str, str] = field(default_factory=dict)  # layer → area key
    filed_by_user: int | None = None


def _covers(reach: Reach, who: Principal, target: Target | None) -> bool:
    if reach is Reach.ANY:
        return True
    if target is None:
        return False
    match reach:
        case Reach.OWN_BODY:
            return target.owner is not None and target.owner in who.bodies
        case Reach.OWN_BODY_OR_FORMER:
            return (target.owner is not None and target.owner in who.bodies) or bool(target.former_owners & who.bodies)
        case Reach.ASSIGNED_ORG:
            return who.org is not None and target.assigned_org == who.org
        case Reach.OWN_AREA:
            return any(target.areas.get(layer) == key for layer, key in who.areas)
        case Reach.FILED_BY_SELF:
            return who.user_id is not None and target.filed_by_user == who.user_id
    return False  # pragma: no cover - every reach is matched above


def reach_of(who: Principal, action: Action) -> Reach | None:
    return POLICY.get(action, {}).get(who.role)


def allowed(who: Principal, action: Action, target: Target | None = None) -> bool:
    reach = reach_of(who, action)
    return reach is not None and _covers(reach, who, target)


def authorize(who: Principal, action: Action, target: Target | None = None) -> None:
    """Raise :class:`Forbidden` (403) unless ``who`` may do ``action`` on ``target``."""
    reach = reach_of(who, action)
    if reach is None:
        raise Forbidden(f"{who.role} may not {action} ({who.name})")
    if not _covers(reach, who, target):
        raise Forbidden(f"{who.role} may {action} only on requests {_scope_text(reach, who)} ({who.name})")


def needs_target(who: Principal, action: Action) -> bool:
    """Whether the decision depends on the request (so callers load former owners only when they must)."""
    reach = reach_of(who, action)
    return reach is not None and reach is not Reach.ANY


def _scope_text(reach: Reach, who: Principal) -> str:
    match reach:
        case Reach.OWN_BODY | Reach.OWN_BODY_OR_FORMER:
            return f"owned by {', '.join(sorted(who.bodies)) or 'no body'}"
        case Reach.ASSIGNED_ORG:
            return f"assigned to {who.org or 'no organisation'}"
        case Reach.OWN_AREA:
            return f"in {', '.join(f'{layer}:{key}' for layer, key in sorted(who.areas)) or 'no area'}"
        case Reach.FILED_BY_SELF:
            return "filed by this account"
    return "of its scope"


def policy_markdown() -> str:
    """The table as Markdown, for ``docs/security.md`` (a test keeps the two equal)."""
    roles = [*Role]
    lines = ["| action | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for action, row in POLICY.items():
        cells = [str(row[r]) if r in row else "—" for r in roles]
        lines.append(f"| `{action}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
