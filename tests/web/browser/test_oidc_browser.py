"""Single sign-on in Chromium: the sign-in page's button, the fake identity provider over real HTTP, back to a
page of ours that moves on, signed in as the account's own role. Keyboard only; axe-clean."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork
from civicswitch.web.app import create_app
from conftest import axe_violations, screenshot
from fake_oidc import CLIENT_ID, CLIENT_SECRET, FakeIdentityProvider

# Every flow on both databases (the issue: "end to end in Chromium on SQLite and PostgreSQL"): the conftest's
# database_url runs SQLite always and PostgreSQL where CIVICSWITCH_TEST_POSTGRES_URL names one.


@pytest.fixture
def provider(clock: FixedClock) -> Iterator[FakeIdentityProvider]:
    with FakeIdentityProvider.serve(clock) as found:
        yield found


@pytest.fixture
def app(engine: Engine, clock: FixedClock, loaded: dict[str, str], provider: FakeIdentityProvider) -> FastAPI:
    add_user(SqlUnitOfWork(engine), clock, AddUser("ana@city.gov", "department", bodies=("DOT",), name="Ana Ruiz",
                                                  password="a long enough password"))  # fmt: skip
    settings = Settings(database_url="sqlite:///unused.db", oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID,
                        oidc_client_secret=CLIENT_SECRET)  # fmt: skip
    return create_app(settings, engine=engine, clock=clock)


def test_single_sign_on__keyboard_only__signed_in_as_the_accounts_role(page: Any, served: str) -> None:
    page.goto(f"{served}/staff/login?next=/staff/queue")
    button = page.get_by_role("link", name="Sign in with city account")
    assert button.is_visible()
    assert axe_violations(page) == []
    screenshot(page, "staff-login-sso")
    button.focus()
    with page.expect_navigation(url="**/staff/queue"):  # provider → our "Signed in" page → the queue
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", name="Queue").is_visible()
    page.goto(f"{served}/staff/me")
    assert "Ana Ruiz" in page.content() and "department" in page.content()


def test_single_sign_on__no_account__refusal_page_says_whom_to_ask(page: Any, served: str,
                                                                   provider: FakeIdentityProvider) -> None:  # fmt: skip
    provider.email = "stranger@city.gov"
    page.goto(f"{served}/staff/login")
    with page.expect_navigation(url="**/staff/login/oidc/callback**"):
        page.get_by_role("link", name="Sign in with city account").click()
    alert = page.get_by_role("alert")
    assert "no enabled staff account for stranger@city.gov" in alert.inner_text()
    assert page.get_by_label("Password").is_visible()  # the password form is still there
    assert axe_violations(page) == []
    screenshot(page, "staff-login-sso-refused")
