"""Load a catalog file (bodies, services, and the SLA calendars their targets name) into the store: idempotent, all
or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from civicswitch.catalog.calendars import Calendar, SlaTarget
from civicswitch.catalog.model import (
    TRANSLATED,
    Attribute,
    AttributeValue,
    Body,
    BodyKind,
    Datatype,
    DuplicatePolicy,
    ResidentSettings,
    Service,
    ServiceType,
    translations_of,
)
from civicswitch.catalog.rules import check_rules, parse_rules, rule_document
from civicswitch.catalog.settings import store_settings
from civicswitch.core.clock import Clock, SystemClock
from civicswitch.core.errors import Invalid
from civicswitch.people.policy import OPERATOR, Action, Principal, authorize
from civicswitch.settings import STORABLE

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork


def _sla(service: Mapping[str, Any]) -> SlaTarget | None:
    """``sla: {amount, unit, calendar}``; ``sla_hours: N`` (the older form) is ``sla: {amount: N, unit: hours}``."""
    try:
        hours = service.get("sla_hours")
        if service.get("sla") is not None:
            target = SlaTarget.from_document(service["sla"])
            if hours is not None and target != SlaTarget(hours):
                raise Invalid(f"sla_hours {hours!r} and sla {service['sla']!r} differ: give one", field="sla")
            return target
        return None if hours is None else SlaTarget(hours)
    except Invalid as exc:
        raise Invalid(f"service {service.get('code')!r}: {exc.description}", field="sla") from None


def parse_calendars(data: Mapping[str, Any]) -> list[Calendar]:
    """The optional ``calendars`` section: a list of calendars (see :meth:`Calendar.from_document`)."""
    entries = data.get("calendars") or []
    if not isinstance(entries, list):
        raise Invalid("the catalog file's 'calendars' section must be a list of objects", field="calendars")
    found = [Calendar.from_document(entry) for entry in entries]
    codes = [c.code for c in found]
    if len(codes) != len(set(codes)):
        raise Invalid("the catalog file lists a calendar code twice", field="calendars")
    return found


def _residents(service: Mapping[str, Any]) -> ResidentSettings:
    try:
        return ResidentSettings.from_document(service.get("residents"))
    except Invalid as exc:
        raise Invalid(f"service {service.get('code')!r}: {exc.description}", field="residents") from None


def _duplicates(service: Mapping[str, Any]) -> DuplicatePolicy:
    try:
        return DuplicatePolicy.from_document(service.get("duplicates"))
    except Invalid as exc:
        raise Invalid(f"service {service.get('code')!r}: {exc.description}") from None


def _partners_may_close(service: Mapping[str, Any]) -> bool:
    value = service.get("partners_may_close", False)
    if not isinstance(value, bool):
        raise Invalid(f"service {service.get('code')!r}: partners_may_close must be true or false, not {value!r}")
    return value


SECTIONS = ("bodies", "services")


def _check_sections(data: Mapping[str, Any]) -> None:
    """Both sections present and lists of objects (either may be empty), named when not."""
    for section in SECTIONS:
        if section not in data:
            present = ", ".join(sorted(map(str, data))) or "none"
            raise Invalid(
                f"the catalog file has no {section!r} section (sections found: {present}); "
                f"give it, as a list (it may be empty: {section}: [])",
                field=section,
            )
        entries = data[section]
        if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
            raise Invalid(f"the catalog file's {section!r} section must be a list of objects", field=section)


def _entry(section: str, data: Mapping[str, Any], exc: Exception) -> str:
    """Which entry of the document a parse error is in (the first one that fails on its own)."""
    for i, entry in enumerate(data[section], start=1):
        try:
            if section == "bodies":
                _body(entry)
            else:
                entry["code"], entry["name"]
        except (KeyError, TypeError, ValueError, Invalid) as found:
            what = f"missing field {found.args[0]!r}" if isinstance(found, KeyError) else str(found)
            return f"{section} entry {i} (code {entry.get('code')!r}): {what}"
    return f"{type(exc).__name__}: {exc}"


WRITTEN_IN = "en"  # a text given in several languages: this one is the service's own (the API's, the staff's)


def _text(value: Any, name: str, translations: dict[str, dict[str, str]]) -> Any:
    """A text as a catalog file gives it: text, or ``{language: text}`` with an English text (e.g. ``{en: Pothole,
    es: Bache}``): the English one is returned, the others go to ``translations`` under ``name``."""
    if not isinstance(value, Mapping):
        return value
    if WRITTEN_IN not in value:
        raise ValueError(f"{name} in several languages needs its English text too, e.g. "
                         f"{{{WRITTEN_IN}: Pothole, es: Bache}}")  # fmt: skip
    for language, text in value.items():
        if language != WRITTEN_IN:
            translations.setdefault(str(language), {})[name] = text
    return value[WRITTEN_IN]


def _body(entry: Mapping[str, Any]) -> Body:
    """One body of a catalog file; its ``name`` is text or ``{en: …, es: …}`` (:func:`_text`)."""
    translations: dict[str, dict[str, str]] = {}
    name = _text(entry["name"], "name", translations)
    return Body(code=entry["code"], name=name, kind=BodyKind(entry.get("kind", "department")),
                translations=translations_of(translations or None))  # fmt: skip


def _texts(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A service's ``name``, ``description`` and ``group``, each text or ``{language: text}`` (:func:`_text`)."""
    translations: dict[str, dict[str, str]] = {}
    found = {name: _text(entry.get(name, "") if name != "name" else entry["name"], name, translations)
             for name in TRANSLATED}  # fmt: skip
    found["translations"] = translations_of(translations or None)
    return found


