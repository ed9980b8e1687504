"""SQL implementation of the request store. Lists are one indexed query, no per-row loading."""

from __future__ import annotations

import dataclasses
import weakref
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from typing import cast as cast_to

import orjson
import psycopg
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Row,
    Select,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.exc import IntegrityError

from civicswitch.catalog.sql import body_id
from civicswitch.catalog.tables import bodies, catalog_version, services
from civicswitch.core.db import UTCDateTime, sqlite_time, storable, unique_as_conflict
from civicswitch.core.errors import Conflict, Invalid, NotFound
from civicswitch.people.links import address_digest
from civicswitch.requests.metrics import Filed
from civicswitch.requests.model import (
    OPEN_STATUSES,
    TIMED_CLOSURES,
    Answer,
    Answerer,
    AnswerOutcome,
    Channel,
    CloseReason,
    Contact,
    Event,
    FixAnswer,
    Follower,
    FollowVia,
    Notice,
    Recipient,
    ServiceRequest,
    Status,
)
from civicswitch.requests.ports import Media
from civicswitch.requests.tables import (
    media,
    request_answers,
    request_areas,
    request_contacts,
    request_events,
    request_followers,
    service_requests,
)
from civicswitch.requests.views import MapQuery, MapRequest, RequestQuery, RequestView, UpdateView
from civicswitch.routing.grid import Box, cell_count, cell_of, cells_in
from civicswitch.routing.nearby import NOT_TARGETS, NearbyQuery, NearbyRequest

sr = service_requests
_OPEN = frozenset(str(s) for s in OPEN_STATUSES)
_CLOSED = frozenset({str(Status.CLOSED)})
# The public map (map_requests): a box of at most MAP_BOX_CELLS grid cells (about 38 km by 29 km in New York;
# an IN list of cells: SQLite takes 32,766 values) holding fewer than MAP_BOX_ROWS of the window's requests is read
# by its cells.
MAP_BOX_CELLS = 30_000
MAP_BOX_ROWS = 10_000
_SERVICE_IDS: weakref.WeakKeyDictionary[Engine, dict[str, int]] = weakref.WeakKeyDictionary()

_VIEW_COLUMNS = (
    sr.c.id,
    services.c.code,
    services.c.name,
    sr.c.status,
    sr.c.close_reason,
    sr.c.status_notes,
    sr.c.description,
    bodies.c.name,
    sr.c.requested_at,
    sr.c.updated_at,
    sr.c.expected_at,
    sr.c.address,
    sr.c.address_id,
    sr.c.zipcode,
    sr.c.lat,
    sr.c.long,
    sr.c.media_url,
    sr.c.token,
    sr.c.channel,
    sr.c.attributes,
    sr.c.source_ref,
    services.c.service_notice,
    sr.c.areas,
)


def _event_row(request_id: int, e: Event) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "at": e.at,
        "kind": e.kind,
        "status_from": None if e.status_from is None else str(e.status_from),
        "status_to": None if e.status_to is None else str(e.status_to),
        "close_reason": None if e.close_reason is None else str(e.close_reason),
        "description": e.description,
        "public": e.public,
        "client_id": e.client_id,
        "external_id": e.external_id,
        "external_status": e.external_status,
        "media_url": e.media_url,
        "data": e.data,
    }


def _event(r: Row[Any]) -> Event:
    """A timeline entry of a ``request_events`` row."""
    return Event(
        id=r.id,
        at=r.at,
        kind=r.kind,
        description=r.description,
        status_from=None if r.status_from is None else Status(r.status_from),
        status_to=None if r.status_to is None else Status(r.status_to),
        close_reason=None if r.close_reason is None else CloseReason(r.close_reason),
        public=r.public,
        client_id=r.client_id,
        external_id=r.external_id,
        external_status=r.external_status,
        media_url=r.media_url,
        data=r.data,
    )


class SqlRequestStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._changes: list[tuple[ServiceRequest, list[Event]]] = []
        self._notices: list[Notice] = []

    def take_changes(self) -> list[tuple[ServiceRequest, list[Event]]]:
        taken, self._changes = self._changes, []
        return taken

    def add_notice(self, notice: Notice) -> None:
        self._notices.append(notice)

    def take_notices(self) -> list[Notice]:
        taken, self._notices = self._notices, []
        return taken

    # -- ids of catalog rows --------------------------------------------------------------------------
    # A service's or a body's id never changes (both are updated in place, never deleted), so the ids are kept
    # for the life of the engine (see _service_ids_for) and a write reads them only the first time.
    def _service_id(self, code: str) -> int:
        found = _SERVICE_IDS.get(self._conn.engine, {}).get(code)
        if found is None:
            ids = self._service_ids_for([code] if storable(code) else [])
            if not ids:
                raise Invalid(f"unknown service_code {code!r}", field="service_code")
            found = ids[0]
        return found

    def _body_id(self, code: str | None) -> int | None:
        return None if code is None else body_id(self._conn, code)

    def _row(self, r: ServiceRequest) -> dict[str, Any]:
        return {
            "service_id": self._service_id(r.service_code),
            "status": str(r.status),
            "close_reason": None if r.close_reason is None else str(r.close_reason),
            "status_notes": r.status_notes,
            "description": r.description,
            "lat": r.lat,
            "long": r.long,
            "address": r.address,
            "address_id": r.address_id,
            "zipcode": r.zipcode,
            "media_url": r.media_url,
            "body_id": self._body_id(r.body_code),
            "requested_at": r.requested_at,
            "updated_at": r.updated_at,
            "expected_at": r.expected_at,
            "closed_at": r.closed_at,
            "channel": str(r.channel),
            "client_id": r.client_id,
            "device_id": r.device_id,
            "account_id": r.account_id,
            "token": r.token,
            "source_ref": r.source_ref,
            "attributes": r.attributes,
            "areas": r.areas,
            "grid_cell": cell_of(r.lat, r.long),
            "parent_id": r.parent_id,
            "assigned_org": r.assigned_org,
            "filed_by_user_id": r.filed_by_user_id,
            "consent": r.consent,
            "assignee_user_id": r.assignee_user_id,
            "transfers": r.transfers,
            "language": r.language,
        }

    # -- writes --------------------------------------------------------------------------------------
    def add(self, request: ServiceRequest, contact: Contact | None) -> int:
        row = self._row(request)
        with unique_as_conflict("request"):
            new_id = self._conn.execute(_INSERT_REQUEST, row).scalar_one()
        request.id = new_id
        if contact is not None and not contact.is_empty():
            self._conn.execute(
                _INSERT_CONTACT,
                {
                    "request_id": new_id,
                    "first_name": contact.first_name,
                    "last_name": contact.last_name,
                    "email": contact.email,
                    "phone": contact.phone,
                },
            )
        self._flush_events(request)
        return int(new_id)

    def add_many(self, requests: Sequence[ServiceRequest]) -> int:
        if not requests:
            return 0
        rows = [self._row(r) for r in requests]
        refs = [r.source_ref for r in requests if r.source_ref]
        with unique_as_conflict("imported request"):
            if len(refs) == len(requests) and self._conn.dialect.name == "postgresql":
                # COPY: one statement, so the statement triggers (request_areas) run once for the batch
                ids = self._copy_requests(rows, refs)
            elif len(refs) == len(requests) and self._conn.dialect.name == "sqlite":
                self._sqlite_bulk_requests(rows)
                found = self._conn.execute(select(sr.c.source_ref, sr.c.id).where(sr.c.source_ref.in_(refs)))
                by_ref = dict(found.all())
                ids = [by_ref[ref] for ref in refs]
            elif len(refs) == len(requests):
                # The usual import: a plain executemany, then the ids by reference (faster than RETURNING here).
                self._conn.execute(insert(sr), rows)
                found = self._conn.execute(select(sr.c.source_ref, sr.c.id).where(sr.c.source_ref.in_(refs)))
                by_ref = dict(found.all())
                ids = [by_ref[ref] for ref in refs]
            else:
                ids = list(
                    self._conn.execute(insert(sr).returning(sr.c.id, sort_by_parameter_order=True), rows).scalars()
                )
        events: list[dict[str, Any]] = []
        for r, new_id in zip(requests, ids, strict=True):
            r.id = new_id
            events.extend(_event_row(new_id, e) for e in r.pending_events)
            r.pending_events.clear()
        if events:
            if self._conn.dialect.name == "postgresql" and len(events) > 1:
                self._copy(request_events, events, ("data",))
            elif self._conn.dialect.name == "sqlite" and len(events) > 1:
                self._sqlite_many(request_events, events, ("data",))
            else:
                self._conn.execute(insert(request_events), events)
        return len(rows)

    def _copy(self, table: Table, rows: Sequence[dict[str, Any]], json_columns: Sequence[str]) -> None:
        """PostgreSQL's COPY of ``rows`` (dicts of one table's columns) into ``table``: JSON columns as text."""
        names = list(rows[0])
        raw = cast_to(psycopg.Connection[Any], self._conn.connection.dbapi_connection)
        as_json = {names.index(c) for c in json_columns if c in names}
        sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                values = list(row.values())
                for i in as_json:
                    if values[i] is not None:
                        values[i] = orjson.dumps(values[i]).decode()
                copy.write_row(values)

    def _sqlite_bulk_requests(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert many requests on SQLite with the rows the insert triggers would write made by one statement each
        (request_areas, the two search indexes) instead of one trigger program per request: five times faster. In the
        transaction, the triggers are dropped, the requests and those rows written, and the triggers made again from
        their stored text, so no other writer ever sees the table without them (tests/requests/test_bulk_insert.py
        checks that both ways write the same rows)."""
        stored: dict[str, str] = dict(
            self._conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'service_requests' "  # noqa: S608
                f"AND name IN ({', '.join('?' * len(_SQLITE_BULK))})",
                tuple(_SQLITE_BULK),
            ).all()
        )
        if set(stored) != set(_SQLITE_BULK):  # a schema this code does not know: let the triggers do the work
            self._sqlite_many(sr, rows, ("attributes", "areas"))
            return
        last = self._conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM service_requests").scalar_one()
        for name in _SQLITE_BULK:
            self._conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        self._sqlite_many(sr, rows, ("attributes", "areas"))
        for name in _SQLITE_BULK:
            self._conn.exec_driver_sql(_SQLITE_BULK[name], (last,))
        for name in _SQLITE_BULK:
            self._conn.exec_driver_sql(stored[name])

    def _sqlite_many(self, table: Table, rows: Sequence[dict[str, Any]], json_columns: Sequence[str]) -> None:
        """One ``executemany`` of the driver over ``rows``, values made as SQLAlchemy's types would bind them (a time
        as SQLite's DATETIME text in UTC, JSON as text), without its per-value processing: the import's hot path."""
        names = list(rows[0])
        as_json = {names.index(c) for c in json_columns if c in names}
        as_time = {i for i, name in enumerate(names) if isinstance(table.c[name].type, UTCDateTime)}
        tuples = []
        for row in rows:
            values = list(row.values())
            for i in as_json:
                if values[i] is not None:
                    values[i] = orjson.dumps(values[i]).decode()
            for i in as_time:
                if values[i] is not None:
                    values[i] = sqlite_time(values[i])
            tuples.append(tuple(values))
        # the table's own column names, not input
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"  # noqa: S608
        self._conn.exec_driver_sql(sql, tuples)

    def _copy_requests(self, rows: Sequence[dict[str, Any]], refs: Sequence[str]) -> list[int]:
        self._copy(sr, rows, ("attributes", "areas"))
        found = self._conn.execute(
            select(sr.c.source_ref, sr.c.id).where(sr.c.source_ref == any_(bindparam("refs", list(refs),
                                                                                     type_=ARRAY(String))))
        )  # fmt: skip
        by_ref = dict(found.all())
        return [by_ref[ref] for ref in refs]

    def save(self, request: ServiceRequest) -> None:
        if request.id is None:
            raise ValueError("save() needs a stored request")
        row = self._row(request)
        with unique_as_conflict("request"):
            bumped = {**row, "revision": sr.c.revision + 1}  # list_validator: every write is a new revision
            updated = self._conn.execute(update(sr).where(sr.c.id == request.id).values(bumped)).rowcount
        if updated == 0:
            raise ValueError("save() needs a stored request")
        self._flush_events(request)

    def _flush_events(self, request: ServiceRequest) -> None:
        assert request.id is not None
        if request.pending_events:
            self._changes.append((request, list(request.pending_events)))
            with unique_as_conflict("update"):
                self._conn.execute(_INSERT_EVENTS, [_event_row(request.id, e) for e in request.pending_events])
            request.pending_events.clear()

    # -- reads ---------------------------------------------------------------------------------------
    def get(self, request_id: int) -> ServiceRequest | None:
        row = self._conn.execute(
            select(sr, services.c.code.label("service_code"), bodies.c.code.label("body_code"))
            .join(services, services.c.id == sr.c.service_id)
            .outerjoin(bodies, bodies.c.id == sr.c.body_id)
            .where(sr.c.id == request_id)
        ).first()
        if row is None:
            return None
        return ServiceRequest(
            id=row.id,
            service_code=row.service_code,
            requested_at=row.requested_at,
            channel=Channel(row.channel),
            description=row.description,
            lat=row.lat,
            long=row.long,
            address=row.address,
            address_id=row.address_id,
            zipcode=row.zipcode,
            media_url=row.media_url,
            attributes=row.attributes,
            areas=row.areas,
            status=Status(row.status),
            close_reason=None if row.close_reason is None else CloseReason(row.close_reason),
            status_notes=row.status_notes,
            body_code=row.body_code,
            expected_at=row.expected_at,
            closed_at=row.closed_at,
            updated_at=row.updated_at,
            client_id=row.client_id,
            device_id=row.device_id,
            account_id=row.account_id,
            token=row.token,
            source_ref=row.source_ref,
            parent_id=row.parent_id,
            assigned_org=row.assigned_org,
            filed_by_user_id=row.filed_by_user_id,
            consent=row.consent,
            assignee_user_id=row.assignee_user_id,
            transfers=row.transfers,
            language=row.language,
        )

    def id_for_token(self, token: str) -> tuple[int | None, bool]:
        if not storable(token):
            return None, False
        row = self._conn.execute(select(sr.c.id).where(sr.c.token == token)).first()
        return (None, False) if row is None else (int(row.id), True)

    def _service_ids_for(self, codes: list[str]) -> list[int]:
        """Service ids for codes. A code's id never changes (services are updated in place, never deleted),
        so known ids are kept for the life of the engine and only unknown codes reach the database."""
        known = _SERVICE_IDS.setdefault(self._conn.engine, {})
        missing = [c for c in codes if c not in known]
        if missing:
            rows = self._conn.execute(select(services.c.code, services.c.id).where(services.c.code.in_(missing)))
            known.update((code, service_id) for code, service_id in rows)
        return [known[c] for c in codes if c in known]

    def _list_query(self, q: RequestQuery) -> Select[Any]:
        return self._filtered(select(*_VIEW_COLUMNS), q)

    def _filtered(self, query: Select[Any], q: RequestQuery) -> Select[Any]:
        query = (
            query.select_from(sr)
            .join(services, services.c.id == sr.c.service_id)
            .outerjoin(bodies, bodies.c.id == sr.c.body_id)
        )
        if q.ids is not None:
            return query.where(sr.c.id.in_(q.ids))
        conditions: list[ColumnElement[bool]] = []
        if q.service_codes is not None:
            ids = self._service_ids_for([c for c in q.service_codes if storable(c)])
            conditions.append(sr.c.service_id == ids[0] if len(ids) == 1 else sr.c.service_id.in_(ids))
        if q.statuses is not None:
            wanted = frozenset(q.statuses)
            if wanted == _OPEN:
                conditions.append(sr.c.public_status == "open")
            elif wanted == _CLOSED:
                conditions.append(sr.c.public_status == "closed")
            elif not wanted >= _OPEN | _CLOSED:
                conditions.append(sr.c.status.in_([s for s in wanted if storable(s)]))
        if q.requested_from is not None:
            conditions.append(sr.c.requested_at >= q.requested_from)
        if q.requested_to is not None:
            conditions.append(sr.c.requested_at <= q.requested_to)
        if q.updated_from is not None:
            conditions.append(sr.c.updated_at >= q.updated_from)
        if q.updated_to is not None:
            conditions.append(sr.c.updated_at <= q.updated_to)
        return query.where(*conditions)

    def find(self, query: RequestQuery) -> list[RequestView]:
        stmt = self._list_query(query).order_by(sr.c.requested_at.desc(), sr.c.id.desc())
        if query.ids is None:
            stmt = stmt.limit(query.limit).offset(query.offset)
        return [RequestView(*row) for row in self._conn.execute(stmt)]

    def find_open311_json(self, query: RequestQuery, base_url: str) -> bytes:
        """The Open311 JSON list for ``query``, each object rendered by the database (see projection.py), by a
        statement built once per shape of query (building and hashing it cost more than a small page)."""
        shape, values = self._validator_shape(query)
        values["base_url"] = base_url
        body = self._conn.execute(_json_statement(self._conn.dialect.name, shape), values).scalar()
        return f"[{body or ''}]".encode()

    def open311_json_with_validator(self, query: RequestQuery, base_url: str) -> tuple[bytes, tuple[int, str]]:
        """``find_open311_json`` and ``list_validator`` from one statement over the page's rows."""
        shape, values = self._validator_shape(query)
        values["base_url"] = base_url
        statement = _json_statement(self._conn.dialect.name, shape, with_validator=True)
        body, count, ids, version = self._conn.execute(statement, values).one()
        return f"[{body or ''}]".encode(), (int(count), f"{version or 0}:{ids or ''}")

    def area_events(
        self, layer: str, area_key: str, service_code: str | None, since: datetime, until: datetime, limit: int
    ) -> list[tuple[int, Event]]:
        # driven by time (ix_request_events_at: a period's entries), each checked against its request's area by
        # request_areas' key (request, layer): the cost grows with the period's changes, not the area's size
        e, a = request_events, request_areas
        stmt = (
            select(e)
            .join(a, and_(a.c.request_id == e.c.request_id, a.c.layer == layer))
            .where(a.c.area_key == area_key, e.c.at > since, e.c.at <= until, e.c.public.is_(True))
            .order_by(e.c.at.desc(), e.c.id.desc())
            .limit(limit)
        )
        if service_code is not None:
            stmt = stmt.join(sr, sr.c.id == e.c.request_id).where(sr.c.service_id.in_(
                self._service_ids_for([service_code]) or [-1]))  # fmt: skip
        return [(r.request_id, _event(r)) for r in self._conn.execute(stmt)]

    def events(self, request_ids: Sequence[int], *, public_only: bool = True) -> dict[int, list[Event]]:
        out: dict[int, list[Event]] = defaultdict(list)
        if not request_ids:
            return out
        e = request_events
        stmt = select(e).where(e.c.request_id.in_(list(request_ids))).order_by(e.c.request_id, e.c.at, e.c.id)
        if public_only:
            stmt = stmt.where(e.c.public.is_(True))
        for r in self._conn.execute(stmt):
            out[r.request_id].append(_event(r))
        return out

    def updates(self, start: datetime, end: datetime, limit: int) -> list[UpdateView]:
        e = request_events
        stmt = (
            select(
                e.c.id,
                e.c.request_id,
                e.c.at,
                e.c.kind,
                func.coalesce(e.c.status_to, e.c.status_from, sr.c.status),
                e.c.close_reason,
                e.c.description,
                e.c.external_status,
                e.c.media_url,
            )
            .join(sr, sr.c.id == e.c.request_id)
            .where(e.c.at >= start, e.c.at <= end, e.c.public.is_(True), e.c.kind != "submitted")
            .order_by(e.c.at, e.c.id)
            .limit(limit)
        )
        return [UpdateView(*row) for row in self._conn.execute(stmt)]

    def has_external_event(self, client_id: int, external_id: str) -> int | None:
        if not storable(external_id):
            return None
        e = request_events
        found = self._conn.execute(
            select(e.c.id).where(e.c.client_id == client_id, e.c.external_id == external_id)
        ).scalar()
        return None if found is None else int(found)

    def contact(self, request_id: int) -> Contact | None:
        row = self._conn.execute(select(request_contacts).where(request_contacts.c.request_id == request_id)).first()
        if row is None:
            return None
        return Contact(first_name=row.first_name, last_name=row.last_name, email=row.email, phone=row.phone)

    def add_media(self, item: Media) -> None:
        with unique_as_conflict(f"media {item.id}"):
            self._add_media(item)

    def _add_media(self, item: Media) -> None:
        self._conn.execute(
            insert(media).values(
                id=item.id,
                request_id=item.request_id,
                content_type=item.content_type,
                size=item.size,
                sha256=item.sha256,
                filename=item.filename,
                created_at=item.created_at,
                data=item.data,
            )
        )

    def attach_media(self, media_ids: Sequence[str], request_id: int) -> int:
        if not media_ids:
            return 0
        result = self._conn.execute(
            update(media)
            .where(media.c.id.in_(list(media_ids)), media.c.request_id.is_(None))
            .values(request_id=request_id)
        )
        return int(result.rowcount)

    def media(self, media_id: str) -> Media | None:
        if not storable(media_id):
            return None
        row = self._conn.execute(select(media).where(media.c.id == media_id)).first()
        if row is None:
            return None
        return Media(
            id=row.id,
            content_type=row.content_type,
            size=row.size,
            sha256=row.sha256,
            filename=row.filename,
            created_at=row.created_at,
            data=row.data,
            request_id=row.request_id,
        )

    def source_refs(self, refs: Sequence[str]) -> set[str]:
        found: set[str] = set()
        refs = [r for r in refs if storable(r)]
        if self._conn.dialect.name == "postgresql":  # one array parameter: one statement, planned once
            refs_param = bindparam("refs", refs, type_=ARRAY(String))
            return set(self._conn.execute(select(sr.c.source_ref).where(sr.c.source_ref == any_(refs_param))).scalars())
        for i in range(0, len(refs), 500):
            chunk = refs[i : i + 500]
            found.update(self._conn.execute(select(sr.c.source_ref).where(sr.c.source_ref.in_(chunk))).scalars())
        return found

    def status_counts(self) -> dict[str, int]:
        rows = self._conn.execute(select(sr.c.status, func.count()).group_by(sr.c.status))
        return {status: int(n) for status, n in rows}

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(sr)).scalar_one())

    def map_requests(self, query: MapQuery) -> list[MapRequest]:
        """Newest first, by one of two walks:

        - back in filing order from now, stopping at the page's last row: ``ix_service_requests_requested``, with a
          service ``…_service_requested``, open or closed as a group ``…_public_requested`` (the Open311
          projection), one or a few open statuses ``…_open_status_requested`` (migration 0024);
        - a box of at most :data:`MAP_BOX_CELLS` grid cells (routing/grid.py) holding fewer than
          :data:`MAP_BOX_ROWS` requests of the window: its cells' requests of the window by
          ``ix_service_requests_cell_requested`` (cell, filing time; migration 0024), then sorted. Whether it holds
          fewer is counted first on that index alone (both columns are in it), at most :data:`MAP_BOX_ROWS`
          entries: a box with more has so many of the window's requests that the walk in filing order finds a
          map's worth early, while in a box with few (a street, the sea) that walk would read the whole window.

        At 1,000,000 requests (90 days: about 250,000) each takes from 1 to about 40 ms on SQLite; a box larger
        than :data:`MAP_BOX_CELLS` cells with few requests in it (a city's size of sea) still walks the window
        (about 140 ms). See bench/README.md, "The public map"."""
        q = query
        sqlite = self._conn.dialect.name == "sqlite"
        conditions: list[ColumnElement[bool]] = [sr.c.requested_at >= q.since]
        service_id: Any = sr.c.service_id
        if q.statuses is not None:
            wanted = frozenset(q.statuses)
            if wanted == _OPEN:
                conditions.append(sr.c.public_status == "open")
            elif wanted == _CLOSED:
                conditions.append(sr.c.public_status == "closed")
            elif wanted <= _OPEN:  # "status <> 'closed'" lets the partial index of open statuses be used,
                conditions += [sr.c.status.in_([s for s in wanted if storable(s)]), sr.c.status != "closed"]
                if sqlite:  # and SQLite should walk it, not a service's whole window (a few of them are of a status)
                    service_id = literal_column("+service_requests.service_id", type_=sr.c.service_id.type)
            elif not wanted >= _OPEN | _CLOSED:
                conditions.append(sr.c.status.in_([s for s in wanted if storable(s)]))
        if q.service_codes is not None:
            ids = self._service_ids_for([c for c in q.service_codes if storable(c)])
            conditions.append(service_id == ids[0] if len(ids) == 1 else service_id.in_(ids))
        by_cells = False
        if q.box is not None:
            south, west, north, east = q.box
            conditions += [sr.c.lat.between(south, north), sr.c.long.between(west, east)]
            box = Box(south, west, north, east)
            if cell_count(box) <= MAP_BOX_CELLS:
                # PostgreSQL: the cells as one array parameter (= ANY), not thousands of bound values: the box's
                # count took 16 ms (p50) of binding 2,601 values for 1.4 ms of the database's work; now 5 ms
                in_box = list(cells_in(box))
                cells = (sr.c.grid_cell.in_(in_box) if sqlite
                         else sr.c.grid_cell == any_(bindparam("cells", in_box, type_=ARRAY(BigInteger))))  # fmt: skip
                found = self._box_rows(cells, q.since)
                if found == 0:  # nothing filed in the box's cells in the window (the sea): nothing to read
                    return []
                if found < MAP_BOX_ROWS:
                    by_cells = True
                    conditions.append(cells)
        elif q.located:
            conditions += [sr.c.lat.is_not(None), sr.c.long.is_not(None)]
        # SQLite: "+requested_at" (a no-op on the value) keeps the planner from walking the time index for the
        # ORDER BY instead of reading the box's cells (as the duplicate check does, _nearby_statement)
        newest: Any = (literal_column("+service_requests.requested_at", type_=sr.c.requested_at.type)
                       if by_cells and sqlite else sr.c.requested_at)  # fmt: skip
        # the service's code by a lookup per row found, not a join: joined, SQLite may walk every service's window
        code = select(services.c.code).where(services.c.id == sr.c.service_id).scalar_subquery()
        statement = (
            select(sr.c.id, code, sr.c.status, sr.c.close_reason, sr.c.requested_at, sr.c.updated_at,
                   sr.c.lat, sr.c.long, sr.c.address)
            .where(*conditions)
            .order_by(newest.desc(), sr.c.id.desc())
            .limit(q.limit)
            .offset(q.offset)
        )  # fmt: skip
        return [MapRequest(*row) for row in self._conn.execute(statement)]

    def _box_rows(self, cells: ColumnElement[bool], since: datetime) -> int:
        """How many requests filed since ``since`` are in these cells, counted up to :data:`MAP_BOX_ROWS` (at least
        one) on ``ix_service_requests_cell_requested`` alone (both columns are in it: no row is read)."""
        enough = max(MAP_BOX_ROWS, 1)  # at least one: "none at all" ends the read (map_requests)
        probe = select(literal(1)).select_from(sr).where(cells, sr.c.requested_at >= since).limit(enough)
        return int(self._conn.execute(select(func.count()).select_from(probe.subquery())).scalar_one())

    # -- duplicates and followers --------------------------------------------------------------------
    def nearby(self, query: NearbyQuery) -> list[NearbyRequest]:
        ids = self._service_ids_for([query.service_code] if storable(query.service_code) else [])
        if not ids or not query.cells:
            return []
        values: dict[str, Any] = {
            "service_id": ids[0],
            "cells": list(query.cells),
            "requested_since": query.requested_since,
            "closed_since": query.closed_since,
            "south": query.south,
            "north": query.north,
            "west": query.west,
            "east": query.east,
            "limit": query.limit,
        }
        if query.exclude_id is not None:
            values["exclude_id"] = query.exclude_id
        statement = _nearby_statement(self._conn.dialect.name, query.exclude_id is not None)
        return [NearbyRequest(*row) for row in self._conn.execute(statement, values)]

    def add_follower(self, request_id: int, follower: Follower) -> Follower:
        c = follower.contact
        new_id = self._conn.execute(
            insert(request_followers)
            .values(
                request_id=request_id,
                first_name=c.first_name,
                last_name=c.last_name,
                email=c.email,
                phone=c.phone,
                account_id=follower.account_id,
                via=str(follower.via),
                from_request_id=follower.from_request_id,
                created_at=follower.created_at,
                confirmed_at=follower.confirmed_at,
                language=follower.language,
                stopped_at=follower.stopped_at,
            )
            .returning(request_followers.c.id)
        ).scalar_one()
        return dataclasses.replace(follower, id=new_id)

    def followers(self, request_id: int) -> list[Follower]:
        rows = self._conn.execute(
            select(request_followers)
            .where(request_followers.c.request_id == request_id)
            .order_by(request_followers.c.id)
        )
        return [
            Follower(
                contact=Contact(first_name=r.first_name, last_name=r.last_name, email=r.email, phone=r.phone),
                via=FollowVia(r.via),
                created_at=r.created_at,
                account_id=r.account_id,
                from_request_id=r.from_request_id,
                confirmed_at=r.confirmed_at,
                id=r.id,
                language=r.language,
                stopped_at=r.stopped_at,
            )
            for r in rows
        ]

    def recipients(self, request_id: int) -> list[Recipient]:
        filer = self._conn.execute(
            select(request_contacts.c.email, sr.c.language)
            .join(sr, sr.c.id == request_contacts.c.request_id)
            .where(request_contacts.c.request_id == request_id, request_contacts.c.email.is_not(None),
                   request_contacts.c.stopped_at.is_(None))
        ).first()  # fmt: skip
        found: dict[str, Recipient] = {}
        if filer is not None and filer.email:
            found[filer.email.casefold()] = Recipient(filer.email, filer.language, True)
        followers = self._conn.execute(
            select(request_followers.c.email, request_followers.c.language)
            .where(request_followers.c.request_id == request_id, request_followers.c.email.is_not(None),
                   request_followers.c.confirmed_at.is_not(None), request_followers.c.stopped_at.is_(None))
            .order_by(request_followers.c.id)
        )  # fmt: skip
        for row in followers:
            if row.email and row.email.casefold() not in found:
                found[row.email.casefold()] = Recipient(row.email, row.language, False)
        return list(found.values())

    def stop_updates(self, request_id: int, digest: str, at: datetime) -> int:
        stopped = 0
        for table in (request_contacts, request_followers):
            rows = self._conn.execute(
                select(table.c.email).where(table.c.request_id == request_id, table.c.email.is_not(None),
                                            table.c.stopped_at.is_(None))
            ).scalars()  # fmt: skip
            matching = [e for e in rows if address_digest(e) == digest]  # any case, on both databases alike
            if matching:
                result = self._conn.execute(
                    update(table).where(table.c.request_id == request_id, table.c.email.in_(matching),
                                        table.c.stopped_at.is_(None)).values(stopped_at=at)
                )  # fmt: skip
                stopped += result.rowcount
        return stopped

    def delete_followers(self, request_id: int) -> None:
        self._conn.execute(delete(request_followers).where(request_followers.c.request_id == request_id))

    def confirm_follower(self, follower_id: int, at: datetime) -> None:
        self._conn.execute(
            update(request_followers)
            .where(request_followers.c.id == follower_id, request_followers.c.confirmed_at.is_(None))
            .values(confirmed_at=at)
        )

    def former_owners(self, request_id: int) -> set[str]:
        rows = self._conn.execute(
            select(request_events.c.data).where(
                request_events.c.request_id == request_id, request_events.c.kind == "transferred"
            )
        )
        return {d["body"][0] for (d,) in rows if isinstance(d, dict) and d.get("body") and d["body"][0]}

    def merged_count(self) -> int:
        return int(self._conn.execute(select(func.count()).where(sr.c.parent_id.is_not(None))).scalar_one())

    def answer_of(self, request_id: int, digest: str, closed_at: datetime | None = None) -> FixAnswer | None:
        t = request_answers
        query = select(t).where(t.c.request_id == request_id, t.c.address_digest == digest)
        if closed_at is not None:
            query = query.where(t.c.closed_at == closed_at)
        row = self._conn.execute(query.order_by(t.c.closed_at.desc(), t.c.id.desc()).limit(1)).first()
        return _answer(row) if row is not None else None

    def save_answer(self, answer: FixAnswer) -> int:
        values = {
            "request_id": answer.request_id, "closed_at": answer.closed_at, "answered_at": answer.answered_at,
            "answer": str(answer.answer), "answerer": str(answer.answerer), "outcome": str(answer.outcome),
            "address_digest": answer.address_digest, "new_request_id": answer.new_request_id,
            "rating": answer.rating, "rated_at": answer.rated_at, "language": answer.language,
        }  # fmt: skip
        try:
            with self._conn.begin_nested():  # a refused row leaves the transaction usable (PostgreSQL)
                self._write_answer(answer, values)
        except IntegrityError as exc:
            if self._conn.execute(select(sr.c.id).where(sr.c.id == answer.request_id)).first() is None:
                raise NotFound(f"no request number {answer.request_id}") from exc
            raise Conflict(f"request {answer.request_id}: this person already answered about this closure") from exc
        assert answer.id is not None
        return answer.id

    def _write_answer(self, answer: FixAnswer, values: dict[str, Any]) -> None:
        if answer.id is None:
            inserted = self._conn.execute(insert(request_answers).values(**values)).inserted_primary_key
            assert inserted is not None
            answer.id = int(inserted[0])
        else:
            self._conn.execute(update(request_answers).where(request_answers.c.id == answer.id).values(**values))

    def answers(self, request_id: int) -> list[FixAnswer]:
        t = request_answers
        rows = self._conn.execute(select(t).where(t.c.request_id == request_id).order_by(t.c.id))
        return [_answer(row) for row in rows]

    def filed_between(self, since: datetime, until: datetime, by: str, layer: str | None) -> list[Filed]:
        """By ``ix_service_requests_requested`` (filing time): one range of the index; the group read in the same
        statement (a join to services or bodies, the channel column, or ``areas ->> layer``)."""
        group: Any
        query = select(sr.c.requested_at, sr.c.closed_at, sr.c.status, sr.c.close_reason)
        if by == "service":
            group = services.c.code
            query = query.join(services, services.c.id == sr.c.service_id)
        elif by == "body":
            group = bodies.c.code
            query = query.outerjoin(bodies, bodies.c.id == sr.c.body_id)
        elif by == "channel":
            group = sr.c.channel
        elif by == "area":
            group = sr.c.areas[layer or ""].as_string()
        else:
            group = literal(None, String)
        rows = self._conn.execute(query.add_columns(group).where(sr.c.requested_at >= since, sr.c.requested_at < until))
        return [Filed(row[4], row[0], row[1], Status(row[2]), None if row[3] is None else CloseReason(row[3]))
                for row in rows]  # fmt: skip

    def recent_closures(
        self, service_code: str, since: datetime, layers: Sequence[str] = (), *, limit: int = 5_000
    ) -> list[tuple[float, tuple[str | None, ...]]]:
        """By ``ix_service_requests_service_closed`` (service, closure time; closed requests only), newest first:
        one range of the index, never the service's whole history. The areas' keys are read in the database
        (``areas ->> layer``), not by decoding each request's JSON here."""
        ids = self._service_ids_for([service_code])
        if not ids:
            return []
        query = (
            select(sr.c.requested_at, sr.c.closed_at, *(sr.c.areas[layer].as_string() for layer in layers))
            .where(sr.c.service_id == ids[0], sr.c.closed_at.is_not(None), sr.c.closed_at >= since,
                   sr.c.close_reason.in_([str(r) for r in TIMED_CLOSURES if r is not None]))
            .order_by(sr.c.closed_at.desc())
            .limit(limit)
        )  # fmt: skip
        return [((row[1] - row[0]).total_seconds() / 3600, tuple(row[2:])) for row in self._conn.execute(query)]

    def list_validator(self, query: RequestQuery) -> tuple[int, str]:
        """One aggregate over the rows ``find(query)`` selects (their ids and revisions, no rendering), with the
        catalog version, by a statement built once per shape of query (see ``_validator_statement``)."""
        shape, values = self._validator_shape(query)
        statement = _validator_statement(self._conn.dialect.name, shape)
        count, ids, version = self._conn.execute(statement, values).one()
        return int(count), f"{version or 0}:{ids or ''}"

    def _validator_shape(self, q: RequestQuery) -> tuple[_Shape, dict[str, Any]]:
        """``_filtered``'s conditions for ``q`` as a shape (which conditions) and the values they take."""
        if q.ids is not None:
            return _Shape(ids=True), {"ids": list(q.ids)}
        values: dict[str, Any] = {"limit": q.limit, "offset": q.offset}
        service = status = None
        if q.service_codes is not None:
            ids = self._service_ids_for([c for c in q.service_codes if storable(c)])
            if len(ids) == 1:
                service, values["service_id"] = "one", ids[0]
            else:
                service, values["service_ids"] = "many", ids
        if q.statuses is not None:
            wanted = frozenset(q.statuses)
            if wanted == _OPEN:
                status = "open"
            elif wanted == _CLOSED:
                status = "closed"
            elif not wanted >= _OPEN | _CLOSED:
                status = "list"
                values["statuses"] = [s for s in wanted if storable(s)]
        bounds = (q.requested_from, q.requested_to, q.updated_from, q.updated_to)
        for name, value in zip(_BOUNDS, bounds, strict=True):
            if value is not None:
                values[name] = value
        present = tuple(v is not None for v in bounds)
        return _Shape(False, service, status, present), values

    def view_with_validator(self, request_id: int) -> tuple[RequestView, str] | None:
        """``find`` of one id with its revision and the catalog version as two more columns: one query, built once."""
        row = self._conn.execute(_VIEW_WITH_VALIDATOR, {"id": request_id}).first()
        if row is None:
            return None
        *view, revision, version = row
        return RequestView(*view), f"{version or 0}:{request_id}.{revision}"


