"""The residents' pages in their language: the gettext catalogs of core/i18n.py, one per language, chosen per
request.

The text of the pages is written in English (the source language) and marked for translation in the templates
(``_()``): a page's Python passes data, and its template words it (a status in plain words, a closure's reason).
Adding a language is adding its catalog (docs/residents.md).

The language of a request to a resident page (:func:`negotiate`): ``?lang=`` when it names one we have (and it is
then kept in a cookie: the switcher on every page is a plain link, no JavaScript), else the cookie, else the
browser's ``Accept-Language`` (the first language we have, by its weights; ``es-MX`` is ``es``), else English.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import negotiate_locale
from babel.dates import format_date, format_time, get_datetime_format
from jinja2 import Environment, FileSystemLoader

from civicswitch.core.i18n import LOCALE_DIR, SOURCE, chosen, jinja_environment, languages, translations
from civicswitch.requests.reporting import folded

__all__ = ["LOCALE_DIR", "SOURCE", "chosen", "languages", "translations"]  # read here by the pages and tests

COOKIE = "civicswitch_lang"
COOKIE_SECONDS = 365 * 24 * 3600
_TEMPLATES = Path(__file__).parent / "templates"


def _accepted(header: str) -> list[str]:
    """The languages of an ``Accept-Language`` header, most wanted first (weight 0: not wanted; ``*``: any)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag and tag != "*" and weight > 0:
            weighted.append((-weight, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language of a page: the query's, the cookie's, the browser's best we have, or English."""
    for asked in (query, cookie):
        found = chosen(asked)
        if found is not None:
            return found
    if accept_language:
        best = chosen(negotiate_locale(_accepted(accept_language), list(languages()), sep="-"))
        if best is not None:
            return best  # as we name it ("ES" from the browser is "es")
    return SOURCE


@lru_cache(maxsize=16)
def environment(code: str) -> Environment:
    """The pages' templates with one language's catalog installed (one environment per language: a page never
    changes another's translations mid-render)."""
    return jinja_environment(FileSystemLoader(_TEMPLATES), code)


def sort_key(text: str) -> str:
    """Alphabetical order as people expect it in our languages: case and accents set aside ("Árbol" by "arbol")."""
    return folded(text)


class Dates:
    """Dates and times in a language's words, in the instance's time zone ("7 de diciembre de 2026, 10:30")."""

    def __init__(self, code: str, zone: ZoneInfo) -> None:
        self.code = code
        self.zone = zone

    def moment(self, at: datetime) -> str:
        """The day (medium: "28 nov 2026") and the time to the minute, as the language joins them."""
        local = at.astimezone(self.zone)
        joined = str(get_datetime_format("medium", locale=self.code))
        return joined.replace("'", "").format(format_time(local, "short", locale=self.code),
                                              format_date(local, "medium", locale=self.code))  # fmt: skip

    def day(self, at: datetime) -> str:
        return format_date(at.astimezone(self.zone), "long", locale=self.code)

    def iso(self, at: datetime) -> str:
        return at.astimezone(self.zone).isoformat(timespec="minutes")
