"""``civicswitch import``: a city's history from another system's export (requests/imports, docs/import.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from civicswitch.cli.common import app, err, fail, open_uow
from civicswitch.core.errors import DomainError
from civicswitch.people.policy import OPERATOR
from civicswitch.profiles import ImportProfile, import_mapping
from civicswitch.requests.imports.mapping import read_mapping
from civicswitch.requests.imports.run import ImportHistory, ImportReport, import_history

SHOWN = 10  # reasons and notes printed after the summary


@app.command("import")
def import_files(
    files: Annotated[list[Path], typer.Argument(help="Export files: CSV (gzip too) or Open311 JSON", dir_okay=False)],
    profile: Annotated[
        ImportProfile | None, typer.Option("--profile", help="A shipped mapping: the city's open-data export")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Your own mapping file (.yaml, .json): docs/import.md")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and check everything; write nothing")] = False,
    quarantine: Annotated[
        Path | None,
        typer.Option(
            "--quarantine", help="Where refused records go, with line and reason [default: FILE.quarantine.csv]"
        ),
    ] = None,
    unknown_services: Annotated[
        str | None,
        typer.Option(
            "--unknown-services",
            help="create (as inactive services) or refuse (to quarantine) a service "
            "the catalog does not have [default: the mapping's; refuse]",
        ),
    ] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, max=100_000, help="Records per transaction")] = 5000,
) -> None:
    """Import requests from another system's export: idempotent (keyed by the source's own id), bad records to a
    quarantine file, each request routed to the areas of every loaded layer."""
    if (profile is None) == (mapping is None):
        fail("give --profile nyc|boston|chicago|sf|open311 or --mapping FILE (one of them)")
    if unknown_services not in (None, "create", "refuse"):
        fail("--unknown-services is create or refuse")
    choice: Literal["create", "refuse"] | None = unknown_services  # type: ignore[assignment]
    try:
        chosen = import_mapping(profile) if profile is not None else read_mapping(mapping)  # type: ignore[arg-type]
    except DomainError as exc:
        fail(exc.description)
    chosen = chosen.with_unknown_services(choice)
    out = quarantine if quarantine is not None else files[0].with_name(files[0].name + ".quarantine.csv")
    cmd = ImportHistory(files, chosen, OPERATOR, dry_run=dry_run, quarantine=out, batch=batch)
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[rows]:,} rows · {task.fields[rate]:,.0f} rows/s"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        tasks: dict[Path, TaskID] = {}

        def progress(path: Path, rows: int, done: int, total: int) -> None:
            if path not in tasks:
                tasks[path] = bar.add_task(escape(path.name), total=max(total, 1), rows=0, rate=0.0)
            rate = rows / max(time.perf_counter() - started, 1e-9)
            bar.update(tasks[path], completed=done, rows=rows, rate=rate)

        try:
            report = import_history(open_uow(), cmd, progress)
        except DomainError as exc:
            fail(exc.description)
    seconds = time.perf_counter() - started
    _print(report, seconds, out)


def _print(report: ImportReport, seconds: float, quarantine: Path) -> None:
    console = Console(soft_wrap=True, highlight=False)
    rows = [
        ("read", f"{report.read:,}"),
        ("would be inserted" if report.dry_run else "inserted", f"{report.inserted:,}"),
        ("already present (skipped)", f"{report.already_present:,}"),
        ("routed to areas", f"{report.routed:,}"),
        ("quarantined", f"{report.quarantined:,}" + (f"  → {quarantine}" if report.quarantined else "")),
        ("time", f"{seconds:.1f} s ({report.read / max(seconds, 1e-9):,.0f} rows/s)"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        console.print(f"{label:<{width}}  {escape(value)}")
    if report.dry_run:
        console.print("dry run: nothing was written")
    if report.services_created:
        verb = "would be created" if report.dry_run else "created (inactive: history only)"
        console.print(f"services {verb}: {escape(', '.join(report.services_created))}")
    for file, columns in report.absent_columns.items():
        console.print(f"{escape(file)} has no column {escape(', '.join(columns))}: those fields are left empty")
    for reason, count in report.reasons[:SHOWN]:
        console.print(f"quarantined: {count:,} × {escape(reason)}")
    if len(report.reasons) > SHOWN:
        console.print(
            f"quarantined: … {len(report.reasons) - SHOWN} more reasons: every record is in the quarantine file"
        )
    for note, count in report.notes[:SHOWN]:
        console.print(f"note: {count:,} × {escape(note)}")
    if len(report.notes) > SHOWN:
        console.print(
            f"note: … {len(report.notes) - SHOWN} more (the log has each quarantined record; see docs/import.md)"
        )
