"""A service's texts in other languages (every store): a catalog file gives a name, description or group as
``{en: …, es: …}``; the English text is the service's own (the API's), the others its translations, stored,
read back and exported as loaded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from civicswitch.catalog.loader import export_catalog, load_catalog, parse_catalog
from civicswitch.catalog.model import Attribute, Datatype, PublicLocation, ResidentSettings, Service
from civicswitch.core.errors import Invalid
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]


def _translated(catalog_data: dict[str, Any]) -> dict[str, Any]:
    pothole = catalog_data["services"][0]
    pothole["name"] = {"en": "Pothole", "es": "Bache"}
    pothole["description"] = {"en": "A hole in the road.", "es": "Un hoyo en la calzada."}
    pothole["group"] = {"en": "Streets", "es": "Calles"}
    return catalog_data


def test_service_translations__loaded_stored_and_read_in_each_language(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    load_catalog(store_uow_factory(), _translated(catalog_data))
    with store_uow_factory() as uow:
        pothole, graffiti = uow.catalog.service("pothole"), uow.catalog.service("graffiti")
    assert pothole is not None and graffiti is not None
    assert (pothole.name, pothole.description, pothole.group) == ("Pothole", "A hole in the road.", "Streets")
    assert [pothole.text(f, "es") for f in ("name", "description", "group")] == [
        "Bache", "Un hoyo en la calzada.", "Calles"]  # fmt: skip
    assert (pothole.text("name", "fr"), graffiti.text("name", "es")) == ("Pothole", "Graffiti")  # none: as written


def test_service_translations__exported_as_loaded_and_loaded_again(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    load_catalog(store_uow_factory(), _translated(catalog_data))
    exported = export_catalog(store_uow_factory())
    pothole = next(s for s in exported["services"] if s["code"] == "pothole")
    assert (pothole["name"], pothole["group"]) == ({"en": "Pothole", "es": "Bache"}, {"en": "Streets", "es": "Calles"})
    assert next(s for s in exported["services"] if s["code"] == "graffiti")["name"] == "Graffiti"
    load_catalog(store_uow_factory(), exported)
    assert export_catalog(store_uow_factory()) == exported


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ({"es": "Bache"}, "needs its English text too"),
        ({"en": "Pothole", "es": 7}, "must be text"),
        ({"en": "Pothole", "Spanish!": "Bache"}, "a language code"),
        ({"en": "Pothole", "es": "B" * 201}, "longer"),
    ],
)
def test_service_translations__bad_entry__refused_with_the_reason(
    catalog_data: dict[str, Any], name: object, problem: str
) -> None:
    catalog_data["services"][0]["name"] = name
    with pytest.raises(Invalid) as refused:
        parse_catalog(catalog_data)
    assert problem in refused.value.description


def test_service_text__unknown_field_in_translations__refused() -> None:
    with pytest.raises(Invalid, match="a language code"):
        Service(code="x", name="X", translations=(("es", "keywords", "baches"),))


def _attributes_translated(catalog_data: dict[str, Any]) -> dict[str, Any]:
    size = catalog_data["services"][0]["attributes"][0]
    size["description"] = {"en": "How big is it?", "es": "¿De qué tamaño es?"}
    size["datatype_description"] = {"en": "Choose one", "es": "Elija una"}
    size["values"][0]["name"] = {"en": "Smaller than a plate", "es": "Más pequeño que un plato"}
    return catalog_data


def test_attribute_translations__loaded_stored_and_read_in_each_language(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    load_catalog(store_uow_factory(), _attributes_translated(catalog_data))
    with store_uow_factory() as uow:
        pothole = uow.catalog.service("pothole")
    assert pothole is not None
    size, lanes = pothole.attributes[0], pothole.attributes[1]
    assert (size.description, size.values[0].name) == ("How big is it?", "Smaller than a plate")  # the API's
    assert (size.text("description", "es"), size.text("datatype_description", "es")) == (
        "¿De qué tamaño es?", "Elija una")  # fmt: skip
    assert [size.value_name(v, "es") for v in size.values] == ["Más pequeño que un plato", "Larger"]
    assert (size.text("description", "fr"), lanes.text("description", "es")) == ("How big is it?", "Which lanes?")


def test_attribute_translations__exported_as_loaded_and_loaded_again(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    load_catalog(store_uow_factory(), _attributes_translated(catalog_data))
    exported = export_catalog(store_uow_factory())
    size = next(s for s in exported["services"] if s["code"] == "pothole")["attributes"][0]
    assert size["description"] == {"en": "How big is it?", "es": "¿De qué tamaño es?"}
    assert size["values"] == [
        {"key": "small", "name": {"en": "Smaller than a plate", "es": "Más pequeño que un plato"}},
        {"key": "large", "name": "Larger"},
    ]
    load_catalog(store_uow_factory(), exported)
    assert export_catalog(store_uow_factory()) == exported


def test_attribute_translations__value_key_not_the_attributes__refused() -> None:
    with pytest.raises(Invalid, match="a language code"):
        Attribute(code="size", datatype=Datatype.STRING, description="Size", translations=(("es", "value:x", "X"),))


def test_attribute_translations__without_english__refused(catalog_data: dict[str, Any]) -> None:
    catalog_data["services"][0]["attributes"][0]["description"] = {"es": "¿De qué tamaño es?"}
    with pytest.raises(Invalid, match="needs its English text too"):
        parse_catalog(catalog_data)


def test_resident_settings__loaded_stored_exported_and_loaded_again(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    catalog_data["services"][0]["residents"] = {"anonymous": False, "reopen_days": 30, "public_location": "generalised"}
    load_catalog(store_uow_factory(), catalog_data)
    with store_uow_factory() as uow:
        pothole, graffiti = uow.catalog.service("pothole"), uow.catalog.service("graffiti")
    assert pothole is not None and graffiti is not None
    assert pothole.residents == ResidentSettings(False, 30.0, PublicLocation.GENERALISED)
    assert graffiti.residents == ResidentSettings()  # not given: anonymous, 14 days, exact
    exported = export_catalog(store_uow_factory())
    assert next(s for s in exported["services"] if s["code"] == "pothole")["residents"] == {
        "anonymous": False, "reopen_days": 30.0, "public_location": "generalised"}  # fmt: skip
    load_catalog(store_uow_factory(), exported)
    assert export_catalog(store_uow_factory()) == exported


@pytest.mark.parametrize(
    ("residents", "problem"),
    [
        ([], "must be an object"),
        ({"anonymus": False}, "unknown setting anonymus"),
        ({"anonymous": "no"}, "true or false"),
        ({"reopen_days": 400}, "between 0 and 365"),
        ({"reopen_days": "7"}, "a number of days"),
        ({"public_location": "hidden"}, "exact or generalised"),
    ],
)
def test_resident_settings__bad__refused_naming_the_service(
    catalog_data: dict[str, Any], residents: object, problem: str
) -> None:
    catalog_data["services"][0]["residents"] = residents
    with pytest.raises(Invalid) as refused:
        parse_catalog(catalog_data)
    assert problem in refused.value.description and "pothole" in refused.value.description


def test_resident_settings__reopen_days_too_large_to_be_a_float__refused(catalog_data: dict[str, Any]) -> None:
    catalog_data["services"][0]["residents"] = {"reopen_days": 10**400}
    with pytest.raises(Invalid, match="between 0 and 365"):
        parse_catalog(catalog_data)


def test_body_name_translations__loaded_stored_read_exported_and_loaded_again(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    dot = next(b for b in catalog_data["bodies"] if b["code"] == "DOT")
    dot["name"] = {"en": "Department of Transportation", "es": "Departamento de Transporte"}
    load_catalog(store_uow_factory(), catalog_data)
    with store_uow_factory() as uow:
        stored, others = uow.catalog.body("DOT"), [b for b in uow.catalog.bodies() if b.code != "DOT"]
        listed = next(b for b in uow.catalog.bodies() if b.code == "DOT")
    assert stored is not None and stored == listed
    assert (stored.name, stored.name_in("es"), stored.name_in("fr"), stored.name_in(None)) == (
        "Department of Transportation", "Departamento de Transporte", "Department of Transportation",
        "Department of Transportation")  # fmt: skip
    assert all(b.name_in("es") == b.name for b in others)
    exported = export_catalog(store_uow_factory())
    assert next(b for b in exported["bodies"] if b["code"] == "DOT")["name"] == dot["name"]
    load_catalog(store_uow_factory(), exported)
    assert export_catalog(store_uow_factory()) == exported


@pytest.mark.parametrize(
    ("name", "problem"),
    [({"es": "Transporte"}, "needs its English text too"), ({"en": "DOT", "Spanish!": "T"}, "a language code")],
)
def test_body_name_translations__bad_entry__refused_with_the_reason(
    catalog_data: dict[str, Any], name: object, problem: str
) -> None:
    catalog_data["bodies"][0]["name"] = name
    with pytest.raises(Invalid) as refused:
        parse_catalog(catalog_data)
    assert problem in refused.value.description
