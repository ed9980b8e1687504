"""The catalog: area layers, the catalog file, routing rules."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from civicswitch.catalog.files import CatalogFormat
from civicswitch.cli.common import err, fail, open_uow, setup_logging
from civicswitch.core.clock import SystemClock
from civicswitch.core.csvsafe import neutralise_row
from civicswitch.core.db import make_engine
from civicswitch.core.errors import DomainError
from civicswitch.profiles import Profile
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork

areas = typer.Typer(help="Area layers: boundaries used for routing and analytics.", no_args_is_help=True)
catalog = typer.Typer(help="The catalog file: bodies, services and routing rules.", no_args_is_help=True)
routing = typer.Typer(help="Routing rules: which body owns a service where.", no_args_is_help=True)
calendars = typer.Typer(
    help="SLA calendars: working days, hours and holidays for due dates in business days (define them in the "
    "catalog file's calendars section).",
    no_args_is_help=True,
)


@areas.command("load")
def areas_load(
    layer: Annotated[str, typer.Argument(help="Layer name, e.g. boroughs (a-z, 0-9, _ and -)")],
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection (WGS84)", exists=True, dir_okay=False)],
    key: Annotated[str, typer.Option("--key", help="Feature property holding each area's key")],
    name: Annotated[str | None, typer.Option("--name", help="Feature property holding its display name")] = None,
    valid_from: Annotated[
        str | None, typer.Option("--valid-from", help="Date this version takes effect (keeps the previous one)")
    ] = None,
) -> None:
    """Load (or replace) a layer. Invalid geometries are repaired; the layer loads whole or not at all."""
    from civicswitch.catalog.handlers import load_layer
    from civicswitch.core.timefmt import parse_datetime

    settings = Settings()
    setup_logging(settings.log_level)
    try:
        since = parse_datetime(valid_from) if valid_from else None
        loaded = load_layer(
            SqlUnitOfWork(make_engine(settings.database_url)),
            layer,
            file.read_bytes(),
            key_property=key,
            name_property=name,
            valid_from=since,
        )
    except ValueError as exc:
        fail(f"--valid-from: {exc}")
        return
    except DomainError as exc:
        fail(exc.description)
        return
    since_text = f", valid from {loaded.valid_from:%Y-%m-%d}" if loaded.valid_from else ""
    err.print(f"layer {loaded.layer}: {loaded.areas} areas loaded ({loaded.repaired} repaired){since_text}")


@areas.command("list")
def areas_list() -> None:
    """Layers and their current areas."""
    with SqlUnitOfWork(make_engine(Settings().database_url), writing=False) as uow:
        layers = uow.catalog.layers()
        stored = uow.catalog.areas()
    print("layer\tareas\tretired\tkey_property")
    for layer in layers:
        mine = [a for a in stored if a.layer == layer.name]
        current = [a for a in mine if a.valid_to is None]
        print(f"{layer.name}\t{len(current)}\t{len(mine) - len(current)}\t{layer.key_property}")


@areas.command("locate")
def areas_locate(
    file: Annotated[Path | None, typer.Argument(help="CSV with lat and long columns (default: stdin)")] = None,
    layer: Annotated[list[str] | None, typer.Option("--layer", help="Only these layers (repeat)")] = None,
) -> None:
    """Add one column per layer (the area key, empty where none) to CSV rows that have lat/long columns."""
    import csv
    import sys

    from civicswitch.routing.geography import load_index

    try:
        handle = file.open(newline="", encoding="utf-8-sig") if file else sys.stdin
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
        return
    try:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    except (csv.Error, UnicodeDecodeError) as exc:
        fail(f"{file or 'stdin'} is not a UTF-8 CSV file: {exc}")
        return
    finally:
        if file:
            handle.close()
    if "lat" not in fields or "long" not in fields:
        fail(f"the CSV needs lat and long columns (it has: {', '.join(fields) or 'no header'})")
        return
    index = load_index(SqlUnitOfWork(make_engine(Settings().database_url), writing=False))
    lats: list[float] = []
    longs: list[float] = []
    for line, row in enumerate(rows, start=2):
        lat, long = (row.get("lat") or "").strip(), (row.get("long") or "").strip()
        try:
            lats.append(float(lat) if lat else math.nan)
            longs.append(float(long) if long else math.nan)
        except ValueError:
            fail(f"line {line}: lat/long must be decimal numbers, got {lat!r}, {long!r}")
    try:
        found = index.locate_keys(lats, longs, layer or None)
    except DomainError as exc:
        fail(exc.description)
        return
    columns = [*fields, *[n for n in found if n not in fields]]
    writer = csv.writer(sys.stdout)
    writer.writerow(neutralise_row(columns))  # the user's own cells and header go out neutralised (CSV injection)
    for i, row in enumerate(rows):
        merged = {**row, **{name: keys[i] for name, keys in found.items()}}
        writer.writerow(neutralise_row(merged.get(c) for c in columns))


@catalog.command("import")
def catalog_import(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Catalog file: .json, .yaml or .yml (settings, bodies, services, routing_rules, connectors)",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    profile: Annotated[
        Profile | None, typer.Option("--profile", help="Load a shipped city profile instead of a file")
    ] = None,
) -> None:
    """Load a catalog file or profile: bodies and services are upserted; routing_rules, when present, replace the
    rules; settings, when present, are stored; connectors are created or updated (a file carries no secrets)."""
    from civicswitch.catalog.files import read_catalog_document
    from civicswitch.catalog.loader import load_catalog
    from civicswitch.profiles import layer_command, load_shipped_layers, profile_document, shipped_file

    if file is not None and profile is not None:
        fail("give a catalog file or --profile, not both")
        return
    try:
        if profile is not None:
            document = profile_document(profile)
        elif file is not None:
            document = read_catalog_document(file)
        else:
            fail("give a catalog file (.json, .yaml, .yml) or --profile boston|chicago|nyc")
            return
    except DomainError as exc:
        fail(exc.description)
        return
    try:
        if "connectors" in document:
            from civicswitch.hub.handlers import check_connector_documents

            with open_uow(writing=False) as uow:
                known = {b.code for b in uow.catalog.bodies()}
            check_connector_documents(
                document["connectors"], known | {b.get("code") for b in document.get("bodies", [])}
            )
        if profile is not None:
            shipped = load_shipped_layers(SqlUnitOfWork(make_engine(Settings().database_url)), document)
            if shipped:
                err.print(f"boundary layers loaded from the package: {', '.join(shipped)}")
        bodies_n, services_n = load_catalog(SqlUnitOfWork(make_engine(Settings().database_url)), document)
    except DomainError as exc:
        layers = document.get("layers") if profile is not None else None
        hint = "".join(f"\n  {layer_command(layer)}" for layer in layers or ())
        fail(exc.description + (f"\nits layers, to load first (DATA = ../shared/data):{hint}" if hint else ""))
        return
    rules = len(document.get("routing_rules") or []) if "routing_rules" in document else "unchanged"
    err.print(f"catalog loaded: {bodies_n} bodies, {services_n} services, routing rules: {rules}")
    if "connectors" in document:
        from civicswitch.hub.handlers import load_connectors

        made = load_connectors(open_uow(), SystemClock(), document["connectors"])
        err.print(f"connectors loaded: {len(made)}")
        for m in made:
            if m.secret:
                err.print(f"  {m.connector.code}: new signing secret (shown once): {m.secret}", highlight=False)
    if profile is not None:
        to_load = [layer for layer in document["layers"] if shipped_file(layer) is None]
        if to_load:
            err.print(f"{profile} routes and reports by these layers (DATA = ../shared/data):")
            for layer in to_load:
                err.print(f"  {layer_command(layer)}", highlight=False)
        else:
            names = ", ".join(layer["layer"] for layer in document["layers"])
            err.print(f"{profile} routes and reports by the layers shipped with it ({names}): loaded")


@catalog.command("export")
def catalog_export(
    fmt: Annotated[CatalogFormat, typer.Option("--format", help="json or yaml")] = CatalogFormat.JSON,
) -> None:
    """Print the catalog (settings, bodies, services, routing rules and connectors without their secrets) as JSON
    or YAML, for version control."""
    from civicswitch.catalog.files import dump_catalog_document
    from civicswitch.catalog.loader import export_catalog
    from civicswitch.hub.handlers import connector_documents

    document = export_catalog(SqlUnitOfWork(make_engine(Settings().database_url), writing=False))
    document["connectors"] = connector_documents(open_uow(writing=False))  # settings only: secrets are never exported
    print(dump_catalog_document(document, fmt), end="")


@routing.command("list")
def routing_list() -> None:
    """The routing rules, strongest first."""
    with SqlUnitOfWork(make_engine(Settings().database_url), writing=False) as uow:
        rules = uow.catalog.rules()
    print("priority\tservice\tlayer\tarea\tbody")
    for rule in sorted(rules, key=lambda r: r.rank, reverse=True):
        cells = (rule.priority, rule.service or "*", rule.layer, rule.area or "*", rule.body)
        print("\t".join(str(c) for c in cells))


@routing.command("explain")
def routing_explain(
    service: Annotated[str, typer.Option(help="Service code")],
    lat: Annotated[float, typer.Option(help="WGS84 latitude")],
    long: Annotated[float, typer.Option(help="WGS84 longitude")],
) -> None:
    """Which body a request for SERVICE at LAT/LONG goes to, and why: the same decision intake makes (with the
    coverage layer setting), including a referral outside the jurisdiction or a refusal (exit code 1)."""
    from civicswitch.routing.geography import load_index
    from civicswitch.routing.intake import geography_for, route

    settings = Settings()
    engine = make_engine(settings.database_url)
    index = load_index(SqlUnitOfWork(engine, writing=False))
    with SqlUnitOfWork(engine, writing=False) as uow:
        known = uow.catalog.service(service)
        rules = uow.catalog.rules()
        bodies = {b.code: b for b in uow.catalog.bodies()}
    if known is None or not known.active:
        fail(f"service_code {service!r} is not in the service list")
        return
    hits = index.locate(lat, long)
    out = Console(soft_wrap=True, highlight=False)
    out.print("areas: " + (", ".join(f"{k}={v.key}" for k, v in hits.items() if v) or "none"))
    layer = settings.coverage_layer
    geography = geography_for(index, layer)
    if geography is None:
        why = f"coverage layer {layer!r} is not loaded" if layer else "no coverage layer is set"
        out.print(
            f"body: {known.body_code or 'none'} (the service's default owner: requests are not routed by location, "
            f"{why}; `civicswitch settings set coverage_layer LAYER`)"
        )
        return
    try:
        routed = route(known, lat, long, geography, rules, bodies, hits=hits)
    except DomainError as exc:
        out.print(f"refused (intake answers 400): {exc.description}")
        raise typer.Exit(code=1) from None
    how = f"rule: {routed.rule.describe()}" if routed.rule else "no rule matches: the service's default owner"
    if routed.referred_to is not None:
        where = f"in {routed.outside}" if routed.outside else "outside the jurisdiction"
        out.print(f"body: {routed.body} (referred: the point is {where}, outside {layer}; {how})")
    else:
        out.print(f"body: {routed.body or 'none'} ({how})")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from None


@calendars.command("list")
def calendars_list() -> None:
    """Every calendar: code, time zone, working days, hours, how many holidays and the next one."""
    from civicswitch.catalog.handlers import list_calendars

    try:
        found = list_calendars(open_uow(writing=False))
    except DomainError as exc:
        fail(exc.description)
        return
    today = SystemClock().now().date()
    print("code\ttimezone\tworkdays\thours\tholidays\tnext_holiday\tname")
    for c in found:
        doc = c.document()
        upcoming = next((h for h in c.holidays if h.day >= today), None)
        nxt = f"{upcoming.day.isoformat()} {upcoming.name}" if upcoming else "-"
        print(
            f"{c.code}\t{c.timezone or '(instance)'}\t{','.join(doc['workdays'])}\t{doc['hours']}\t"
            f"{len(c.holidays)}\t{nxt}\t{c.name}"
        )


@calendars.command("show")
def calendars_show(code: Annotated[str, typer.Argument(help="Calendar code")]) -> None:
    """One calendar with all its holidays."""
    from civicswitch.catalog.handlers import show_calendar

    try:
        c = show_calendar(open_uow(writing=False), code)
    except DomainError as exc:
        fail(exc.description)
        return
    doc = c.document()
    print(f"code\t{c.code}\nname\t{c.name}\ntimezone\t{c.timezone or '(instance timezone setting)'}")
    print(f"workdays\t{','.join(doc['workdays'])}\nhours\t{doc['hours']}\nholidays\t{len(c.holidays)}")
    for h in c.holidays:
        print(f"{h.day.isoformat()}\t{h.name}")


@calendars.command("add-holiday")
def calendars_add_holiday(
    code: Annotated[str, typer.Argument(help="Calendar code")],
    day: Annotated[str, typer.Argument(help="Date, YYYY-MM-DD (local to the calendar)")],
    name: Annotated[str, typer.Argument(help="The holiday's name, e.g. 'Labor Day'")],
) -> None:
    """Add a holiday (or rename the one on that date). Requests filed from now on count it; due dates already
    set stay."""
    from civicswitch.catalog.handlers import add_holiday

    try:
        c = add_holiday(open_uow(), SystemClock(), code, _day(day), name)
    except DomainError as exc:
        fail(exc.description)
        return
    err.print(f"calendar {c.code}: holiday {_day(day).isoformat()} {name.strip()} added ({len(c.holidays)} holidays)")


@calendars.command("remove-holiday")
def calendars_remove_holiday(
    code: Annotated[str, typer.Argument(help="Calendar code")],
    day: Annotated[str, typer.Argument(help="Date, YYYY-MM-DD")],
) -> None:
    """Remove a holiday from a calendar."""
    from civicswitch.catalog.handlers import remove_holiday

    try:
        c = remove_holiday(open_uow(), SystemClock(), code, _day(day))
    except DomainError as exc:
        fail(exc.description)
        return
    err.print(f"calendar {c.code}: holiday {_day(day).isoformat()} removed ({len(c.holidays)} holidays)")
