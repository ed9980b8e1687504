"""Staff work on stored requests: duplicates, merges, changes."""

from __future__ import annotations

from typing import Annotated

import typer

from civicswitch.cli.common import err, fail
from civicswitch.core.clock import SystemClock
from civicswitch.core.db import make_engine
from civicswitch.core.errors import DomainError
from civicswitch.people.policy import OPERATOR
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork

requests_app = typer.Typer(help="Staff work on stored requests: duplicates, merges, changes.", no_args_is_help=True)


@requests_app.command("duplicates")
def requests_duplicates(
    request_id: Annotated[str, typer.Argument(help="service_request_id")],
    limit: Annotated[int, typer.Option(min=1, max=50)] = 5,
) -> None:
    """The stored requests REQUEST_ID likely duplicates, best first (same service, nearby, recent)."""
    from civicswitch.requests.staff import duplicates_of

    try:
        found = duplicates_of(
            SqlUnitOfWork(make_engine(Settings().database_url), writing=False), SystemClock(), request_id, limit=limit
        )
    except DomainError as exc:
        fail(exc.description)
        return
    if not found:
        err.print(f"no likely duplicates of request {request_id}")
    print("service_request_id\tscore\tdistance_m\tage_days\tstatus\tdescription")  # tab-separated, for scripts
    for m in found:
        r = m.request
        text = " ".join(r.description.split())[:80]
        print(f"{r.id}\t{m.score:.3f}\t{m.distance_m:.0f}\t{m.age_days:.1f}\t{r.status}\t{text}")


@requests_app.command("merge")
def requests_merge(
    child: Annotated[str, typer.Argument(help="the duplicate: it is closed as duplicate")],
    into: Annotated[str, typer.Option("--into", help="the request to keep")],
) -> None:
    """Merge CHILD into another request: CHILD closes as duplicate; its followers and notes move over."""
    from civicswitch.requests.commands import MergeRequests
    from civicswitch.requests.staff import merge_requests

    try:
        result = merge_requests(
            SqlUnitOfWork(make_engine(Settings().database_url)),
            SystemClock(),
            MergeRequests(None, child, into, principal=OPERATOR),
        )
    except DomainError as exc:
        fail(exc.description)
        return
    err.print(
        f"request {result.child_id} merged into {result.parent_id}: "
        f"{result.followers_moved} follower(s) and {result.notes_carried} note(s) carried"
    )


@requests_app.command("change")
def requests_change(
    request_id: Annotated[str, typer.Argument(help="service_request_id")],
    service: Annotated[str | None, typer.Option(help="new service code")] = None,
    lat: Annotated[float | None, typer.Option(help="new WGS84 latitude")] = None,
    long: Annotated[float | None, typer.Option(help="new WGS84 longitude")] = None,
    note: Annotated[str, typer.Option(help="why (shown on a transfer)")] = "",
) -> None:
    """Change a request's service and/or location; the routing rules run again (a new owner is a transfer)."""
    from civicswitch.requests.commands import ChangeRequest
    from civicswitch.requests.staff import change_request
    from civicswitch.routing.geography import load_index
    from civicswitch.routing.intake import geography_for

    settings = Settings()  # with the stored instance settings: the coverage layer intake routes by
    engine = make_engine(settings.database_url)
    layer = settings.coverage_layer
    geography = geography_for(load_index(SqlUnitOfWork(engine, writing=False)), layer) if layer else None
    if geography is None and (lat is not None or long is not None):
        why = f"coverage layer {layer!r} is not loaded" if layer else "no coverage layer is set"
        err.print(f"not routing by location ({why}, as at intake): the service's default owner applies")
    cmd = ChangeRequest(
        None,
        request_id,
        service_code=service,
        lat=None if lat is None else repr(lat),
        long=None if long is None else repr(long),
        note=note,
        principal=OPERATOR,
    )
    try:
        result = change_request(SqlUnitOfWork(engine), SystemClock(), cmd, geography)
    except DomainError as exc:
        fail(exc.description)
        return
    what = "transferred to" if result.transferred else "owner unchanged:"
    err.print(
        f"request {result.service_request_id} {what} {result.body or 'no owner'}"
        + (" (referred: outside the jurisdiction)" if result.referred else "")
    )
