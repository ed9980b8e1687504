"""The demo city shipped in ``civicswitch/demo/data`` is consistent and reproducible.

These tests read the shipped files directly (not through the loader), so they pin the file
formats the loader is written against. The last test rebuilds the files from the shared real
data with ``scripts/build_demo_city.py`` and compares bytes.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO_DATA = REPO / "src" / "civicswitch" / "demo" / "data"
CATALOG = DEMO_DATA / "catalog.json"
REQUESTS = DEMO_DATA / "requests.csv.gz"
BUILDER = REPO / "scripts" / "build_demo_city.py"
SPANISH = REPO / "scripts" / "demo_city_es.json"
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

COLUMNS = [
    "source_id", "source_file", "service_code", "status", "close_reason", "requested_at", "updated_at",
    "closed_at", "expected_at", "lat", "long", "address", "zipcode", "description", "status_notes",
    "descriptor", "location_type", "borough", "community_board", "agency", "channel",
]  # fmt: skip
STATUSES = {"new", "acknowledged", "in_progress", "on_hold", "closed"}
CLOSE_REASONS = {"fixed", "duplicate", "not_ours", "referred", "no_action", "cancelled"}
CHANNELS = {"", "phone", "online", "mobile", "other", "unknown"}
SOURCE_FILES = {
    "nyc311_2013-12-25_legacy_schema.csv.gz",
    "nyc311_2014-2019_sample1k.csv",
    "nyc311_2022-05-01_sample.csv",
    "nyc311_2023-02-28_5k.csv.gz",
    "nyc311_api_2024-04-15_1k.csv",
    "nyc311_2025q1_animal_complaints.csv.gz",
}
# The five boroughs with a small margin: (lat_min, lat_max, lon_min, lon_max).
NYC_BBOX = (40.45, 40.95, -74.30, -73.65)
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
UTC_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MAX_GZIP_BYTES = 1_500_000


@cache
def catalog() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CATALOG.read_text(encoding="utf-8"))
    return data


@cache
def requests() -> tuple[dict[str, str], ...]:
    with gzip.open(REQUESTS, "rt", encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


def services() -> dict[str, dict[str, Any]]:
    return {s["code"]: s for s in catalog()["services"]}


def en(text: Any) -> str:
    """The English text of a catalog text given in several languages (``{"en": ..., "es": ...}``)."""
    assert isinstance(text, dict) and isinstance(text.get("en"), str), text
    english: str = text["en"]
    return english


def catalog_texts() -> Iterator[tuple[str, Any]]:
    """Every translatable text of the shipped catalog, with where it is."""
    for service in catalog()["services"]:
        code = service["code"]
        for name in ("name", "description", "group"):
            yield f"{code} {name}", service[name]
        for attribute in service["attributes"]:
            where = f"{code} {attribute['code']}"
            yield f"{where} description", attribute["description"]
            yield f"{where} datatype_description", attribute["datatype_description"]
            for value in attribute["values"]:
                yield f"{where} value {value['key']}", value["name"]


def stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def closed_rows() -> Iterator[dict[str, str]]:
    return (r for r in requests() if r["status"] == "closed")


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_demo_city", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_demo_city", module)
    spec.loader.exec_module(module)
    return module


# --- catalog ---------------------------------------------------------------------------------


def test_demo_catalog__jurisdiction__is_new_york_city() -> None:
    assert catalog()["jurisdiction"] == {
        "id": "nyc.gov",
        "name": "New York City",
        "timezone": "America/New_York",
    }


def test_demo_catalog__file__is_indented_sorted_json_with_trailing_newline() -> None:
    text = CATALOG.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text == json.dumps(catalog(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def test_demo_catalog__bodies_and_services__are_sorted_by_unique_code() -> None:
    for key in ("bodies", "services"):
        codes = [item["code"] for item in catalog()[key]]
        assert codes == sorted(codes), key
        assert len(codes) == len(set(codes)), key


def test_demo_catalog__service_codes__are_url_safe_slugs() -> None:
    bad = [code for code in services() if not SLUG.match(code) or len(code) > 100]
    assert bad == []


def test_demo_catalog__bodies__are_departments_with_names() -> None:
    for body in catalog()["bodies"]:
        assert set(body) == {"code", "name", "kind"}
        assert body["kind"] == "department"
        assert body["code"].strip() and body["name"].strip()


def test_demo_catalog__every_service_body__exists() -> None:
    body_codes = {b["code"] for b in catalog()["bodies"]}
    missing = {s["code"]: s["body"] for s in catalog()["services"] if s["body"] not in body_codes}
    assert missing == {}


def test_demo_catalog__services__have_the_fixed_fields() -> None:
    for service in catalog()["services"]:
        assert set(service) == {
            "code", "name", "description", "group", "keywords", "type", "body", "sla_hours", "attributes",
        }  # fmt: skip
        assert service["type"] == "realtime"
        name = en(service["name"])
        assert name == name.strip() and name
        assert en(service["description"]).endswith(".") and f'"{name}"' in en(service["description"])
        assert en(service["group"]).strip()
        assert all(k == k.lower() and k.strip() for k in service["keywords"])
        assert len(service["keywords"]) == len(set(service["keywords"])) <= 5


def test_demo_catalog__sla_hours__are_whole_hours_of_at_least_one_or_null() -> None:
    slas = [s["sla_hours"] for s in catalog()["services"]]
    assert any(sla is not None for sla in slas)
    for sla in slas:
        assert sla is None or (isinstance(sla, float) and sla >= 1 and sla.is_integer())


def test_demo_catalog__attributes__are_optional_single_value_lists_in_order() -> None:
    for service in catalog()["services"]:
        attributes = service["attributes"]
        assert [a["code"] for a in attributes] == sorted(a["code"] for a in attributes)
        assert {a["code"] for a in attributes} <= {"descriptor", "location_type"}
        assert [a["order"] for a in attributes] == list(range(1, len(attributes) + 1))
        for attribute in attributes:
            assert attribute["datatype"] == "singlevaluelist"
            assert attribute["required"] is False and attribute["variable"] is True
            assert en(attribute["description"]).strip() and en(attribute["datatype_description"]).strip()
            keys = [v["key"] for v in attribute["values"]]
            assert 1 <= len(keys) <= 40
            assert len(keys) == len(set(keys)), (service["code"], attribute["code"])
            assert all(SLUG.match(k) for k in keys), (service["code"], attribute["code"])
            assert all(en(v["name"]).strip() for v in attribute["values"])


def test_demo_catalog__every_text__is_given_in_english_and_spanish() -> None:
    """Service names, descriptions and groups, attribute descriptions and value names: {"en": ..., "es": ...}."""
    untranslated = [
        where
        for where, text in catalog_texts()
        if not (isinstance(text, dict) and set(text) == {"en", "es"} and all(t.strip() for t in text.values()))
    ]
    assert untranslated == []


def test_demo_catalog__spanish_description__names_the_spanish_service_and_the_english_agency() -> None:
    bodies = {b["code"]: b["name"] for b in catalog()["bodies"]}
    for service in catalog()["services"]:
        expected = f'Presente un reporte de "{service["name"]["es"]}" al {bodies[service["body"]]}.'
        assert service["description"]["es"] == expected, service["code"]


def test_demo_catalog__texts__load_with_english_as_written_and_spanish_as_translation() -> None:
    from civicswitch.catalog.loader import parse_catalog

    _, parsed = parse_catalog(catalog())
    by_code = {s.code: s for s in parsed}
    for service in catalog()["services"]:
        loaded = by_code[service["code"]]
        for name in ("name", "description", "group"):
            assert getattr(loaded, name) == service[name]["en"]
            assert loaded.text(name, "es") == service[name]["es"]
        for attribute, document in zip(loaded.attributes, service["attributes"], strict=True):
            assert attribute.description == document["description"]["en"]
            assert [v.name for v in attribute.values] == [v["name"]["en"] for v in document["values"]]
            assert ("es", "description", document["description"]["es"]) in attribute.translations


# --- requests --------------------------------------------------------------------------------


def test_demo_requests__header__is_the_fixed_column_list() -> None:
    with gzip.open(REQUESTS, "rt", encoding="utf-8", newline="") as handle:
        assert next(csv.reader(handle)) == COLUMNS


def test_demo_requests__gzip__is_small_and_carries_no_timestamp() -> None:
    packed = REQUESTS.read_bytes()
    assert len(packed) < MAX_GZIP_BYTES
    assert packed[:2] == b"\x1f\x8b"
    assert packed[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert packed[3] & 0x08 == 0  # no file name in the header


def test_demo_requests__source_ids__are_unique_and_sources_known() -> None:
    ids = [r["source_id"] for r in requests()]
    assert len(ids) == len(set(ids))
    assert all(i.isdigit() for i in ids)
    assert {r["source_file"] for r in requests()} == SOURCE_FILES


def test_demo_requests__rows__are_sorted_by_requested_at_then_source_id() -> None:
    keys = [(r["requested_at"], int(r["source_id"])) for r in requests()]
    assert keys == sorted(keys)


def test_demo_catalog__every_request_service__exists() -> None:
    known = services()
    missing = {r["service_code"] for r in requests()} - set(known)
    assert missing == set()


def test_demo_catalog__every_service__has_requests() -> None:
    used = {r["service_code"] for r in requests()}
    assert set(services()) - used == set()


def test_demo_requests__agency__is_a_catalog_body() -> None:
    body_codes = {b["code"] for b in catalog()["bodies"]}
    assert {r["agency"] for r in requests()} <= body_codes


def test_demo_requests__statuses_and_close_reasons__are_from_the_allowed_sets() -> None:
    for row in requests():
        assert row["status"] in STATUSES, row["source_id"]
        if row["status"] == "closed":
            assert row["close_reason"] in CLOSE_REASONS, row["source_id"]
        else:
            assert row["close_reason"] == "", row["source_id"]


def test_demo_requests__timestamps__parse_as_utc_with_z() -> None:
    for row in requests():
        assert UTC_STAMP.match(row["requested_at"]), row["source_id"]
        assert UTC_STAMP.match(row["updated_at"]), row["source_id"]
        for column in ("closed_at", "expected_at"):
            assert row[column] == "" or UTC_STAMP.match(row[column]), (row["source_id"], column)
        stamp(row["requested_at"])  # a real calendar moment, not just the right shape


def test_demo_requests__closed_rows__close_at_or_after_the_request() -> None:
    """NYC rows closed before they were created are shipped with closed_at = requested_at."""
    for row in closed_rows():
        assert row["closed_at"], row["source_id"]
        assert stamp(row["closed_at"]) >= stamp(row["requested_at"]), row["source_id"]
    assert all(r["closed_at"] == "" for r in requests() if r["status"] != "closed")


def test_demo_requests__updated_at__is_not_before_requested_at() -> None:
    for row in requests():
        assert stamp(row["updated_at"]) >= stamp(row["requested_at"]), row["source_id"]


def test_demo_requests__coordinates__are_inside_nyc_when_present() -> None:
    lat_min, lat_max, lon_min, lon_max = NYC_BBOX
    with_point = 0
    for row in requests():
        assert (row["lat"] == "") == (row["long"] == ""), row["source_id"]
        if row["lat"]:
            with_point += 1
            assert lat_min <= float(row["lat"]) <= lat_max, row["source_id"]
            assert lon_min <= float(row["long"]) <= lon_max, row["source_id"]
    assert with_point > 0.9 * len(requests())


def test_demo_requests__attribute_values__are_declared_by_their_service() -> None:
    declared = {
        (code, a["code"]): {v["key"] for v in a["values"]} for code, s in services().items() for a in s["attributes"]
    }
    for row in requests():
        for attribute in ("descriptor", "location_type"):
            if row[attribute]:
                assert row[attribute] in declared.get((row["service_code"], attribute), set()), (
                    row["source_id"],
                    attribute,
                )


def test_demo_requests__zipcode_and_channel__are_normalised() -> None:
    for row in requests():
        assert re.fullmatch(r"(\d{5})?", row["zipcode"]), row["source_id"]
        assert row["channel"] in CHANNELS, row["source_id"]


def test_demo_requests__text_fields__are_filled_and_free_of_mojibake() -> None:
    for row in requests():
        assert row["description"].endswith("."), row["source_id"]
        assert "â\x80" not in row["status_notes"] and "Â\xa0" not in row["status_notes"], row["source_id"]
        assert row["address"] == "" or row["address"].endswith(", NY"), row["source_id"]


# --- builder rules ---------------------------------------------------------------------------


def test_demo_builder__mojibake__is_repaired_and_clean_text_left_alone() -> None:
    builder = load_builder()
    assert builder.repair_mojibake("Transportationâ\x80\x99s website") == ("Transportation’s website", True)
    assert builder.repair_mojibake("vehicles.Â\xa0Summonses") == ("vehicles.\xa0Summonses", True)
    assert builder.repair_mojibake("café ’ok’") == ("café ’ok’", False)


@pytest.mark.parametrize(
    ("resolution", "reason"),
    [
        ("The complaint is a duplicate of a previously filed complaint.", "duplicate"),
        ("The Department closed or canceled this complaint at the complainant's request.", "cancelled"),
        ("The Department referred this complaint to the appropriate Maintenance Unit.", "referred"),
        ("This complaint does not fall under the Police Department's jurisdiction.", "not_ours"),
        ("The Police Department responded and observed no evidence of the violation.", "no_action"),
        ("The Police Department responded to the complaint and took action to fix the condition.", "fixed"),
        ("", "fixed"),
    ],
)
def test_demo_builder__close_reason__follows_the_keyword_rules(resolution: str, reason: str) -> None:
    assert load_builder().close_reason(resolution) == reason


def test_demo_builder__local_times__convert_to_utc_across_formats() -> None:
    parse = load_builder().parse_local
    assert parse("02/28/2023 11:45:00 PM") == datetime(2023, 3, 1, 4, 45, tzinfo=UTC)
    assert parse("2024-04-15T22:51:53.000") == datetime(2024, 4, 16, 2, 51, 53, tzinfo=UTC)
    assert parse("3/14/2025 1:20") == datetime(2025, 3, 14, 5, 20, tzinfo=UTC)
    assert parse("") is None


def test_demo_builder__spanish_table__is_sorted_json_and_covers_exactly_the_shipped_texts() -> None:
    builder = load_builder()
    table = builder.read_translations("es")
    assert SPANISH.read_text(encoding="utf-8") == json.dumps(table, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    assert builder.translation_counts(catalog(), {"es": table})["es"]["unused"] == []


def test_demo_builder__text_without_translation__stops_the_build_naming_it() -> None:
    builder = load_builder()
    table = builder.read_translations("es")
    service = next(s for s in catalog()["services"] if s["attributes"])
    english = {  # the service as build_catalog makes it: English texts only
        **service,
        "name": "Brand-New Complaint",
        "description": en(service["description"]),
        "group": en(service["group"]),
        "attributes": [
            {
                **a,
                "description": en(a["description"]),
                "datatype_description": en(a["datatype_description"]),
                "values": [
                    {"key": a["values"][0]["key"], "name": en(a["values"][0]["name"])},
                    {"key": "unheard-of", "name": "Unheard Of"},
                ],
            }
            for a in service["attributes"]
        ],
    }
    document = {"jurisdiction": catalog()["jurisdiction"], "bodies": catalog()["bodies"], "services": [english]}
    with pytest.raises(builder.MissingTranslation) as raised:
        builder.translate_catalog(document, {"es": table})
    message = str(raised.value)
    assert "es service name: 'Brand-New Complaint'" in message
    assert "es attribute value name: 'Unheard Of'" in message

    table["services"]["Brand-New Complaint"] = "Queja nueva"
    table["values"]["Unheard Of"] = "Nunca visto"
    translated = builder.translate_catalog(document, {"es": table})["services"][0]
    assert translated["name"] == {"en": "Brand-New Complaint", "es": "Queja nueva"}
    assert translated["attributes"][0]["values"][-1]["name"] == {"en": "Unheard Of", "es": "Nunca visto"}


# --- reproducibility -------------------------------------------------------------------------


def test_demo_data__builder__reproduces_the_shipped_files_byte_for_byte(tmp_path: Path) -> None:
    if not (SHARED_DATA / "nyc").is_dir():
        pytest.skip(f"../shared/data not present: the builder's real NYC input is missing at {SHARED_DATA}")
    result = subprocess.run(
        [sys.executable, str(BUILDER), "--data", str(SHARED_DATA / "nyc"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.load(io.StringIO(result.stdout))
    assert summary["rows_total"] == len(requests())
    for name in ("catalog.json", "requests.csv.gz"):
        assert (tmp_path / name).read_bytes() == (DEMO_DATA / name).read_bytes(), name
