"""Build the demo city that ships in ``civicswitch.demo.data`` from real NYC 311 records.

Input: the NYC folder of the shared real-data set (``../shared/data/nyc`` next to the repo checkout;
``--data DIR`` overrides it). Nothing is invented: every request row is one real NYC 311 record and
every catalog entry is derived from those rows.

Output (``--out DIR``, default ``src/civicswitch/demo/data``):

``catalog.json``
    The jurisdiction, its bodies and its services.

    * Bodies are the NYC agencies seen in the kept rows (``Agency`` -> most frequent ``Agency Name``;
      a few agencies whose ``Agency Name`` column holds a sub-unit, e.g. DOF "Personal Exemption
      Unit", get the agency's own name from ``AGENCY_NAME_OVERRIDES``).
    * Services are the complaint types (name trimmed, as NYC spells it) with >= ``MIN_ROWS`` rows.
      The code is a lowercase ``[a-z0-9-]`` slug of the name; when two names slug alike the more
      frequent one keeps the plain slug and the other gets ``-<agency>`` (then ``-2``, ``-3``...).
      The owning body is the agency with most rows for the type (ties: alphabetical code).
    * The group is the curated ``family`` of ``service_types/nyc311_complaint_hierarchy_curated.csv``
      (matched case-insensitively, rendered in title case) or else a group chosen from the name
      ("Noise", "Animals") or the owning agency (``AGENCY_GROUPS``, fallback "Other").
    * Keywords are the (up to 5) most frequent Descriptor values, lowercased.
    * Attributes ``descriptor`` and ``location_type`` are optional single-value lists of the observed
      Descriptor / Location Type values of that type (the ``MAX_VALUES`` most frequent ones).
    * ``sla_hours`` is *derived*, not an official NYC SLA: the 80th percentile (linear interpolation)
      of Closed - Created over the type's closed rows with a non-negative duration, rounded up to a
      whole hour, at least 1; null with fewer than ``MIN_SLA_ROWS`` such rows.
    * Texts in several languages: each service's name, description and group, each attribute's
      description and datatype_description and each value's name are given as
      ``{"en": ..., "es": ...}``. English is the NYC text; the other languages (``LANGUAGES``) come
      from hand-written tables ``scripts/demo_city_<language>.json`` (``translate_catalog``). A text
      missing from a table stops the build (``MissingTranslation``) rather than ship it in English.

``requests.csv.gz``
    One CSV row per kept record (columns in ``CSV_COLUMNS``), deduplicated on the NYC Unique Key,
    timestamps converted from America/New_York to UTC, NYC statuses mapped to the canonical model
    (``STATUS_MAP``), close reasons derived from the Resolution Description (``CLOSE_REASON_RULES``),
    the known UTF-8-read-as-Latin-1 mojibake repaired, rows sorted by (requested_at, source_id).
    The gzip header carries no file name and mtime 0, so the output is byte-reproducible.

The script is deterministic (no clock, no randomness, stable sorts) and uses the standard library
only. It prints a JSON summary of what it did (row counts per source, anomalies, distributions).

Usage::

    .venv/bin/python scripts/build_demo_city.py [--data ../shared/data/nyc] [--out src/civicswitch/demo/data]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import re
import string
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "nyc"
DEFAULT_OUT = REPO_ROOT / "src" / "civicswitch" / "demo" / "data"

#: Request files read, in this order (the first file wins when a Unique Key repeats).
#: The 2013 legacy-schema file is read too: its columns are a superset/subset of the standard
#: header (no Resolution Description, BBL or channel), so it needs no special handling.
SOURCES: tuple[str, ...] = (
    "requests/nyc311_2014-2019_sample1k.csv",
    "requests/nyc311_2013-12-25_legacy_schema.csv.gz",
    "requests/nyc311_2022-05-01_sample.csv",
    "requests/nyc311_2023-02-28_5k.csv.gz",
    "requests/nyc311_api_2024-04-15_1k.csv",
    "requests/nyc311_2025q1_animal_complaints.csv.gz",
)
HIERARCHY = "service_types/nyc311_complaint_hierarchy_curated.csv"

JURISDICTION = {"id": "nyc.gov", "name": "New York City", "timezone": "America/New_York"}
LOCAL_TZ = ZoneInfo("America/New_York")

MIN_ROWS = 3  # complaint types with fewer rows (across all sources) are dropped with their rows
MAX_VALUES = 40  # attribute value lists keep this many most frequent values
MAX_KEYWORDS = 5
MIN_SLA_ROWS = 5
SLA_QUANTILE = Fraction(4, 5)

#: The English description of every service (``article`` is "a" or "an").
DESCRIPTION = 'File {article} "{name}" report with the {body}.'
#: Languages the catalog's texts are also given in; each has a hand-written table
#: ``scripts/demo_city_<language>.json`` (see ``read_translations``).
LANGUAGES: tuple[str, ...] = ("es",)
#: The sections of a translation table (English text -> translated text), and what each translates.
TABLE_SECTIONS: dict[str, str] = {
    "groups": "service group",
    "services": "service name",
    "attribute_descriptions": "attribute description",
    "datatype_descriptions": "attribute datatype_description",
    "values": "attribute value name",
}
#: The template of the translated service description: {name} the translated service name, {body}
#: the agency's name (a proper name, kept in English).
TABLE_TEMPLATE = "service_description"

#: Generous bounding box of the five boroughs (lat_min, lat_max, lon_min, lon_max).
NYC_BBOX = (40.47, 40.93, -74.27, -73.68)

CSV_COLUMNS: tuple[str, ...] = (
    "source_id", "source_file", "service_code", "status", "close_reason", "requested_at", "updated_at",
    "closed_at", "expected_at", "lat", "long", "address", "zipcode", "description", "status_notes",
    "descriptor", "location_type", "borough", "community_board", "agency", "channel",
)  # fmt: skip

#: NYC Status -> canonical status. Anything else (Unspecified, "Email Sent", ...) is closed when
#: the row has a Closed Date and new otherwise.
STATUS_MAP: dict[str, str] = {
    "closed": "closed",
    "open": "new",
    "assigned": "acknowledged",
    "in progress": "in_progress",
    "started": "in_progress",
    "pending": "on_hold",
}

#: First matching rule wins; patterns are searched in the lowercased, repaired Resolution
#: Description. No match (or no text at all) -> "fixed".
CLOSE_REASON_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("duplicate", re.compile(
        r"duplicate|already exists|already reported|earlier complaint about the same"
        r"|under another service request"
    )),
    ("cancelled", re.compile(r"cancel")),
    ("referred", re.compile(
        r"referred|forwarded to|re-assignment|notified the (appropriate|new york state)"
        r"|unit has been notified"
    )),
    ("not_ours", re.compile(
        r"\b(not|out of)\b[^.]*\bjurisdiction|does not fall under|no city agency has the jurisdiction"
    )),
    ("no_action", re.compile(
        r"no evidence|could not|unable to|no action|did not observe|not necessary|were gone"
        r"|no violation|not able to|not found|did not find|found no|no condition|not warranted"
        r"|did not meet|no further action|not possible|insufficient|not at the reported location"
        r"|unsubstantiated|does not violate|no indication|can ?not be processed"
    )),
)  # fmt: skip

CHANNELS = frozenset({"phone", "online", "mobile", "other", "unknown"})

#: Agencies whose ``Agency Name`` column names a sub-unit rather than the agency itself.
AGENCY_NAME_OVERRIDES: dict[str, str] = {
    "DOF": "Department of Finance",
    "HRA": "Human Resources Administration",
    "DOITT": "Department of Information Technology and Telecommunications",
    "DCAS": "Department of Citywide Administrative Services",
}

#: Fallback group by owning agency for complaint types missing from the curated hierarchy.
AGENCY_GROUPS: dict[str, str] = {
    "HPD": "Housing",
    "DOB": "Buildings",
    "DSNY": "Sanitation",
    "DOT": "Streets & Sidewalks",
    "DPR": "Parks",
    "DEP": "Environment & Water",
    "NYC311-PRD": "Environment & Water",
    "DOHMH": "Health",
    "NYPD": "Public Safety",
    "TLC": "Taxis & For-Hire Vehicles",
    "DOF": "Finance & Property",
    "DCA": "Consumer Protection",
    "DCWP": "Consumer Protection",
    "DHS": "Social Services",
    "HRA": "Social Services",
    "DFTA": "Social Services",
}
ANIMAL_WORDS = re.compile(r"\b(animal|animals|pet|dog|rodent|rat|bees)\b", re.IGNORECASE)
#: Descriptor values that say nothing, left out of the keywords (they stay attribute values).
PLACEHOLDER_VALUES = frozenset({"n/a", "na", "other", "unspecified", "unknown", "none"})
KEEP_UPPER = frozenset({"HPD", "DOB", "DSNY", "FHV", "DEP", "DOT", "NYPD", "DOHMH"})

_TIME_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",  # open-data CSV export: 02/28/2023 11:45:00 PM
    "%Y-%m-%dT%H:%M:%S.%f",  # SODA API: 2024-04-15T22:51:53.000
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %H:%M",  # re-saved by a spreadsheet: 3/14/2025 1:20 (24 h)
    "%m/%d/%Y %H:%M:%S",
)
_NUMBER = r"(-?\d+(?:\.\d+)?)"
_WKT_POINT = re.compile(rf"POINT\s*\(\s*{_NUMBER}\s+{_NUMBER}\s*\)", re.IGNORECASE)
_LAT_LON_PAIR = re.compile(rf"\(\s*{_NUMBER}\s*,\s*{_NUMBER}\s*\)")
_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")

# Mojibake: UTF-8 bytes that were decoded as Latin-1 / cp1252 ("â\x80\x99" for "’").
_CP1252_UNDEFINED = (0x81, 0x8D, 0x8F, 0x90, 0x9D)
_CP1252_HIGH = {bytes([b]).decode("cp1252"): b for b in range(0x80, 0xA0) if b not in _CP1252_UNDEFINED}
_CONT_CHARS = "".join(chr(b) for b in range(0x80, 0xC0)) + "".join(_CP1252_HIGH)
_MOJIBAKE = re.compile(
    "[\u00c2-\u00df][" + re.escape(_CONT_CHARS) + "]"
    "|[\u00e0-\u00ef][" + re.escape(_CONT_CHARS) + "]{2}"
    "|[\u00f0-\u00f4][" + re.escape(_CONT_CHARS) + "]{3}"
)

Row = dict[str, str]


# --------------------------------------------------------------------------------------------
# small pure helpers


def snake(header: str) -> str:
    """``X Coordinate (State Plane)`` and ``x_coordinate_state_plane`` both become the latter."""
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.strip().lower()).strip("-")
    return slug or "value"


def parse_local(text: str) -> datetime | None:
    """A NYC local timestamp (any of the source formats) as an aware UTC datetime, or None."""
    text = text.strip()
    if not text:
        return None
    for fmt in _TIME_FORMATS:
        try:
            local = datetime.strptime(text, fmt).replace(tzinfo=LOCAL_TZ)
        except ValueError:
            continue
        return local.astimezone(UTC)
    return None


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def repair_mojibake(text: str) -> tuple[str, bool]:
    """Undo UTF-8-read-as-Latin-1/cp1252 sequences; anything that does not decode stays as it was."""

    def fix(match: re.Match[str]) -> str:
        raw = bytes(_CP1252_HIGH.get(ch, ord(ch)) for ch in match.group(0))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return match.group(0)

    repaired = _MOJIBAKE.sub(fix, text)
    return repaired, repaired != text


def close_reason(resolution: str) -> str:
    lowered = resolution.lower()
    for reason, pattern in CLOSE_REASON_RULES:
        if pattern.search(lowered):
            return reason
    return "fixed"


def map_status(nyc_status: str, has_closed_date: bool) -> str:
    mapped = STATUS_MAP.get(nyc_status.strip().lower())
    if mapped is not None:
        return mapped
    return "closed" if has_closed_date else "new"


def coordinates(row: Row) -> tuple[float, float] | None:
    """(lat, long) from Latitude/Longitude, else from the ``location`` column (any of its forms)."""
    try:
        if row.get("latitude") and row.get("longitude"):
            return float(row["latitude"]), float(row["longitude"])
    except ValueError:
        pass
    location = row.get("location", "")
    if point := _WKT_POINT.search(location):
        return float(point.group(2)), float(point.group(1))
    if pair := _LAT_LON_PAIR.search(location):
        return float(pair.group(1)), float(pair.group(2))
    return None


def in_nyc(lat: float, lon: float) -> bool:
    lat_min, lat_max, lon_min, lon_max = NYC_BBOX
    return lat_min <= lat <= lat_max and lon_min <= lon <= lon_max


def squash(text: str) -> str:
    return " ".join(text.split())


def address(row: Row) -> str:
    street = squash(row.get("incident_address", ""))
    if not street and row.get("street_name") and row.get("cross_street_1"):
        street = f"{squash(row['street_name'])} & {squash(row['cross_street_1'])}"
    if not street and row.get("intersection_street_1") and row.get("intersection_street_2"):
        street = f"{squash(row['intersection_street_1'])} & {squash(row['intersection_street_2'])}"
    if not street:
        return ""
    city = squash(row.get("city", ""))
    if not city and row.get("borough", "").strip().lower() not in ("", "unspecified"):
        city = squash(row["borough"])
    return f"{street}, {city.title()}, NY" if city else f"{street}, NY"


def zipcode(raw: str) -> str:
    match = _ZIP.match(raw.strip())
    return match.group(1) if match and match.group(1) != "00000" else ""


def describe(descriptor: str, location_type: str, complaint_type: str) -> str:
    """A readable description made only of the record's own fields."""
    parts = [f"{(descriptor or complaint_type).rstrip('. ')}."]
    if location_type:
        parts.append(f"Location: {location_type.rstrip('. ')}.")
    return " ".join(parts)


