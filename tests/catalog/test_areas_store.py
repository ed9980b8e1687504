"""The area part of the catalog store: the same behaviour on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from shapely.geometry import box

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.handlers import load_layer
from civicswitch.core.errors import Invalid
from civicswitch.storage.ports import UnitOfWork

LAYER = AreaLayer("wards", "ward", "name")
CUT = datetime(2023, 5, 15, tzinfo=UTC)


def areas(*keys: str) -> list[Area]:
    return [Area("wards", k, k.upper(), box(i, 0, i + 1, 1)) for i, k in enumerate(keys)]


def test_add_layer_version__round_trip__geometry_and_names_kept(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    with store_uow_factory() as uow:
        uow.catalog.add_layer_version(LAYER, areas("a", "b"), None)
        uow.commit()
    with store_uow_factory() as uow:
        stored = uow.catalog.areas("wards")
        assert [(a.key, a.name, a.valid_from, a.valid_to) for a in stored] == [
            ("a", "A", None, None),
            ("b", "B", None, None),
        ]
        assert stored[1].geometry.equals(box(1, 0, 2, 1))
        assert [layer.name for layer in uow.catalog.layers()] == ["wards"]


def test_add_layer_version__without_date__replaces_current(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    for keys in (("a", "b"), ("c",)):
        with store_uow_factory() as uow:
            uow.catalog.add_layer_version(LAYER, areas(*keys), None)
            uow.commit()
    with store_uow_factory() as uow:
        assert [a.key for a in uow.catalog.areas()] == ["c"]


def test_add_layer_version__with_date__keeps_history(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    with store_uow_factory() as uow:
        uow.catalog.add_layer_version(LAYER, areas("old"), None)
        uow.catalog.add_layer_version(LAYER, areas("new"), CUT)
        uow.commit()
    with store_uow_factory() as uow:
        stored = {a.key: (a.valid_from, a.valid_to) for a in uow.catalog.areas("wards")}
    assert stored == {"old": (None, CUT), "new": (CUT, None)}


def test_add_layer_version__not_after_current__invalid_and_nothing_changed(
    store_uow_factory: Callable[[], UnitOfWork],
) -> None:
    with store_uow_factory() as uow:
        uow.catalog.add_layer_version(LAYER, areas("v1"), CUT)
        uow.commit()
    with store_uow_factory() as uow, pytest.raises(Invalid, match="must start later"):
        uow.catalog.add_layer_version(LAYER, areas("v0"), datetime(2020, 1, 1, tzinfo=UTC))
    with store_uow_factory() as uow:
        assert [a.key for a in uow.catalog.areas()] == ["v1"]


def test_load_layer__bad_feature__nothing_loaded(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    document = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"ward": "1"}, "geometry": box(0, 0, 1, 1).__geo_interface__},
            {"type": "Feature", "properties": {"ward": "2"}, "geometry": {"type": "Point", "coordinates": [0, 0]}},
        ],
    }
    with pytest.raises(Invalid, match="feature 1"):
        load_layer(store_uow_factory(), "wards", document, key_property="ward")
    with store_uow_factory() as uow:
        assert uow.catalog.areas() == [] and uow.catalog.layers() == []
        assert uow.catalog.areas_version() == (0, 0)
