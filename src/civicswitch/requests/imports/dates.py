"""The date formats of a mapping, parsed fast.

A format is ``iso`` (ISO 8601 / W3C, with or without an offset) or a :func:`datetime.strptime` format. The usual
directives (``%Y %m %d %H %I %M %S %f %p``, and ``%y``) are compiled once into one regular expression, so a value
costs a match and a few ``int()`` calls instead of ``strptime``'s; any other directive falls back to ``strptime``.
A value with no offset is local time in the mapping's time zone; the result is always an aware UTC instant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo

_DIRECTIVES = {
    "Y": r"(?P<Y>\d{4})",
    "y": r"(?P<y>\d{2})",
    "m": r"(?P<m>\d{1,2})",
    "d": r"(?P<d>\d{1,2})",
    "H": r"(?P<H>\d{1,2})",
    "I": r"(?P<I>\d{1,2})",
    "M": r"(?P<M>\d{1,2})",
    "S": r"(?P<S>\d{1,2})",
    "f": r"(?P<f>\d{1,6})",
    "p": r"(?P<p>[AaPp][Mm])",
}

Parser = Callable[[str], datetime]
REMEMBERED = 50_000  # values a parser remembers with their instant


def _compiled(fmt: str) -> re.Pattern[str] | None:
    """``fmt`` as one regular expression, or None when it uses a directive not handled here (or one twice)."""
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char == "%":
            if i + 1 >= len(fmt):
                return None
            directive = fmt[i + 1]
            if directive == "%":
                out.append("%")
            elif directive in _DIRECTIVES and directive not in seen:
                seen.add(directive)
                out.append(_DIRECTIVES[directive])
            else:
                return None
            i += 2
            continue
        out.append(r"\s+" if char == " " else re.escape(char))
        i += 1
    if not {"Y", "y"} & seen or "m" not in seen or "d" not in seen:
        return None
    if ("I" in seen) != ("p" in seen):
        return None
    return re.compile("".join(out))


def _from_match(match: re.Match[str]) -> tuple[int, int, int, int, int, int, int]:
    groups = match.groupdict()
    year = int(groups["Y"]) if groups.get("Y") is not None else 2000 + int(groups["y"])
    hour = int(groups["H"]) if groups.get("H") is not None else 0
    if groups.get("I") is not None:
        hour = int(groups["I"])
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} is not 1 to 12")
        hour = hour % 12 + (12 if groups["p"].upper() == "PM" else 0)
    micro = int(groups["f"].ljust(6, "0")) if groups.get("f") is not None else 0
    minute = int(groups["M"]) if groups.get("M") is not None else 0
    second = int(groups["S"]) if groups.get("S") is not None else 0
    return year, int(groups["m"]), int(groups["d"]), hour, minute, second, micro


def parser(formats: Sequence[str], zone: tzinfo) -> Parser:
    """A function parsing a value in any of ``formats`` (tried in order) to an aware UTC instant; it raises
    ``ValueError`` naming the formats when none fits."""
    steps: list[Callable[[str], datetime | None]] = []
    for fmt in formats:
        if fmt == "iso":
            steps.append(_iso)
            continue
        pattern = _compiled(fmt)
        if pattern is not None:
            steps.append(_regex_step(pattern))
        else:
            steps.append(_strptime_step(fmt))
    listed = ", ".join(repr(f) for f in formats)
    seen: dict[str, datetime] = {}  # an export repeats its times (a batch closed at once, a due date): parse once

    def parse(value: str) -> datetime:
        found = seen.get(value)
        if found is not None:
            return found
        if len(seen) >= REMEMBERED:
            seen.clear()
        found = seen[value] = _parse(value)
        return found

    def _parse(value: str) -> datetime:
        text = value.strip()
        for step in steps:
            try:
                moment = step(text)
            except ValueError:
                continue
            if moment is not None:
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=zone)
                return moment.astimezone(UTC)
        raise ValueError(f"{value!r} is not a date in the mapping's formats ({listed})")

    return parse


def _iso(text: str) -> datetime | None:
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def _regex_step(pattern: re.Pattern[str]) -> Callable[[str], datetime | None]:
    def step(text: str) -> datetime | None:
        match = pattern.fullmatch(text)
        if match is None:
            return None
        return datetime(*_from_match(match))  # noqa: DTZ001 - local time: the parser gives it the mapping's zone

    return step


def _strptime_step(fmt: str) -> Callable[[str], datetime | None]:
    def step(text: str) -> datetime | None:
        return datetime.strptime(text, fmt)  # noqa: DTZ007 - the parser gives a naive value the mapping's zone

    return step
