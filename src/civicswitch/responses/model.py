"""A response template: a named note for one service (or every service) with placeholders that the request page
fills in from the request, e.g. ``We will fix the pothole at {address} by {due_date}.``

A placeholder is a name in braces from :data:`PLACEHOLDERS`; ``{{`` and ``}}`` stand for a literal brace. A
template with an unknown placeholder or an unbalanced brace is refused when it is saved, with a message that
names it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from civicswitch.core.errors import Invalid

MAX_NAME = 120
MAX_TEMPLATE = 3000  # a filled note stays under the note's limit (4000) with a long address

# The placeholders, what each becomes (docs/staff-guide.md lists the same).
PLACEHOLDERS: Mapping[str, str] = {
    "request_id": "the request's number",
    "service_name": "the service's name",
    "address": "the request's address (or its coordinates; “the location reported” without either)",
    "status": "the request's status in words (“in progress”)",
    "due_date": "the request's due date, e.g. “9 December 2026” (“not set” without a target)",
    "body_name": "the name of the body that owns the request (“the city” without an owner)",
}

# {{ and }} (literal braces), a placeholder {name}, or a brace left alone
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True, slots=True)
class ResponseTemplate:
    name: str
    body: str
    public: bool  # the note's visibility when the template fills it in (the staff member may change it)
    service_code: str | None  # None: offered on every service's requests
    updated_at: datetime
    updated_by: str
    id: int | None = None

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > MAX_NAME:
            raise Invalid(f"a name is required (at most {MAX_NAME} characters)", field="name")
        if not self.body.strip() or len(self.body) > MAX_TEMPLATE:
            raise Invalid(f"the text is required (at most {MAX_TEMPLATE} characters)", field="body")
        check_placeholders(self.body)


def _line_and_column(text: str, at: int) -> str:
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return f"line {line}, column {column}"


def _known() -> str:
    return ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)


def check_placeholders(text: str) -> list[str]:
    """The placeholders ``text`` uses, in order; :class:`Invalid` naming the first unknown placeholder or
    unbalanced brace."""
    used = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if token in ("{", "}"):
            raise Invalid(
                f"an unbalanced “{token}” at {_line_and_column(text, match.start())}: a placeholder is a name in "
                f"braces, such as {{address}}; write {token}{token} for the brace itself",
                field="body",
            )
        name = match.group(1)
        if name not in PLACEHOLDERS:
            shown = token if len(token) <= 60 else token[:57] + "…}"
            raise Invalid(
                f"unknown placeholder {shown} at {_line_and_column(text, match.start())}; the placeholders are "
                f"{_known()}",
                field="body",
            )
        used.append(name)
    return used


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each placeholder replaced by its value (a checked template; ``{{``/``}}`` become braces)."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if name is None or name not in values:
            raise Invalid(f"unknown placeholder {token}", field="body")
        return values[name]

    return _TOKEN.sub(one, text)
