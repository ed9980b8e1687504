"""Catalog files on disk: JSON or YAML, chosen by the file's suffix. Reading checks the syntax and that the top
level is a mapping; what the mapping holds is checked by :func:`civicswitch.catalog.loader.parse_catalog`."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from civicswitch.core.errors import Invalid


class CatalogFormat(StrEnum):
    JSON = "json"
    YAML = "yaml"


SUFFIXES = {".json": CatalogFormat.JSON, ".yaml": CatalogFormat.YAML, ".yml": CatalogFormat.YAML}


def format_of(path: Path) -> CatalogFormat:
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise Invalid(f"{path}: a catalog file is .json, .yaml or .yml (got {path.suffix or 'no suffix'!r})")
    return fmt


def parse_catalog_text(text: str, fmt: CatalogFormat, *, source: str) -> dict[str, Any]:
    """The document in ``text``; raises :class:`Invalid` naming ``source`` (and the line) when it is not one."""
    document: object
    if fmt is CatalogFormat.JSON:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Invalid(f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    else:
        try:
            document = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            problem = " ".join(p for p in (exc.context, exc.problem) if p)
            raise Invalid(f"{source} is not valid YAML{where}: {problem}") from None
        except yaml.YAMLError as exc:
            raise Invalid(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        found = "nothing" if document is None else f"a {type(document).__name__}"
        raise Invalid(f"{source}: expected a mapping with bodies and services at the top level, found {found}")
    return document


def read_catalog_document(path: Path) -> dict[str, Any]:
    """Read a catalog file, JSON (``.json``) or YAML (``.yaml``, ``.yml``)."""
    fmt = format_of(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise Invalid(f"{path} cannot be read: {exc.strerror or exc}") from None
    return parse_catalog_text(text, fmt, source=str(path))


def dump_catalog_document(document: dict[str, Any], fmt: CatalogFormat | str) -> str:
    """The document as JSON or YAML text (ending in a newline) that :func:`read_catalog_document` reads back."""
    if CatalogFormat(fmt) is CatalogFormat.JSON:
        return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120)
