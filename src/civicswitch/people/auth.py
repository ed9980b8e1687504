"""Who is calling: an API key resolves to a client and then to a principal (role and scope) for the policy; a
staff account signs in with its email and password."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from civicswitch.core.clock import Clock
from civicswitch.core.errors import Forbidden, Invalid
from civicswitch.people import audit
from civicswitch.people.clients import ApiClient, Scope, hash_key, new_key
from civicswitch.people.policy import OPERATOR, Action, Principal, Role, authorize
from civicswitch.people.users import DUMMY_HASH, StaffUser, normalize_email, verify_password

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)


def authenticate(uow: UnitOfWork, api_key: str | None, scope: Scope) -> ApiClient:
    """The client that owns ``api_key``, if it is active and has ``scope``; else :class:`Forbidden`."""
    if not api_key:
        raise Forbidden("api_key is required for this method; ask the city for a key")
    client = uow.clients.by_hash(hash_key(api_key.strip()))
    if client is None:
        raise Forbidden("api_key is not valid")
    if not client.active:
        raise Forbidden("api_key has been revoked")
    if client.suspended:
        raise Forbidden(f"api_key is suspended: {client.suspended}")
    if scope not in client.scopes and Scope.ADMIN not in client.scopes:
        raise Forbidden(f"api_key does not allow this method (needs scope {scope!s})")
    return client


def client_principal(client: ApiClient, scope: Scope) -> Principal:
    """The principal a key acts as for a method of ``scope``: an admin key is ``admin``; an update key is the
    ``backend`` of its body (no body: no request is its own); a submit key is an ``app``."""
    if Scope.ADMIN in client.scopes:
        role = Role.ADMIN
    else:
        role = {Scope.UPDATE: Role.BACKEND, Scope.SUBMIT: Role.APP}.get(scope, Role.APP)
    bodies = frozenset({client.body_code}) if role is Role.BACKEND and client.body_code else frozenset()
    return Principal(kind="client", name=client.name, role=role, bodies=bodies, client_id=client.id)


def key_principal(uow: UnitOfWork, api_key: str | None, scope: Scope | None) -> Principal:
    """The key's principal for a method of ``scope`` (None: whatever the key is, its widest scope)."""
    if scope is None:
        found = uow.clients.by_hash(hash_key(api_key.strip())) if api_key else None
        held = found.scopes if found is not None else frozenset()
        scope = next((s for s in (Scope.ADMIN, Scope.UPDATE, Scope.SUBMIT) if s in held), Scope.SUBMIT)
    return client_principal(authenticate(uow, api_key, scope), scope)


def create_client(
    uow: UnitOfWork,
    clock: Clock,
    name: str,
    scopes: frozenset[Scope] = frozenset({Scope.SUBMIT}),
    *,
    body_code: str | None = None,
    rate_limit: int | None = None,
    who: Principal = OPERATOR,
) -> tuple[ApiClient, str]:
    """Create a client and its key. The key is returned once; only its hash is stored. An ``update`` key belongs
    to a body; other keys to none. ``rate_limit``: writes a minute for this key (None: the instance default, 0:
    no limit)."""
    authorize(who, Action.APIKEY_MANAGE)
    name = name.strip()
    if not name:
        raise Invalid("a client needs a name (the app or back end the key is for)")
    if Scope.UPDATE in scopes and Scope.ADMIN not in scopes and not body_code:
        raise Invalid("an update key belongs to a body: give --body CODE (the body whose requests it updates)")
    if body_code and Scope.UPDATE not in scopes:
        raise Invalid("only an update key belongs to a body (--body goes with --scope update)")
    if rate_limit is not None and rate_limit < 0:
        raise Invalid("a key's rate limit is a number of requests a minute, 0 for none")
    key = new_key()
    with uow:
        if body_code and uow.catalog.body(body_code) is None:
            raise Invalid(f"unknown body {body_code!r}", field="body")
        client = uow.clients.add(
            ApiClient(
                name=name,
                key_prefix=key[:10],
                key_hash=hash_key(key),
                scopes=scopes,
                created_at=clock.now(),
                body_code=body_code,
                rate_limit=rate_limit,
            )
        )
        audit.record(
            uow,
            clock.now(),
            who,
            Action.APIKEY_MANAGE,
            "api_client",
            client.id,
            detail={"op": "create", "name": name, "scopes": sorted(scopes), "body": body_code},
        )
        uow.commit()
    return client, key