def readable_family(family: str) -> str:
    """``ANIMAL-ABUSE/SALES/ILLEGAL/DEAD`` -> ``Animal-Abuse/Sales/Illegal/Dead``; keeps agency acronyms."""

    def word(match: re.Match[str]) -> str:
        token = match.group(0)
        return token if token.upper() in KEEP_UPPER else token.capitalize()

    return re.sub(r"[A-Za-z]+", word, squash(family))


def quantile_seconds(durations: Sequence[int], q: Fraction) -> Fraction:
    """Linear-interpolation quantile (numpy's default), computed exactly."""
    ordered = sorted(durations)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    if low + 1 >= len(ordered):
        return Fraction(ordered[low])
    return ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low)


def most_common(counter: Counter[str], limit: int | None = None) -> list[tuple[str, int]]:
    """Like Counter.most_common but with a stable tie-break on the value itself."""
    ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return ordered if limit is None else ordered[:limit]


def assign_keys(texts: Sequence[str], suffix_of: dict[str, str] | None = None) -> dict[str, str]:
    """Unique slugs for ``texts`` (given most important first): later clashes get a suffix."""
    keys: dict[str, str] = {}
    taken: set[str] = set()
    for text in texts:
        key = slugify(text)
        if key in taken and suffix_of and suffix_of.get(text):
            key = f"{key}-{slugify(suffix_of[text])}"
        base, n = key, 2
        while key in taken:
            key, n = f"{base}-{n}", n + 1
        keys[text] = key
        taken.add(key)
    return keys


