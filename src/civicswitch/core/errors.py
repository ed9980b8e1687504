"""Domain errors. The web layer maps each kind to an HTTP status and the client's format."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a use case raises on purpose. ``code`` is the HTTP-ish status."""

    code = 400

    def __init__(self, description: str, *, field: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.field = field


class Invalid(DomainError):
    """The input cannot be accepted as it is (400)."""

    code = 400


class NotFound(DomainError):
    """A named thing does not exist (404)."""

    code = 404


class Forbidden(DomainError):
    """Missing or wrong credentials, or a scope the caller lacks (403)."""

    code = 403


class Conflict(DomainError):
    """The request clashes with the current state (409)."""

    code = 409


class Gone(DomainError):
    """A thing that existed and has expired (410): a short-lived result past its time."""

    code = 410


class IllegalTransition(Invalid):
    """A status change the status model does not allow. Never applied silently."""


class TooLarge(DomainError):
    """A body or upload over the configured limit (413)."""

    code = 413


class UnsupportedMediaType(DomainError):
    """A content type the endpoint does not take (415)."""

    code = 415


def check_text(value: str | None, name: str, limit: int | None = None) -> None:
    """Refuse a text no store can hold: a NUL character, or longer than its column.

    PostgreSQL would fail such a write (and SQLite would not), so the domain refuses it on every store.
    """
    if value is None:
        return
    if "\x00" in value:
        raise Invalid(f"{name} contains a NUL character (\\x00), which cannot be stored", field=name)
    if limit is not None and len(value) > limit:
        raise Invalid(f"{name} is longer than {limit} characters", field=name)