# -- writes and the duplicate check: statements built once ---------------------------------------------------
# Building an INSERT from a dict of values (``insert(t).values(row)``) and its cache key cost more than running
# it; these are built once and given their values at execution.
_INSERT_REQUEST = insert(sr).returning(sr.c.id)
_INSERT_CONTACT = insert(request_contacts)
_INSERT_EVENTS = insert(request_events)

# The insert triggers on service_requests (SQLite), each as one statement over the requests inserted after the id
# given: what the bulk insert runs in their stead (``_sqlite_bulk_requests``). Their bodies are the migrations' (0014,
# 0017, 0019, 0021); tests/requests/test_bulk_insert.py fails if a migration changes a trigger and not this.
_NEW_SCOPE = (
    "'b' || coalesce(new.body_id, 0) || ' s' || replace(new.status, '_', '') || coalesce(' ' || (SELECT "
    "group_concat('a' || lower(hex(e.key || '=' || e.value)) || 's' || replace(new.status, '_', ''), ' ') FROM "
    "json_each(CASE WHEN json_type(new.areas) = 'object' THEN new.areas END) AS e WHERE e.value IS NOT NULL AND "
    "e.type = 'text'), '')"
)
_SQLITE_BULK = {
    "request_areas_insert": (
        "INSERT INTO request_areas (request_id, layer, area_key, body_id, status, requested_at) SELECT new.id, e.key, "
        "e.value, new.body_id, new.status, new.requested_at FROM service_requests AS new, json_each(new.areas) AS e "
        "WHERE new.id > ? AND json_type(new.areas) = 'object' AND e.value IS NOT NULL AND e.type = 'text'"
    ),
    "service_requests_address_insert": (
        "INSERT INTO request_address_words(rowid, words) SELECT new.id, coalesce(new.address, '') "
        "FROM service_requests AS new WHERE new.id > ?"
    ),
    "service_requests_words_insert": (
        "INSERT INTO service_request_words(rowid, words, scope) SELECT new.id, new.description || ' ' || "  # noqa: S608
        f"coalesce(new.address, ''), {_NEW_SCOPE} FROM service_requests AS new WHERE new.id > ?"
    ),
}
_NEARBY: dict[tuple[str, bool], Select[Any]] = {}


