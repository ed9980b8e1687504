"""HTTP hardening that holds for every route (issue 8 §3), both databases: security headers, HEAD wherever GET
is, links that never follow an unchecked Host header, the allowed-hosts check, /docs from this server only, input
no layer can take answered 400, and the body deadline."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.core.logs import EscapeControl
from civicswitch.settings import Settings
from civicswitch.web.app import create_app
from civicswitch.web.errors import BodyLimit

SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _app(engine: Engine, clock: FixedClock, **settings: Any) -> FastAPI:
    return create_app(Settings(database_url="sqlite:///unused.db", **settings), engine=engine, clock=clock)


@pytest.fixture
def make_client(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> Iterator[Any]:
    opened: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        c = TestClient(_app(engine, clock, **settings), raise_server_exceptions=False)
        opened.append(c.__enter__())
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def _file(client: TestClient, keys: dict[str, str], **extra: Any) -> dict[str, Any]:
    reply = client.post(
        "/open311/v2/requests.json",
        data={"api_key": keys["submit"], "service_code": "graffiti", "lat": "40.7359", "long": "-73.9911", **extra},
        **({"headers": extra.pop("headers")} if "headers" in extra else {}),
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json()[0])


# -- security headers ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("GET", "/static/staff.css"),
        ("GET", "/open311/v2/services.xml"),
        ("GET", "/open311/v2/requests/999.json"),
        ("GET", "/no/such/page"),
        ("POST", "/open311/v2/requests.json"),
        ("DELETE", "/open311/v2/services.json"),
        ("GET", "/healthz"),
    ],
)
def test_every_response__carries_the_security_headers(client: TestClient, method: str, path: str) -> None:
    reply = client.request(method, path)
    for name, value in SECURITY.items():
        assert reply.headers.get(name) == value, (name, reply.status_code)
    csp = reply.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_unexpected_error__500_still_carries_the_security_headers(engine: Engine, clock: FixedClock) -> None:
    app = _app(engine, clock)

    @app.get("/boom")
    def boom() -> None:
        raise KeyError("a bug")

    with TestClient(app, raise_server_exceptions=False) as c:
        reply = c.get("/boom")
    assert reply.status_code == 500 and reply.headers["x-frame-options"] == "DENY"


def test_unexpected_error__500_carries_the_same_policy_as_every_answer__tiles_included(
    engine: Engine, clock: FixedClock
) -> None:
    app = _app(engine, clock, map_tile_url="https://tiles.example.org/{z}/{x}/{y}.png")

    @app.get("/boom")
    def boom() -> None:
        raise KeyError("a bug")

    with TestClient(app, raise_server_exceptions=False) as c:
        failed, fine = c.get("/boom"), c.get("/healthz")
    assert failed.status_code == 500 and failed.headers["content-type"] == "application/json; charset=utf-8"
    assert failed.headers["content-security-policy"] == fine.headers["content-security-policy"]
    assert "img-src 'self' data: https://tiles.example.org;" in failed.headers["content-security-policy"]


# -- HEAD ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/", "/docs", "/healthz", "/open311/v2/discovery.xml", "/open311/v2/services.json", "/static/docs.js"]
)
def test_head__answered_wherever_get_is__same_headers_no_body(client: TestClient, path: str) -> None:
    plain = {"accept-encoding": "identity"}  # the body's own length (pages are compressed when asked: compress.py)
    get, head = client.get(path, headers=plain), client.head(path, headers=plain)
    assert get.status_code == head.status_code == 200, (get.status_code, head.status_code)
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == str(len(get.content))
    zipped, zipped_head = client.get(path), client.head(path)  # as a browser asks: the same encoding and length
    assert zipped_head.headers.get("content-encoding") == zipped.headers.get("content-encoding")
    assert zipped_head.headers["content-length"] == zipped.headers["content-length"]


def test_head__where_no_get_is__405(client: TestClient) -> None:
    assert client.head("/api/v1/deliveries/replay").status_code == 405


# -- links and the Host header -------------------------------------------------------------------------------------
def _links(client: TestClient, keys: dict[str, str], headers: dict[str, str]) -> list[str]:
    """Every absolute link in the discovery document, a request's media URL and a duplicate's follow_url."""
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    first = client.post(
        "/open311/v2/requests.json",
        data={"api_key": keys["submit"], "service_code": "graffiti", "lat": "40.7359", "long": "-73.9911"},
        files={"media": ("a.png", png, "image/png")},
    )
    rid = first.json()[0].get("service_request_id")
    discovery = client.get("/open311/v2/discovery.json", headers=headers).json()
    found = [e["url"] for e in discovery["endpoints"]]
    if rid is not None:
        found.append(client.get(f"/open311/v2/requests/{rid}.json", headers=headers).json()[0]["media_url"])
        found.append(client.get("/open311/v2/requests.json", headers=headers).json()[0]["media_url"])
    dupes = client.get(
        "/api/v1/duplicates", params={"service_code": "graffiti", "lat": "40.7359", "long": "-73.9911"}, headers=headers
    ).json()["duplicates"]
    found.extend(d["follow_url"] for d in dupes)
    home = client.get("/", headers=headers).text
    found.extend(re.findall(r'href="(https?://[^"/]+)', home))
    return [u for u in found if u]


def test_links__forged_host__never_in_a_link(client: TestClient, keys: dict[str, str]) -> None:
    links = _links(client, keys, {"host": "evil.example"})
    assert len(links) >= 4, links
    assert not [u for u in links if "evil.example" in u], links


def test_links__public_url__used_for_every_link(make_client: Any, keys: dict[str, str]) -> None:
    client = make_client(public_url="https://311.example.gov/")
    links = _links(client, keys, {"host": "evil.example"})
    base = "https://311.example.gov"
    assert len(links) >= 4 and all(u == base or u.startswith(base + "/") for u in links), links


def test_allowed_hosts__other_host__400_in_the_url_format(make_client: Any, caplog: Any) -> None:
    client = make_client(allowed_hosts="311.example.gov, *.city.example")
    caplog.set_level(logging.INFO, "civicswitch.web")
    for path, kind in (("/open311/v2/services.json", "application/json"), ("/open311/v2/services.xml", "text/xml")):
        reply = client.get(path, headers={"host": "evil.example"})
        assert reply.status_code == 400 and reply.headers["content-type"].startswith(kind), reply.text
        assert "evil.example" in reply.text and "not served here" in reply.text
        assert reply.headers["x-frame-options"] == "DENY"
    assert any("Host 'evil.example' is not served here" in r.getMessage() for r in caplog.records)
    assert client.get("/open311/v2/services.json", headers={"host": "311.example.gov"}).status_code == 200
    assert client.get("/healthz", headers={"host": "a.city.example:8311"}).status_code == 200


def test_allowed_hosts__links_follow_the_checked_host(make_client: Any, keys: dict[str, str]) -> None:
    client = make_client(allowed_hosts="311.example.gov")
    url = client.get("/open311/v2/discovery.json", headers={"host": "311.example.gov"}).json()["endpoints"][0]["url"]
    assert url == "http://311.example.gov/open311/v2"


# -- /docs offline -------------------------------------------------------------------------------------------------
def test_docs__references_only_this_server_and_every_asset_answers(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r'data-openapi-url="([^"]+)"', page.text)
    assert len(refs) >= 5, refs
    assert all(r.startswith("/") and not r.startswith("//") for r in refs), refs
    assert "<script>" not in page.text  # no inline script: the CSP says script-src 'self'
    for ref in refs:
        reply = client.get(ref)
        assert reply.status_code == 200 and len(reply.content) > 100, ref
    bundle = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"] and b"SwaggerUIBundle" in bundle.content


def test_redoc__not_served_from_a_cdn(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404


# -- input no layer can take ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [RecursionError, OverflowError, UnicodeEncodeError])
def test_unusable_input__mapped_to_400_with_one_log_line(
    engine: Engine, clock: FixedClock, kind: type[Exception], caplog: Any
) -> None:
    app = _app(engine, clock)

    @app.post("/boom.xml")
    def boom() -> None:
        if kind is UnicodeEncodeError:
            "\ud800".encode()
        raise kind("from the input")

    caplog.set_level(logging.INFO, "civicswitch.web")
    with TestClient(app, raise_server_exceptions=False) as c:
        reply = c.post("/boom.xml")
    assert reply.status_code == 400 and reply.headers["content-type"] == "text/xml; charset=utf-8"
    assert b"<code>400</code>" in reply.content
    lines = [r for r in caplog.records if r.name == "civicswitch.web"]
    assert len(lines) == 1 and "unusable input" in lines[0].getMessage() and not lines[0].exc_info


# -- the body deadline ---------------------------------------------------------------------------------------------
def test_body_limit__body_not_received_in_time__408_and_the_app_answers_nothing() -> None:
    sent: list[dict[str, Any]] = []
    app_saw: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await receive()
        except Exception as exc:
            app_saw.append(type(exc).__name__)
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"mine"})

    async def trickle() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/open311/v2/requests.xml", "headers": []}
    anyio.run(BodyLimit(app, max_bytes=1000, timeout_s=0.05), scope, trickle, send)
    assert app_saw == ["BodyTimeout"]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]
    assert b"<code>408</code>" in sent[1]["body"]


# -- logs ----------------------------------------------------------------------------------------------------------
def test_request_url_with_esc__logged_escaped(client: TestClient, caplog: Any) -> None:
    caplog.set_level(logging.INFO, "civicswitch.web")
    caplog.handler.addFilter(EscapeControl())
    client.get("/open311/v2/no%1b[31mwhere%07.json")
    text = caplog.text
    assert "\x1b" not in text and "\x07" not in text
    assert "no\\x1b[31mwhere\\x07.json" in text
