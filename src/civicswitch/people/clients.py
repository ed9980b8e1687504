"""API clients (apps and back ends) and their keys. Keys are shown once and stored hashed."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from civicswitch.core.errors import check_text


class Scope(StrEnum):
    SUBMIT = "submit"  # POST requests (Open311 apps)
    UPDATE = "update"  # POST servicerequestupdates (a department's back end)
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiClient:
    name: str
    key_prefix: str
    key_hash: str
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None = None
    id: int | None = None
    body_code: str | None = None  # an `update` key's body: it changes only requests that body owns
    rate_limit: int | None = None  # requests per minute; None = the instance default, 0 = no limit
    suspended: str | None = None  # why the key may not act now (its connector is disabled)

    def __post_init__(self) -> None:
        check_text(self.name, "name", 200)
        check_text(self.key_prefix, "key_prefix", 12)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_key() -> str:
    """A fresh random key: ``cs_`` and 32 url-safe characters (192 bits)."""
    return "cs_" + secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    # Keys are random and long, so one SHA-256 round is enough and keeps lookups a single index probe.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
