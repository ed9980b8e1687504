"""Optional single sign-on for staff: OpenID Connect, authorization code flow with PKCE.

The city's identity provider says who the person is (a verified email address); what they may do stays here. The
address must belong to an enabled staff account (``civicswitch users add``), whose role and scopes apply exactly as
after a password sign-in: nobody gets an account, a role or a scope from the provider.

* On when ``CIVICSWITCH_OIDC_ISSUER``, ``CIVICSWITCH_OIDC_CLIENT_ID`` and ``CIVICSWITCH_OIDC_CLIENT_SECRET`` are
  set (environment only: identity configuration and its secret belong to the deployment, not to the database or its
  backups). The sign-in page then shows a button (``oidc_label``) next to the password form, which keeps working.
* The provider's metadata (``/.well-known/openid-configuration``) and keys (``jwks_uri``) are fetched when first
  needed and kept for :data:`METADATA_SECONDS`; an ID token signed with a key not known yet makes one fresh fetch.
* ``state``, ``nonce`` and the PKCE verifier travel in a cookie signed with the instance secret, good for
  :data:`FLOW_SECONDS`, ``SameSite=Lax`` (the provider's redirect back is a cross-site navigation, which a
  ``Strict`` cookie would not survive), and used once.
* The ID token's signature is checked against the provider's keys (RS256 or ES256; never ``none`` or HMAC), and its
  ``iss``, ``aud``, ``exp``, ``iat`` and ``nonce`` claims, with the injected clock. The address comes from the
  ``email`` claim; ``email_verified: false`` is refused.
* Every outcome is audited (``session.sign_in`` with ``{"method": "oidc"}``) and logged; refusals are pages that
  say what to do, never a stack trace.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from civicswitch.core.clock import Clock
from civicswitch.settings import Settings

log = logging.getLogger("civicswitch.web.oidc")

METADATA_SECONDS = 3600.0  # how long the provider's metadata and keys are kept
FLOW_SECONDS = 600  # from the button to the provider's answer
HTTP_TIMEOUT = 10.0
ALGORITHMS = ("RS256", "ES256", "PS256")
CALLBACK_PATH = "/staff/login/oidc/callback"
FLOW_COOKIE = "cs_oidc"


class SignOnError(Exception):
    """The single sign-on failed: ``message`` is for the person, ``reason`` for the log."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(reason)
        self.message = message
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Flow:
    """What the callback must find again: one sign-in attempt."""

    state: str
    nonce: str
    verifier: str
    next: str


@dataclass(frozen=True, slots=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret)


