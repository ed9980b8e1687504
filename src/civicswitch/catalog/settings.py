"""Instance settings stored in the database (``civicswitch settings``, a catalog file's ``settings``): read, set
and unset, validated exactly as they are when a process reads them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from civicswitch.core.clock import Clock
from civicswitch.core.errors import Invalid, NotFound
from civicswitch.people import audit
from civicswitch.people.policy import OPERATOR, Action, Principal, authorize
from civicswitch.settings import SettingError, Settings, check_key, check_stored, effective_settings

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)


def stored_settings(uow: UnitOfWork) -> dict[str, Any]:
    """Every stored instance setting (key → value), including keys this version does not use."""
    with uow:
        return uow.settings.all()


def instance_settings(uow: UnitOfWork, **values: Any) -> Settings:
    """The settings in force: defaults < stored < environment < ``values``."""
    return effective_settings(stored_settings(uow), **values)


def check_settings(uow: UnitOfWork, values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate settings to store, inside ``uow``'s transaction: each value as it is read, and a coverage layer
    must be a loaded layer. Raises :class:`Invalid`."""
    try:
        checked = check_stored(values)
    except SettingError as exc:
        raise Invalid(str(exc), field="settings") from None
    layer = checked.get("coverage_layer")
    if layer:
        loaded = sorted(item.name for item in uow.catalog.layers())
        if layer not in loaded:
            known = ", ".join(loaded) or "none yet"
            raise Invalid(
                f"coverage_layer: layer {layer!r} is not loaded (loaded: {known}); "
                f"load it first with `civicswitch areas load {layer} FILE --key PROP`",
                field="settings",
            )
    return checked


def store_settings(uow: UnitOfWork, values: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """Check and write ``values`` in ``uow``'s open transaction (the caller commits)."""
    checked = check_settings(uow, values)
    for key, value in checked.items():
        uow.settings.set(key, value, at)
    return checked


def set_settings(
    uow: UnitOfWork, clock: Clock, values: Mapping[str, Any], *, who: Principal = OPERATOR
) -> dict[str, Any]:
    """Store instance settings (all or none); returns them as stored."""
    authorize(who, Action.SETTINGS_MANAGE)
    with uow:
        checked = store_settings(uow, values, clock.now())
        audit.record(
            uow,
            clock.now(),
            who,
            Action.SETTINGS_MANAGE,
            "settings",
            ",".join(sorted(checked)),
            detail={"op": "set", "values": {k: v for k, v in checked.items()}},
        )
        uow.commit()
    for key, value in checked.items():
        log.info("instance setting %s set to %r", key, value)
    return checked


def unset_setting(uow: UnitOfWork, key: str, *, clock: Clock | None = None, who: Principal = OPERATOR) -> bool:
    """Remove a stored setting (the default or the environment applies again); False when it was not stored."""
    authorize(who, Action.SETTINGS_MANAGE)
    try:
        check_key(key)
    except SettingError as exc:
        raise NotFound(str(exc), field="key") from None
    with uow:
        removed = uow.settings.unset(key)
        if removed and clock is not None:
            audit.record(uow, clock.now(), who, Action.SETTINGS_MANAGE, "settings", key, detail={"op": "unset"})
        uow.commit()
    if removed:
        log.info("instance setting %s unset", key)
    return removed