def _nearby_statement(dialect: str, exclude: bool) -> Select[Any]:
    """The duplicate check's candidates (routing/nearby.py's NearbyQuery), newest first.

    On SQLite the order is by ``+requested_at`` and the merged test is on ``+parent_id``: the unary plus (a
    no-op on the value) keeps the planner from walking an index on requested_at for the ORDER BY, or the
    parent_id index for "not merged" (without statistics it looks selective; nearly every row matches), and
    filtering a service's whole history row by row. It uses the (service_id, grid_cell, requested_at) index for
    the few cells around the point and sorts the handful of rows found (tests/requests/test_nearby_plan.py)."""
    found = _NEARBY.get((dialect, exclude))
    if found is not None:
        return found
    sqlite = dialect == "sqlite"
    # "+closed_at" too: the planner must not OR the open rows with a walk of the service's closures by time
    # (ix_service_requests_service_closed) instead of reading the few grid cells
    closed_at: Any = (
        literal_column("+service_requests.closed_at", type_=sr.c.closed_at.type) if sqlite else sr.c.closed_at
    )
    closed_recently = and_(
        closed_at >= bindparam("closed_since", type_=sr.c.closed_at.type),
        or_(sr.c.close_reason.is_(None), sr.c.close_reason.notin_(sorted(NOT_TARGETS))),
    )
    newest: Any = literal_column("+service_requests.requested_at") if sqlite else sr.c.requested_at
    unmerged: Any = literal_column("+service_requests.parent_id") if sqlite else sr.c.parent_id
    stmt = (
        select(
            sr.c.id,
            sr.c.status,
            sr.c.close_reason,
            sr.c.description,
            sr.c.lat,
            sr.c.long,
            sr.c.address,
            sr.c.requested_at,
            sr.c.closed_at,
        )
        .where(
            sr.c.service_id == bindparam("service_id"),
            sr.c.grid_cell.in_(bindparam("cells", expanding=True)),
            sr.c.requested_at >= bindparam("requested_since", type_=sr.c.requested_at.type),
            sr.c.lat.between(bindparam("south"), bindparam("north")),
            sr.c.long.between(bindparam("west"), bindparam("east")),
            or_(sr.c.public_status == "open", closed_recently),
            unmerged.is_(None),
        )
        .order_by(newest.desc(), sr.c.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )
    if exclude:
        stmt = stmt.where(sr.c.id != bindparam("exclude_id"))
    _NEARBY[(dialect, exclude)] = stmt
    return stmt


# -- cache validators: statements built once, executed with each query's values ------------------------------
# Building a statement and its cache key costs more than running it on a small page, so these are made once per
# shape of query. list_validator's conditions must select exactly the rows of SqlRequestStore._filtered: the
# contract test tests/requests/test_list_validator_contract.py holds them equal over every kind of filter.
_BOUNDS = ("requested_from", "requested_to", "updated_from", "updated_to")
_CATALOG_VERSION = select(catalog_version.c.version).where(catalog_version.c.id == 1).scalar_subquery()


@dataclasses.dataclass(frozen=True, slots=True)
class _Shape:
    ids: bool  # an id list: the other filters do not apply
    service: str | None = None  # None, "one" or "many"
    status: str | None = None  # None, "open", "closed" or "list"
    bounds: tuple[bool, ...] = (False, False, False, False)  # which of _BOUNDS are given


_VALIDATORS: dict[tuple[str, _Shape], Select[Any]] = {}


def _shape_conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    """``SqlRequestStore._filtered``'s conditions for a shape of query, with bind parameters for its values."""
    conditions: list[ColumnElement[bool]] = []
    if shape.ids:
        conditions.append(sr.c.id.in_(bindparam("ids", expanding=True)))
    if shape.service == "one":
        conditions.append(sr.c.service_id == bindparam("service_id"))
    elif shape.service == "many":
        conditions.append(sr.c.service_id.in_(bindparam("service_ids", expanding=True)))
    if shape.status in ("open", "closed"):
        conditions.append(sr.c.public_status == shape.status)
    elif shape.status == "list":
        conditions.append(sr.c.status.in_(bindparam("statuses", expanding=True)))
    columns = (sr.c.requested_at, sr.c.requested_at, sr.c.updated_at, sr.c.updated_at)
    for name, column, given, lower in zip(_BOUNDS, columns, shape.bounds, (True, False, True, False), strict=True):
        if given:
            conditions.append(column >= bindparam(name) if lower else column <= bindparam(name))
    return conditions


def _paged(page: Select[Any], shape: _Shape) -> Select[Any]:
    page = page.where(*_shape_conditions(shape)).order_by(sr.c.requested_at.desc(), sr.c.id.desc())
    if not shape.ids:
        page = page.limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
    return page


def _validator_statement(dialect: str, shape: _Shape) -> Select[Any]:
    found = _VALIDATORS.get((dialect, shape))
    if found is not None:
        return found
    page = _paged(select(sr.c.id, sr.c.revision, sr.c.requested_at.label("at")), shape)
    rows = page.subquery("page")
    item = cast(rows.c.id, String) + literal(".", String) + cast(rows.c.revision, String)
    if dialect == "postgresql":
        listed = func.string_agg(item, aggregate_order_by(literal(",", String), rows.c.at.desc(), rows.c.id.desc()))
    else:
        listed = func.group_concat(item, literal(",", String))  # rows arrive in the page's order
    found = _VALIDATORS[(dialect, shape)] = select(func.count(), listed, _CATALOG_VERSION).select_from(rows)
    return found


_JSON_LISTS: dict[tuple[str, _Shape, bool], Select[Any]] = {}


def _json_statement(dialect: str, shape: _Shape, *, with_validator: bool = False) -> Select[Any]:
    """``find_open311_json``'s statement for a shape of query: one aggregate row, the page's JSON objects joined in
    its order (one fetch, one string, no per-row round trips into Python); ``with_validator``: then the count, the
    ids and revisions and the catalog version, as ``_validator_statement`` gives them."""
    found = _JSON_LISTS.get((dialect, shape, with_validator))
    if found is not None:
        return found
    postgres = dialect == "postgresql"
    document = _open311_document(postgres, bindparam("base_url", type_=String))
    page = _paged(
        select(cast(document, String).label("doc"), sr.c.requested_at.label("at"), sr.c.id.label("id"), sr.c.revision)
        .select_from(sr)
        .join(services, services.c.id == sr.c.service_id)
        .outerjoin(bodies, bodies.c.id == sr.c.body_id),
        shape,
    )
    rows = page.subquery("page")
    item = cast(rows.c.id, String) + literal(".", String) + cast(rows.c.revision, String)

    def aggregate(value: Any) -> Any:
        if postgres:
            return func.string_agg(value, aggregate_order_by(literal(",", String), rows.c.at.desc(), rows.c.id.desc()))
        return func.group_concat(value, literal(",", String))  # rows arrive in the page's order

    joined, listed = aggregate(rows.c.doc), aggregate(item)
    columns = (joined, func.count(), listed, _CATALOG_VERSION) if with_validator else (joined,)
    found = _JSON_LISTS[(dialect, shape, with_validator)] = select(*columns).select_from(rows)
    return found


def _open311_document(postgres: bool, base_url: ColumnElement[str]) -> ColumnElement[Any]:
    """One request's Open311 JSON object, rendered by the database: the 17 keys of ``open311_request`` in its order,
    with its values (tests/requests/test_projection_contract.py holds them equal). ``base_url`` prefixes our own
    media paths."""

    def when(column: Any) -> Any:
        if postgres:
            return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        # SQLite holds a UTC instant as text, 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTCDateTime): cut and joined, not
        # parsed and formatted again by strftime, which cost ~2 ms of a 500-row page's ~5 (three per row).
        return func.substr(column, 1, 10) + literal("T", String) + func.substr(column, 12, 8) + literal("Z", String)

    def coordinate(column: Any) -> Any:
        # Coordinates always carry a decimal point [REQS-05]. SQLite prints REAL that way already;
        # PostgreSQL prints a whole float8 as 40, so whole values are written as 40.0 there.
        if not postgres:
            return column
        return case(
            (column == func.trunc(column), cast(cast(column, String) + literal(".0", String), JSON)),
            else_=func.to_json(column),
        )

    media_url = case(
        (sr.c.media_url.like("/%"), base_url + sr.c.media_url),
        else_=func.nullif(sr.c.media_url, ""),
    )
    pairs: list[tuple[str, Any]] = [
        ("service_request_id", cast(sr.c.id, String)),
        ("status", case((sr.c.status == "closed", literal("closed", String)), else_=literal("open", String))),
        ("status_notes", sr.c.status_notes),
        ("service_name", services.c.name),
        ("service_code", services.c.code),
        ("description", sr.c.description),
        ("agency_responsible", bodies.c.name),
        ("service_notice", services.c.service_notice),
        ("requested_datetime", when(sr.c.requested_at)),
        ("updated_datetime", when(sr.c.updated_at)),
        ("expected_datetime", when(sr.c.expected_at)),
        ("address", func.coalesce(sr.c.address, literal("", String))),
        ("address_id", sr.c.address_id),
        ("zipcode", sr.c.zipcode),
        ("lat", coordinate(sr.c.lat)),
        ("long", coordinate(sr.c.long)),
        ("media_url", media_url),
    ]
    args: list[Any] = []
    for key, value in pairs:
        args.extend((literal_column(f"'{key}'"), value))
    return func.json_build_object(*args) if postgres else func.json_object(*args)


_VIEW_WITH_VALIDATOR = (
    select(*_VIEW_COLUMNS, sr.c.revision, _CATALOG_VERSION)
    .select_from(sr)
    .join(services, services.c.id == sr.c.service_id)
    .outerjoin(bodies, bodies.c.id == sr.c.body_id)
    .where(sr.c.id == bindparam("id"))
)


# -- the hottest read, on the driver's connection ------------------------------------------------------------
class SqlOpen311Reads:
    """``SqlRequestStore.view_with_validator`` straight on the driver's connection, for GET one request: the same
    statement and the same values (each column through SQLAlchemy's own result processing for its type), but
    compiled once per engine, and no unit of work, SQLAlchemy connection, transaction or result object made per
    call; together they cost several times the query (bench/README.md, issue 9 §3).

    A single SELECT needs no transaction: SQLite runs it in autocommit (its connections are opened with
    ``isolation_level=None``, core/db.py), and PostgreSQL's connection is put in autocommit for it (as SQLAlchemy
    does for the AUTOCOMMIT isolation level) and back before it returns to the pool."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        dialect = engine.dialect
        compiled = _VIEW_WITH_VALIDATOR.compile(dialect=dialect)
        self._sql = compiled.string
        self._names: tuple[str, ...] | None = tuple(compiled.positiontup or ()) if compiled.positional else None
        self._template = dict(compiled.construct_params({"id": 0}))  # the statement's constants, and the id
        self._processors: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None  # on the first answer

    def _processors_for(self, description: Sequence[Sequence[Any]]) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        """Each column's result processor, as SQLAlchemy chooses it: by its type and the driver's type code."""
        dialect = self._engine.dialect
        processors = (
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(_VIEW_WITH_VALIDATOR.selected_columns, description, strict=True)
        )
        self._processors = found = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        return found

    def _fetch(self, pooled: Any, params: Any) -> tuple[Any, tuple[tuple[int, Callable[[Any], Any]], ...]]:
        dbapi = pooled.dbapi_connection
        if self._postgres:  # no BEGIN before the SELECT, so no ROLLBACK after it: two round trips fewer
            dbapi.autocommit = True
        try:
            cursor = dbapi.cursor()
            try:
                cursor.execute(self._sql, params)
                found = cursor.fetchone()
                processors = self._processors
                return found, processors if processors is not None else self._processors_for(cursor.description)
            finally:
                cursor.close()
        finally:
            if self._postgres:
                dbapi.autocommit = False  # as the pool hands its connections out

    def view_with_validator(self, request_id: int) -> tuple[RequestView, str] | None:
        values = self._template.copy()
        values["id"] = request_id
        params: Any = values if self._names is None else tuple(values[name] for name in self._names)
        pooled = self._engine.raw_connection()
        try:
            found, processors = self._fetch(pooled, params)
        finally:
            pooled.close()  # back to the pool (its reset has nothing to roll back)
        if found is None:
            return None
        row = list(found)
        for i, process in processors:
            row[i] = process(row[i])
        *view, revision, version = row
        return RequestView(*view), f"{version or 0}:{request_id}.{revision}"


def _answer(row: Any) -> FixAnswer:
    return FixAnswer(
        request_id=row.request_id, closed_at=row.closed_at, answered_at=row.answered_at, answer=Answer(row.answer),
        answerer=Answerer(row.answerer), outcome=AnswerOutcome(row.outcome), address_digest=row.address_digest,
        new_request_id=row.new_request_id, rating=row.rating, rated_at=row.rated_at, language=row.language,
        id=row.id,
    )  # fmt: skip
