"""The two CSV shapes of the batch connector: outgoing request rows and incoming status-update rows."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo

from civicswitch.core.csvsafe import neutralise
from civicswitch.core.timefmt import format_datetime
from civicswitch.hub.model import OutboundMessage

# -- outgoing --------------------------------------------------------------------------------------------
# The header of every file the connector drops, in this order. New columns are only ever added at the end.
OUTBOUND_COLUMNS: tuple[str, ...] = (
    "idempotency_key",  # the same for every copy of one message: a receiver drops rows it has already seen
    "type",  # created | status_changed | note | transferred
    "event_time",  # when it happened (UTC, YYYY-MM-DDTHH:MM:SSZ)
    "service_request_id",  # our request id
    "external_id",  # the body system's id for the request, once known
    "service_code",
    "status",  # canonical status (closed/fixed …)
    "external_status",  # the same, through the connector's status map
    "description",
    "lat",
    "long",
    "address",
    "zipcode",
    "agency",  # the owning body's code
    "requested_datetime",
    "expected_datetime",
    "media_url",
    "status_notes",
    "note",  # the note of a note or status change
    "transferred_to",  # for type=transferred: the new owner
    "referred",  # "true" when the request was referred to this body
    "attributes",  # JSON object
    "areas",  # JSON list
    "contact_first_name",  # contact columns are filled only with include_contact
    "contact_last_name",
    "contact_email",
    "contact_phone",
    "language",  # the resident's language code (e.g. es) when they reported on our pages; empty: the instance's
)
_DATETIMES = frozenset({"requested_datetime", "expected_datetime"})


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _utc_text(value: object) -> str:
    if not isinstance(value, str) or not value:
        return _cell(value)
    try:
        return format_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return value


def outbound_row(message: OutboundMessage, *, escape_formulas: bool) -> dict[str, str]:
    """One message as a row of :data:`OUTBOUND_COLUMNS`. Raises ``ValueError`` for an envelope with no data."""
    envelope = message.envelope
    data = envelope.get("data")
    if not isinstance(data, Mapping):
        raise ValueError("the message envelope has no data object")
    contact = data.get("contact")
    contact = contact if isinstance(contact, Mapping) else {}
    row: dict[str, str] = {
        "idempotency_key": message.idempotency_key,
        "type": str(message.type),
        "event_time": _utc_text(envelope.get("time")),
        "service_request_id": _cell(data.get("service_request_id") or message.request_id),
        "external_id": message.external_id or "",
        "attributes": _cell(data.get("attributes") or None),
        "areas": _cell(data.get("areas") or None),
        "referred": "true" if data.get("referred") else "",
        "contact_first_name": _cell(contact.get("first_name")),
        "contact_last_name": _cell(contact.get("last_name")),
        "contact_email": _cell(contact.get("email")),
        "contact_phone": _cell(contact.get("phone")),
    }
    for column in OUTBOUND_COLUMNS:
        if column not in row:
            value = data.get(column)
            row[column] = _utc_text(value) if column in _DATETIMES else _cell(value)
    if escape_formulas:  # every cell: resident text, the department's ids and codes alike (plain numbers stay)
        row = {column: neutralise(value) for column, value in row.items()}
    return row


# -- incoming --------------------------------------------------------------------------------------------
# The documented header of status-update files. Required: status, updated_datetime, and service_request_id
# and/or external_id. update_id, description and media_url may be left out.
INBOUND_COLUMNS: tuple[str, ...] = (
    "update_id",
    "service_request_id",
    "external_id",
    "status",
    "updated_datetime",
    "description",
    "media_url",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("status", "updated_datetime")
ID_COLUMNS: tuple[str, ...] = ("service_request_id", "external_id")
MAX_UPDATE_ID = 200  # what apply_update takes
MAX_ID = 100
MAX_STATUS = 60  # the raw status is kept on the timeline up to 60 characters
MAX_DESCRIPTION = 4000


def normalise_header(name: str) -> str:
    """``"Updated Date-Time "`` → ``updated_date_time``: case, spaces, hyphens and a byte-order mark do not
    matter (exports from spreadsheets and from Socrata differ in exactly these)."""
    text = name.replace("\ufeff", "").strip().casefold()
    return re.sub(r"[\s\-./]+", "_", text).strip("_")


_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}")
_US_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")


def parse_when(text: str, zone: tzinfo) -> datetime:
    """A timestamp from a department's export, as an aware UTC datetime in whole seconds.

    Taken: ISO 8601 / W3C with ``Z`` or an offset (``2026-11-28T09:15:00-05:00``); ISO without an offset and with
    ``T`` or a space, with or without fractions (``2021-01-01T00:00:09.000`` in Chicago's export,
    ``2011-07-01 01:32:33`` in Boston's); US month-first forms (``03/14/2025 01:20:00 PM`` in NYC's export,
    ``3/14/2025 13:20`` once a spreadsheet has re-saved it). A time without an offset is local time in ``zone``.
    A date alone is refused: an update needs its time of day to be ordered. Raises ``ValueError``."""
    value = text.strip()
    if not value:
        raise ValueError("is empty")
    if _DATE_ONLY.fullmatch(value):
        raise ValueError(f"{value!r} is a date without a time of day")
    parsed: datetime | None = None
    if "/" in value:
        for pattern in _US_FORMATS:
            try:
                parsed = datetime.strptime(value.upper(), pattern)  # noqa: DTZ007 (naive on purpose: local time)
                break
            except ValueError:
                continue
    else:
        iso = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", iso):
            try:
                parsed = datetime.fromisoformat(iso)
            except ValueError:
                parsed = None
    if parsed is None:
        raise ValueError(
            f"{value!r} is not a date-time this connector reads "
            "(e.g. 2026-11-28T14:15:00Z, 2026-11-28 09:15:00 local, 11/28/2026 09:15:00 AM local)"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC).replace(microsecond=0)
