"""Signing in to the staff pages over HTTP in tests (the pages' own login form, its CSRF token and the session's)."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

PASSWORD = "a long enough password"


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(
    client: TestClient, email: str, password: str = PASSWORD, *, page: str = "/staff/me", fresh: bool = False
) -> str:
    """Sign in through /staff/login (``fresh``: dropping any earlier session first); the session's CSRF token, read
    from ``page``."""
    if fresh:
        client.cookies.clear()
    form = client.get("/staff/login")
    reply = client.post(
        "/staff/login",
        data={"email": email, "password": password, "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return csrf_of(client.get(page).text)