# --------------------------------------------------------------------------------------------
# reading


@dataclass
class Record:
    """One source row, parsed just enough to build both outputs."""

    row: Row
    source_file: str
    source_id: str
    complaint_type: str
    agency: str
    created: datetime
    closed: datetime | None
    status: str


@dataclass
class Stats:
    read: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    unparseable_created: Counter[str] = field(default_factory=Counter)
    rare_type_rows: Counter[str] = field(default_factory=Counter)
    anomalies: Counter[str] = field(default_factory=Counter)
    status: Counter[str] = field(default_factory=Counter)
    close_reason: Counter[str] = field(default_factory=Counter)
    nyc_status: Counter[str] = field(default_factory=Counter)


def read_rows(path: Path) -> Iterator[Row]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [snake(h) for h in next(reader)]
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            yield {name: value.strip() for name, value in zip(header, values, strict=False)}


def read_records(data: Path, stats: Stats) -> list[Record]:
    records: list[Record] = []
    seen: set[str] = set()
    for relative in SOURCES:
        path = data / relative
        for row in read_rows(path):
            stats.read[path.name] += 1
            source_id = row.get("unique_key", "")
            if not source_id or source_id in seen:
                stats.duplicates[path.name] += 1
                continue
            created = parse_local(row.get("created_date", ""))
            if created is None:
                stats.unparseable_created[path.name] += 1
                continue
            seen.add(source_id)
            closed = parse_local(row.get("closed_date", ""))
            stats.nyc_status[row.get("status", "")] += 1
            records.append(
                Record(
                    row=row,
                    source_file=path.name,
                    source_id=source_id,
                    complaint_type=squash(row.get("complaint_type", "")),
                    agency=row.get("agency", "").strip(),
                    created=created,
                    closed=closed,
                    status=map_status(row.get("status", ""), closed is not None),
                )
            )
    return records


