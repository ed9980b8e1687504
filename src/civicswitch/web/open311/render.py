"""Open311 output in both formats. JSON follows the Spark convention (GEN-05); XML uses the spec's names.

The request list is the hot path: rows go straight to dicts and then to orjson or a joined string,
with no intermediate objects or per-row DOM.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

import orjson

from civicswitch.catalog.model import LIST_DATATYPES, Service
from civicswitch.core.timefmt import format_datetime
from civicswitch.requests.model import Event, fms_status
from civicswitch.requests.projection import absolute, open311_request
from civicswitch.requests.views import RequestView, UpdateView

XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
XML_DECL = '<?xml version="1.0" encoding="utf-8"?>\n'

REQUEST_KEYS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)


def dumps_json(value: Any) -> bytes:
    return orjson.dumps(value)


# -- XML --------------------------------------------------------------------------------------------
# Characters XML 1.0 cannot carry at all, even escaped (C0 controls but tab/LF/CR, and two non-characters).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: str) -> str:
    """Escaped text; characters XML cannot carry are dropped, so the document stays well-formed (GEN-03)."""
    return escape(_XML_ILLEGAL.sub("", value))


def _xml_scalar(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return repr(value)
    return _xml_text(str(value))


def _xml_value(name: str, value: Any, out: list[str]) -> None:
    """Append ``<name>value</name>``; lists repeat a singular child, mappings nest (Spark, reversed)."""
    if isinstance(value, Mapping):
        out.append(f"<{name}>")
        for key, item in value.items():
            tag = _xml_name(key)
            if item is None:
                out.append(f"<{tag}/>")
            elif isinstance(item, str):
                out.append(f"<{tag}>{_xml_text(item)}</{tag}>")
            elif isinstance(item, Mapping | list | tuple):
                _xml_value(tag, item, out)
            else:
                out.append(f"<{tag}>{_xml_scalar(item)}</{tag}>")
        out.append(f"</{name}>")
    elif isinstance(value, list | tuple):
        child = SINGULAR.get(name) or (name[:-1] if name.endswith("s") else name)
        out.append(f"<{name}>")
        for item in value:
            _xml_value(child, item, out)
        out.append(f"</{name}>")
    elif value is None:
        out.append(f"<{name}/>")
    else:
        out.append(f"<{name}>{_xml_scalar(value)}</{name}>")


@functools.lru_cache(maxsize=4096)
def _xml_name(key: str) -> str:
    # Attribute codes become element names inside extensions; keep them well-formed.
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(key))
    return cleaned if cleaned and (cleaned[0].isalpha() or cleaned[0] == "_") else f"_{cleaned}"


SINGULAR = {
    "service_requests": "request",
    "service_request_updates": "request_update",
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
    "keywords": "keyword",
    "groups": "group",
    "media_urls": "media_url",
}


def xml_document(root: str, items: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> bytes:
    out = [XML_DECL]
    _xml_value(root, items, out)
    out.append("\n")
    return "".join(out).encode("utf-8")


def render(fmt: str, root: str, payload: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> bytes:
    return dumps_json(payload) if fmt == "json" else xml_document(root, payload)


# -- payloads -----------------------------------------------------------------------------------------
def service_payload(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "metadata": service.metadata,
        "type": str(service.type),
        "keywords": ", ".join(service.keywords),
        "group": service.group or "",
    }


def definition_payload(service: Service) -> dict[str, Any]:
    attributes = []
    for a in sorted(service.attributes, key=lambda a: a.order):
        item: dict[str, Any] = {
            "variable": a.variable,
            "code": a.code,
            "datatype": str(a.datatype),
            "required": a.required,
            "datatype_description": a.datatype_description or "",
            "order": a.order,
            "description": a.description,
        }
        if a.datatype in LIST_DATATYPES:
            item["values"] = [{"key": v.key, "name": v.name} for v in a.values]
        attributes.append(item)
    return {"service_code": service.code, "attributes": attributes}


def request_payload(
    v: RequestView, base_url: str, *, extensions: bool = False, events: Iterable[Event] = ()
) -> dict[str, Any]:
    item = open311_request(v, base_url)
    if extensions:
        item["extended_attributes"] = {
            "channel": v.channel,
            "status": v.status,
            "close_reason": v.close_reason,
            "fixmystreet_status": fms_status(v.status, v.close_reason),
            "token": v.token,
            "source_ref": v.source_ref,
            "attributes": v.attributes,
            "areas": v.areas,
        }
        item["notes"] = [note_payload(e, base_url) for e in events]
    return item


def note_payload(e: Event, base_url: str) -> dict[str, Any]:
    summary = {
        "submitted": "Request received",
        "status_changed": f"Status changed to {e.status_to}" if e.status_to else "Status changed",
        "note": "Update",
    }.get(e.kind, e.kind)
    return {
        "datetime": format_datetime(e.at),
        "type": e.kind,
        "summary": summary,
        "description": e.description,
        "status": None if e.status_to is None else str(e.status_to),
        "close_reason": None if e.close_reason is None else str(e.close_reason),
        "media_url": absolute(e.media_url, base_url),
    }


def update_payload(u: UpdateView, base_url: str) -> dict[str, Any]:
    return {
        "update_id": str(u.id),
        "service_request_id": str(u.request_id),
        "status": fms_status(u.status, u.close_reason),
        "updated_datetime": format_datetime(u.at),
        "description": u.description,
        "media_url": absolute(u.media_url, base_url) or "",
        "external_status_code": u.external_status,
    }


def errors_payload(errors: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    return [{"code": code, "description": description} for code, description in errors]
