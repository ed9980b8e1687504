"""What the permission policy costs a request, measured in-process with ``timeit``: the checks the hot entry
points make, each on its own, best of ``--repeat`` runs of ``--number`` calls (CPU-bound, a few hundred
nanoseconds each; the best run is the one least disturbed by other jobs on the shared machine).

    .venv/bin/python bench/policy.py [--number 200000] [--repeat 5] [--json]

The checks:
- ``submit``: an app key files a request (``authorize(app, request.submit)``, no target);
- ``submit_liaison``: a liaison files in one of its areas (the target built from the request, then the check);
- ``update_own``: a back end's key updates a request its body owns (``authorize_on``'s first, common path:
  ``target_of(request)`` and ``allowed``);
- ``refused``: a back end's key on another body's request (builds and raises ``Forbidden``; rare, for scale).

Compare the sum a request makes (one or two checks) with a request's server CPU from ``bench/open311_api.py``
(e.g. its A/B line "server CPU ms/request"): the rate limiter's share is measured by ``bench/ratelimit.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `bench` importable

from civicswitch.core.errors import Forbidden
from civicswitch.people.policy import Action, Principal, Role, allowed, authorize
from civicswitch.requests.access import target_of
from civicswitch.requests.model import Channel, ServiceRequest


def _request() -> ServiceRequest:
    return ServiceRequest(
        service_code="pothole",
        requested_at=datetime(2026, 1, 1, tzinfo=UTC),
        channel=Channel.WEB,
        body_code="DOT",
        lat=40.7,
        long=-73.9,
        description="A pothole",
        areas={"boroughs": "1"},
    )


def checks() -> dict[str, Callable[[], object]]:
    app = Principal(kind="client", name="app", role=Role.APP, client_id=1)
    dot = Principal(kind="client", name="dot", role=Role.BACKEND, bodies=frozenset({"DOT"}), client_id=2)
    dsny = Principal(kind="client", name="dsny", role=Role.BACKEND, bodies=frozenset({"DSNY"}), client_id=3)
    liaison = Principal(kind="staff", name="liaison", role=Role.LIAISON, areas=frozenset({("boroughs", "1")}))
    request = _request()

    def refused() -> None:
        with contextlib.suppress(Forbidden):
            authorize(dsny, Action.REQUEST_UPDATE, target_of(request))

    return {
        "submit": lambda: authorize(app, Action.REQUEST_SUBMIT),
        "submit_liaison": lambda: authorize(liaison, Action.REQUEST_SUBMIT, target_of(request)),
        "update_own": lambda: allowed(dot, Action.REQUEST_UPDATE, target_of(request)),
        "refused": refused,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--number", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = {}
    for name, fn in checks().items():
        fn()  # fails loudly here if a check is wrong, not inside timeit
        best = min(timeit.repeat(fn, number=args.number, repeat=args.repeat)) / args.number
        result[name] = round(best * 1e6, 3)
    if args.json:
        print(json.dumps({"us_per_call": result, "number": args.number, "repeat": args.repeat}))
    else:
        print(f"policy checks, best of {args.repeat} x {args.number:,} calls (in-process, one core, shared machine)")
        for name, us in result.items():
            print(f"  {name:16} {us:8.3f} µs per call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
