"""``civicswitch metrics``: the measures a city leader reads, on the command line (requests/metrics, docs/metrics.md),
so that the figures can be checked and scripted."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from civicswitch.cli.common import app, base_settings, fail, open_uow
from civicswitch.core.errors import DomainError
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.metrics import MetricsQuery, parse_by, time_to_close, volume


class Measure(StrEnum):
    VOLUME = "volume"
    TIME_TO_CLOSE = "time-to-close"


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _day(text: str | None, zone: ZoneInfo, default: datetime) -> datetime:
    """A date (its start, in the instance's time zone) or a date-time with an offset."""
    if not text:
        return default
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{text!r} is not a date: use YYYY-MM-DD or an ISO 8601 date-time")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


@app.command("metrics")
def metrics(
    measure: Annotated[Measure, typer.Argument(help="volume or time-to-close (docs/metrics.md)")],
    by: Annotated[str | None, typer.Option("--by", help="service, body, channel or area:LAYER [default: all]")] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="first day (YYYY-MM-DD, the instance's time zone)")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="the day after the last (exclusive) [default: tomorrow]")
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="table, csv or json")] = Format.TABLE,
) -> None:
    """Print one measure over the requests filed in the range, one row per group."""
    settings = base_settings()
    zone = ZoneInfo(settings.timezone)
    today = datetime.now(zone).date()
    start = _day(since, zone, datetime.combine(today - timedelta(days=30), time(), tzinfo=zone))
    end = _day(until, zone, datetime.combine(today + timedelta(days=1), time(), tzinfo=zone))
    try:
        grouping, layer = parse_by(by)
        query = MetricsQuery(start, end, grouping, layer)
        found: list[Any] = (time_to_close if measure is Measure.TIME_TO_CLOSE else volume)(
            open_uow(False), OPERATOR, query
        )
    except DomainError as exc:
        fail(exc.description)
    rows = [asdict(r) for r in found]
    label = "all" if grouping == "all" else (f"area:{layer}" if grouping == "area" else grouping)
    for row in rows:
        row[label] = row.pop("group")
    columns = [label, *(k for k in (rows[0] if rows else {}) if k != label)]
    if output is Format.JSON:
        typer.echo(json.dumps({"measure": str(measure), "by": label, "from": start.isoformat(), "to": end.isoformat(),
                               "rows": [{c: r[c] for c in columns} for r in rows]}))  # fmt: skip
        return
    if output is Format.CSV:
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        typer.echo(out.getvalue(), nl=False)
        return
    typer.echo(f"{measure} by {label}, filed {start.isoformat()} to {end.isoformat()} (exclusive)")
    if not rows:
        typer.echo("no requests filed in the range")
        return
    typer.echo("\t".join(columns))  # tab-separated: reads in a terminal, pastes into a spreadsheet
    for row in rows:
        typer.echo("\t".join(str(row[c]) for c in columns))
