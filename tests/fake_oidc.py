"""A fake OpenID Connect identity provider for the single sign-on tests: discovery, keys, an authorization
endpoint that signs in whoever the test says (no login form), and a token endpoint that checks the client's
secret, the code, the redirect URI and the PKCE verifier as a real provider does.

Use it in-process (``httpx.MockTransport(provider.handle)`` as the app's ``oidc_transport``) or over real HTTP
(:meth:`FakeIdentityProvider.serve`, for the browser)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey

from civicswitch.core.clock import Clock

CLIENT_ID = "civicswitch-test"
CLIENT_SECRET = "test client secret"


@dataclass
class Grant:
    redirect_uri: str
    challenge: str
    nonce: str
    claims: dict[str, Any]


@dataclass
class FakeIdentityProvider:
    issuer: str
    clock: Clock
    email: str = "ana@city.gov"  # whom the next authorization signs in
    email_verified: bool | None = True
    # knobs for the refusals
    token_overrides: dict[str, Any] = field(default_factory=dict)  # claims to change in the ID token
    sign_with_other_key: bool = False
    authorize_error: str = ""
    down: bool = False
    key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", parameters={"kid": "k1"}))
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    jwks_fetches: int = 0

    def rotate_key(self) -> None:
        self.key = ECKey.generate_key("P-256", parameters={"kid": secrets.token_hex(4)})

    # -- endpoints ---------------------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503, text="down for maintenance")
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"],
            })  # fmt: skip
        if path == "/jwks":
            self.jwks_fetches += 1
            return httpx.Response(200, json={"keys": [self.key.as_dict(private=False)]})
        if path == "/authorize":
            return httpx.Response(302, headers={"location": self.authorize(str(request.url))})
        if path == "/token" and request.method == "POST":
            return self._token(request)
        return httpx.Response(404)

    def authorize(self, url: str) -> str:
        """Where the provider sends the browser back: the callback with a code (or an error)."""
        params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert params["response_type"] == "code" and params["client_id"] == CLIENT_ID, params
        assert params["code_challenge_method"] == "S256" and "openid" in params["scope"].split(), params
        back = params["redirect_uri"]
        if self.authorize_error:
            return f"{back}?{urlencode({'error': self.authorize_error, 'state': params['state']})}"
        code = secrets.token_urlsafe(16)
        claims: dict[str, Any] = {"email": self.email}
        if self.email_verified is not None:
            claims["email_verified"] = self.email_verified
        self.grants[code] = Grant(back, params["code_challenge"], params["nonce"], claims)
        return f"{back}?{urlencode({'code': code, 'state': params['state']})}"

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.token_requests.append(form)
        basic = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if basic != expected:
            return httpx.Response(401, json={"error": "invalid_client"})
        grant = self.grants.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != grant.redirect_uri:
            return httpx.Response(400, json={"error": "invalid_grant"})
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "PKCE"})
        now = int(self.clock.now().timestamp())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "sub": "user-1", "iat": now, "exp": now + 300,
                  "nonce": grant.nonce, **grant.claims, **self.token_overrides}  # fmt: skip
        claims = {k: v for k, v in claims.items() if v is not None}
        key = ECKey.generate_key("P-256", parameters={"kid": self.key.kid}) if self.sign_with_other_key else self.key
        token = jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)
        return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", "id_token": token})

    # -- over real HTTP ----------------------------------------------------------------------------------------
    @classmethod
    @contextmanager
    def serve(cls, clock: Clock) -> Iterator[FakeIdentityProvider]:
        provider: FakeIdentityProvider | None = None

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                assert provider is not None
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                request = httpx.Request(self.command, provider.issuer + self.path, headers=dict(self.headers),
                                        content=body)  # fmt: skip
                reply = provider.handle(request)
                self.send_response(reply.status_code)
                for name, value in reply.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        provider = cls(f"http://127.0.0.1:{server.server_address[1]}", clock)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield provider
        finally:
            server.shutdown()
            server.server_close()


def claims_of(token: str) -> dict[str, Any]:
    """An ID token's claims, unchecked (for assertions)."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
