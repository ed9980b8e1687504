"""Catalog domain: bodies, services, attributes, and the rules for attribute values."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from civicswitch.catalog.calendars import SlaTarget, SlaUnit, sla_notice
from civicswitch.core.errors import Invalid, check_text
from civicswitch.core.numbers import DECIMAL


class BodyKind(StrEnum):
    DEPARTMENT = "department"
    PARTNER = "partner"
    EXTERNAL = "external"


class ServiceType(StrEnum):
    REALTIME = "realtime"
    BATCH = "batch"
    BLACKBOX = "blackbox"


class Datatype(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


_DatetimeParser = Callable[[str], datetime]

# A plain ASCII decimal: float() alone also takes "1_000", "nan" and non-ASCII digits such as "١٢".
_NUMBER = DECIMAL

LIST_DATATYPES = frozenset({Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST})

DATATYPE_HELP = {
    Datatype.STRING: "Text on one line",
    Datatype.NUMBER: "A number",
    Datatype.DATETIME: "A date and time (ISO 8601)",
    Datatype.TEXT: "Text, line breaks allowed",
    Datatype.SINGLEVALUELIST: "Choose one of the values",
    Datatype.MULTIVALUELIST: "Choose one or more of the values",
}


@dataclass(frozen=True, slots=True)
class Body:
    code: str
    name: str
    kind: BodyKind = BodyKind.DEPARTMENT
    id: int | None = None
    # the name in other languages: (language, "name", text), from a catalog file's ``name: {en: …, es: …}``
    translations: tuple[tuple[str, str, str], ...] = ()

    def __post_init__(self) -> None:
        check_text(self.code, "body code", 64)
        check_text(self.name, "body name", 200)
        for language, name, text in self.translations:
            if name != "name" or not LANGUAGE_CODE.fullmatch(language):
                raise Invalid(f"body {self.code!r}: a translation is a language code (e.g. es) and its name, not "
                              f"{language!r} and {name!r}", field="name")  # fmt: skip
            check_text(text, f"body {self.code!r} name in {language}", 200)

    def name_in(self, language: str | None) -> str:
        """The body's name in ``language``, or as written when it has none (residents read it: the track page,
        their mail, the front page)."""
        for lang, _name, text in self.translations:
            if lang == language:
                return text
        return self.name


@dataclass(frozen=True, slots=True)
class AttributeValue:
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Attribute:
    code: str
    datatype: Datatype
    description: str
    required: bool = False
    variable: bool = True
    order: int = 1
    datatype_description: str = ""
    values: tuple[AttributeValue, ...] = ()
    # The attribute's texts in other languages, (language, text name, text): the text names are ``description``,
    # ``datatype_description`` and ``value:<key>`` (a value's name), e.g. ("es", "value:street", "Calle").
    translations: tuple[tuple[str, str, str], ...] = ()

    def __post_init__(self) -> None:
        check_text(self.code, "attribute code", 100)
        keys = {f"value:{v.key}" for v in self.values}
        for language, name, text in self.translations:
            if (name not in ATTRIBUTE_TRANSLATED and name not in keys) or not LANGUAGE_CODE.fullmatch(language):
                raise Invalid(f"attribute {self.code!r}: a translation is a language code (e.g. es) and the "
                              f"description, the datatype_description or a value's name, not {language!r} and "
                              f"{name!r}", field=self.code)  # fmt: skip
            check_text(text, f"attribute {self.code!r} {name} in {language}")
        for text in (self.description, self.datatype_description, *(t for v in self.values for t in (v.key, v.name))):
            check_text(text, f"attribute {self.code!r}")
        if self.datatype in LIST_DATATYPES and not self.values:
            raise Invalid(f"attribute {self.code!r}: a {self.datatype} needs at least one value")
        if self.order < 1:
            raise Invalid(f"attribute {self.code!r}: order must be a positive integer")

    def text(self, name: str, language: str) -> str:
        """The ``description`` or ``datatype_description`` in ``language``, or as written when it has none."""
        for lang, name_, text in self.translations:
            if lang == language and name_ == name:
                return text
        written: str = getattr(self, name)
        return written

    def value_name(self, value: AttributeValue, language: str) -> str:
        """A value's name in ``language``, or as written."""
        wanted = f"value:{value.key}"
        for lang, name_, text in self.translations:
            if lang == language and name_ == wanted:
                return text
        return value.name

    def clean(self, raw: list[str], *, parse_datetime: _DatetimeParser) -> str | list[str] | None:
        """Validate the submitted values for this attribute; None when nothing was given."""
        given = [v.strip() for v in raw if v is not None and v.strip() != ""]
        if not given:
            if self.required and self.variable:
                raise Invalid(f"attribute[{self.code}] is required: {self.description}", field=self.code)
            return None
        if self.datatype == Datatype.MULTIVALUELIST:
            allowed = {v.key for v in self.values}
            bad = [v for v in given if v not in allowed]
            if bad:
                raise Invalid(
                    f"attribute[{self.code}]: {', '.join(map(repr, bad))} is not one of {', '.join(sorted(allowed))}",
                    field=self.code,
                )
            return list(dict.fromkeys(given))
        if len(given) > 1:
            raise Invalid(f"attribute[{self.code}] takes one value, got {len(given)}", field=self.code)
        value = given[0]
        if self.datatype == Datatype.SINGLEVALUELIST:
            allowed = {v.key for v in self.values}
            if value not in allowed:
                raise Invalid(
                    f"attribute[{self.code}]: {value!r} is not one of {', '.join(sorted(allowed))}",
                    field=self.code,
                )
        elif self.datatype == Datatype.NUMBER:
            if _NUMBER.fullmatch(value) is None:
                raise Invalid(f"attribute[{self.code}] must be a number, got {value!r}", field=self.code)
            if not math.isfinite(float(value)):
                raise Invalid(f"attribute[{self.code}] must be a finite number", field=self.code)
        elif self.datatype == Datatype.DATETIME:
            try:
                parse_datetime(value)
            except ValueError as exc:
                raise Invalid(f"attribute[{self.code}]: {exc}", field=self.code) from None
        elif self.datatype == Datatype.STRING and ("\n" in value or "\r" in value):
            raise Invalid(f"attribute[{self.code}] is a single line of text", field=self.code)
        if "\x00" in value:
            raise Invalid(f"attribute[{self.code}] contains a NUL character (\\x00)", field=self.code)
        if len(value) > 4000:
            raise Invalid(f"attribute[{self.code}] is longer than 4000 characters", field=self.code)
        return value


