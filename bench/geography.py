"""Geography benchmark: point → areas lookups per second, and routing time per request, each beside a naive
baseline measured in the same run.

    .venv/bin/python bench/geography.py [--points 200000] [--data ../shared/data]

- Lookups: random points over New York City's bounding box against the community districts (full detail,
  71 polygons), through ``AreaIndex.locate_keys`` (shapely 2 STRtree, prepared geometries, vectorised) and through
  the naive way (for each point, test every polygon with ``contains`` until one holds it).
- Routing: ``routing.intake.route`` for one request at a time (all layers looked up, rules decided), p50/p95,
  beside the naive lookup for one point.

With ``--db sqlite,postgres`` it also measures, on each database (``bench/geo_db.py``):
- the duplicate check (``routing.duplicates.find_duplicates``: the grid-cell index query, then ranking) with
  ``--rows`` (default 1,000,000) recent requests stored, p50/p95 over ``--checks`` points, beside the naive
  query (same service, time window and bounding box, no grid cell: the service/time index) in the same run,
  and that both return the same matches;
- routing per request on the database: the whole ``submit_request`` use case (validation, point → areas,
  rules, duplicate check, insert, commit) with routing by location on, beside the same use case with routing off.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import shapely

from civicswitch.catalog.areas import AreaLayer, parse_layer
from civicswitch.catalog.model import Body, BodyKind, Service
from civicswitch.catalog.rules import RoutingRule
from civicswitch.routing.geography import AreaIndex
from civicswitch.routing.intake import Geography, route

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description="point → areas and routing benchmark")
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--naive-points", type=int, default=5_000)
    parser.add_argument("--routes", type=int, default=5_000)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--db", default="", help="comma list of sqlite, postgres: the per-database part")
    parser.add_argument("--rows", type=int, default=1_000_000, help="requests stored for the duplicate check")
    parser.add_argument("--checks", type=int, default=2_000)
    parser.add_argument("--submits", type=int, default=500)
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the generated databases")
    args = parser.parse_args()
    boundaries = args.data / "nyc" / "boundaries"
    if not boundaries.exists():
        raise SystemExit(f"needs ../shared/data (looked in {args.data})")
    districts = parse_layer((boundaries / "nyc_community_districts.geojson").read_bytes(), AreaLayer("cd", "BoroCD"))
    boroughs = parse_layer((boundaries / "nyc_boroughs.geojson").read_bytes(), AreaLayer("boroughs", "BoroName"))
    counties = parse_layer(
        (boundaries / "new_york_state_counties.geojson").read_bytes(), AreaLayer("counties", "geoid")
    )
    rng = np.random.default_rng(311)
    lats = rng.uniform(40.49, 40.92, args.points)
    longs = rng.uniform(-74.26, -73.69, args.points)

    cd_index = AreaIndex(districts)
    cd_index.locate_keys(lats[:1000], longs[:1000])
    started = time.perf_counter()
    fast = cd_index.locate_keys(lats, longs)["cd"]
    indexed_rate = args.points / (time.perf_counter() - started)

    shapes = [(a.key, a.geometry) for a in districts]
    points = shapely.points(longs[: args.naive_points], lats[: args.naive_points])
    started = time.perf_counter()
    naive = [next((key for key, g in shapes if g.contains(p)), "") for p in points]
    naive_rate = args.naive_points / (time.perf_counter() - started)
    agree = sum(a == b for a, b in zip(naive, fast[: args.naive_points], strict=True))

    index = AreaIndex([*districts, *boroughs, *counties])
    geography = Geography(index, "boroughs")
    service = Service(code="pothole", name="Pothole", body_code="DOT")
    bodies = {"DOT": Body("DOT", "Transportation"), "NASSAU": Body("NASSAU", "Nassau", BodyKind.EXTERNAL)}
    rules = [RoutingRule("DOT", "boroughs"), RoutingRule("NASSAU", "counties", area="05000US36059")]
    inside = [(float(y), float(x)) for y, x, k in zip(lats, longs, fast, strict=True) if k][: args.routes]
    times = []
    for y, x in inside:
        t0 = time.perf_counter()
        route(service, y, x, geography, rules, bodies)
        times.append((time.perf_counter() - t0) * 1000)
    naive_one = []
    for y, x in inside[:500]:
        t0 = time.perf_counter()
        p = shapely.Point(x, y)
        next((key for key, g in shapes if g.contains(p)), "")
        naive_one.append((time.perf_counter() - t0) * 1000)
    q = statistics.quantiles(times, n=20)
    result = {
        "points": args.points,
        "lookups_per_s_indexed": round(indexed_rate),
        "lookups_per_s_naive": round(naive_rate),
        "speedup": round(indexed_rate / naive_rate, 1),
        "naive_vs_indexed_agreement": f"{agree}/{args.naive_points}",
        "route_ms_p50": round(statistics.median(times), 4),
        "route_ms_p95": round(q[18], 4),
        "naive_single_lookup_ms_p50": round(statistics.median(naive_one), 4),
        "routes_timed": len(times),
    }
    print(json.dumps(result, indent=1), flush=True)
    if args.db:
        sys.path.insert(0, str(REPO))
        from bench import geo_db

        for kind in args.db.split(","):
            print(json.dumps(geo_db.run(kind.strip(), args), indent=1), flush=True)


if __name__ == "__main__":
    main()
