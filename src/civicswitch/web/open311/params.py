"""Turning Open311 query strings and forms into commands and queries (empty means absent, JUR-03)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BeforeValidator
from starlette.datastructures import FormData, UploadFile

from civicswitch.core.errors import Invalid
from civicswitch.core.geo import parse_coordinate
from civicswitch.core.numbers import is_whole, shown
from civicswitch.core.timefmt import parse_datetime
from civicswitch.requests.commands import Upload
from civicswitch.requests.handlers import request_id_from
from civicswitch.requests.model import OPEN_STATUSES, Status
from civicswitch.requests.views import RequestQuery

_ATTRIBUTE = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")
MEDIA_FIELDS = re.compile(r"^(media(\[\])?|photo\d*|file_.*)$")


def refuse_nul(name: str, value: str | None) -> None:
    """NUL is not text: PostgreSQL cannot store or even compare it, and XML cannot carry it (GEN-03)."""
    if value is not None and "\x00" in value:
        raise Invalid(f"{name} contains a NUL character (\\x00), which is not allowed", field=name)


EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, held within the dates Python can represent (a window from year 1 or 9999)."""
    try:
        return moment + delta
    except OverflowError:
        return LATEST if delta > timedelta(0) else EARLIEST


def present(value: str | None) -> str | None:
    """JUR-03: an empty optional parameter behaves exactly like an absent one."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def when(value: str | None, name: str, *, end_of_day: bool = False) -> datetime | None:
    value = present(value)
    if value is None:
        return None
    try:
        return parse_datetime(value, end_of_day=end_of_day)
    except ValueError as exc:
        raise Invalid(f"{name}: {exc}", field=name) from None


def csv_list(value: str | None) -> tuple[str, ...] | None:
    value = present(value)
    if value is None:
        return None
    items = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    return items or None


def whole_number(value: str | None, name: str) -> int | None:
    """A whole number in ASCII digits: ``int()`` alone also takes ``1_0`` and ``１`` (full-width)."""
    value = present(value)
    if value is None:
        return None
    if not is_whole(value):
        raise Invalid(f"{name} must be a whole number in ASCII digits, got {shown(value)}", field=name)
    return int(value)


def _ascii_whole(value: object) -> object:
    if isinstance(value, str) and not is_whole(value.strip()):
        raise ValueError(f"must be a whole number in ASCII digits, got {shown(value)}")
    return value


# A query parameter that is a whole number written in ASCII digits (pydantic alone also takes "1_0").
WholeNumber = Annotated[int, BeforeValidator(_ascii_whole)]


def truthy(value: str | None) -> bool:
    return (present(value) or "").lower() in ("true", "1", "yes")


def request_query(
    *,
    now: datetime,
    service_request_id: str | None,
    service_code: str | None,
    status: str | None,
    start_date: str | None,
    end_date: str | None,
    updated_after: str | None,
    updated_before: str | None,
    page: str | None,
    page_size: str | None,
    window_days: int,
    default_page_size: int,
    max_page_size: int,
) -> RequestQuery:
    """GET Service Requests filters (REQS-01, UPD-01, PAGE-01/02).

    Choices where the spec is silent: a start/end range longer than the window is refused (400); page and
    page_size are clamped into range (page < 1 is page 1, page_size above the cap is the cap).
    """
    ids = csv_list(service_request_id)
    if ids is not None:
        if len(ids) > max_page_size:
            # Capped like every other list: 10,000 ids would otherwise ask for a 16 MB reply.
            raise Invalid(
                f"service_request_id lists at most {max_page_size} ids; got {len(ids)}: ask in several requests",
                field="service_request_id",
            )
        numeric = tuple(n for n in map(request_id_from, ids) if n is not None)
        return RequestQuery(ids=numeric, limit=len(numeric))
    statuses: tuple[str, ...] | None = None
    wanted = csv_list(status)
    if wanted is not None:
        chosen: list[str] = []
        for s in wanted:
            low = s.lower()
            if low == "open":
                chosen.extend(str(x) for x in OPEN_STATUSES)
            elif low == "closed":
                chosen.append(str(Status.CLOSED))
            else:
                raise Invalid(f"status must be open, closed or open,closed; got {s!r}", field="status")
        statuses = tuple(dict.fromkeys(chosen))
    start = when(start_date, "start_date")
    end = when(end_date, "end_date", end_of_day=True)
    after = when(updated_after, "updated_after")
    before = when(updated_before, "updated_before", end_of_day=True)
    window = timedelta(days=window_days)
    if start is not None and end is not None:
        if end < start:
            raise Invalid("end_date is before start_date", field="end_date")
        if end - start > window:
            raise Invalid(
                f"start_date to end_date spans more than {window_days} days; ask for a shorter range "
                "or page through updated_after/updated_before",
                field="start_date",
            )
    elif after is None and before is None:
        # The default window applies only when the client does not ask by update time (UPD-01).
        if start is not None:
            end = shifted(start, window)
        elif end is not None:
            start = shifted(end, -window)
        else:
            end, start = now, now - window
    if after is not None and before is not None and before < after:
        raise Invalid("updated_before is before updated_after", field="updated_before")
    size = whole_number(page_size, "page_size")
    size = default_page_size if size is None else min(max(size, 1), max_page_size)
    number = whole_number(page, "page")
    number = 1 if number is None or number < 1 else number
    if number > 1_000_000:
        number = 1_000_000
    return RequestQuery(
        service_codes=csv_list(service_code),
        statuses=statuses,
        requested_from=start,
        requested_to=end,
        updated_from=after,
        updated_to=before,
        limit=size,
        offset=(number - 1) * size,
    )


def attributes_from(form: FormData) -> dict[str, list[str]]:
    """``attribute[c]=v``, ``attribute[c][]=v`` and repeated keys, all as lists (POST-03)."""
    found: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        match = _ATTRIBUTE.match(key)
        if match and isinstance(value, str):
            found.setdefault(match.group(1), []).append(value)
    return found


def field(form: FormData, *names: str) -> str | None:
    for name in names:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def fields(form: FormData, name: str) -> tuple[str, ...]:
    return tuple(v for k, v in form.multi_items() if k in (name, f"{name}[]") and isinstance(v, str) and v.strip())


async def uploads_from(form: FormData) -> tuple[Upload, ...]:
    """Files under ``media``, ``media[]``, ``photoN`` or ``file_*`` (POST-04)."""
    found = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile) and MEDIA_FIELDS.match(key):
            data = await value.read()
            if not data and not value.filename:
                continue  # an empty file input
            found.append(Upload(filename=value.filename, content_type=value.content_type or "", data=data))
    return tuple(found)


def point(lat: str | None, long: str | None) -> tuple[float, float] | None:
    """An optional ``lat``/``long`` pair: both or neither, decimal WGS84."""
    y, x = parse_coordinate(lat, "lat", 90.0), parse_coordinate(long, "long", 180.0)
    if y is None and x is None:
        return None
    if y is None or x is None:
        raise Invalid("lat and long must be sent together", field="lat")
    return y, x
