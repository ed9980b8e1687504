"""Instance settings stored in the database: show, set, unset."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from civicswitch.cli.common import err, fail, open_uow
from civicswitch.core.clock import SystemClock
from civicswitch.core.errors import DomainError
from civicswitch.settings import (
    ENV_ONLY,
    STORABLE,
    SettingError,
    Settings,
    check_key,
    effective_settings,
    environment_keys,
    environment_variable,
    parse_setting,
)

settings_app = typer.Typer(
    help="Instance settings stored in the database (name, jurisdiction, time zone, coverage layer, public URL, "
    "limits); environment variables override them.",
    no_args_is_help=True,
)

RESTART = "running `serve`, `worker` and `demo` processes pick it up when they restart"


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@settings_app.command("show")
def settings_show(
    key: Annotated[str | None, typer.Argument(help="One setting: print its value alone")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the settings in force as JSON")] = False,
) -> None:
    """The settings in force and where each comes from (default, stored, environment)."""
    from civicswitch.catalog.settings import stored_settings

    stored = stored_settings(open_uow(writing=False))
    try:
        settings = effective_settings(stored)
    except SettingError as exc:
        fail(str(exc))
    current = settings.model_dump(mode="json")
    if key is not None:
        if key not in Settings.model_fields:
            fail(f"unknown setting {key!r}; `civicswitch settings show` lists them")
        print(_text(current[key]))
        return
    if as_json:
        print(json.dumps({k: current[k] for k in (*STORABLE, *ENV_ONLY)}, indent=1))
        return
    from_env = environment_keys()
    print("setting\tvalue\tsource")  # tab-separated, for scripts
    for name in (*STORABLE, *ENV_ONLY):
        if name in from_env:
            source = f"environment ({environment_variable(name)})"
        elif name in ENV_ONLY:
            source = "default (environment only)"
        elif name in stored:
            source = "stored"
        else:
            source = "default"
        value = current[name]
        if name == "database_url":
            from civicswitch.core.db import safe_url

            value = safe_url(value)
        print(f"{name}\t{_text(value)}\t{source}")


@settings_app.command("set", context_settings={"ignore_unknown_options": True})
def settings_set(
    key: Annotated[str, typer.Argument(help="The setting, e.g. timezone (see `civicswitch settings show`)")],
    value: Annotated[str, typer.Argument(help="Its value; lists comma-separated, booleans true/false")],
) -> None:
    """Store a setting, checked as it is when read (nothing is stored when it is refused)."""
    from civicswitch.catalog.settings import set_settings

    try:
        stored = set_settings(open_uow(), SystemClock(), {key: parse_setting(key, value)})
    except SettingError as exc:
        fail(str(exc))
    except DomainError as exc:
        fail(exc.description)
    err.print(f"{key} = {_text(stored[key])} (stored; {RESTART})", highlight=False)
    if key in environment_keys():
        err.print(
            f"note: {environment_variable(key)} is set in this environment and overrides the stored value here",
            highlight=False,
        )


@settings_app.command("unset")
def settings_unset(key: Annotated[str, typer.Argument(help="The setting to remove from the database")]) -> None:
    """Remove a stored setting: its default (or environment variable) applies again."""
    from civicswitch.catalog.settings import unset_setting

    try:
        check_key(key)
        removed = unset_setting(open_uow(), key, clock=SystemClock())
    except SettingError as exc:
        fail(str(exc))
    except DomainError as exc:
        fail(exc.description)
    now = _text(getattr(effective_settings({}), key))
    if removed:
        err.print(f"{key} unset: now {now!r} ({RESTART})", highlight=False)
    else:
        err.print(f"{key} was not stored (it is {now!r})", highlight=False)
