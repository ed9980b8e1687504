"""Helpers for the Open311 conformance tests (ids refer to /work/shared/open311-checklist.md).

Imported by the test modules of this folder as ``open311_support`` (pytest puts the folder on ``sys.path``).
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from civicswitch.core.clock import FixedClock

BASE = "/open311/v2"
FORMATS = ("json", "xml")
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")  # [DT-02]
REQUEST_KEYS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
)  # fmt: skip
COUNTED_TABLES = ("service_requests", "request_events", "request_contacts", "media")
XML_LISTS = {  # [GEN-05] root element → repeated child
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
}
CONTACT = {"email": "jane.doe@example.org", "phone": "+1-555-0100", "first_name": "Janeth", "last_name": "Doerwald"}


Validate = Callable[[Any, str], None]  # validate(payload, "requests.json") against the official schema


NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)  # the ``clock`` fixture's start (tests/conftest.py)


def w3c(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def url(path: str, fmt: str) -> str:
    return f"{BASE}/{path}.{fmt}"


# -- reading responses ------------------------------------------------------------------------------------
def parse_xml(response: httpx.Response) -> ET.Element:
    """[GEN-03] the declaration with utf-8, then a well-formed document."""
    assert response.content.startswith(XML_DECLARATION), response.content[:80]
    return ET.fromstring(response.content)


def element_value(element: ET.Element) -> Any:
    """Leaf → text (None when empty); a parent → dict of its children (repeated tags → list)."""
    children = list(element)
    if not children:
        return element.text if element.text else None
    out: dict[str, Any] = {}
    for child in children:
        value = element_value(child)
        if child.tag in out:
            previous = out[child.tag]
            out[child.tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[child.tag] = value
    return out


def xml_items(response: httpx.Response, root: str) -> list[dict[str, Any]]:
    """The repeated children of a list document, each as a dict of its leaves."""
    document = parse_xml(response)
    assert document.tag == root, document.tag
    child = XML_LISTS[root]
    assert all(c.tag == child for c in document), [c.tag for c in document]
    items = []
    for element in document:
        items.append({c.tag: element_value(c) for c in element})
    return items


def items(response: httpx.Response, fmt: str, root: str = "service_requests") -> list[dict[str, Any]]:
    """A list response in either format, checked for status 200 and [GEN-02] content type."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPES[fmt]
    if fmt == "json":
        body = response.json()
        assert isinstance(body, list), body  # [GEN-05] lists are top-level arrays
        return body
    return xml_items(response, root)


def assert_error(response: httpx.Response, fmt: str, status: int) -> str:
    """[ERR-01][ERR-03] an error list in the suffix's format whose code is the HTTP status; returns the text."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == CONTENT_TYPES[fmt], response.headers["content-type"]
    if fmt == "json":
        body = response.json()
        assert isinstance(body, list) and body, body
        for error in body:
            assert set(error) == {"code", "description"}, error
            assert error["code"] == status
            assert isinstance(error["description"], str) and len(error["description"]) > 5
        return " ".join(e["description"] for e in body)
    document = parse_xml(response)
    assert document.tag == "errors"
    errors = list(document)
    assert errors and all(e.tag == "error" for e in errors)
    texts = []
    for error in errors:
        assert [c.tag for c in error] == ["code", "description"]
        assert error.findtext("code") == str(status)
        description = error.findtext("description") or ""
        assert len(description) > 5
        texts.append(description)
    return " ".join(texts)


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in COUNTED_TABLES}


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, valid PNG (RGB, no compression tricks)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


# -- driving the API --------------------------------------------------------------------------------------
GRAFFITI = {"service_code": "graffiti", "lat": "40.7128", "long": "-74.006", "description": "Tag on the wall"}
POTHOLE = {"service_code": "pothole", "lat": "40.7", "long": "-74.0", "attribute[size]": "small"}


@dataclass
class Open311:
    """The test client plus the keys, and the few calls most tests make."""

    client: TestClient
    keys: Mapping[str, str]
    engine: Engine
    clock: FixedClock

    def post_request(
        self,
        fields: Mapping[str, str] | Sequence[tuple[str, str]],
        fmt: str = "json",
        *,
        key: str | None = "submit",
        files: Any = None,
    ) -> httpx.Response:
        data: list[tuple[str, str]] = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
        if key is not None:
            data.append(("api_key", self.keys[key]))
        if files is not None:
            return self.client.post(url("requests", fmt), data=dict(_group(data)), files=files)
        return self.client.post(
            url("requests", fmt),
            content=urlencode(data),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

    def create(self, fields: Mapping[str, str] | None = None, **extra: str) -> str:
        """POST a request that must succeed; returns its id (a realtime or batch service)."""
        response = self.post_request({**(fields or GRAFFITI), **extra})
        assert response.status_code == 200, response.text
        item = response.json()[0]
        if "token" in item:  # a batch service: the id comes from GET tokens/{token}
            item = self.client.get(url(f"tokens/{item['token']}", "json")).json()[0]
        return str(item["service_request_id"])

    def create_at(self, when: datetime, fields: Mapping[str, str] | None = None, **extra: str) -> str:
        """POST a request at ``when`` (requested_datetime is the clock's time). The clock only moves forward,
        so a test creates its requests in time order, then moves the clock to when it asks."""
        self.clock.set(when)
        return self.create(fields, **extra)

    def post_update(
        self,
        request_id: str,
        update_id: str,
        status: str,
        fmt: str = "json",
        *,
        key: str | None = "owner",
        **extra: str,
    ) -> httpx.Response:
        """POST servicerequestupdates with the key of the request's owner's back end (``key="owner"``), another
        named key of the fixture, or none."""
        if key == "owner":
            key = self.owner_key(request_id)
        data = {
            "service_request_id": request_id,
            "update_id": update_id,
            "status": status,
            "updated_datetime": extra.pop("updated_datetime", w3c(self.clock.now())),
            "description": extra.pop("description", f"{status} by the back end"),
            **extra,
        }
        if key is not None:
            data["api_key"] = self.keys[key]
        return self.client.post(url("servicerequestupdates", fmt), data=data)

    def owner_key(self, request_id: str) -> str:
        """The fixture key of the back end that owns the request: DOT's, DSNY's, or admin for no owner."""
        reply = self.client.get(url(f"requests/{request_id}", "json"))
        if reply.status_code != 200:
            return "update"
        found = items(reply, "json")
        agency = found[0].get("agency_responsible") if found else None
        return {"Department of Transportation": "update", "Department of Sanitation": "update_dsny"}.get(
            agency or "", "admin"
        )

    def requests(self, fmt: str = "json", **params: str) -> list[dict[str, Any]]:
        return items(self.client.get(url("requests", fmt), params=params), fmt)

    def request(self, request_id: str, fmt: str = "json", **params: str) -> dict[str, Any]:
        found = items(self.client.get(url(f"requests/{request_id}", fmt), params=params), fmt)
        assert len(found) == 1
        return found[0]

    def ids(self, fmt: str = "json", **params: str) -> list[str]:
        return [str(r["service_request_id"]) for r in self.requests(fmt, **params)]

    def counts(self) -> dict[str, int]:
        return row_counts(self.engine)


def _group(pairs: Sequence[tuple[str, str]]) -> dict[str, str | list[str]]:
    grouped: dict[str, str | list[str]] = {}
    for key, value in pairs:
        if key in grouped:
            previous = grouped[key]
            grouped[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            grouped[key] = value
    return grouped
