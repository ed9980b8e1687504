"""Signed links we send to residents: the "confirm you want updates" link of a follow by email (of a request, or of
an area: :class:`AreaLinks`), and the "stop these emails" link in every message.

A link carries the request, a digest of the address (not the address itself: the URL may end up in logs or a
browser's history) and when it was made, signed with the instance's secret (``CIVICSWITCH_SECRET_KEY``, or the
one stored in the database: ``web/principals.session_secret``). It is good for :data:`FOLLOW_LINK_DAYS` days and
proves only that whoever opens it can read mail sent to that address: the page behind it asks for one click
(a POST) before it confirms, so a mail scanner that opens links confirms nothing.

Time comes from the caller's clock, never from the system clock.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import ValidationError

from civicswitch.core.errors import Invalid
from civicswitch.people.policy import Principal, Role

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

FOLLOW_LINK_DAYS = 7
CONFIRM_PATH = "/follow/confirm"
_SALT = "civicswitch.follow-confirm"

# Who acts when a resident opens a link: the policy's ``resident`` role (``follow.confirm`` only).
LINK_HOLDER = Principal(kind="link", name="resident with a signed link", role=Role.RESIDENT)


class LinkProblem(Invalid):
    """A link that is not ours, was altered, or is too old: the page says so and what to do."""


@dataclass(frozen=True, slots=True)
class FollowClaim:
    """What a valid confirmation link says: this address (by digest) wants updates on this request."""

    request_id: int
    address_digest: str
    issued_at: datetime

    def matches(self, email: str | None) -> bool:
        return bool(email) and hmac.compare_digest(self.address_digest, address_digest(email or ""))


def address_digest(email: str) -> str:
    """The address as the link names it: case-insensitive, not reversible at a glance."""
    return hashlib.sha256(email.strip().casefold().encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class FollowLinks:
    """Makes and reads confirmation links. ``base_url``: the instance's public URL (no trailing slash)."""

    secret: str
    base_url: str

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=_SALT)

    def token(self, request_id: int, email: str, at: datetime) -> str:
        payload = {"r": request_id, "a": address_digest(email), "t": int(at.timestamp())}
        token: Any = self._serializer().dumps(payload)
        return str(token)

    def url(self, request_id: int, email: str, at: datetime) -> str:
        return f"{self.base_url.rstrip('/')}{CONFIRM_PATH}?token={quote(self.token(request_id, email, at))}"

    def read(self, token: str, now: datetime) -> FollowClaim:
        """The claim of a link, or :class:`LinkProblem` saying why it cannot be used."""
        if not token or len(token) > 500:
            raise LinkProblem("This confirmation link is incomplete: open the whole link from the email.")
        try:
            data: Any = self._serializer().loads(token)
        except BadSignature:
            raise LinkProblem(
                "This confirmation link is not valid: it may have been cut short or changed. "
                "Open the whole link from the email."
            ) from None
        if not (
            isinstance(data, dict)
            and isinstance(data.get("r"), int)
            and isinstance(data.get("a"), str)
            and isinstance(data.get("t"), int)
        ):
            raise LinkProblem("This confirmation link is not valid.")
        issued = datetime.fromtimestamp(data["t"], UTC)
        if now - issued > timedelta(days=FOLLOW_LINK_DAYS):
            raise LinkProblem(
                f"This confirmation link has expired (links are good for {FOLLOW_LINK_DAYS} days). "
                "Follow the request again to get a new one."
            )
        return FollowClaim(data["r"], data["a"], issued)


# -- "no more mail about this request": the link in every message to a resident ---------------------------------
STOP_PATH = "/follow/stop"
_STOP_SALT = "civicswitch.follow-stop"
SECRET_SETTING = "session_secret"  # noqa: S105 - the name of the stored setting, not a secret
SECRET_ENV = "CIVICSWITCH_SECRET_KEY"  # noqa: S105 - the name of the variable


@dataclass(frozen=True, slots=True)
class StopClaim:
    """What a valid stop link says: no more mail about this request to this address (by digest)."""

    request_id: int
    address_digest: str


@dataclass(frozen=True, slots=True)
class StopLinks:
    """Makes and reads the "stop these emails" links. They do not expire: a message read a year later must still
    stop the mail. They prove only that whoever opens one can read mail sent to that address."""

    secret: str
    base_url: str

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=_STOP_SALT)

    def token(self, request_id: int, email: str) -> str:
        token: Any = self._serializer().dumps({"r": request_id, "a": address_digest(email)})
        return str(token)

    def url(self, request_id: int, email: str) -> str:
        return f"{self.base_url.rstrip('/')}{STOP_PATH}?token={quote(self.token(request_id, email))}"

    def read(self, token: str) -> StopClaim:
        return StopClaim(*_request_and_address(self._serializer(), token))


def _request_and_address(serializer: URLSafeSerializer, token: str) -> tuple[int, str]:
    """The request and address digest a link without expiry names, or :class:`LinkProblem` saying why not."""
    data = _payload(serializer, token, "r")
    return data["r"], data["a"]


def _payload(serializer: URLSafeSerializer, token: str, *numbers: str) -> dict[str, Any]:
    """A link's signed payload: an address digest (``a``) and these whole numbers, or :class:`LinkProblem`."""
    if not token or len(token) > 500:
        raise LinkProblem("This link is incomplete: open the whole link from the email.")
    try:
        data: Any = serializer.loads(token)
    except BadSignature:
        raise LinkProblem("This link is not valid: it may have been cut short or changed.") from None
    if not (
        isinstance(data, dict) and isinstance(data.get("a"), str) and all(isinstance(data.get(k), int) for k in numbers)
    ):
        raise LinkProblem("This link is not valid.")
    return data


