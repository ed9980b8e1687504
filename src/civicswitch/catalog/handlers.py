"""Catalog use cases: load an area layer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from civicswitch.catalog.areas import AreaLayer, check_layer_name, parse_layer
from civicswitch.core.errors import Invalid
from civicswitch.people.policy import OPERATOR, Action, Principal, authorize

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedLayer:
    layer: str
    areas: int
    repaired: int
    valid_from: datetime | None


def load_layer(
    uow: UnitOfWork,
    name: str,
    document: bytes | str | dict[str, Any],
    *,
    key_property: str,
    name_property: str | None = None,
    valid_from: datetime | None = None,
    who: Principal = OPERATOR,
) -> LoadedLayer:
    """Check and repair every feature first, then store the layer in one transaction (whole or nothing)."""
    authorize(who, Action.CATALOG_MANAGE)
    if not key_property.strip():
        raise Invalid("--key names the property that holds each area's key", field="key")
    layer = AreaLayer(check_layer_name(name), key_property.strip(), (name_property or "").strip() or None)
    areas = parse_layer(document, layer, valid_from=valid_from)
    with uow:
        uow.catalog.add_layer_version(layer, areas, valid_from)
        uow.commit()
    repaired = sum(a.repaired for a in areas)
    log.info("layer %s loaded: %d areas (%d repaired), valid from %s", layer.name, len(areas), repaired, valid_from)
    return LoadedLayer(layer.name, len(areas), repaired, valid_from)
