"""Build the Boston and Chicago catalog profiles shipped in ``civicswitch/profiles`` from real 311 records.

Input: the shared real-data set (``../shared/data`` next to the repo checkout; ``--data DIR`` overrides it).
Nothing is invented: every service is a request type seen in the records, every body a department seen there.

Output (``--out DIR``, default ``src/civicswitch/profiles``): ``boston.json``, ``chicago.json`` and
``README.md`` (provenance and the figures of this run). Each profile is a catalog document that
``civicswitch catalog import`` takes (``bodies``, ``services``) plus three keys the loader ignores:
``profile`` (where it came from), ``jurisdiction`` and ``layers`` (the boundary layers it routes by, with the
``civicswitch areas load`` command for each).

Boston (``boston/requests/boston311_2011.csv.gz``, July-December 2011, 58,251 cases):

* one service per ``type`` (name: the type with runs of spaces collapsed; code: a ``[a-z0-9-]`` slug of it);
* owner: the ``department`` with most cases of the type (ties: alphabetical code); bodies are the departments
  that own at least one type, named by the ``subject`` most of their cases carry;
* group: the ``reason`` most cases of the type carry (Street Lights, Sanitation, Housing...);
* ``sla_hours``: the median of ``target_dt - open_dt`` in hours (wall clock, both local times) over the cases
  that have a ``target_dt`` not before ``open_dt``, rounded to 0.1 h; only when at least half of the type's cases
  have such a target (otherwise the few targets there are look like exceptions), else left out;
* no routing rules: a type is routed to another department in some neighbourhood only if, in a neighbourhood
  with at least ``MIN_AREA_ROWS`` cases of the type, another department holds at least two thirds of them.
  The script counts such cases and reports them; on the 2011 file there are none (see the README).

Chicago (``chicago/requests/chicago311_2021-01-01_5k.csv.gz``, 5,000 requests of 1-2 January 2021):

* one service per ``sr_type`` seen (code: its ``sr_short_code``; group: the owner department's name without its
  acronym); inactive when the city's own name says it is no longer accepted;
* owner: the ``owner_department`` (each type has exactly one in the file; the script checks it). Body code: the
  acronym before " - " in the department's name ("CDOT - Department of Transportation" -> CDOT), else an
  upper-case slug of the name; body name: the department as the city spells it;
* no SLA (the Chicago export carries no target date) and no routing rules (one owner per type).

The script is deterministic and uses the standard library only. It prints a JSON summary.

Usage::

    .venv/bin/python scripts/build_profiles.py [--data ../shared/data] [--out src/civicswitch/profiles]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "src" / "civicswitch" / "profiles"

BOSTON_REQUESTS = "boston/requests/boston311_2011.csv.gz"
CHICAGO_REQUESTS = "chicago/requests/chicago311_2021-01-01_5k.csv.gz"
CHICAGO_TYPE_LIST = "chicago/service_types/chicago311_distinct_sr_types.txt"

#: Neighbourhood values of the Boston records that name no neighbourhood ("Boston" names the whole city).
BOSTON_NO_NEIGHBOURHOOD = frozenset({"", "Boston"})
MIN_AREA_ROWS = 20
AREA_MAJORITY = 2 / 3
MIN_TARGET_SHARE = 0.5

BOSTON_LAYERS: list[dict[str, Any]] = [
    {
        "layer": "neighborhoods",
        "file": "boston/boundaries/boston_neighborhoods.geojson",
        "key_property": "name",
        "name_property": "name",
        "note": "26 neighbourhood polygons (BRA). The records' neighborhood field uses the 311 names, some "
        "covering several polygons ('Allston / Brighton'); tests/routing/test_real_data_agreement.py maps them.",
    },
    {
        "layer": "zip_codes",
        "file": "boston/boundaries/boston_zip_codes.geojson",
        "key_property": "ZIP5",
        "name_property": "ZIP5",
        "note": "43 ZIP code areas, for reporting.",
    },
]
CHICAGO_LAYERS: list[dict[str, Any]] = [
    {
        "layer": "community_areas",
        "file": "chicago/boundaries/chicago_community_areas.geojson",
        "key_property": "AREA_NUMBE",
        "name_property": "COMMUNITY",
        "note": "77 community areas; keys match the records' community_area numbers.",
    },
    {
        "layer": "wards",
        "file": "chicago/boundaries/chicago_wards_2023.geojson",
        "key_property": "ward",
        "valid_from": "2023-05-15",
        "note": "The ward map in force from May 2023. Requests filed before then were numbered on the previous "
        "(2015-2023) map, which the shared data does not hold.",
    },
]

Row = dict[str, str]


def read_csv(path: Path) -> list[Row]:
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.strip().lower()).strip("-")


def tidy(text: str) -> str:
    """Trim and collapse runs of white space (the Boston export dropped commas, leaving double spaces)."""
    return " ".join(text.split())


def most_common(counter: Counter[str]) -> str:
    """The most frequent value; ties go to the alphabetically first."""
    return min(counter.items(), key=lambda item: (-item[1], item[0]))[0]


def article(word: str) -> str:
    return "an" if word[:1].upper() in "AEIOU" else "a"


def layer_command(layer: dict[str, Any]) -> str:
    command = f"civicswitch areas load {layer['layer']} DATA/{layer['file']} --key {layer['key_property']}"
    if layer.get("name_property"):
        command += f" --name {layer['name_property']}"
    if layer.get("valid_from"):
        command += f" --valid-from {layer['valid_from']}"
    return command


def with_commands(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**layer, "command": layer_command(layer)} for layer in layers]


def hours_between(start: str, end: str) -> float | None:
    try:
        opened, target = datetime.fromisoformat(start.strip()), datetime.fromisoformat(end.strip())
    except ValueError:
        return None
    return (target - opened).total_seconds() / 3600


# -- Boston -------------------------------------------------------------------------------------------------
@dataclass
class BostonType:
    name: str
    rows: int = 0
    departments: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    targets: list[float] = field(default_factory=list)
    by_neighbourhood: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    @property
    def owner(self) -> str:
        return most_common(self.departments)

    def sla_hours(self) -> float | None:
        if not self.targets or len(self.targets) < MIN_TARGET_SHARE * self.rows:
            return None
        return round(statistics.median(self.targets), 1)


def boston_profile(data: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = read_csv(data / BOSTON_REQUESTS)
    types: dict[str, BostonType] = {}
    subjects: dict[str, Counter[str]] = defaultdict(Counter)
    negative_targets = 0
    for row in rows:
        name = tidy(row["type"])
        entry = types.setdefault(name, BostonType(name))
        department = row["department"].strip()
        entry.rows += 1
        entry.departments[department] += 1
        entry.reasons[tidy(row["reason"])] += 1
        neighbourhood = tidy(row["neighborhood"])
        if neighbourhood not in BOSTON_NO_NEIGHBOURHOOD:
            entry.by_neighbourhood[neighbourhood][department] += 1
        if row["target_dt"].strip():
            hours = hours_between(row["open_dt"], row["target_dt"])
            if hours is not None and hours >= 0:
                entry.targets.append(hours)
            elif hours is not None:
                negative_targets += 1
    for row in rows:
        if row["department"].strip() == types[tidy(row["type"])].owner:
            subjects[row["department"].strip()][tidy(row["subject"])] += 1

    codes: dict[str, str] = {}
    for entry in sorted(types.values(), key=lambda t: (-t.rows, t.name)):
        code = slugify(entry.name)
        if code in codes.values():
            raise SystemExit(f"two Boston types slug to {code!r}: give one an explicit code")
        codes[entry.name] = code

    owners = sorted({t.owner for t in types.values()})
    body_names = {code: most_common(subjects[code]) for code in owners}
    services = []
    for entry in sorted(types.values(), key=lambda t: codes[t.name]):
        service: dict[str, Any] = {
            "code": codes[entry.name],
            "name": entry.name,
            "description": f'File {article(entry.name)} "{entry.name}" request with {body_names[entry.owner]}.',
            "group": most_common(entry.reasons),
            "body": entry.owner,
        }
        sla = entry.sla_hours()
        if sla is not None:
            service["sla_hours"] = sla
        services.append(service)

    # Does any type go to another department in some neighbourhood?
    area_exceptions = []
    for entry in types.values():
        for neighbourhood, departments in sorted(entry.by_neighbourhood.items()):
            total = sum(departments.values())
            top = most_common(departments)
            if total >= MIN_AREA_ROWS and top != entry.owner and departments[top] >= AREA_MAJORITY * total:
                area_exceptions.append({"type": entry.name, "neighborhood": neighbourhood, "departments": departments})
    owned = sum(t.departments[t.owner] for t in types.values())
    elsewhere: Counter[str] = Counter()
    for entry in types.values():
        elsewhere.update({d: n for d, n in entry.departments.items() if d != entry.owner})
    scattered = max(types.values(), key=lambda t: (t.rows - t.departments[t.owner], t.name))
    with_target = [t for t in types.values() if t.targets]
    document = {
        "profile": {
            "name": "boston",
            "built_by": "scripts/build_profiles.py",
            "sources": [BOSTON_REQUESTS],
            "records": len(rows),
        },
        "jurisdiction": {"id": "boston.gov", "name": "Boston", "timezone": "America/New_York"},
        "layers": with_commands(BOSTON_LAYERS),
        "bodies": [{"code": code, "name": body_names[code], "kind": "department"} for code in owners],
        "services": services,
    }
    summary = {
        "records": len(rows),
        "types": len(types),
        "departments_seen": dict(Counter(r["department"].strip() for r in rows).most_common()),
        "bodies": len(owners),
        "departments_owning_no_type": sorted(set(r["department"].strip() for r in rows) - set(owners)),
        "records_with_the_owner_department": owned,
        "records_elsewhere_by_department": dict(elsewhere.most_common()),
        "most_scattered_type": [scattered.name, scattered.rows - scattered.departments[scattered.owner]],
        "records_with_target": sum(len(t.targets) for t in types.values()) + negative_targets,
        "targets_before_open_dropped": negative_targets,
        "types_with_sla": sum(1 for s in services if "sla_hours" in s),
        "types_with_some_target_but_no_sla": sorted(t.name for t in with_target if t.sla_hours() is None),
        "types_without_target": sorted(t.name for t in types.values() if not t.targets),
        "neighbourhood_exceptions": area_exceptions,
    }
    return document, summary


# -- Chicago ------------------------------------------------------------------------------------------------
_ACRONYM = re.compile(r"^([A-Z]{2,8}) - (.+)$")


def chicago_body(department: str) -> tuple[str, str]:
    """(code, group) of an owner department: "CDOT - Department of Transportation" -> (CDOT, Department of ...)."""
    match = _ACRONYM.match(department)
    if match:
        return match.group(1), match.group(2)
    return slugify(department.replace("'", "")).upper(), department


def chicago_profile(data: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = read_csv(data / CHICAGO_REQUESTS)
    owners: dict[str, Counter[str]] = defaultdict(Counter)
    short_codes: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        name = tidy(row["sr_type"])
        owners[name][row["owner_department"].strip()] += 1
        short_codes[name][row["sr_short_code"].strip()] += 1
    for name in owners:
        if len(owners[name]) != 1 or len(short_codes[name]) != 1:
            raise SystemExit(f"Chicago type {name!r} has several owners or short codes: rules would be needed")
    code_of = {name: most_common(codes) for name, codes in short_codes.items()}
    if len(set(code_of.values())) != len(code_of):
        raise SystemExit("two Chicago types share a short code")
    departments = sorted({most_common(o) for o in owners.values()})
    bodies = {d: chicago_body(d) for d in departments}
    if len({code for code, _ in bodies.values()}) != len(bodies):
        raise SystemExit("two Chicago departments get the same body code")
    services = []
    for name in sorted(owners, key=lambda n: code_of[n]):
        department = most_common(owners[name])
        code, group = bodies[department]
        service: dict[str, Any] = {
            "code": code_of[name],
            "name": name,
            "description": f'File {article(name)} "{name}" request with {group}.',
            "group": group,
            "body": code,
        }
        if "NO LONGER BEING ACCEPTED" in name.upper():
            service["active"] = False
        services.append(service)
    listed = set(_type_list(data / CHICAGO_TYPE_LIST))
    document = {
        "profile": {
            "name": "chicago",
            "built_by": "scripts/build_profiles.py",
            "sources": [CHICAGO_REQUESTS],
            "records": len(rows),
        },
        "jurisdiction": {"id": "cityofchicago.org", "name": "Chicago", "timezone": "America/Chicago"},
        "layers": with_commands(CHICAGO_LAYERS),
        "bodies": [{"code": bodies[d][0], "name": d, "kind": "department"} for d in departments],
        "services": services,
    }
    summary = {
        "records": len(rows),
        "types": len(owners),
        "bodies": len(departments),
        "records_per_department": dict(Counter(r["owner_department"].strip() for r in rows).most_common()),
        "inactive": [s["name"] for s in services if s.get("active") is False],
        "listed_types_not_in_records": sorted(listed - set(owners)),
        "types_in_records_not_listed": sorted(set(owners) - listed),
    }
    return document, summary


def _type_list(path: Path) -> Iterable[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for line in reader:
            if line:
                yield tidy(line[0])


# -- output -------------------------------------------------------------------------------------------------
def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def _names(values: Iterable[str]) -> str:
    return ", ".join(f"“{v}”" for v in values) or "none"


def readme(boston: dict[str, Any], chicago: dict[str, Any]) -> str:
    b, c = boston, chicago
    share = b["records_with_the_owner_department"] / b["records"]
    exceptions = b["neighbourhood_exceptions"]
    found = (
        "none: no routing rules are needed"
        if not exceptions
        else "; ".join(f"{e['type']} in {e['neighborhood']}: {dict(e['departments'])}" for e in exceptions)
    )
    return f"""# Catalog profiles