# -- "Is it fixed?": the links in a closure message ---------------------------------------------------------------
FIXED_PATH = "/requests/{number}/fixed"
_FIXED_SALT = "civicswitch.fix-answer"


@dataclass(frozen=True, slots=True)
class AnswerClaim:
    """What a valid "Is it fixed?" link says: this address (by digest) was told the request was closed."""

    request_id: int
    address_digest: str


@dataclass(frozen=True, slots=True)
class FixedLinks:
    """Makes and reads the "Is it fixed?" links of a closure message (requests/answers.py). They do not expire: the
    service's reopen window decides what a late "still a problem" does (a new, linked request). They prove only that
    whoever opens one can read mail sent to that address; the page behind asks for a button press (a POST)."""

    secret: str
    base_url: str

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=_FIXED_SALT)

    def token(self, request_id: int, email: str) -> str:
        token: Any = self._serializer().dumps({"r": request_id, "a": address_digest(email)})
        return str(token)

    def url(self, request_id: int, email: str, answer: str | None = None) -> str:
        """The page asking about request ``request_id``; ``answer`` (fixed | not_fixed) is chosen on it already."""
        query = f"token={quote(self.token(request_id, email))}" + (f"&answer={quote(answer)}" if answer else "")
        return f"{self.base_url.rstrip('/')}{FIXED_PATH.format(number=request_id)}?{query}"

    def read(self, token: str, request_id: int) -> AnswerClaim:
        """The claim of a link for request ``request_id``, or :class:`LinkProblem` saying why it cannot be used."""
        named, digest = _request_and_address(self._serializer(), token)
        if named != request_id:
            raise LinkProblem(f"This link was sent about another request, not request {request_id}.")
        return AnswerClaim(named, digest)


# -- following an area: the confirmation link, and the "stop these emails" link in each message -------------------
AREA_CONFIRM_PATH = "/follow/area/confirm"
AREA_STOP_PATH = "/follow/area/stop"
_AREA_SALT = "civicswitch.area-follow-confirm"
_AREA_STOP_SALT = "civicswitch.area-follow-stop"


@dataclass(frozen=True, slots=True)
class AreaClaim:
    """What a valid area link says: this address (by digest) and this follow (people/area_follows)."""

    follow_id: int
    address_digest: str

    def matches(self, email: str) -> bool:
        return hmac.compare_digest(self.address_digest, address_digest(email))


@dataclass(frozen=True, slots=True)
class AreaLinks:
    """Makes and reads the links of an area follow: the confirmation (good for :data:`FOLLOW_LINK_DAYS` days, like a
    request's) and the stop link of each message (no expiry: a digest read a year later must still stop them)."""

    secret: str
    base_url: str

    def _confirming(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=_AREA_SALT)

    def _stopping(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=_AREA_STOP_SALT)

    def confirm_url(self, follow_id: int, email: str, at: datetime) -> str:
        token: Any = self._confirming().dumps({"f": follow_id, "a": address_digest(email), "t": int(at.timestamp())})
        return f"{self.base_url.rstrip('/')}{AREA_CONFIRM_PATH}?token={quote(str(token))}"

    def stop_url(self, follow_id: int, email: str) -> str:
        token: Any = self._stopping().dumps({"f": follow_id, "a": address_digest(email)})
        return f"{self.base_url.rstrip('/')}{AREA_STOP_PATH}?token={quote(str(token))}"

    def read_confirm(self, token: str, now: datetime) -> AreaClaim:
        """The claim of a confirmation link, or :class:`LinkProblem` saying why it cannot be used."""
        data = _payload(self._confirming(), token, "f", "t")
        issued = datetime.fromtimestamp(data["t"], UTC)
        if now - issued > timedelta(days=FOLLOW_LINK_DAYS):
            raise LinkProblem(
                f"This confirmation link has expired (links are good for {FOLLOW_LINK_DAYS} days). "
                "Follow the area again to get a new one."
            )
        return AreaClaim(data["f"], data["a"])

    def read_stop(self, token: str) -> AreaClaim:
        data = _payload(self._stopping(), token, "f")
        return AreaClaim(data["f"], data["a"])


def _configured_secret() -> str:
    """``CIVICSWITCH_SECRET_KEY`` as the web's settings read it: the environment, or the ``.env`` file."""
    from civicswitch.settings import Settings  # the instance's configuration: read where a secret is needed

    try:
        return Settings().secret_key
    except ValidationError:  # another setting is wrong: the server says so; here, the variable alone
        return os.environ.get(SECRET_ENV, "")


def instance_secret(uow: UnitOfWork, at: datetime) -> str:
    """The secret that signs sessions and links (``web/principals.session_secret`` reads the same): the
    ``CIVICSWITCH_SECRET_KEY`` setting (environment or ``.env``), else the one stored in the database, made and
    stored now if there is none (within the caller's unit of work, which commits it)."""
    configured = _configured_secret()
    if configured:
        return configured
    stored = uow.settings.all().get(SECRET_SETTING)
    if isinstance(stored, str) and len(stored) >= 32:
        return stored
    made = secrets.token_urlsafe(48)
    uow.settings.set(SECRET_SETTING, made, at)
    return made