MAX_DUPLICATE_RADIUS_M = 1000.0


@dataclass(frozen=True, slots=True)
class DuplicatePolicy:
    """When two requests of a service are likely the same problem: within ``radius_m`` metres of each other, the
    earlier one still open and filed in the last ``open_days`` days, or closed in the last ``closed_days`` days."""

    radius_m: float = 75.0
    open_days: float = 30.0
    closed_days: float = 3.0
    enabled: bool = True

    def __post_init__(self) -> None:
        if not (0 < self.radius_m <= MAX_DUPLICATE_RADIUS_M):
            raise Invalid(f"duplicates.radius_m must be above 0 and at most {MAX_DUPLICATE_RADIUS_M:g} metres")
        if not (0 < self.open_days <= 365):
            raise Invalid("duplicates.open_days must be above 0 and at most 365")
        if not (0 <= self.closed_days <= 90):
            raise Invalid("duplicates.closed_days must be between 0 and 90")

    def document(self) -> dict[str, float | bool]:
        if not self.enabled:
            return {"enabled": False}
        return {"radius_m": self.radius_m, "open_days": self.open_days, "closed_days": self.closed_days}

    @classmethod
    def from_document(cls, data: object) -> DuplicatePolicy:
        """``{"radius_m": 50, "open_days": 30, "closed_days": 3}`` (any may be left out), ``false`` (off), or
        absent/``null`` (the defaults)."""
        if data is None or data is True:
            return cls()
        if data is False:
            return cls(enabled=False)
        if not isinstance(data, dict):
            raise Invalid(f"duplicates must be an object, true or false, got {data!r}")
        unknown = set(data) - {"radius_m", "open_days", "closed_days", "enabled"}
        if unknown:
            raise Invalid(f"duplicates: unknown setting {', '.join(sorted(unknown))}")
        numbers = {}
        for name in ("radius_m", "open_days", "closed_days"):
            if name in data:
                value = data[name]
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise Invalid(f"duplicates.{name} must be a number, got {value!r}")
                numbers[name] = float(value)
        return cls(**numbers, enabled=bool(data.get("enabled", True)))


