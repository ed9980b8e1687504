"""One record of an export → one request with its timeline, or :class:`Refused` with the reason.

The converter is built once per file, from the file's header and the mapping: every field is read by position, every
lookup (status, channel, service, owner) is a dictionary made once, dates go through :mod:`.dates`. What it had to
decide for a row without refusing it (a status the mapping does not name, a closing time before the opening) is
counted in :attr:`Converter.notes`, for the import's report."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from civicswitch.catalog.model import Service
from civicswitch.core.errors import Invalid
from civicswitch.requests.imports.dates import parser
from civicswitch.requests.imports.mapping import ImportMapping
from civicswitch.requests.model import Channel, CloseReason, Event, ServiceRequest, Status

IMPORTED_GROUP = "Imported"
MAX_DESCRIPTION = 4000
UNKNOWN_PLACE = "unknown location"  # a record with no place, kept (the mapping's unknown_place: keep)
REASONS_KEPT = 100_000  # closing texts remembered with their reason
_SLUG = re.compile(r"[^a-z0-9]+")


class Refused(Exception):
    """A record that cannot be a request: ``reason`` says why (it goes to the quarantine file)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")


def _loose(name: str) -> str:
    """A column name ignoring case and punctuation: "Unique Key", "unique_key" and "UNIQUE-KEY" are one."""
    return _SLUG.sub("_", name.casefold()).strip("_")


