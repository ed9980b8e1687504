"""Use cases for people: staff accounts and the audit log. Each asks the policy, writes its audit entry in the
same transaction as the change, and commits once."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from civicswitch.core.clock import Clock
from civicswitch.core.errors import Conflict, Forbidden, Invalid, NotFound
from civicswitch.people import audit
from civicswitch.people.audit import AuditEntry, Problem
from civicswitch.people.policy import OPERATOR, Action, Principal, authorize
from civicswitch.people.users import (
    StaffUser,
    check_password_strength,
    check_scope,
    hash_password,
    new_password,
    normalize_email,
    parse_area,
    parse_role,
    verify_password,
)

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AddUser:
    email: str
    role: str
    bodies: Sequence[str] = ()
    areas: Sequence[str] = ()  # "layer:key"
    org: str | None = None
    name: str = ""
    password: str | None = None  # None: a one-time password is made and must be changed at first sign-in


@dataclass(frozen=True, slots=True)
class UserWithPassword:
    user: StaffUser
    password: str | None  # the one-time password made for it (shown once), None if the caller chose one


def _check_scope_exists(uow: UnitOfWork, user: StaffUser) -> None:
    bodies = {b.code: b for b in uow.catalog.bodies()}
    for code in sorted(user.bodies):
        if code not in bodies:
            raise Invalid(f"unknown body {code!r}; see `civicswitch catalog export` for the bodies", field="body")
    if user.org is not None:
        org = bodies.get(user.org)
        if org is None or str(org.kind) != "partner":  # catalog's BodyKind.PARTNER (people imports no catalog)
            raise Invalid(f"{user.org!r} is not a partner organisation (a body of kind partner)", field="org")
    layers = {layer.name for layer in uow.catalog.layers()}
    for layer, _ in sorted(user.areas):
        if layer not in layers:
            raise Invalid(f"unknown area layer {layer!r}; loaded: {', '.join(sorted(layers)) or 'none'}", field="area")


def add_user(uow: UnitOfWork, clock: Clock, cmd: AddUser, *, who: Principal = OPERATOR) -> UserWithPassword:
    authorize(who, Action.USER_MANAGE)
    role = parse_role(cmd.role)
    bodies = frozenset(b.strip() for b in cmd.bodies if b.strip())
    areas = frozenset(parse_area(a) for a in cmd.areas)
    org = (cmd.org or "").strip() or None
    check_scope(role, bodies, areas, org)
    made = None
    password = cmd.password
    if password is None:
        password = made = new_password()
    else:
        check_password_strength(password)
    now = clock.now()
    user = StaffUser(
        email=normalize_email(cmd.email),
        role=role,
        password_hash=hash_password(password),
        created_at=now,
        password_changed_at=now,
        name=cmd.name.strip(),
        bodies=bodies,
        areas=areas,
        org=org,
        must_change_password=made is not None,
    )
    with uow:
        _check_scope_exists(uow, user)
        if uow.users.by_email(user.email) is not None:
            raise Conflict(f"a staff account for {user.email} already exists")
        user = uow.users.add(user)
        audit.record(uow, now, who, Action.USER_MANAGE, "staff_user", user.id,
                     detail={"op": "add", "email": user.email, "role": str(role), "bodies": sorted(bodies),
                             "areas": sorted(f"{a}:{k}" for a, k in areas), "org": org})  # fmt: skip
        uow.commit()
    log.info("staff account %s added (%s) by %s", user.email, role, who.label)
    return UserWithPassword(user, made)


def _by_email(uow: UnitOfWork, email: str) -> StaffUser:
    user = uow.users.by_email(normalize_email(email))
    if user is None:
        raise NotFound(f"no staff account for {email.strip()!r}", field="email")
    return user


def disable_user(
    uow: UnitOfWork, clock: Clock, email: str, *, reason: str | None = None, who: Principal = OPERATOR
) -> StaffUser:
    """The account can no longer sign in, and its open sessions stop working at their next request."""
    authorize(who, Action.USER_MANAGE)
    with uow:
        user = _by_email(uow, email)
        if user.disabled_at is None:
            user = dataclasses.replace(user, disabled_at=clock.now())
            uow.users.save(user)
            audit.record(uow, clock.now(), who, Action.USER_MANAGE, "staff_user", user.id, reason=reason,
                         detail={"op": "disable", "email": user.email})  # fmt: skip
        uow.commit()
    return user


def enable_user(uow: UnitOfWork, clock: Clock, email: str, *, who: Principal = OPERATOR) -> UserWithPassword:
    """A disabled account may sign in again, with a new one-time password (shown once, to be changed at the first
    sign-in): whatever password and sessions it had before stay void. An active account is refused."""
    authorize(who, Action.USER_MANAGE)
    with uow:
        user = _by_email(uow, email)
        if user.disabled_at is None:
            raise Invalid(f"the account {user.email} is not disabled", field="email")
        made = new_password()
        now = clock.now()
        user = dataclasses.replace(user, disabled_at=None, password_hash=hash_password(made), password_changed_at=now,
                                   must_change_password=True)  # fmt: skip
        uow.users.save(user)
        audit.record(uow, now, who, Action.USER_MANAGE, "staff_user", user.id,
                     detail={"op": "enable", "email": user.email})  # fmt: skip
        uow.commit()
    return UserWithPassword(user, made)


def reset_password(
    uow: UnitOfWork, clock: Clock, email: str, password: str | None = None, *, who: Principal = OPERATOR
) -> UserWithPassword:
    """A new password (a one-time one if none is given, to be changed at the next sign-in). Every session the
    account had ends; a disabled account stays disabled."""
    authorize(who, Action.USER_MANAGE)
    made = None
    if password is None:
        password = made = new_password()
    else:
        check_password_strength(password)
    with uow:
        user = _by_email(uow, email)
        now = clock.now()
        user = dataclasses.replace(
            user, password_hash=hash_password(password), password_changed_at=now, must_change_password=made is not None
        )
        uow.users.save(user)
        audit.record(uow, now, who, Action.USER_MANAGE, "staff_user", user.id,
                     detail={"op": "reset-password", "email": user.email})  # fmt: skip
        uow.commit()
    return UserWithPassword(user, made)


def list_users(uow: UnitOfWork, *, who: Principal = OPERATOR) -> list[StaffUser]:
    authorize(who, Action.USER_MANAGE)
    with uow:
        return uow.users.all()


def audit_entries(
    uow: UnitOfWork,
    *,
    principal: str | None = None,
    request_id: str | None = None,
    after_id: int = 0,
    limit: int = 100,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    newest_first: bool = False,
    who: Principal = OPERATOR,
) -> list[AuditEntry]:
    """Audit entries, filtered: ``principal`` is a prefix such as ``staff:3`` or ``client:7``, a full label, or a
    staff account's email (read as that account); ``action`` exact; ``since <= at < until``; paged by id
    (``after_id`` oldest first, ``before_id`` with ``newest_first``)."""
    authorize(who, Action.AUDIT_READ)
    if not 1 <= limit <= 1000:
        raise Invalid("limit must be between 1 and 1000", field="limit")
    if since is not None and until is not None and until <= since:
        raise Invalid("the end of the date range must come after its start", field="until")
    principal = (principal or "").strip() or None
    with uow:
        if principal is not None and "@" in principal and " " not in principal and ":" not in principal:
            user = uow.users.by_email(principal.lower())
            if user is None:
                raise NotFound(f"no staff account for {principal!r}", field="who")
            principal = f"staff:{user.id}"
        return uow.audit.entries(
            principal=principal,
            object_type="request" if request_id is not None else None,
            object_id=request_id,
            after_id=after_id,
            limit=limit,
            action=(action or "").strip() or None,
            since=since,
            until=until,
            before_id=before_id,
            newest_first=newest_first,
        )


@dataclass(frozen=True, slots=True)
class AuditCheck:
    entries: int
    head: str  # the newest entry's hash: note it to detect a later truncation
    problems: list[Problem]


def verify_audit(uow: UnitOfWork, *, who: Principal = OPERATOR, batch: int = 10_000) -> AuditCheck:
    """Walk the whole chain in pages (any size of log in bounded memory)."""
    authorize(who, Action.AUDIT_READ)
    checked, problems, head, after = 0, [], audit.GENESIS, 0
    prev = (audit.GENESIS, 0)
    with uow:
        while True:
            page = uow.audit.entries(after_id=after, limit=batch)
            if not page:
                break
            n, found = audit.verify(page, start=prev)
            checked += n
            problems.extend(found)
            last = page[-1]
            head, after, prev = last.hash, last.id or after, (last.hash, last.id or 0)
    return AuditCheck(checked, head, problems)


def change_own_password(uow: UnitOfWork, clock: Clock, user_id: int, current: str, new: str) -> StaffUser:
    """A signed-in person replaces their password (the current one is asked again). Other sessions end."""
    check_password_strength(new)
    if new == current:
        raise Invalid("the new password must differ from the current one", field="new")
    with uow:
        user = uow.users.get(user_id)
        if user is None or not user.active:
            raise Forbidden("this account is disabled")
        if not verify_password(user.password_hash, current[:1024]):
            raise Invalid("the current password is not right", field="current")
        now = clock.now()
        user = dataclasses.replace(
            user, password_hash=hash_password(new), password_changed_at=now, must_change_password=False
        )
        uow.users.save(user)
        audit.record(uow, now, user.principal(), "session.change_password", "staff_user", user.id)
        uow.commit()
    return user