class Provider:
    """One identity provider: its metadata and keys (cached), the authorization URL, the code exchange and the
    ID token check. Blocking (httpx): call it off the event loop."""

    def __init__(self, settings: Settings, clock: Clock, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.http = httpx.Client(transport=transport, timeout=HTTP_TIMEOUT, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: tuple[float, Metadata] | None = None
        self._keys: tuple[float, KeySet] | None = None

    # -- the provider's documents ------------------------------------------------------------------------------
    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self.http.get(url, headers={"accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignOnError(
                "The city's sign-in service did not answer. Try again, or sign in with your password.",
                f"{what} {url}: {type(exc).__name__}: {exc}",
            ) from exc
        if not isinstance(document, dict):
            raise SignOnError("The city's sign-in service gave an answer we cannot use.", f"{what} is not an object")
        return document

    def metadata(self) -> Metadata:
        with self._lock:
            if self._metadata is not None and self._metadata[0] > time.monotonic():
                return self._metadata[1]
        document = self._get_json(f"{self.issuer}/.well-known/openid-configuration", "metadata")
        try:
            found = Metadata(
                issuer=str(document["issuer"]),
                authorization_endpoint=str(document["authorization_endpoint"]),
                token_endpoint=str(document["token_endpoint"]),
                jwks_uri=str(document["jwks_uri"]),
            )
        except KeyError as exc:
            raise SignOnError("The city's sign-in service is not set up right.", f"metadata lacks {exc}") from exc
        if found.issuer.rstrip("/") != self.issuer:
            raise SignOnError(
                "The city's sign-in service is not set up right.",
                f"metadata names issuer {found.issuer!r}, settings say {self.issuer!r}",
            )
        with self._lock:
            self._metadata = (time.monotonic() + METADATA_SECONDS, found)
        return found

    def keys(self, *, fresh: bool = False) -> KeySet:
        with self._lock:
            if not fresh and self._keys is not None and self._keys[0] > time.monotonic():
                return self._keys[1]
        document = self._get_json(self.metadata().jwks_uri, "keys")
        try:
            found = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise SignOnError("The city's sign-in service is not set up right.", f"keys: {exc}") from exc
        with self._lock:
            self._keys = (time.monotonic() + METADATA_SECONDS, found)
        return found

    # -- the flow ----------------------------------------------------------------------------------------------
    def start(self, redirect_uri: str, next_path: str) -> tuple[str, Flow]:
        """The provider's authorization URL, and the flow to keep in the cookie."""
        flow = Flow(generate_token(32), generate_token(32), generate_token(64), next_path)
        url = prepare_grant_uri(
            self.metadata().authorization_endpoint,
            self.settings.oidc_client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=self.settings.oidc_scopes,
            state=flow.state,
            nonce=flow.nonce,
            code_challenge=create_s256_code_challenge(flow.verifier),  # type: ignore[no-untyped-call]
            code_challenge_method="S256",
        )
        return str(url), flow

    def finish(self, code: str, redirect_uri: str, flow: Flow) -> str:
        """The verified email address the provider vouches for."""
        response = self._token(code, redirect_uri, flow)
        id_token = response.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SignOnError("The city's sign-in service did not say who you are.", "token response has no id_token")
        claims = self._claims(id_token, flow.nonce)
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise SignOnError(
                "The city's sign-in service did not give your email address, so we cannot find your account.",
                f"ID token of {claims.get('sub')!r} has no email claim (scopes asked: {self.settings.oidc_scopes})",
            )
        if claims.get("email_verified") is False:
            raise SignOnError(
                "The city's sign-in service has not verified your email address.",
                f"email_verified is false for {email!r}",
            )
        return email.strip().lower()

    def _token(self, code: str, redirect_uri: str, flow: Flow) -> dict[str, Any]:
        endpoint = self.metadata().token_endpoint
        try:
            response = self.http.post(
                endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": flow.verifier,
                },
                auth=(self.settings.oidc_client_id, self.settings.oidc_client_secret),  # client_secret_basic
                headers={"accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise SignOnError(
                "The city's sign-in service did not answer. Try again, or sign in with your password.",
                f"token endpoint {endpoint}: {type(exc).__name__}: {exc}",
            ) from exc
        if response.status_code != 200:
            raise SignOnError(
                "The city's sign-in service refused this sign-in. Please start again.",
                f"token endpoint answered {response.status_code}: {response.text[:300]!r}",
            )
        try:
            document = response.json()
        except ValueError as exc:
            raise SignOnError("The city's sign-in service gave an answer we cannot use.", "token: not JSON") from exc
        if not isinstance(document, dict):
            raise SignOnError("The city's sign-in service gave an answer we cannot use.", "token: not an object")
        return document

    def _claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        refused = "The city's sign-in service's answer could not be checked. Please start again."
        try:
            try:
                token = jwt.decode(id_token, self.keys(), algorithms=ALGORITHMS)
            except (JoseError, ValueError) as exc:
                if "kid" not in str(exc).lower() and "key" not in str(exc).lower():
                    raise
                token = jwt.decode(id_token, self.keys(fresh=True), algorithms=ALGORITHMS)  # keys rotated
            registry = jwt.JWTClaimsRegistry(
                now=lambda: int(self.clock.now().timestamp()),
                leeway=60,
                iss={"essential": True, "value": self.metadata().issuer},
                aud={"essential": True, "value": self.settings.oidc_client_id},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise SignOnError(refused, f"ID token refused: {type(exc).__name__}: {exc}") from exc
        return dict(token.claims)


# -- the flow cookie ----------------------------------------------------------------------------------------------
def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="civicswitch.oidc-flow")


def pack(secret: str, flow: Flow) -> str:
    return _serializer(secret).dumps([flow.state, flow.nonce, flow.verifier, flow.next])


def unpack(secret: str, cookie: str | None, state: str) -> Flow:
    """The flow the cookie carries, if it is ours, fresh, and for this ``state``; else :class:`SignOnError`."""
    again = "This sign-in took too long or was started elsewhere. Please start again."
    if not cookie:
        raise SignOnError(again, "no flow cookie (expired, or another browser)")
    try:
        values = _serializer(secret).loads(cookie, max_age=FLOW_SECONDS)
    except BadSignature as exc:
        raise SignOnError(again, f"flow cookie refused: {type(exc).__name__}") from exc
    if not (isinstance(values, list) and len(values) == 4 and all(isinstance(v, str) for v in values)):
        raise SignOnError(again, "flow cookie malformed")
    flow = Flow(*values)
    if not state or not secrets.compare_digest(flow.state, state):
        raise SignOnError(again, "state does not match the flow cookie")
    return flow
