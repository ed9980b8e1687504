"""Who is calling: API keys resolve to a named client with scopes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civicswitch.core.clock import Clock
from civicswitch.core.errors import Forbidden, Invalid
from civicswitch.people.clients import ApiClient, Scope, hash_key, new_key

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork


def authenticate(uow: UnitOfWork, api_key: str | None, scope: Scope) -> ApiClient:
    """The client that owns ``api_key``, if it is active and has ``scope``; else :class:`Forbidden`."""
    if not api_key:
        raise Forbidden("api_key is required for this method; ask the city for a key")
    client = uow.clients.by_hash(hash_key(api_key.strip()))
    if client is None:
        raise Forbidden("api_key is not valid")
    if not client.active:
        raise Forbidden("api_key has been revoked")
    if scope not in client.scopes and Scope.ADMIN not in client.scopes:
        raise Forbidden(f"api_key does not allow this method (needs scope {scope!s})")
    return client


def create_client(
    uow: UnitOfWork,
    clock: Clock,
    name: str,
    scopes: frozenset[Scope] = frozenset({Scope.SUBMIT}),
    rate_limit: int | None = None,
) -> tuple[ApiClient, str]:
    """Create a client and its key. The key is returned once; only its hash is stored.

    ``rate_limit``: writes a minute for this key (None: the instance default, 0: no limit)."""
    name = name.strip()
    if not name:
        raise Invalid("a client needs a name (the app or back end the key is for)")
    if rate_limit is not None and rate_limit < 0:
        raise Invalid("a key's rate limit is a number of requests a minute, 0 for none")
    key = new_key()
    with uow:
        client = uow.clients.add(
            ApiClient(
                name=name,
                key_prefix=key[:10],
                key_hash=hash_key(key),
                scopes=scopes,
                created_at=clock.now(),
                rate_limit=rate_limit,
            )
        )
        uow.commit()
    return client, key