def read_hierarchy(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {
            family_key(r["complaint_type"]): squash(r["family"])
            for r in csv.DictReader(handle)
            if r.get("complaint_type") and r.get("family")
        }


# --------------------------------------------------------------------------------------------
# catalog


@dataclass
class ServiceInfo:
    code: str
    descriptor_keys: dict[str, str]
    location_keys: dict[str, str]


def list_attribute(code: str, description: str, order: int, keys: dict[str, str]) -> dict[str, Any]:
    values = sorted(({"key": key, "name": text} for text, key in keys.items()), key=lambda v: v["key"])
    return {
        "code": code,
        "description": description,
        "datatype": "singlevaluelist",
        "required": False,
        "variable": True,
        "order": order,
        "datatype_description": "Choose one",
        "values": values,
    }


def family_key(name: str) -> str:
    """Hierarchy lookup key: ``Animal Abuse``, ``ANIMAL-ABUSE`` and ``animal/abuse`` all match."""
    return re.sub(r"[^A-Z0-9]+", "", name.upper())


def group_for(name: str, owner: str, hierarchy: dict[str, str]) -> str:
    family = hierarchy.get(family_key(name))
    # A family that names its agencies, e.g. "PLUMBING (HPD)", does not fit another agency's type
    # of the same name (DOB "Plumbing"): fall back to the name/agency grouping for those.
    named = re.search(r"\(([^)]*)\)\s*$", family or "")
    if family and (named is None or owner in re.findall(r"[A-Z]+", named.group(1))):
        return readable_family(family)
    if re.search(r"\bnoise\b", name, re.IGNORECASE):
        return "Noise"
    if ANIMAL_WORDS.search(name):
        return "Animals"
    return AGENCY_GROUPS.get(owner, "Other")


def article(word: str) -> str:
    return "an" if word[:1].upper() in "AEIOU" else "a"


def build_catalog(
    records: Sequence[Record], hierarchy: dict[str, str]
) -> tuple[dict[str, Any], dict[str, ServiceInfo]]:
    by_type: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_type[record.complaint_type].append(record)

    agency_names: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        agency_names[record.agency][squash(record.row.get("agency_name", ""))] += 1
    body_names = {
        agency: AGENCY_NAME_OVERRIDES.get(agency) or most_common(names)[0][0] or agency
        for agency, names in agency_names.items()
    }

    owners = {name: most_common(Counter(r.agency for r in rows))[0][0] for name, rows in by_type.items()}
    ranked_types = [name for name, _ in most_common(Counter({n: len(rs) for n, rs in by_type.items()}))]
    codes = assign_keys(ranked_types, owners)

    services: list[dict[str, Any]] = []
    infos: dict[str, ServiceInfo] = {}
    for name in ranked_types:
        rows = by_type[name]
        owner = owners[name]
        descriptors = Counter(r.row.get("descriptor", "") for r in rows if r.row.get("descriptor"))
        locations = Counter(r.row.get("location_type", "") for r in rows if r.row.get("location_type"))
        descriptor_keys = assign_keys([t for t, _ in most_common(descriptors, MAX_VALUES)])
        location_keys = assign_keys([t for t, _ in most_common(locations, MAX_VALUES)])
        attributes: list[dict[str, Any]] = []
        if descriptor_keys:
            attributes.append(
                list_attribute("descriptor", "What best describes the problem?", len(attributes) + 1,
                               descriptor_keys)
            )  # fmt: skip
        if location_keys:
            attributes.append(
                list_attribute("location_type", "What kind of place is it?", len(attributes) + 1,
                               location_keys)
            )  # fmt: skip
        keywords = [
            word
            for word in dict.fromkeys(t.lower() for t, _ in most_common(descriptors))
            if word not in PLACEHOLDER_VALUES
        ][:MAX_KEYWORDS]
        services.append(
            {
                "code": codes[name],
                "name": name,
                "description": DESCRIPTION.format(article=article(name), name=name, body=body_names[owner]),
                "group": group_for(name, owner, hierarchy),
                "keywords": keywords,
                "type": "realtime",
                "body": owner,
                "sla_hours": sla_hours(rows),
                "attributes": attributes,
            }
        )
        infos[name] = ServiceInfo(codes[name], descriptor_keys, location_keys)

    bodies = [{"code": code, "name": body_names[code], "kind": "department"} for code in sorted(body_names)]
    catalog = {
        "jurisdiction": dict(JURISDICTION),
        "bodies": bodies,
        "services": sorted(services, key=lambda s: s["code"]),
    }
    return catalog, infos


def sla_hours(rows: Sequence[Record]) -> float | None:
    durations = [
        int((r.closed - r.created).total_seconds())
        for r in rows
        if r.status == "closed" and r.closed is not None and r.closed >= r.created
    ]
    if len(durations) < MIN_SLA_ROWS:
        return None
    return float(max(1, math.ceil(quantile_seconds(durations, SLA_QUANTILE) / 3600)))


# --------------------------------------------------------------------------------------------
# translations


class MissingTranslation(ValueError):
    """A catalog text has no entry in a language's table: the build stops rather than ship English."""


def read_translations(language: str, folder: Path = SCRIPTS) -> dict[str, Any]:
    """The hand-written table ``demo_city_<language>.json``, checked: every section a mapping of
    non-empty texts, the description template naming exactly ``{name}`` and ``{body}``."""
    path = folder / f"demo_city_{language}.json"
    table: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for section in TABLE_SECTIONS:
        entries = table.get(section)
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in entries.items()
        ):
            raise ValueError(f"{path}: {section!r} must map each English text to a non-empty text")
    template = table.get(TABLE_TEMPLATE)
    fields: set[str | None] = set()
    if isinstance(template, str):
        fields = {part for _, part, _, _ in string.Formatter().parse(template)} - {None}
    if fields != {"name", "body"}:
        raise ValueError(f"{path}: {TABLE_TEMPLATE!r} must be a text with the fields {{name}} and {{body}}")
    return table


