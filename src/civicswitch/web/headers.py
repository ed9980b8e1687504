"""The security headers every response carries (added by :class:`civicswitch.web.security.Hardening`)."""

from __future__ import annotations


def content_security_policy(tile_source: str | None = None) -> str:
    """Our pages and /docs load scripts, styles, images and the OpenAPI document from this origin only; nothing may
    frame them. Swagger UI's icons are data: URIs. Map tiles (``map_tile_url``) add their origin to ``img-src``,
    and only when one is configured."""
    images = "'self' data:" + (f" {tile_source}" if tile_source else "")
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {images}; font-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def security_headers(tile_source: str | None = None) -> tuple[tuple[bytes, bytes], ...]:
    """The headers, with the map tiles' origin in the policy when there is one."""
    return (
        (b"content-security-policy", content_security_policy(tile_source).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    )


CONTENT_SECURITY_POLICY = content_security_policy()
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = security_headers()
