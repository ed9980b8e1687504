"""Staff sign-in, who am I, password change and sign-out over HTTP (both databases)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user, disable_user, reset_password
from civicswitch.storage.sql import SqlUnitOfWork
from staff_client import csrf_of

PASSWORD = "a long enough password"


@pytest.fixture
def staff(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> str:
    add_user(SqlUnitOfWork(engine), clock, AddUser("Ana@City.gov", "department", bodies=("DOT",), name="Ana",
                                                  password=PASSWORD))  # fmt: skip
    return "ana@city.gov"


def _sign_in(client: TestClient, email: str, password: str, next_: str = "") -> object:
    form = client.get("/staff/login")
    return client.post(
        "/staff/login",
        data={"email": email, "password": password, "csrf": csrf_of(form.text), "next": next_},
        follow_redirects=False,
    )


def test_me__not_signed_in__redirected_to_sign_in(client: TestClient) -> None:
    reply = client.get("/staff/me", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].startswith("/staff/login")


def test_sign_in__right_password__session_cookie_and_who_am_i(client: TestClient, staff: str) -> None:
    reply = _sign_in(client, "ANA@city.gov ", PASSWORD)
    assert reply.status_code == 303 and reply.headers["location"] == "/staff/me"  # type: ignore[attr-defined]
    cookie = reply.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "cs_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = client.get("/staff/me")
    assert page.status_code == 200
    assert "ana@city.gov" in page.text and "department" in page.text and "DOT" in page.text
    assert "request.update (own body)" in page.text
    assert page.headers["cache-control"] == "no-store"
    me = client.get("/api/v1/whoami").json()
    assert me["role"] == "department" and me["bodies"] == ["DOT"] and "request.merge" in me["actions"]


def test_sign_in__wrong_password_or_unknown_email__the_same_answer(client: TestClient, staff: str) -> None:
    wrong = _sign_in(client, staff, "not the password at all")
    unknown = _sign_in(client, "nobody@city.gov", PASSWORD)
    assert wrong.status_code == unknown.status_code == 403  # type: ignore[attr-defined]
    message = "Email or password is not right, or the account is disabled."
    assert message in wrong.text and message in unknown.text  # type: ignore[attr-defined]
    assert client.get("/staff/me", follow_redirects=False).status_code == 303


def test_sign_in__without_the_forms_csrf_token__refused(client: TestClient, staff: str) -> None:
    client.get("/staff/login")
    reply = client.post("/staff/login", data={"email": staff, "password": PASSWORD, "csrf": "forged"},
                        follow_redirects=False)  # fmt: skip
    assert reply.status_code == 403 and "out of date" in reply.text


def test_sign_in__ten_failures__429_with_retry_after_even_for_the_right_password(
    client: TestClient, staff: str
) -> None:
    for _ in range(10):
        assert _sign_in(client, staff, "wrong wrong wrong").status_code == 403  # type: ignore[attr-defined]
    blocked = _sign_in(client, staff, PASSWORD)
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "900"  # type: ignore[attr-defined]


def test_sign_in__next__only_staff_pages_no_open_redirect(client: TestClient, staff: str) -> None:
    assert _sign_in(client, staff, PASSWORD, "https://evil.example/").headers["location"] == "/staff/me"  # type: ignore[attr-defined]
    client.cookies.clear()
    assert _sign_in(client, staff, PASSWORD, "//evil.example/x").headers["location"] == "/staff/me"  # type: ignore[attr-defined]
    client.cookies.clear()
    assert _sign_in(client, staff, PASSWORD, "/staff/password").headers["location"] == "/staff/password"  # type: ignore[attr-defined]


def test_disable__signed_in_session_stops_at_the_next_request(
    client: TestClient, staff: str, engine: Engine, clock: FixedClock
) -> None:
    _sign_in(client, staff, PASSWORD)
    assert client.get("/staff/me").status_code == 200
    disable_user(SqlUnitOfWork(engine), clock, staff)
    assert client.get("/staff/me", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/whoami").status_code == 403
    assert _sign_in(client, staff, PASSWORD).status_code == 403  # type: ignore[attr-defined]


def test_reset_password__one_time_password__must_choose_a_new_one_and_old_sessions_end(
    client: TestClient, staff: str, engine: Engine, clock: FixedClock
) -> None:
    _sign_in(client, staff, PASSWORD)
    made = reset_password(SqlUnitOfWork(engine), clock, staff)
    assert made.password and client.get("/staff/me", follow_redirects=False).status_code == 303  # session ended
    reply = _sign_in(client, staff, made.password)
    assert reply.headers["location"] == "/staff/password"  # type: ignore[attr-defined]
    assert client.get("/staff/me", follow_redirects=False).headers["location"] == "/staff/password"
    form = client.get("/staff/password")
    mismatch = client.post("/staff/password", data={"current": made.password, "new": "x" * 12, "again": "y" * 12,
                                                    "csrf": csrf_of(form.text)})  # fmt: skip
    assert mismatch.status_code == 400 and "differ" in mismatch.text
    short = client.post("/staff/password", data={"current": made.password, "new": "short", "again": "short",
                                                 "csrf": csrf_of(form.text)})  # fmt: skip
    assert short.status_code == 400 and "at least 12" in short.text
    done = client.post("/staff/password", data={"current": made.password, "new": "my own new password",
                                                "again": "my own new password", "csrf": csrf_of(form.text)},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert "Your new password is saved" in client.get(done.headers["location"]).text
    client.cookies.clear()
    assert _sign_in(client, staff, "my own new password").headers["location"] == "/staff/me"  # type: ignore[attr-defined]


def test_sign_out__needs_the_sessions_csrf_token_then_ends_the_session(client: TestClient, staff: str) -> None:
    _sign_in(client, staff, PASSWORD)
    page = client.get("/staff/me")
    assert client.post("/staff/logout", data={"csrf": "forged"}).status_code == 403
    out = client.post("/staff/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/staff/me", follow_redirects=False).status_code == 303


def test_api__cookie_write_without_csrf_header__403_nothing_done(
    client: TestClient, staff: str, keys: dict[str, str]
) -> None:
    """A signed-in session writes to /api/v1 only with the session's CSRF token in X-CSRF-Token."""
    form = {"api_key": keys["submit"], "service_code": "pothole", "lat": "40.7", "long": "-73.9"}
    filed = client.post("/open311/v2/requests.json", data={**form, "attribute[size]": "small"})
    rid = filed.json()[0]["service_request_id"]
    _sign_in(client, staff, PASSWORD)
    token = csrf_of(client.get("/staff/me").text)
    no_token = client.post(f"/api/v1/requests/{rid}/assign", json={"org": None})
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    ok = client.get(f"/api/v1/requests/{rid}/contact", params={"reason": "calling back"})
    assert ok.status_code == 200
    with_token = client.post(f"/api/v1/requests/{rid}/assign", json={"org": None}, headers={"X-CSRF-Token": token})
    assert with_token.status_code == 200, with_token.text


