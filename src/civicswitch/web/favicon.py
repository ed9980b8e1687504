"""The site's icon, drawn here (no image file, nothing copied): one front door (the large dot) joined to three back
offices, white on the header's blue. ``/favicon.svg`` is what the pages link to; ``/favicon.ico`` is the same
drawing as a 32×32 PNG in an ICO, for browsers and tools that ask for that address whatever a page links (a JSON
reply opened in a browser, a feed reader). Both are cached for a day and revalidated by ETag: without them every
page's first view logged a 404 in the browser's console."""

from __future__ import annotations

import hashlib
import math
import struct
import zlib
from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)

SIZE = 32
BLUE = (0x12, 0x3A, 0x63)  # the staff pages' header, #123a63
CORNER = 6.0
LINE = 2.5
# The drawing in a 32×32 box: three small dots on the left (back offices), lines from each to the door on the right.
OFFICES = ((9.0, 9.0), (9.0, 16.0), (9.0, 23.0))
DOOR = (23.0, 16.0)
OFFICE_R, DOOR_R = 3.0, 4.0
MAX_AGE = 86_400

SVG = (
    f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" height="{SIZE}">'
    f'<rect width="{SIZE}" height="{SIZE}" rx="{CORNER:g}" fill="#{bytes(BLUE).hex()}"/>'
    f'<g stroke="#fff" stroke-width="{LINE:g}" stroke-linecap="round">'
    + "".join(f'<line x1="{x:g}" y1="{y:g}" x2="{DOOR[0]:g}" y2="{DOOR[1]:g}"/>' for x, y in OFFICES)
    + '</g><g fill="#fff">'
    + "".join(f'<circle cx="{x:g}" cy="{y:g}" r="{OFFICE_R:g}"/>' for x, y in OFFICES)
    + f'<circle cx="{DOOR[0]:g}" cy="{DOOR[1]:g}" r="{DOOR_R:g}"/></g></svg>'
).encode()


def _in_square(x: float, y: float) -> bool:
    """Inside the rounded square."""
    cx = min(max(x, CORNER), SIZE - CORNER)
    cy = min(max(y, CORNER), SIZE - CORNER)
    return (x - cx) ** 2 + (y - cy) ** 2 <= CORNER**2


def _on_line(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Within half the line's width of the segment a–b (round caps, as the SVG's)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = max(0.0, min(1.0, ((x - a[0]) * dx + (y - a[1]) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - a[0] - t * dx, y - a[1] - t * dy) <= LINE / 2


def _white(x: float, y: float) -> bool:
    if math.hypot(x - DOOR[0], y - DOOR[1]) <= DOOR_R:
        return True
    return any(math.hypot(x - ox, y - oy) <= OFFICE_R or _on_line(x, y, (ox, oy), DOOR) for ox, oy in OFFICES)


def _pixels(samples: int = 4) -> bytes:
    """The drawing as RGBA rows, each pixel the mean of ``samples``² points in it (smooth edges)."""
    rows = bytearray()
    n = samples * samples
    offsets = [(i + 0.5) / samples for i in range(samples)]
    for py in range(SIZE):
        rows.append(0)  # PNG filter type of the row: none
        for px in range(SIZE):
            inside = white = 0
            for oy in offsets:
                for ox in offsets:
                    x, y = px + ox, py + oy
                    if _in_square(x, y):
                        inside += 1
                        white += _white(x, y)
            blue = inside - white
            if inside == 0:
                rows += b"\x00\x00\x00\x00"
                continue
            rgb = [round((c * blue + 255 * white) / inside) for c in BLUE]
            rows += bytes([*rgb, round(255 * inside / n)])
    return bytes(rows)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png() -> bytes:
    """The drawing as a 32×32 RGBA PNG."""
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)  # 8 bits, RGBA, deflate, no filter, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(_pixels(), 9)) + \
        _chunk(b"IEND", b"")  # fmt: skip


@cache
def ico() -> bytes:
    """The PNG in an ICO container (one image; browsers have read PNG in ICO for well over a decade)."""
    image = png()
    directory = struct.pack("<HHH", 0, 1, 1)  # reserved, type icon, one image
    entry = struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(image), 6 + 16)
    return directory + entry + image


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _icon(request: Request, body: bytes, media_type: str) -> Response:
    etag = _etag(body)
    headers = {"etag": etag, "cache-control": f"public, max-age={MAX_AGE}"}
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/favicon.svg")
def favicon_svg(request: Request) -> Response:
    return _icon(request, SVG, "image/svg+xml")


@router.get("/favicon.ico")
def favicon_ico(request: Request) -> Response:
    return _icon(request, ico(), "image/vnd.microsoft.icon")