class PublicLocation(StrEnum):
    """Where the public map and list put a service's requests (the request's own page and the API are not
    changed by it: they are what Open311 publishes)."""

    EXACT = "exact"  # at the point reported
    GENERALISED = "generalised"  # at the centre of a grid cell (private property, sensitive services)


MAX_REOPEN_DAYS = 365.0


@dataclass(frozen=True, slots=True)
class ResidentSettings:
    """What residents may do with a service's requests and see of them (a catalog file's ``residents``):
    ``anonymous`` — a report without an email address is taken (else the form asks for one); ``reopen_days`` —
    "still a problem" within this many days of the closure reopens the request (later: a new request, linked);
    ``public_location`` — the public map's point (:class:`PublicLocation`)."""

    anonymous: bool = True
    reopen_days: float = 14.0
    public_location: PublicLocation = PublicLocation.EXACT

    def __post_init__(self) -> None:
        if not math.isfinite(self.reopen_days) or not (0 <= self.reopen_days <= MAX_REOPEN_DAYS):
            raise Invalid(f"residents.reopen_days must be between 0 and {MAX_REOPEN_DAYS:g}", field="residents")

    def document(self) -> dict[str, Any] | None:
        """The catalog file's object (None: every default)."""
        if self == ResidentSettings():
            return None
        return {"anonymous": self.anonymous, "reopen_days": self.reopen_days,
                "public_location": str(self.public_location)}  # fmt: skip

    @classmethod
    def from_document(cls, data: object) -> ResidentSettings:
        """``{"anonymous": false, "reopen_days": 30, "public_location": "generalised"}`` (any may be left out) or
        absent/``null`` (the defaults)."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise Invalid(f"residents must be an object, got {data!r}", field="residents")
        unknown = set(data) - {"anonymous", "reopen_days", "public_location"}
        if unknown:
            raise Invalid(f"residents: unknown setting {', '.join(sorted(unknown))}", field="residents")
        anonymous = data.get("anonymous", True)
        if not isinstance(anonymous, bool):
            raise Invalid(f"residents.anonymous must be true or false, got {anonymous!r}", field="residents")
        days = data.get("reopen_days", 14.0)
        if isinstance(days, bool) or not isinstance(days, int | float):
            raise Invalid(f"residents.reopen_days must be a number of days, got {days!r}", field="residents")
        where = data.get("public_location", "exact")
        if where not in {str(p) for p in PublicLocation}:
            raise Invalid(f"residents.public_location must be exact or generalised, got {where!r}", field="residents")
        if not (0 <= days <= MAX_REOPEN_DAYS):  # compared as given: float() of a huge integer overflows
            raise Invalid(f"residents.reopen_days must be between 0 and {MAX_REOPEN_DAYS:g}", field="residents")
        return cls(anonymous, float(days), PublicLocation(where))


# The texts of an attribute that a catalog file may give in several languages (and each value's ``name``).
ATTRIBUTE_TRANSLATED = ("description", "datatype_description")
# The texts of a service that a catalog file may give in several languages, with their longest length.
TRANSLATED: dict[str, int | None] = {"name": 200, "description": None, "group": 120}
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")


def translations_of(document: object) -> tuple[tuple[str, str, str], ...]:
    """A service's translations from their document, ``{"es": {"name": "Bache", …}, …}`` (None: none), sorted."""
    if document is None:
        return ()
    if not isinstance(document, dict) or not all(isinstance(t, dict) for t in document.values()):
        raise Invalid("translations are an object of languages, each an object of texts", field="translations")
    found = []
    for language, texts in document.items():
        for name, text in texts.items():
            if not isinstance(text, str):
                raise Invalid(f"the {name} in {language!r} must be text", field="translations")
            found.append((str(language), str(name), text))
    return tuple(sorted(found))


def translations_document(translations: tuple[tuple[str, str, str], ...]) -> dict[str, dict[str, str]] | None:
    """The document of :func:`translations_of` (None for none)."""
    document: dict[str, dict[str, str]] = {}
    for language, name, text in translations:
        document.setdefault(language, {})[name] = text
    return document or None


