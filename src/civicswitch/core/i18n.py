"""The gettext catalogs of the texts people read (pages and mail), one per language, compiled in memory.

The texts are written in English (the source language); each other language is one catalog,
``civicswitch/locale/<code>/LC_MESSAGES/messages.po``, read when first used (no ``.mo`` file is kept or built).
The pages (web/i18n.py) and the residents' mail (hub/connectors/email/residents.py) both read them.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import BaseLoader, Environment, select_autoescape

SOURCE = "en"  # the language the templates are written in
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"


def _catalog_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=1)
def languages() -> Mapping[str, str]:
    """The languages of the pages, code → the language's name in itself ("Español"): English, then each catalog."""
    codes = [SOURCE, *sorted(p.name for p in LOCALE_DIR.iterdir() if _catalog_path(p.name).is_file())]
    return {code: (Locale.parse(code).get_display_name(code) or code).capitalize() for code in codes}


@lru_cache(maxsize=16)
def translations(code: str) -> gettext.NullTranslations:
    """The catalog of a language (English: the text as written). Fuzzy entries are left out, as msgfmt does."""
    if code == SOURCE or code not in languages():
        return gettext.NullTranslations()
    with _catalog_path(code).open("rb") as po:
        catalog = read_po(po, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def jinja_environment(loader: BaseLoader, code: str) -> Environment:
    """Templates with one language's catalog installed (``_()``, ``ngettext()``); ``.html`` templates are
    autoescaped, ``.txt`` ones (a mail's plain text) are not."""
    env = Environment(loader=loader, autoescape=select_autoescape(["html"]), extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(code), newstyle=True)  # type: ignore[attr-defined]
    return env


def chosen(code: str | None) -> str | None:
    """``code`` when it is one of :func:`languages` (any case), else None."""
    if not code:
        return None
    code = code.strip().lower()
    return code if code in languages() else None
