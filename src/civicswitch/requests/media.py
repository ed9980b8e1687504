"""Uploaded media: type sniffed from the bytes, size bounded, stored with its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from civicswitch.core.errors import Invalid, TooLarge, UnsupportedMediaType
from civicswitch.requests.commands import Upload
from civicswitch.requests.ports import Media

_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
}


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are, whatever the client declared."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "image/heic"
    return None


def extension(content_type: str) -> str:
    return _EXTENSIONS.get(content_type, "")


def accept_upload(upload: Upload, *, max_bytes: int, allowed: tuple[str, ...], at: datetime) -> Media:
    size = len(upload.data)
    if size == 0:
        raise Invalid(f"media file {upload.filename or ''!r} is empty", field="media")
    if size > max_bytes:
        raise TooLarge(f"media file is {size} bytes; the limit is {max_bytes} bytes", field="media")
    real = sniff(upload.data)
    if real is None or real not in allowed:
        raise UnsupportedMediaType(
            f"media file {upload.filename or ''!r} is not an accepted image; send one of: {', '.join(allowed)}",
            field="media",
        )
    digest = hashlib.sha256(upload.data).hexdigest()
    return Media(
        id=secrets.token_hex(16) + extension(real),
        content_type=real,
        size=size,
        sha256=digest,
        filename=(upload.filename or None) and upload.filename[:255],
        created_at=at,
        data=upload.data,
    )