class _Columns(dict[str, int]):
    """The file's columns by name: exactly as the mapping writes it, else ignoring case and punctuation."""

    def __init__(self, exact: dict[str, int], loose: dict[str, int]) -> None:
        super().__init__(exact)
        self._loose = loose

    def __missing__(self, name: str) -> int:
        return self._loose[_loose(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (dict.__contains__(self, name) or _loose(name) in self._loose)

    def get(self, name: str, default: int | None = None) -> int | None:  # type: ignore[override]
        if name in self:
            return self[name]
        return default


def _squash(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass
class Known:
    """What the catalog holds when the import starts, and the services the import creates on the way."""

    services: dict[str, str | None]  # code → owning body
    names: dict[str, str]  # squashed, case-folded name → code
    bodies: set[str]
    body_names: dict[str, str] = field(default_factory=dict)  # squashed, case-folded name → code
    created: dict[str, Service] = field(default_factory=dict)  # code → service created by this import

    @classmethod
    def of(cls, services: Sequence[Service], bodies: Sequence[tuple[str, str]]) -> Known:
        """From the catalog's services and its bodies as (code, name)."""
        names: dict[str, str] = {}
        for s in services:
            names.setdefault(_squash(s.name), s.code)
        body_names: dict[str, str] = {}
        for code, name in bodies:
            body_names.setdefault(_squash(name), code)
        return cls({s.code: s.body_code for s in services}, names, {code for code, _ in bodies}, body_names)

    def body(self, text: str, owners: Mapping[str, str]) -> str | None:
        """The body a source's owner value names: the mapping's owners, else a body's code, else its name."""
        code = owners.get(text.casefold())
        if code is None:
            code = text if text in self.bodies else self.body_names.get(_squash(text))
        return code if code in self.bodies else None


class Converter:
    def __init__(self, mapping: ImportMapping, header: Sequence[str], known: Known) -> None:
        self.mapping = mapping
        self.known = known
        self.notes: Counter[str] = Counter()
        exact = {name: i for i, name in reversed(list(enumerate(header)))}  # the first of repeated names
        loose = {_loose(name): i for i, name in reversed(list(enumerate(header)))}
        position = _Columns(exact, loose)
        cols = mapping.columns
        missing = [name for name in cols.required() if name not in position]
        if missing:
            raise Invalid("the file has no column " + ", ".join(repr(m) for m in missing) + " (the mapping's "
                          "id, service and requested_at must be there)", field="file")  # fmt: skip
        self.absent = sorted(name for name in cols.optional() if name not in position)

        def at(name: str | None) -> int | None:
            return None if name is None else position.get(name)

        self._id = position[cols.id]
        self._service = position[cols.service]
        self._requested = position[cols.requested_at]
        self._closed, self._updated, self._expected = at(cols.closed_at), at(cols.updated_at), at(cols.expected_at)
        self._status, self._reason, self._notes = at(cols.status), at(cols.close_reason), at(cols.status_notes)
        self._zip, self._lat, self._long = at(cols.zipcode), at(cols.lat), at(cols.long)
        self._channel, self._owner, self._media = at(cols.channel), at(cols.owner), at(cols.media_url)
        self._description = [i for i in map(at, cols.description) if i is not None]
        self._address = [i for i in map(at, cols.address) if i is not None]
        self._intersection = [i for i in map(at, cols.intersection) if i is not None]
        self._attributes = [(code, i) for code, i in ((c, at(n)) for c, n in cols.attributes.items()) if i is not None]
        self._date = parser(mapping.date_formats, ZoneInfo(mapping.timezone))
        self._statuses = {k.strip().casefold(): v for k, v in mapping.statuses.items()}
        self._channels = {k.strip().casefold(): v for k, v in mapping.channels.items()}
        self._services = {k.strip().casefold(): v for k, v in mapping.services.items()}
        self._owners = {k.strip().casefold(): v for k, v in mapping.owners.items()}
        self._status_reasons = {k.strip().casefold(): v for k, v in mapping.status_close_reasons.items()}
        self._reasons: dict[str, CloseReason] = {}
        self._owner_cache: dict[str, str | None] = {}
        self._rules = [(re.compile(r.pattern, re.IGNORECASE), r.reason) for r in mapping.close_rules]
        self._placeholders = {(round(lat, 4), round(long, 4)) for lat, long in mapping.placeholder_points}
        self._prefix = f"{mapping.source}:"
        self._width = len(header)

    # -- fields ---------------------------------------------------------------------------------------------------
    def _when(self, row: Sequence[str], index: int | None, name: str) -> datetime | None:
        if index is None:
            return None
        value = row[index]
        if not value or not value.strip():
            return None
        try:
            return self._date(value)
        except ValueError as exc:
            raise Refused(f"{name}: {exc}") from None

    def _service_of(self, value: str) -> str:
        code = self._services.get(value.strip().casefold())
        if code is not None:
            if code not in self.known.services:
                raise Refused(f"the mapping sends service {value!r} to {code!r}, which the catalog does not have")
            return code
        text = value.strip()
        if text in self.known.services:
            return text
        found = self.known.names.get(_squash(text))
        if found is not None:
            return found
        if not text:
            raise Refused("no service")
        if self.mapping.unknown_services == "refuse":
            raise Refused(f"unknown service {text!r}: map it in the mapping's services, add it to the catalog, or "
                          "import with --unknown-services create")  # fmt: skip
        return self._create(text)

    def _create(self, name: str) -> str:
        base = slug(name)[:60] or "imported"
        code, n = base, 1
        while code in self.known.services:
            n += 1
            code = f"{base}-{n}"
        owner = self._owner_of_new
        service = Service(code=code, name=" ".join(name.split())[:200], group=IMPORTED_GROUP, body_code=owner,
                          active=False)  # fmt: skip
        self.known.services[code] = owner
        self.known.names[_squash(name)] = code
        self.known.created[code] = service
        return code

    _owner_of_new: str | None = None

    def _body_of(self, value: str, service_body: str | None) -> str | None:
        text = value.strip()
        if not text:
            return service_body
        code = self._owner_cache.get(text, "")
        if code == "":
            code = self._owner_cache[text] = self.known.body(text, self._owners)
        if code is None:
            self.notes[f"owner {text!r} is not a body here: the service's owner instead"] += 1
            return service_body
        return code

    def _status_of(self, value: str, closed: datetime | None) -> Status:
        text = value.strip().casefold()
        found = self._statuses.get(text)
        if found is not None:
            return found
        if text:
            self.notes[f"status {value.strip()!r} is not in the mapping: closed where the row has a closing date, "
                       "else new"] += 1  # fmt: skip
        return Status.CLOSED if closed is not None and self.mapping.closed_when_closed_at else Status.NEW

    def _close_reason(self, text: str) -> CloseReason:
        found = self._reasons.get(text)  # closing texts are mostly canned: each is matched once
        if found is None:
            found = next((reason for pattern, reason in self._rules if pattern.search(text)), self.mapping.close_reason)
            if len(self._reasons) < REASONS_KEPT:
                self._reasons[text] = found
        return found

    def _point(self, row: Sequence[str]) -> tuple[float | None, float | None]:
        if self._lat is None or self._long is None:
            return None, None
        lat_text, long_text = row[self._lat].strip(), row[self._long].strip()
        if not lat_text and not long_text:
            return None, None
        try:
            lat, long = float(lat_text), float(long_text)
        except ValueError:
            raise Refused(f"lat/long {lat_text!r}, {long_text!r} are not numbers") from None
        if not (math.isfinite(lat) and math.isfinite(long)):
            raise Refused(f"lat/long {lat_text!r}, {long_text!r} are not numbers")
        if lat == 0 and long == 0:
            self.notes["point 0, 0 (no place): dropped"] += 1
            return None, None
        if self._placeholders and (round(lat, 4), round(long, 4)) in self._placeholders:
            self.notes["placeholder point (the mapping's placeholder_points): dropped"] += 1
            return None, None
        return lat, long

    # -- the record -------------------------------------------------------------------------------------------------
    def convert(self, row: Sequence[str]) -> ServiceRequest:
        if len(row) < self._width:
            row = [*row, *([""] * (self._width - len(row)))]
        source_id = row[self._id].strip()
        if not source_id:
            raise Refused(f"no id (column {self.mapping.columns.id!r})")
        requested = self._when(row, self._requested, "requested_at")
        if requested is None:
            raise Refused(f"no opening date (column {self.mapping.columns.requested_at!r})")
        self._owner_of_new = None
        owner_text = row[self._owner] if self._owner is not None else ""
        if owner_text.strip():
            self._owner_of_new = self.known.body(owner_text.strip(), self._owners)
        code = self._service_of(row[self._service])
        closed = self._when(row, self._closed, "closed_at")
        status = self._status_of(row[self._status] if self._status is not None else "", closed)
        updated = self._when(row, self._updated, "updated_at")
        notes = row[self._notes].strip() if self._notes is not None else ""
        reason: CloseReason | None = None
        if status is Status.CLOSED:
            if closed is None:
                closed = updated or requested
                self.notes["closed with no closing date: closed at its last update (or its opening)"] += 1
            if closed < requested:
                self.notes["closing date before the opening date: closed at the opening"] += 1
                closed = requested
            status_text = row[self._status].strip().casefold() if self._status is not None else ""
            reason = self._status_reasons.get(status_text)
            if reason is None:
                reason = self._close_reason(row[self._reason] if self._reason is not None else notes)
        else:
            closed = None
        last = max(d for d in (requested, updated, closed) if d is not None)
        description = ". ".join(t for t in (row[i].strip() for i in self._description) if t)
        if len(description) > MAX_DESCRIPTION:
            self.notes[f"description over {MAX_DESCRIPTION} characters: cut"] += 1
            description = description[:MAX_DESCRIPTION]
        address = ", ".join(" ".join(t.split()) for t in (row[i] for i in self._address) if t.strip()) or None
        if address is None and self._intersection:
            address = " & ".join(" ".join(t.split()) for t in (row[i] for i in self._intersection) if t.strip()) or None
        lat, long = self._point(row)
        if lat is None and address is None:
            if self.mapping.unknown_place == "refuse":
                raise Refused("no place: neither a point nor an address")
            self.notes[f"no place (neither a point nor an address): kept with the address {UNKNOWN_PLACE!r}"] += 1
            address = UNKNOWN_PLACE
        channel = Channel.IMPORT
        if self._channel is not None and row[self._channel].strip():
            value = row[self._channel].strip()
            found = self._channels.get(value.casefold())
            if found is None:
                self.notes[f"channel {value!r} is not in the mapping: other"] += 1
                channel = Channel.OTHER
            else:
                channel = found
        attributes: dict[str, str | list[str]] = {}
        for attribute, i in self._attributes:
            value = slug(row[i])
            if value:
                attributes[attribute] = value
        body = self._body_of(owner_text, self.known.services[code])
        try:
            request = ServiceRequest(
                service_code=code,
                requested_at=requested,
                channel=channel,
                description=description,
                lat=lat,
                long=long,
                address=address,
                zipcode=(row[self._zip].strip() or None) if self._zip is not None else None,
                media_url=(row[self._media].strip() or None) if self._media is not None else None,
                attributes=attributes,
                status=status,
                close_reason=reason,
                status_notes=notes or None,
                body_code=body,
                expected_at=self._when(row, self._expected, "expected_at"),
                closed_at=closed,
                updated_at=last,
                source_ref=self._prefix + source_id,
            )
        except Invalid as exc:
            raise Refused(exc.description) from None
        request.pending_events.append(
            Event(at=requested, kind="submitted", status_to=Status.NEW, description="Request received")
        )
        if status is not Status.NEW:
            request.pending_events.append(
                Event(
                    at=closed or last,
                    kind="status_changed",
                    status_from=Status.NEW,
                    status_to=status,
                    close_reason=reason,
                    description=notes[:4000],
                    data={"imported": True},
                )
            )
        return request


def counted(notes: Mapping[str, int]) -> list[tuple[str, int]]:
    """The notes, most frequent first."""
    return sorted(notes.items(), key=lambda kv: (-kv[1], kv[0]))
