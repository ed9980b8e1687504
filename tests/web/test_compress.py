"""Compression (web/compress.py): pages and their assets gzip-compressed for a browser that asks; the APIs' answers
as they are."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_pages_and_assets__browser_accepts_gzip__compressed(client: TestClient) -> None:
    for path in ("/static/leaflet/leaflet.js", "/report", "/static/staff.css"):
        reply = client.get(path, headers={"accept-encoding": "gzip"})
        assert reply.status_code == 200, path
        assert reply.headers["content-encoding"] == "gzip", path
        assert "accept-encoding" in reply.headers["vary"].lower(), path
    plain = client.get("/static/leaflet/leaflet.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.content) > 100_000


def test_apis__not_compressed_even_when_asked(client: TestClient) -> None:
    for path in ("/open311/v2/services.json", "/open311/v2/requests.json", "/api/v1/areas"):
        reply = client.get(path, headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in reply.headers, path
