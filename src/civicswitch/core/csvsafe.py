"""CSV formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that starts with ``= + - @``, a tab or
a carriage return as a formula. Every value a resident or a department supplied goes through :func:`neutralise`
before it is written to a CSV file; :func:`restore` undoes it when such a file comes back.

``neutralise`` puts an apostrophe in front of a dangerous first character (spreadsheets show the value without
it). Plain numbers (``-73.95``, ``+1``) are left alone: they are data, not formulas. A value that already starts
with an apostrophe followed by a dangerous character gets one more, so ``restore(neutralise(v)) == v`` for every
string ``v``."""

from __future__ import annotations

import re
from collections.abc import Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _escaped(value: str) -> bool:
    """Whether ``value`` is one apostrophe (or more) in front of a dangerous character."""
    stripped = value.lstrip("'")
    return stripped != value and stripped.startswith(FORMULA_START)


def neutralise(value: object) -> str:
    """The cell text of ``value`` (None → ``""``), safe to open in a spreadsheet."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    if _escaped(text):
        return "'" + text
    return text


def restore(text: str) -> str:
    """The value :func:`neutralise` was given (one protecting apostrophe removed, where there is one)."""
    return text[1:] if _escaped(text) else text


def neutralise_row(values: Iterable[object]) -> list[str]:
    return [neutralise(v) for v in values]