@dataclass(frozen=True, slots=True)
class Service:
    code: str
    name: str
    description: str = ""
    group: str = ""
    keywords: tuple[str, ...] = ()
    type: ServiceType = ServiceType.REALTIME
    body_code: str | None = None
    sla_hours: float | None = None  # the target when it is in hours (``sla`` says it in any unit)
    attributes: tuple[Attribute, ...] = field(default_factory=tuple)
    active: bool = True
    duplicates: DuplicatePolicy = field(default_factory=DuplicatePolicy)
    partners_may_close: bool = False  # a partner's "work complete" closes it (else the owner confirms the fix)
    residents: ResidentSettings = field(default_factory=ResidentSettings)
    id: int | None = None
    sla: SlaTarget | None = None
    # The service's texts in other languages, (language, field, text), e.g. ("es", "name", "Bache"): the residents'
    # pages show them (:meth:`text`); the Open311 API and the staff pages show the texts above.
    translations: tuple[tuple[str, str, str], ...] = ()

    def __post_init__(self) -> None:
        # ``sla_hours=N`` (older catalog files and callers) is ``sla=SlaTarget(N, hours)``; both name one target.
        if self.sla is None and self.sla_hours is not None:
            object.__setattr__(self, "sla", SlaTarget(self.sla_hours, SlaUnit.HOURS))
        elif self.sla is not None:
            hours = self.sla.amount if self.sla.unit is SlaUnit.HOURS else None
            if self.sla_hours is not None and self.sla_hours != hours:
                raise Invalid(f"service {self.code!r}: give sla or sla_hours, not two different targets", field="sla")
            object.__setattr__(self, "sla_hours", hours)
        if not self.code or any(c in self.code for c in "/ ?#%"):
            raise Invalid(f"service code {self.code!r} must be non-empty without spaces, '/', '?', '#' or '%'")
        check_text(self.code, "service code", 100)
        check_text(self.name, "service name", 200)
        check_text(self.group, "service group", 120)
        for text in (self.description, *self.keywords):
            check_text(text, f"service {self.code!r}")
        codes = [a.code for a in self.attributes]
        if len(codes) != len(set(codes)):
            raise Invalid(f"service {self.code!r}: attribute codes must be unique")
        for language, name, text in self.translations:
            if name not in TRANSLATED or not LANGUAGE_CODE.fullmatch(language):
                raise Invalid(f"service {self.code!r}: a translation is a language code (e.g. es) and one of "
                              f"{', '.join(TRANSLATED)}, not {language!r} and {name!r}", field=name)  # fmt: skip
            check_text(text, f"service {self.code!r} {name} in {language}", TRANSLATED[name])

    def text(self, name: str, language: str) -> str:
        """The service's ``name``, ``description`` or ``group`` in ``language``, or as written when it has none."""
        for lang, field_, text in self.translations:
            if lang == language and field_ == name:
                return text
        written: str = getattr(self, name)
        return written

    @property
    def metadata(self) -> bool:
        return bool(self.attributes)

    def clean_attributes(
        self, submitted: dict[str, list[str]], *, parse_datetime: _DatetimeParser
    ) -> dict[str, str | list[str]]:
        """Validate submitted ``attribute[code]`` values; unknown codes are ignored (POST-02)."""
        cleaned: dict[str, str | list[str]] = {}
        errors: list[Invalid] = []
        for attribute in sorted(self.attributes, key=lambda a: a.order):
            if not attribute.variable:
                continue
            try:
                value = attribute.clean(submitted.get(attribute.code, []), parse_datetime=parse_datetime)
            except Invalid as exc:
                errors.append(exc)
                continue
            if value is not None:
                cleaned[attribute.code] = value
        if errors:
            raise InvalidAttributes(errors)
        return cleaned


class InvalidAttributes(Invalid):
    """One or more attribute values are wrong; each is reported (Open311 errors are a list)."""

    def __init__(self, errors: list[Invalid]) -> None:
        super().__init__("; ".join(e.description for e in errors))
        self.errors = errors


__all__ = ["SlaTarget", "SlaUnit", "sla_notice"]
