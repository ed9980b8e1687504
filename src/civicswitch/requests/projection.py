"""The public Open311 projection of a request: the 17 standard keys, contact data never included.

``open311_request`` is the one definition. The SQL store renders the same JSON inside the database for the
request list (``RequestStore.find_open311_json``); a contract test holds the two to the same output.
"""

from __future__ import annotations

from typing import Any

from civicswitch.core.timefmt import format_datetime
from civicswitch.requests.model import open311_status
from civicswitch.requests.views import RequestView


def absolute(url: str | None, base_url: str) -> str | None:
    """A stored media URL as clients see it: our own files are stored as paths below ``base_url``."""
    if url is None or url == "":
        return None
    return base_url + url if url.startswith("/") else url


def open311_request(v: RequestView, base_url: str) -> dict[str, Any]:
    return {
        "service_request_id": str(v.id),
        "status": open311_status(v.status),
        "status_notes": v.status_notes,
        "service_name": v.service_name,
        "service_code": v.service_code,
        "description": v.description,
        "agency_responsible": v.agency_responsible,
        "service_notice": v.service_notice,
        "requested_datetime": format_datetime(v.requested_at),
        "updated_datetime": format_datetime(v.updated_at),
        "expected_datetime": None if v.expected_at is None else format_datetime(v.expected_at),
        "address": v.address or "",
        "address_id": v.address_id,
        "zipcode": v.zipcode,
        "lat": v.lat,
        "long": v.long,
        "media_url": absolute(v.media_url, base_url),
    }
