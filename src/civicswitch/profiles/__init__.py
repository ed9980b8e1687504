"""City catalog profiles shipped with civicswitch: Boston and Chicago (built by ``scripts/build_profiles.py`` from
the cities' own 311 records) and New York City (the demo city's catalog and routing rules).

A profile is a catalog document (``bodies``, ``services``, optionally ``routing_rules``) plus keys the loader
ignores: ``profile``, ``jurisdiction`` and ``layers`` (the boundary layers the city routes by, with the
``civicswitch areas load`` command for each; a layer with ``shipped`` names a file in this package, which
``catalog import --profile`` loads itself). See README.md in this folder.

The ``<name>.import.yaml`` files are the mappings ``civicswitch import --profile`` reads a city's open-data export
through (docs/import.md).
"""

from __future__ import annotations

import json
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from civicswitch.requests.imports.mapping import ImportMapping, parse_mapping

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork


class Profile(StrEnum):
    BOSTON = "boston"
    CHICAGO = "chicago"
    NYC = "nyc"


#: The layers the NYC profile routes by. They ship in the package (``civicswitch/demo/data/areas``, the demo's
#: simplified copies of the city's boundaries, built by scripts/build_demo_areas.py), so the profile imports on any
#: installation: ``catalog import --profile nyc`` loads those not loaded yet (``shipped``: the file in the package).
NYC_LAYERS: list[dict[str, Any]] = [
    {
        "layer": "counties",
        "shipped": "demo/data/areas/counties.geojson",
        "key_property": "geoid",
        "name_property": "name",
        "note": "Nassau and Westchester: the routing rules refer requests filed there to those counties.",
    },
    {
        "layer": "boroughs",
        "shipped": "demo/data/areas/boroughs.geojson",
        "key_property": "name",
        "name_property": "name",
        "note": "The five boroughs; the coverage layer (settings: coverage_layer boroughs).",
    },
    {
        "layer": "community_districts",
        "shipped": "demo/data/areas/community_districts.geojson",
        "key_property": "code",
        "name_property": "name",
        "note": "The community districts and joint-interest areas (parks, airports).",
    },
]


def shipped_file(layer: dict[str, Any]) -> Path | None:
    """The boundary file a profile layer names in the installed package (None: it is in the shared data set)."""
    if not layer.get("shipped"):
        return None
    return Path(str(resources.files("civicswitch").joinpath(*layer["shipped"].split("/"))))


def layer_command(layer: dict[str, Any], data: str = "DATA") -> str:
    """The ``civicswitch areas load`` command for one entry of a profile's ``layers``."""
    shipped = shipped_file(layer)
    where = str(shipped) if shipped is not None else f"{data}/{layer['file']}"
    command = f"civicswitch areas load {layer['layer']} {where} --key {layer['key_property']}"
    if layer.get("name_property"):
        command += f" --name {layer['name_property']}"
    if layer.get("valid_from"):
        command += f" --valid-from {layer['valid_from']}"
    return command


def load_shipped_layers(uow: UnitOfWork, document: dict[str, Any]) -> list[str]:
    """Load the profile's shipped boundary layers that the database does not have yet; returns their names."""
    from civicswitch.catalog.handlers import load_layer

    with uow:
        present = {layer.name for layer in uow.catalog.layers()}
    loaded = []
    for layer in document.get("layers") or ():
        shipped = shipped_file(layer)
        if shipped is None or layer["layer"] in present:
            continue
        load_layer(
            uow,
            layer["layer"],
            shipped.read_bytes(),
            key_property=layer["key_property"],
            name_property=layer.get("name_property"),
        )
        loaded.append(layer["layer"])
    return loaded


def _routing() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (resources.files("civicswitch.demo") / "data" / "routing.json").read_text("utf-8")
    )
    return data


def profile_document(profile: Profile | str) -> dict[str, Any]:
    """The catalog document of a shipped profile (a fresh copy each call)."""
    profile = Profile(profile)
    if profile is Profile.NYC:
        from civicswitch.demo.city import catalog_document

        catalog, routing = catalog_document(), _routing()
        return {
            "profile": {
                "name": "nyc",
                "built_by": "scripts/build_demo_city.py, scripts/build_demo_areas.py",
                "sources": ["civicswitch/demo/data/catalog.json", "civicswitch/demo/data/routing.json"],
            },
            "jurisdiction": catalog["jurisdiction"],
            "layers": [{**layer, "command": layer_command(layer)} for layer in NYC_LAYERS],
            "bodies": [*catalog["bodies"], *routing["bodies"]],
            "services": [*catalog["services"], *routing["services"]],
            "routing_rules": routing["routing_rules"],
        }
    document: dict[str, Any] = json.loads((resources.files(__name__) / f"{profile}.json").read_text("utf-8"))
    return document


class ImportProfile(StrEnum):
    """The shipped mappings for ``civicswitch import --profile`` (``<name>.import.yaml`` here)."""

    NYC = "nyc"
    BOSTON = "boston"
    CHICAGO = "chicago"
    SF = "sf"
    OPEN311 = "open311"


def import_mapping(profile: ImportProfile | str) -> ImportMapping:
    """The mapping a city's export is read through (docs/import.md)."""
    profile = ImportProfile(profile)
    text = (resources.files("civicswitch.profiles") / f"{profile.value}.import.yaml").read_text(encoding="utf-8")
    return parse_mapping(yaml.safe_load(text), origin=f"profile {profile.value}")
