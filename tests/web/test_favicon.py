"""The site's icon (web/favicon.py): drawn in code, served as SVG and as an ICO holding a PNG, cached for a day and
revalidated by ETag, and linked from every page's head."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from fastapi.testclient import TestClient

from civicswitch.web.favicon import MAX_AGE, SIZE, png

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database involved


@sqlite_only
def test_favicon_svg__served__cached_and_revalidated(client: TestClient) -> None:
    reply = client.get("/favicon.svg")
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/svg+xml"
    assert reply.content.startswith(b"<svg ") and b"<script" not in reply.content
    assert reply.headers["cache-control"] == f"public, max-age={MAX_AGE}"
    again = client.get("/favicon.svg", headers={"if-none-match": reply.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.head("/favicon.svg").status_code == 200


@sqlite_only
def test_favicon_ico__one_32px_png_in_an_ico(client: TestClient) -> None:
    reply = client.get("/favicon.ico")
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/vnd.microsoft.icon"
    assert reply.headers["cache-control"] == f"public, max-age={MAX_AGE}" and reply.headers["etag"]
    body = reply.content
    reserved, kind, count = struct.unpack("<HHH", body[:6])
    width, height, _, _, _, bits, length, offset = struct.unpack("<BBBBHHII", body[6:22])
    assert (reserved, kind, count, width, height, bits) == (0, 1, 1, SIZE, SIZE, 32)
    assert body[offset:] == png() and len(body) == offset + length


def test_favicon_png__valid_chunks_and_the_drawing() -> None:
    data = png()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = body
        at += 12 + length
    assert struct.unpack(">IIBB", chunks[b"IHDR"][:10]) == (SIZE, SIZE, 8, 6)  # 32×32, 8-bit RGBA
    rows = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 4 * SIZE

    def pixel(x: int, y: int) -> tuple[int, ...]:
        at = y * stride + 1 + 4 * x
        return tuple(rows[at : at + 4])

    assert pixel(0, 0)[3] == 0  # the rounded corner is transparent
    assert pixel(16, 2) == (0x12, 0x3A, 0x63, 255)  # the blue square
    assert pixel(23, 16) == (255, 255, 255, 255)  # the door


@sqlite_only
@pytest.mark.parametrize("path", ["/", "/staff/login", "/docs"])
def test_pages__link_the_icon(client: TestClient, path: str) -> None:
    page = client.get(path).text
    assert re.search(r'<link rel="icon" href="[^"]*/favicon\.svg" type="image/svg\+xml">', page), page[:600]