def translate_catalog(catalog: dict[str, Any], tables: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``catalog`` with its texts given as ``{"en": text, <language>: text, ...}`` from ``tables``
    (language -> table, see ``read_translations``). Raises ``MissingTranslation`` naming every text
    a table lacks."""
    missing: set[tuple[str, str, str]] = set()

    def texts(section: str, english: str) -> dict[str, str]:
        found = {"en": english}
        for language, table in sorted(tables.items()):
            text = table[section].get(english)
            if text is None:
                missing.add((language, section, english))
            found[language] = text or ""
        return found

    body_names = {b["code"]: b["name"] for b in catalog["bodies"]}
    services = []
    for service in catalog["services"]:
        name = texts("services", service["name"])
        description = {"en": service["description"]} | {
            language: table[TABLE_TEMPLATE].format(name=name[language], body=body_names[service["body"]])
            for language, table in sorted(tables.items())
        }
        attributes = [
            attribute
            | {
                "description": texts("attribute_descriptions", attribute["description"]),
                "datatype_description": texts("datatype_descriptions", attribute["datatype_description"]),
                "values": [v | {"name": texts("values", v["name"])} for v in attribute["values"]],
            }
            for attribute in service["attributes"]
        ]
        services.append(
            service
            | {
                "name": name,
                "description": description,
                "group": texts("groups", service["group"]),
                "attributes": attributes,
            }
        )
    if missing:
        lines = "\n".join(f"  {lang} {TABLE_SECTIONS[section]}: {text!r}" for lang, section, text in sorted(missing))
        raise MissingTranslation(
            f"{len(missing)} catalog text(s) have no translation; add them to scripts/demo_city_<language>.json:"
            f"\n{lines}"
        )
    return catalog | {"services": services}


def translation_counts(catalog: dict[str, Any], tables: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """How many distinct English texts each table section translated, and the table entries no text used."""
    used: dict[str, set[str]] = {section: set() for section in TABLE_SECTIONS}
    for service in catalog["services"]:
        used["services"].add(service["name"]["en"])
        used["groups"].add(service["group"]["en"])
        for attribute in service["attributes"]:
            used["attribute_descriptions"].add(attribute["description"]["en"])
            used["datatype_descriptions"].add(attribute["datatype_description"]["en"])
            used["values"].update(v["name"]["en"] for v in attribute["values"])
    return {
        language: {section: len(used[section]) for section in TABLE_SECTIONS}
        | {"unused": sorted(f"{s}: {t}" for s in TABLE_SECTIONS for t in set(table[s]) - used[s])}
        for language, table in sorted(tables.items())
    }


# --------------------------------------------------------------------------------------------
# requests


def request_row(record: Record, info: ServiceInfo, stats: Stats) -> dict[str, str]:
    row = record.row
    requested = record.created
    closed_at: datetime | None = None
    updated = parse_local(row.get("resolution_action_updated_date", ""))
    if record.status == "closed":
        if record.closed is None:
            stats.anomalies["closed status without Closed Date (closed_at = update or requested)"] += 1
            closed_at = updated if updated is not None and updated >= requested else requested
        elif record.closed < requested:
            stats.anomalies["Closed Date before Created Date (closed_at = requested_at)"] += 1
            closed_at = requested
        else:
            closed_at = record.closed
    elif record.closed is not None:
        stats.anomalies["open status with a Closed Date (closed_at left empty)"] += 1
    if updated is not None and updated < requested:
        stats.anomalies["Resolution Action Updated Date before Created Date (ignored)"] += 1
    if updated is None or updated < requested:
        updated = closed_at or requested

    lat = lon = ""
    point = coordinates(row)
    if point is not None:
        if in_nyc(*point):
            lat, lon = f"{point[0]:.6f}", f"{point[1]:.6f}"
        else:
            stats.anomalies["coordinates outside NYC (dropped)"] += 1

    notes, repaired = repair_mojibake(row.get("resolution_description", ""))
    if repaired:
        stats.anomalies["mojibake repaired in Resolution Description"] += 1
    reason = close_reason(notes) if record.status == "closed" else ""

    channel = row.get("open_data_channel_type", "").lower()
    if channel and channel not in CHANNELS:
        stats.anomalies[f"unexpected channel {channel!r} (written as 'other')"] += 1
        channel = "other"

    descriptor = row.get("descriptor", "")
    location_type = row.get("location_type", "")
    for text, keys, label in (
        (descriptor, info.descriptor_keys, "descriptor"),
        (location_type, info.location_keys, "location_type"),
    ):
        if text and text not in keys:
            stats.anomalies[f"{label} value beyond the top {MAX_VALUES} (attribute left empty)"] += 1

    stats.status[record.status] += 1
    if reason:
        stats.close_reason[reason] += 1
    return {
        "source_id": record.source_id,
        "source_file": record.source_file,
        "service_code": info.code,
        "status": record.status,
        "close_reason": reason,
        "requested_at": iso(requested),
        "updated_at": iso(updated),
        "closed_at": iso(closed_at),
        "expected_at": iso(parse_local(row.get("due_date", ""))),
        "lat": lat,
        "long": lon,
        "address": address(row),
        "zipcode": zipcode(row.get("incident_zip", "")),
        "description": describe(descriptor, location_type, record.complaint_type),
        "status_notes": notes,
        "descriptor": info.descriptor_keys.get(descriptor, ""),
        "location_type": info.location_keys.get(location_type, ""),
        "borough": row.get("borough", ""),
        "community_board": row.get("community_board", ""),
        "agency": record.agency,
        "channel": channel,
    }


# --------------------------------------------------------------------------------------------
# writing


def catalog_bytes(catalog: dict[str, Any]) -> bytes:
    return (json.dumps(catalog, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def requests_bytes(rows: Sequence[dict[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, compresslevel=9, mtime=0) as archive:
        archive.write(text.getvalue().encode("utf-8"))
    return packed.getvalue()


def build(data: Path, out: Path) -> dict[str, Any]:
    """Read ``data`` (the NYC folder), write both files into ``out``, return a summary."""
    stats = Stats()
    records = read_records(data, stats)
    type_counts = Counter(r.complaint_type for r in records)
    kept: list[Record] = []
    for record in records:
        if record.complaint_type and type_counts[record.complaint_type] >= MIN_ROWS:
            kept.append(record)
        else:
            stats.rare_type_rows[record.source_file] += 1
    catalog, infos = build_catalog(kept, read_hierarchy(data / HIERARCHY))
    tables = {language: read_translations(language) for language in LANGUAGES}
    catalog = translate_catalog(catalog, tables)

    rows = [request_row(r, infos[r.complaint_type], stats) for r in kept]
    rows.sort(key=lambda r: (r["requested_at"], len(r["source_id"]), r["source_id"]))
    for row in rows:
        stats.kept[row["source_file"]] += 1

    out.mkdir(parents=True, exist_ok=True)
    (out / "catalog.json").write_bytes(catalog_bytes(catalog))
    packed = requests_bytes(rows)
    (out / "requests.csv.gz").write_bytes(packed)

    return {
        "rows_read": dict(sorted(stats.read.items())),
        "rows_kept": dict(sorted(stats.kept.items())),
        "rows_total": len(rows),
        "duplicates_dropped": dict(stats.duplicates),
        "unparseable_created_dropped": dict(stats.unparseable_created),
        "rare_type_rows_dropped": dict(sorted(stats.rare_type_rows.items())),
        "complaint_types_seen": len(type_counts),
        "services": len(catalog["services"]),
        "bodies": len(catalog["bodies"]),
        "services_with_sla": sum(1 for s in catalog["services"] if s["sla_hours"] is not None),
        "translations": translation_counts(catalog, tables),
        "nyc_status": dict(most_common(stats.nyc_status)),
        "status": dict(most_common(stats.status)),
        "close_reason": dict(most_common(stats.close_reason)),
        "anomalies": dict(sorted(stats.anomalies.items())),
        "gzip_bytes": len(packed),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NYC data folder (%(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (%(default)s)")
    args = parser.parse_args(argv)
    if not (args.data / SOURCES[0]).is_file():
        parser.error(f"{args.data} does not look like the shared NYC data folder (no {SOURCES[0]})")
    summary = build(args.data, args.out)
    json.dump(summary, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
