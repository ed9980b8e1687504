"""The catalog's service names (every store): the (code, name) pairs a filter's choices need, as services() has them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from civicswitch.catalog.loader import load_catalog
from civicswitch.storage.ports import UnitOfWork


def test_service_names__active_services_by_code__as_services_has_them(
    store_uow_factory: Callable[[], UnitOfWork], catalog_data: dict[str, Any]
) -> None:
    catalog_data["services"][0]["active"] = False
    load_catalog(store_uow_factory(), catalog_data)
    with store_uow_factory() as uow:
        expected = [(s.code, s.name) for s in uow.catalog.services()]
        names = uow.catalog.service_names()
    assert names == expected and len(names) == len(catalog_data["services"]) - 1