def test_audit__sign_ins_and_contact_reads_are_logged(client: TestClient, staff: str, keys: dict[str, str]) -> None:
    form = {"api_key": keys["submit"], "service_code": "pothole", "lat": "40.7", "long": "-73.9"}
    filed = client.post(
        "/open311/v2/requests.json", data={**form, "attribute[size]": "small", "email": "r@example.org"}
    )
    rid = filed.json()[0]["service_request_id"]
    _sign_in(client, staff, "wrong password here")
    _sign_in(client, staff, PASSWORD)
    contact = client.get(f"/api/v1/requests/{rid}/contact", params={"reason": "calling back"}).json()
    assert contact["contact"]["email"] == "r@example.org"
    entries = client.get("/api/v1/audit", headers={"X-Api-Key": keys["admin"]}).json()["entries"]
    kinds = [(e["action"], e["detail"].get("ok"), e["reason"]) for e in entries]
    assert ("session.sign_in", False, None) in kinds and ("session.sign_in", True, None) in kinds
    read = [e for e in entries if e["action"] == "request.read_contact"]
    assert len(read) == 1 and read[0]["object_id"] == rid and read[0]["reason"] == "calling back"
    assert read[0]["principal"].startswith("staff:") and read[0]["principal"].endswith("ana@city.gov")
    assert client.get("/api/v1/audit").status_code == 403  # a department may not read the audit log
