"""The residents' languages (web/i18n.py): which language a page is in, and catalogs that are complete and current
(a text added to a resident page without its translation fails here, not in front of a resident)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from civicswitch.web import i18n

REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "en"),
        (None, None, "es-MX,es;q=0.9,en;q=0.8", "es"),
        (None, None, "fr-CA, fr;q=0.9, es;q=0.4", "es"),  # the best language we have
        (None, None, "fr, en;q=0.5, es;q=0.7", "es"),  # by weight, not order
        (None, None, "es;q=0, en", "en"),  # weight 0: not wanted
        (None, None, "es;q=abc, en;q=0.1", "en"),  # a broken weight: not wanted
        (None, None, "*", "en"),
        (None, None, "de", "en"),
        (None, "es", "en", "es"),  # the cookie over the browser
        ("en", "es", "es", "en"),  # the query over both
        ("ES", None, None, "es"),
        ("xx", "yy", "es", "es"),  # unknown codes are ignored
        (None, None, "ES", "es"),  # as we name it, whatever the browser's case
    ],
)
def test_negotiate__query_cookie_then_browser__else_english(
    query: str | None, cookie: str | None, accept: str | None, expected: str
) -> None:
    assert i18n.negotiate(query, cookie, accept) == expected


def test_languages__english_and_each_catalog__named_in_themselves() -> None:
    assert dict(i18n.languages()) == {"en": "English", "es": "Español"}


def test_dates__in_the_language_and_the_instances_zone() -> None:
    at = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
    zone = ZoneInfo("America/New_York")
    assert i18n.Dates("es", zone).day(at) == "7 de diciembre de 2026"
    assert i18n.Dates("en", zone).day(at) == "December 7, 2026"
    assert i18n.Dates("en", zone).iso(at) == "2026-12-07T10:30-05:00"
    assert (i18n.Dates("en", zone).moment(at), i18n.Dates("es", zone).moment(at)) == (
        "Dec 7, 2026, 10:30\u202fAM",
        "7 dic 2026, 10:30",
    )


def _extracted() -> set[str]:
    with (REPO / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    return {str(message) for _, _, message, *_ in extract_from_dir(str(REPO), method_map, options_map)}


def test_catalog_template__holds_every_text_of_the_resident_pages() -> None:
    """messages.pot is what `pybabel extract -F babel.cfg` makes of the templates now (docs/residents.md)."""
    with (i18n.LOCALE_DIR / "messages.pot").open("rb") as pot:
        listed = {str(m.id) for m in read_po(pot) if m.id}
    assert listed == _extracted()


@pytest.mark.parametrize("code", [c for c in i18n.languages() if c != i18n.SOURCE])
def test_catalog__every_text_translated_with_the_same_placeholders(code: str) -> None:
    with (i18n.LOCALE_DIR / code / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=code)
    wanted = _extracted()
    translated = {str(m.id): m for m in catalog if m.id}
    assert sorted(wanted - set(translated)) == []
    for text in wanted:
        message = translated[text]
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(forms) and not message.fuzzy, f"{code}: not translated: {text!r}"
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted_names = {name for form in english for name in PLACEHOLDER.findall(form)}
        for form in forms:  # each plural form (a language may have more than English's two) names the same values
            assert set(PLACEHOLDER.findall(form)) == wanted_names, (text, form)