Catalog documents for real cities, built from their own 311 records by `scripts/build_profiles.py` (run it
again to rebuild them; the output is deterministic). Load one with

```sh
civicswitch catalog import --profile boston      # or chicago, nyc
```

The `<name>.import.yaml` files (`nyc`, `boston`, `chicago`, `sf`, `open311`) are the mappings
`civicswitch import --profile NAME` reads each city's open-data export through: columns, date formats and time
zone, statuses, close-reason rules, channels (see docs/import.md). They are written by hand against the files in
the shared real-data set, and `tests/requests/imports/test_import_real_exports.py` imports those files with them.

Each file is a catalog document (`bodies`, `services`; see docs/geography.md) plus three keys the loader
ignores: `profile` (name, the script that built it, its source files and record count), `jurisdiction` (id,
name, time zone) and `layers`: the boundary layers the city routes and reports by, each with its file in the
shared real-data set (`DATA` = `../shared/data`), the `--key` and `--name` properties, an optional
`--valid-from`, and the ready `civicswitch areas load` command. `nyc` is not a file here: it is the demo city's
`catalog.json` and `routing.json` (in `civicswitch/demo/data`) merged. Its layers ship in the package
(`civicswitch/demo/data/areas`: counties, boroughs, community districts; each layer entry has `shipped`, the file in
the package), and `catalog import --profile nyc` loads the ones the database does not have yet, so it imports on
any installation without the shared data set.

