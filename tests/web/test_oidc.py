"""Single sign-on for staff (web/oidc.py) against a fake identity provider, over HTTP on both databases: the
provider vouches for an address, the account's own role applies, and every way the answer can be wrong is refused
with a page that says what to do and nothing signed in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user, disable_user
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from fake_oidc import CLIENT_ID, CLIENT_SECRET, FakeIdentityProvider

ISSUER = "https://id.city.example.gov"


@pytest.fixture
def provider(clock: FixedClock) -> FakeIdentityProvider:
    return FakeIdentityProvider(ISSUER, clock)


@pytest.fixture
def sso(
    engine: Engine, clock: FixedClock, keys: dict[str, str], provider: FakeIdentityProvider
) -> Iterator[TestClient]:
    add_user(SqlUnitOfWork(engine), clock, AddUser("ana@city.gov", "department", bodies=("DOT",), name="Ana",
                                                  password="a long enough password"))  # fmt: skip
    settings = Settings(database_url="sqlite:///unused.db", oidc_issuer=ISSUER, oidc_client_id=CLIENT_ID,
                        oidc_client_secret=CLIENT_SECRET)  # fmt: skip
    app = create_app(settings, engine=engine, clock=clock)
    app.state.oidc_transport = httpx.MockTransport(provider.handle)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _go(client: TestClient, provider: FakeIdentityProvider, next_: str = "") -> httpx.Response:
    """Press the button, let the provider answer, come back: the callback's answer."""
    start = client.get("/staff/login/oidc", params={"next": next_} if next_ else None, follow_redirects=False)
    assert start.status_code == 303, start.text
    back = provider.authorize(start.headers["location"])
    parts = urlsplit(back)
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def test_login_page__sso_configured__shows_the_button(sso: TestClient) -> None:
    page = sso.get("/staff/login?next=/staff/queue")
    assert "Sign in with city account" in page.text
    assert 'href="/staff/login/oidc?next=/staff/queue"' in page.text.replace("%2F", "/")


def test_login_page__no_sso__no_button_and_the_routes_say_so(client: TestClient) -> None:
    assert "single sign-on" not in client.get("/staff/login").text.lower()
    reply = client.get("/staff/login/oidc", follow_redirects=False)
    assert reply.status_code == 404 and "not set up" in reply.text


def test_start__redirects_to_provider_with_pkce_state_and_nonce(sso: TestClient) -> None:
    reply = sso.get("/staff/login/oidc", follow_redirects=False)
    assert reply.status_code == 303
    url = urlsplit(reply.headers["location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/authorize"
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert params["client_id"] == CLIENT_ID and params["response_type"] == "code"
    assert params["redirect_uri"] == "http://testserver/staff/login/oidc/callback"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32 and params["scope"] == "openid email profile"
    cookie = reply.headers["set-cookie"]
    assert "cs_oidc=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()


def test_callback__known_account__signed_in_with_its_own_role(sso: TestClient, provider: FakeIdentityProvider,
                                                              engine: Engine) -> None:  # fmt: skip
    reply = _go(sso, provider, next_="/staff/queue")
    assert reply.status_code == 200 and "You are signed in" in reply.text
    assert 'content="0; url=/staff/queue"' in reply.text  # a page of ours moves on: the Strict cookie goes along
    assert "cs_session=" in reply.headers["set-cookie"]
    me = sso.get("/api/v1/whoami").json()
    assert me["role"] == "department" and me["bodies"] == ["DOT"]
    sent = provider.token_requests[-1]
    assert sent["grant_type"] == "authorization_code" and len(sent["code_verifier"]) >= 43
    with engine.connect() as db:
        detail = db.execute(
            text("SELECT detail FROM audit_log WHERE action = 'session.sign_in' ORDER BY id DESC")
        ).first()
    assert detail is not None
    found = json.loads(detail[0]) if isinstance(detail[0], str) else detail[0]
    assert found == {"ok": True, "method": "oidc"}


def test_callback__same_code_twice__second_refused(sso: TestClient, provider: FakeIdentityProvider) -> None:
    start = sso.get("/staff/login/oidc", follow_redirects=False)
    back = urlsplit(provider.authorize(start.headers["location"]))
    assert sso.get(f"{back.path}?{back.query}", follow_redirects=False).status_code == 200
    sso.cookies.clear()
    again = sso.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert again.status_code == 403 and "start again" in again.text
    assert sso.get("/api/v1/whoami").status_code in (401, 403)


@pytest.mark.parametrize(
    ("knob", "value", "says"),
    [
        ("email", "nobody@city.gov", "no enabled staff account for nobody@city.gov"),
        ("email_verified", False, "has not verified your email"),
        ("authorize_error", "access_denied", "did not sign you in"),
        ("sign_with_other_key", True, "could not be checked"),
        ("token_overrides", {"nonce": "replayed"}, "could not be checked"),
        ("token_overrides", {"aud": "another-app"}, "could not be checked"),
        ("token_overrides", {"iss": "https://evil.example"}, "could not be checked"),
        ("token_overrides", {"exp": 1_000_000_000}, "could not be checked"),
        ("token_overrides", {"email": None}, "did not give your email"),
    ],
)
def test_callback__wrong_answer__refused_and_nothing_signed_in(
    sso: TestClient, provider: FakeIdentityProvider, knob: str, value: Any, says: str
) -> None:
    setattr(provider, knob, value)
    reply = _go(sso, provider)
    assert reply.status_code == 403, reply.text
    assert says in reply.text
    assert "cs_session=" not in reply.headers.get("set-cookie", "")
    assert sso.get("/api/v1/whoami").status_code in (401, 403)


def test_callback__disabled_account__refused(sso: TestClient, provider: FakeIdentityProvider, engine: Engine,
                                             clock: FixedClock) -> None:  # fmt: skip
    disable_user(SqlUnitOfWork(engine), clock, "ana@city.gov")
    reply = _go(sso, provider)
    assert reply.status_code == 403 and "no enabled staff account" in reply.text


def test_callback__state_not_ours__refused(sso: TestClient, provider: FakeIdentityProvider) -> None:
    start = sso.get("/staff/login/oidc", follow_redirects=False)
    back = urlsplit(provider.authorize(start.headers["location"]))
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    reply = sso.get(back.path, params={"code": query["code"], "state": "forged"}, follow_redirects=False)
    assert reply.status_code == 403 and "start again" in reply.text
    sso.cookies.clear()  # another browser: no flow cookie at all
    reply = sso.get(back.path, params=query, follow_redirects=False)
    assert reply.status_code == 403 and "start again" in reply.text


def test_callback__provider_rotated_its_key__fetched_again(sso: TestClient, provider: FakeIdentityProvider) -> None:
    assert _go(sso, provider).status_code == 200
    fetched = provider.jwks_fetches
    provider.rotate_key()
    sso.cookies.clear()
    assert _go(sso, provider).status_code == 200
    assert provider.jwks_fetches == fetched + 1


def test_start__provider_down__says_so_and_password_still_offered(sso: TestClient,
                                                                  provider: FakeIdentityProvider) -> None:  # fmt: skip
    provider.down = True
    reply = sso.get("/staff/login/oidc", follow_redirects=False)
    assert reply.status_code == 502 and "did not answer" in reply.text and 'name="password"' in reply.text


def test_settings__issuer_not_a_url__refused() -> None:
    with pytest.raises(ValueError, match="oidc_issuer"):
        Settings(oidc_issuer="login.city.gov")
