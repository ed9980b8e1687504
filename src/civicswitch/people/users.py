"""Staff accounts: who signs in, with which role and scope. Passwords are stored as argon2 hashes only."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from civicswitch.core.errors import Invalid, check_text
from civicswitch.people.policy import STAFF_ROLES, Principal, Role

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
MIN_PASSWORD = 12
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters


@dataclass(frozen=True, slots=True)
class StaffUser:
    email: str
    role: Role
    password_hash: str
    created_at: datetime
    password_changed_at: datetime
    name: str = ""
    bodies: frozenset[str] = frozenset()
    areas: frozenset[tuple[str, str]] = frozenset()
    org: str | None = None
    must_change_password: bool = False
    disabled_at: datetime | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        check_text(self.email, "email", 320)
        check_text(self.name, "name", 200)

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def principal(self) -> Principal:
        return Principal(
            kind="staff",
            name=self.email,
            role=self.role,
            bodies=self.bodies,
            org=self.org,
            areas=self.areas,
            user_id=self.id,
        )


def normalize_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise Invalid(f"{value.strip()!r} is not an email address", field="email")
    return email


def parse_role(value: str) -> Role:
    try:
        role = Role(value.strip().lower())
    except ValueError:
        role = None
    if role not in STAFF_ROLES:
        raise Invalid(f"unknown staff role {value!r}; one of {', '.join(STAFF_ROLES)}", field="role")
    assert role is not None
    return role


def parse_area(value: str) -> tuple[str, str]:
    layer, sep, key = value.strip().partition(":")
    if not sep or not layer or not key:
        raise Invalid(f"an area is LAYER:KEY (e.g. community_districts:101), not {value!r}", field="area")
    check_text(key, "area key", 100)
    return layer, key


def check_scope(role: Role, bodies: frozenset[str], areas: frozenset[tuple[str, str]], org: str | None) -> None:
    """Each scoped role needs its scope, and no role gets a scope it does not use (so nothing is implied)."""
    for code in bodies | ({org} if org else set()):
        if not _CODE.fullmatch(code):
            raise Invalid(f"{code!r} is not a body code", field="body")
    needs = {Role.DEPARTMENT: ("--body", bool(bodies)), Role.PARTNER: ("--org", org is not None),
             Role.LIAISON: ("--area", bool(areas))}  # fmt: skip
    if role in needs and not needs[role][1]:
        raise Invalid(f"role {role} needs {needs[role][0]} (its scope)", field="role")
    extra = [flag for flag, given in (("--body", bool(bodies)), ("--org", org is not None), ("--area", bool(areas)))
             if given and needs.get(role, ("", False))[0] != flag]  # fmt: skip
    if extra:
        raise Invalid(f"role {role} takes no {' or '.join(extra)}", field="role")


def new_password() -> str:
    """A one-time password: 16 url-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password needs at least {MIN_PASSWORD} characters", field="password")
    if len(password) > 1024:
        raise Invalid("a password is at most 1024 characters", field="password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# A hash to verify against when no account matches, so a wrong email takes as long as a wrong password.
DUMMY_HASH = _HASHER.hash("not a real password: timing only")