No city publishes a "type → department → SLA" table; these profiles are derived from the records. An
integration admin should review them (`civicswitch catalog export --format yaml`), edit and re-import.
A profile is one city's catalog, for one installation: importing two into one database merges them, and a
service or body code both use (Boston's and New York's `plumbing`, Chicago's and New York's `DOB`) is
overwritten by the later import.

## boston.json

Source: `{BOSTON_REQUESTS}` (City of Boston 311, July to December 2011, {b["records"]:,} cases).

- **Services**: {b["types"]} — one per `type`. The name is the type with runs of spaces collapsed (the export
  dropped commas: "Heat - Excessive  Insufficient"); the code is a `[a-z0-9-]` slug of it; the group is the
  `reason` most of the type's cases carry.
- **Bodies**: {b["bodies"]} — the departments that own at least one type, with the department code kept
  (PWDx, ISD, PARK, BTDT, INFO, PROP, BWSC) and named after the `subject` most of their own cases carry. The
  owner of a type is the department with most of its cases (ties: alphabetical). Departments seen that own no
  type: {_names(b["departments_owning_no_type"])}.
- **SLA** (`sla_hours`): the city's own per-case deadline. For each type, the **median** of `target_dt −
  open_dt` in hours (wall-clock, both local times), over the cases whose `target_dt` is set and not before
  `open_dt`, rounded to 0.1 h. The median ignores the few cases whose target was pushed out by months.
  {b["records_with_target"]:,} cases have a `target_dt`; {b["targets_before_open_dropped"]} of them are before
  `open_dt` and are dropped. {b["types_with_sla"]} types get an SLA. A type gets none when fewer than half its
  cases have a target: {_names(b["types_with_some_target_but_no_sla"])} (a handful of targets among many cases
  without one), and the types that never have one: {_names(b["types_without_target"])}.
- **Routing by neighbourhood**: {share:.1%} of the cases sit with their type's owner. Of the other
  {b["records"] - b["records_with_the_owner_department"]:,}, {b["records_elsewhere_by_department"].get("INFO", 0):,}
  sit with the Mayor's hotline (INFO), and {b["most_scattered_type"][1]:,} are “{b["most_scattered_type"][0]}”
  cases, which PROP owns and PWDx, INFO and BTDT also take all over the city. The
  script looks for a type that another department handles in some neighbourhood (at least {MIN_AREA_ROWS}
  cases of the type there, at least two thirds with one other department): {found}. Within Public Works the
  work is split by district yards (queues "PWDx_District 03: North Dorchester"…), which is inside one body
  and not modelled here.
- **Layers**: `neighborhoods` (`--key name --name name`) and `zip_codes` (`--key ZIP5`). The records' own
  `neighborhood` field uses coarser 311 neighbourhoods ("Allston / Brighton", "Downtown / Financial
  District"); the mapping to the polygons is in `tests/routing/test_real_data_agreement.py`.

## chicago.json

Source: `{CHICAGO_REQUESTS}` (City of Chicago 311, 1-2 January 2021, {c["records"]:,} requests).

- **Services**: {c["types"]} — one per `sr_type` seen, with its `sr_short_code` as the code; the group is the
  owner department's name without its acronym. Inactive, as the city's own name says: {_names(c["inactive"])}.
- **Bodies**: {c["bodies"]} — the `owner_department`s, named as the city spells them; the code is the acronym
  before " - " ("CDOT - Department of Transportation" → CDOT), else an upper-case slug ("STREETS-AND-SANITATION").
  Every type has exactly one owner department in the file, so no routing rules.
- **No SLA**: the Chicago export has no target date.
- Types in `{CHICAGO_TYPE_LIST}` that the records do not show (so no owner or short code is known; left out):
  {len(c["listed_types_not_in_records"])} — {_names(c["listed_types_not_in_records"])}.
- **Layers**: `community_areas` (`--key AREA_NUMBE --name COMMUNITY`) and `wards` (`--key ward`,
  `--valid-from 2023-05-15`). The ward map is the one in force from May 2023; the 2021 records were numbered
  on the previous (2015–2023) map, which the shared data does not hold, so their `ward` field and the map
  disagree where the boundaries moved (see the agreement tests).
"""


def build(data: Path, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    boston, boston_summary = boston_profile(data)
    chicago, chicago_summary = chicago_profile(data)
    (out / "boston.json").write_text(_json(boston), encoding="utf-8")
    (out / "chicago.json").write_text(_json(chicago), encoding="utf-8")
    (out / "README.md").write_text(readme(boston_summary, chicago_summary), encoding="utf-8")
    return {"boston": boston_summary, "chicago": chicago_summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    summary = build(args.data, args.out)
    print(json.dumps(summary, indent=1, ensure_ascii=False, default=dict))


if __name__ == "__main__":
    main()
