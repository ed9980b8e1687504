"""City catalog profiles shipped with civicswitch: Boston and Chicago (built by ``scripts/build_profiles.py`` from
the cities' own 311 records) and New York City (the demo city's catalog and routing rules).

A profile is a catalog document (``bodies``, ``services``, optionally ``routing_rules``) plus keys the loader
ignores: ``profile``, ``jurisdiction`` and ``layers`` (the boundary layers the city routes by, with the
``civicswitch areas load`` command for each). See README.md in this folder.
"""

from __future__ import annotations

import json
from enum import StrEnum
from importlib import resources
from typing import Any


class Profile(StrEnum):
    BOSTON = "boston"
    CHICAGO = "chicago"
    NYC = "nyc"


#: The layers the NYC profile routes by, from the shared real-data set. ``civicswitch demo`` loads simplified
#: copies of the same boundaries with the same keys.
NYC_LAYERS: list[dict[str, Any]] = [
    {
        "layer": "counties",
        "file": "nyc/boundaries/new_york_state_counties.geojson",
        "key_property": "geoid",
        "name_property": "name",
        "note": "Needed before import: the routing rules refer Nassau and Westchester County requests to them.",
    },
    {
        "layer": "boroughs",
        "file": "nyc/boundaries/nyc_community_districts_simplified.geojson",
        "key_property": "BOROUGH",
        "name_property": "BOROUGH",
        "note": "The five boroughs (districts sharing a borough are merged); the coverage layer.",
    },
    {
        "layer": "community_districts",
        "file": "nyc/boundaries/nyc_community_districts_simplified.geojson",
        "key_property": "GEOCODE",
        "name_property": "GEONAME",
        "note": "59 community districts and 12 joint-interest areas (parks, airports), keyed 101 ... 595.",
    },
]


def layer_command(layer: dict[str, Any], data: str = "DATA") -> str:
    """The ``civicswitch areas load`` command for one entry of a profile's ``layers``."""
    command = f"civicswitch areas load {layer['layer']} {data}/{layer['file']} --key {layer['key_property']}"
    if layer.get("name_property"):
        command += f" --name {layer['name_property']}"
    if layer.get("valid_from"):
        command += f" --valid-from {layer['valid_from']}"
    return command


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
