"""Instance settings as use cases and in the catalog file: checked as they are read, stored all or nothing, the
same in memory, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from civicswitch.catalog.handlers import load_layer
from civicswitch.catalog.loader import export_catalog, load_catalog
from civicswitch.catalog.settings import instance_settings, set_settings, stored_settings, unset_setting
from civicswitch.core.clock import FixedClock
from civicswitch.core.errors import Invalid, NotFound
from civicswitch.storage.ports import UnitOfWork

ZONES: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"z": "centre"},
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]},
        }
    ],
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("TIMEZONE", "JURISDICTION_NAME", "COVERAGE_LAYER", "MAX_PAGE_SIZE"):
        monkeypatch.delenv(f"CIVICSWITCH_{key}", raising=False)


def test_set_settings__valid__stored_and_in_force(
    store_uow_factory: Callable[[], UnitOfWork], clock: FixedClock
) -> None:
    load_layer(store_uow_factory(), "zones", ZONES, key_property="z")
    stored = set_settings(
        store_uow_factory(), clock, {"timezone": "America/Chicago", "coverage_layer": "zones", "max_page_size": "200"}
    )
    assert stored == {"timezone": "America/Chicago", "coverage_layer": "zones", "max_page_size": 200}
    settings = instance_settings(store_uow_factory())
    assert (settings.timezone, settings.coverage_layer, settings.max_page_size) == ("America/Chicago", "zones", 200)


def test_set_settings__one_bad_value__refused_and_nothing_stored(
    store_uow_factory: Callable[[], UnitOfWork], clock: FixedClock
) -> None:
    with pytest.raises(Invalid, match="unknown timezone 'Mars/Base'"):
        set_settings(store_uow_factory(), clock, {"jurisdiction_name": "Springfield", "timezone": "Mars/Base"})
    assert stored_settings(store_uow_factory()) == {}


def test_set_settings__coverage_layer_not_loaded__refused_naming_the_loaded_layers(
    store_uow_factory: Callable[[], UnitOfWork], clock: FixedClock
) -> None:
    load_layer(store_uow_factory(), "zones", ZONES, key_property="z")
    with pytest.raises(Invalid, match=r"layer 'boroughs' is not loaded \(loaded: zones\)"):
        set_settings(store_uow_factory(), clock, {"coverage_layer": "boroughs"})
    assert stored_settings(store_uow_factory()) == {}


def test_unset_setting__stored__default_in_force_again(
    store_uow_factory: Callable[[], UnitOfWork], clock: FixedClock
) -> None:
    set_settings(store_uow_factory(), clock, {"jurisdiction_name": "Springfield"})
    assert unset_setting(store_uow_factory(), "jurisdiction_name") is True
    assert unset_setting(store_uow_factory(), "jurisdiction_name") is False
    assert instance_settings(store_uow_factory()).jurisdiction_name == "Civic Switchboard"
    with pytest.raises(NotFound, match="unknown setting"):
        unset_setting(store_uow_factory(), "colour")


def test_catalog_file__settings_section__stored_and_exported_back(
    store_uow_factory: Callable[[], UnitOfWork], catalog_data: dict[str, Any], clock: FixedClock
) -> None:
    load_layer(store_uow_factory(), "zones", ZONES, key_property="z")
    document = {**catalog_data, "settings": {"jurisdiction_name": "Testville", "coverage_layer": "zones"}}
    load_catalog(store_uow_factory(), document, clock)
    assert stored_settings(store_uow_factory()) == {"jurisdiction_name": "Testville", "coverage_layer": "zones"}
    assert export_catalog(store_uow_factory())["settings"] == document["settings"]


def test_catalog_file__bad_setting__nothing_loaded(
    store_uow_factory: Callable[[], UnitOfWork], catalog_data: dict[str, Any], clock: FixedClock
) -> None:
    document = {**catalog_data, "settings": {"timezone": "Mars/Base"}}
    with pytest.raises(Invalid, match="timezone: unknown timezone"):
        load_catalog(store_uow_factory(), document, clock)
    with store_uow_factory() as uow:
        assert uow.catalog.bodies() == [] and uow.settings.all() == {}
    with pytest.raises(Invalid, match="settings must be a mapping"):
        load_catalog(store_uow_factory(), {**catalog_data, "settings": ["timezone"]}, clock)