def list_clients(uow: UnitOfWork, *, who: Principal = OPERATOR) -> list[ApiClient]:
    """Every API client (name, key prefix, scopes, body, state, rate limit; never a key)."""
    authorize(who, Action.APIKEY_MANAGE)
    with uow:
        return uow.clients.all()


def revoke_client(uow: UnitOfWork, clock: Clock, client_id: int, *, who: Principal = OPERATOR) -> bool:
    authorize(who, Action.APIKEY_MANAGE)
    with uow:
        done = uow.clients.revoke(client_id, clock.now())
        if done:
            audit.record(uow, clock.now(), who, Action.APIKEY_MANAGE, "api_client", client_id, detail={"op": "revoke"})
        uow.commit()
    return done


def set_client_limit(
    uow: UnitOfWork, clock: Clock, client_id: int, rate_limit: int | None, *, who: Principal = OPERATOR
) -> bool:
    """A key's own rate limit (writes a minute; None: the instance default, 0: none). False: no such key."""
    authorize(who, Action.APIKEY_MANAGE)
    if rate_limit is not None and rate_limit < 0:
        raise Invalid("a key's rate limit is a number of requests a minute, 0 for none")
    with uow:
        done = uow.clients.set_limit(client_id, rate_limit)
        if done:
            audit.record(
                uow,
                clock.now(),
                who,
                Action.APIKEY_MANAGE,
                "api_client",
                client_id,
                detail={"op": "limit", "rate_limit": rate_limit},
            )
        uow.commit()
    return done


def sign_in(uow: UnitOfWork, clock: Clock, email: str, password: str) -> StaffUser:
    """The active account with this email and password; else :class:`Forbidden` with one message for every
    failure (no hint whether the email exists). Every attempt is audited."""
    try:
        address = normalize_email(email)
    except Invalid:
        address = email.strip().lower()[:320]
    with uow:
        user = uow.users.by_email(address) if "\x00" not in address else None
        ok = verify_password(user.password_hash if user else DUMMY_HASH, password[:1024])
        ok = ok and user is not None and user.active
        who = user.principal() if user is not None else replace(OPERATOR, kind="anonymous", name=address or "-")
        audit.record(
            uow, clock.now(), who, "session.sign_in", "staff_user", user.id if user else None, detail={"ok": ok}
        )
        uow.commit()
    if not ok or user is None:
        log.info("sign-in refused for %r", address)
        raise Forbidden("Email or password is not right, or the account is disabled.")
    return user


def sign_in_verified(uow: UnitOfWork, clock: Clock, email: str, method: str) -> StaffUser:
    """The active account with this ``email``, which an identity provider has verified (single sign-on); else
    :class:`Forbidden`. The provider vouches for the address only: role and scopes are the account's own. Every
    attempt is audited with its ``method``."""
    try:
        address = normalize_email(email)
    except Invalid:
        address = email.strip().lower()[:320]
    with uow:
        user = uow.users.by_email(address) if "\x00" not in address else None
        ok = user is not None and user.active
        who = user.principal() if user is not None else replace(OPERATOR, kind="anonymous", name=address or "-")
        audit.record(
            uow, clock.now(), who, "session.sign_in", "staff_user", user.id if user else None,
            detail={"ok": ok, "method": method},
        )  # fmt: skip
        uow.commit()
    if not ok or user is None:
        log.info("%s sign-in refused for %r: no enabled staff account", method, address)
        raise Forbidden(
            f"There is no enabled staff account for {address}. Ask the city's administrator to add you "
            "(or to enable your account)."
        )
    return user