def _attribute(a: Mapping[str, Any], index: int) -> Attribute:
    """One attribute of a catalog file; its ``description``, ``datatype_description`` and each value's ``name``
    may be given in several languages (:func:`_text`)."""
    translations: dict[str, dict[str, str]] = {}
    values = tuple(AttributeValue(key=v["key"], name=_text(v["name"], f"value:{v['key']}", translations))
                   for v in a.get("values", ()))  # fmt: skip
    return Attribute(
        code=a["code"],
        datatype=Datatype(a["datatype"]),
        description=_text(a.get("description"), "description", translations) or a["code"],
        required=bool(a.get("required", False)),
        variable=bool(a.get("variable", True)),
        order=int(a.get("order", index + 1)),
        datatype_description=_text(a.get("datatype_description", ""), "datatype_description", translations),
        values=values,
        translations=translations_of(translations or None),
    )


def parse_catalog(data: Mapping[str, Any]) -> tuple[list[Body], list[Service]]:
    """Validate a catalog document; raises :class:`Invalid` naming the missing section or the first bad entry."""
    _check_sections(data)
    try:
        bodies = [_body(b) for b in data["bodies"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid(f"catalog file is not valid: {_entry('bodies', data, exc)}") from None
    try:
        services = [
            Service(
                code=s["code"],
                **_texts(s),
                keywords=tuple(s.get("keywords", ())),
                type=ServiceType(s.get("type", "realtime")),
                body_code=s.get("body"),
                sla=_sla(s),
                active=bool(s.get("active", True)),
                duplicates=_duplicates(s),
                residents=_residents(s),
                partners_may_close=_partners_may_close(s),
                attributes=tuple(_attribute(a, i) for i, a in enumerate(s.get("attributes", ()))),
            )
            for s in data["services"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid(f"catalog file is not valid: {_entry('services', data, exc)}") from None
    known = {b.code for b in bodies}
    for s in services:
        if s.body_code is not None and s.body_code not in known:
            raise Invalid(f"service {s.code!r} names unknown body {s.body_code!r}")
    return bodies, services


def load_catalog(
    uow: UnitOfWork, data: Mapping[str, Any], clock: Clock | None = None, *, who: Principal = OPERATOR
) -> tuple[int, int]:
    """Upsert every calendar, body and service of ``data``; when the document has ``routing_rules``, replace the routing
    rules; when it has ``settings``, store those instance settings — all in one transaction; returns (bodies,
    services)."""
    authorize(who, Action.CATALOG_MANAGE)
    bodies, services = parse_catalog(data)
    calendars = parse_calendars(data)
    rules = parse_rules(data.get("routing_rules")) if "routing_rules" in data else None
    settings = data.get("settings")
    if settings is not None and not isinstance(settings, Mapping):
        raise Invalid("catalog file: settings must be a mapping of setting → value", field="settings")
    with uow:
        for calendar in calendars:
            uow.catalog.add_calendar(calendar)
        for body in bodies:
            uow.catalog.add_body(body)
        for service in services:
            uow.catalog.add_service(service)
        if rules is not None:
            check_rules(
                rules,
                services={s.code for s in uow.catalog.services(include_inactive=True)},
                bodies={b.code for b in uow.catalog.bodies()},
                areas=uow.catalog.areas(),
            )
            uow.catalog.replace_rules(rules)
        if settings:
            store_settings(uow, settings, (clock or SystemClock()).now())
        uow.commit()
    return len(bodies), len(services)


def _in_languages(own: str, name: str, translations: tuple[tuple[str, str, str], ...]) -> Any:
    """A text as a catalog file gives it: ``own``, or ``{en: own, es: …}`` where ``name`` has translations."""
    others = {language: text for language, name_, text in translations if name_ == name}
    return {WRITTEN_IN: own, **others} if others else own


def _written(service: Service) -> dict[str, Any]:
    """A service's texts as a catalog file gives them: text, or ``{en: …, es: …}`` where it has translations."""
    return {name: _in_languages(getattr(service, name), name, service.translations) for name in TRANSLATED}


def _attribute_document(a: Attribute) -> dict[str, Any]:
    t = a.translations
    values = [{"key": v.key, "name": _in_languages(v.name, f"value:{v.key}", t)} for v in a.values]
    return {
        "code": a.code, "description": _in_languages(a.description, "description", t),
        "datatype": str(a.datatype), "required": a.required, "variable": a.variable, "order": a.order,
        "datatype_description": _in_languages(a.datatype_description, "datatype_description", t),
        **({"values": values} if values else {}),
    }  # fmt: skip


def export_catalog(uow: UnitOfWork) -> dict[str, Any]:
    """The catalog as a document ``load_catalog`` takes back: stored instance settings, SLA calendars, bodies,
    services and routing rules. A target in hours is also written as ``sla_hours``, for readers of older files."""
    with uow:
        calendars = uow.catalog.calendars()
        bodies = uow.catalog.bodies()
        services = uow.catalog.services(include_inactive=True)
        rules = uow.catalog.rules()
        stored = uow.settings.all()
    return {
        "settings": {key: stored[key] for key in STORABLE if key in stored},
        "calendars": [c.document() for c in calendars],
        "bodies": [{"code": b.code, "name": _in_languages(b.name, "name", b.translations), "kind": str(b.kind)}
                   for b in bodies],
        "services": [
            {
                "code": s.code, **_written(s),
                "keywords": list(s.keywords), "type": str(s.type), "body": s.body_code, "sla_hours": s.sla_hours,
                "sla": None if s.sla is None else s.sla.document(),
                "active": s.active, "duplicates": s.duplicates.document(), "residents": s.residents.document(),
                "partners_may_close": s.partners_may_close,
                "attributes": [_attribute_document(a) for a in s.attributes],
            }
            for s in services
        ],
        "routing_rules": [rule_document(r) for r in rules],
    }  # fmt: skip
