"""In-memory fakes of every storage port, for fast unit tests. Same behaviour as the SQL stores."""

from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self

import orjson

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.model import Body, Service
from civicswitch.core.clients import ApiClient
from civicswitch.core.errors import Conflict, Invalid
from civicswitch.core.ports import CatalogStore, ClientStore, Media, RequestStore
from civicswitch.hub.memory import HubData, MemoryHubStore
from civicswitch.hub.outbox import write_outbox
from civicswitch.hub.ports import HubStore
from civicswitch.requests.model import CloseReason, Contact, Event, Follower, ServiceRequest, Status
from civicswitch.requests.projection import open311_request
from civicswitch.requests.views import NearbyQuery, NearbyRequest, RequestQuery, RequestView, UpdateView
from civicswitch.routing.rules import RoutingRule


@dataclass
class MemoryDatabase:
    bodies: dict[str, Body] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    requests: dict[int, ServiceRequest] = field(default_factory=dict)
    contacts: dict[int, Contact] = field(default_factory=dict)
    followers: dict[int, list[Follower]] = field(default_factory=lambda: defaultdict(list))
    hub: HubData = field(default_factory=HubData)
    events: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    media: dict[str, Media] = field(default_factory=dict)
    clients: dict[int, ApiClient] = field(default_factory=dict)
    layers: dict[str, AreaLayer] = field(default_factory=dict)
    areas: list[Area] = field(default_factory=list)
    rules: list[RoutingRule] = field(default_factory=list)
    next_id: dict[str, int] = field(default_factory=lambda: defaultdict(lambda: 1))

    def take_id(self, kind: str) -> int:
        value = self.next_id[kind]
        self.next_id[kind] = value + 1
        return value


class MemoryCatalogStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def add_body(self, body: Body) -> Body:
        existing = self._db.bodies.get(body.code)
        stored = dataclasses.replace(body, id=existing.id if existing else self._db.take_id("body"))
        self._db.bodies[body.code] = stored
        return stored

    def bodies(self) -> list[Body]:
        return sorted(self._db.bodies.values(), key=lambda b: b.code)

    def body(self, code: str) -> Body | None:
        return self._db.bodies.get(code)

    def add_service(self, service: Service) -> Service:
        if service.body_code is not None and service.body_code not in self._db.bodies:
            raise Invalid(f"service {service.code!r}: unknown body {service.body_code!r}")
        existing = self._db.services.get(service.code)
        attributes = tuple(sorted(service.attributes, key=lambda a: a.order))
        stored = dataclasses.replace(
            service, attributes=attributes, id=existing.id if existing else self._db.take_id("service")
        )
        self._db.services[service.code] = stored
        return stored

    def services(self, *, include_inactive: bool = False) -> list[Service]:
        found = [s for s in self._db.services.values() if include_inactive or s.active]
        return sorted(found, key=lambda s: s.code)

    def service(self, code: str) -> Service | None:
        return self._db.services.get(code)

    def add_layer_version(self, layer: AreaLayer, areas: Sequence[Area], valid_from: datetime | None) -> AreaLayer:
        existing = self._db.layers.get(layer.name)
        stored = dataclasses.replace(layer, id=existing.id if existing else self._db.take_id("layer"))
        current = [a for a in self._db.areas if a.layer == layer.name and a.valid_to is None]
        if valid_from is None:
            self._db.areas = [a for a in self._db.areas if a not in current]
        else:
            latest = max((a.valid_from for a in current if a.valid_from is not None), default=None)
            if latest is not None and latest >= valid_from:
                raise Invalid(
                    f"layer {layer.name}: a version valid from {latest:%Y-%m-%d} is loaded; a new version must "
                    "start later",
                    field="valid_from",
                )
            self._db.areas = [
                dataclasses.replace(a, valid_to=valid_from) if a in current else a for a in self._db.areas
            ]
        self._db.layers[layer.name] = stored
        for a in areas:
            self._db.areas.append(
                dataclasses.replace(
                    a, layer=layer.name, valid_from=valid_from, valid_to=None, id=self._db.take_id("area")
                )
            )
        return stored

    def areas_version(self) -> tuple[int, int]:
        return len(self._db.areas), max((a.id or 0 for a in self._db.areas), default=0)

    def replace_rules(self, rules: Sequence[RoutingRule]) -> None:
        for r in rules:
            unknown = (
                r.body if r.body not in self._db.bodies
                else r.layer if r.layer not in self._db.layers
                else r.service if r.service is not None and r.service not in self._db.services
                else None
            )  # fmt: skip
            if unknown is not None:
                raise Invalid(f"routing rule names unknown {unknown!r}")
        self._db.rules = [dataclasses.replace(r, id=self._db.take_id("rule")) for r in rules]

    def rules(self) -> list[RoutingRule]:
        return list(self._db.rules)

    def layers(self) -> list[AreaLayer]:
        return [self._db.layers[k] for k in sorted(self._db.layers)]

    def areas(self, layer: str | None = None) -> list[Area]:
        found = [a for a in self._db.areas if layer is None or a.layer == layer]
        return sorted(found, key=lambda a: (a.layer, a.key, a.valid_from is not None, a.valid_from or 0, a.id or 0))


class MemoryRequestStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self._changes: list[tuple[ServiceRequest, list[Event]]] = []

    def take_changes(self) -> list[tuple[ServiceRequest, list[Event]]]:
        taken, self._changes = self._changes, []
        return taken

    def _check(self, request: ServiceRequest) -> None:
        if request.service_code not in self._db.services:
            raise Invalid(f"unknown service_code {request.service_code!r}", field="service_code")
        if request.body_code is not None and request.body_code not in self._db.bodies:
            raise Invalid(f"unknown body {request.body_code!r}", field="body")
        for other in self._db.requests.values():
            if request.token and other.token == request.token and other.id != request.id:
                raise Conflict("token already used")
            if request.source_ref and other.source_ref == request.source_ref and other.id != request.id:
                raise Conflict(f"source_ref {request.source_ref!r} already stored")

    def _store_events(self, request: ServiceRequest, *, announce: bool = True) -> None:
        assert request.id is not None
        if announce and request.pending_events:
            self._changes.append((request, list(request.pending_events)))
        for e in request.pending_events:
            if (
                e.client_id is not None
                and e.external_id is not None
                and self.has_external_event(e.client_id, e.external_id)
            ):
                raise Conflict(f"update {e.external_id!r} already stored")
            self._db.events[request.id].append(dataclasses.replace(e, id=self._db.take_id("event")))
        request.pending_events.clear()

    def add(self, request: ServiceRequest, contact: Contact | None) -> int:
        self._check(request)
        request.id = self._db.take_id("request")
        self._store_events(request)
        self._db.requests[request.id] = copy.deepcopy(request)
        if contact is not None and not contact.is_empty():
            self._db.contacts[request.id] = contact
        return request.id

    def add_many(self, requests: Sequence[ServiceRequest]) -> int:
        for r in requests:
            self._check(r)
            r.id = self._db.take_id("request")
            self._store_events(r, announce=False)  # imported history: nothing to deliver
            self._db.requests[r.id] = copy.deepcopy(r)
        return len(requests)

    def get(self, request_id: int) -> ServiceRequest | None:
        found = self._db.requests.get(request_id)
        return None if found is None else copy.deepcopy(found)

    def save(self, request: ServiceRequest) -> None:
        if request.id is None or request.id not in self._db.requests:
            raise ValueError("save() needs a stored request")
        self._check(request)
        self._store_events(request)
        self._db.requests[request.id] = copy.deepcopy(request)

    def id_for_token(self, token: str) -> tuple[int | None, bool]:
        for r in self._db.requests.values():
            if r.token == token:
                return r.id, True
        return None, False

    def _view(self, r: ServiceRequest) -> RequestView:
        assert r.id is not None and r.updated_at is not None
        service = self._db.services[r.service_code]
        body = self._db.bodies.get(r.body_code) if r.body_code else None
        return RequestView(
            id=r.id,
            service_code=r.service_code,
            service_name=service.name,
            status=str(r.status),
            close_reason=None if r.close_reason is None else str(r.close_reason),
            status_notes=r.status_notes,
            description=r.description,
            agency_responsible=body.name if body else None,
            requested_at=r.requested_at,
            updated_at=r.updated_at,
            expected_at=r.expected_at,
            address=r.address,
            address_id=r.address_id,
            zipcode=r.zipcode,
            lat=r.lat,
            long=r.long,
            media_url=r.media_url,
            token=r.token,
            channel=str(r.channel),
            attributes=copy.deepcopy(r.attributes),
            source_ref=r.source_ref,
            sla_hours=service.sla_hours,
            areas=copy.deepcopy(r.areas),
        )

    def find(self, query: RequestQuery) -> list[RequestView]:
        q = query
        rows = list(self._db.requests.values())
        if q.ids is not None:
            rows = [r for r in rows if r.id in set(q.ids)]
        else:

            def keep(r: ServiceRequest) -> bool:
                assert r.updated_at is not None
                return (
                    (q.service_codes is None or r.service_code in q.service_codes)
                    and (q.statuses is None or str(r.status) in q.statuses)
                    and (q.requested_from is None or r.requested_at >= q.requested_from)
                    and (q.requested_to is None or r.requested_at <= q.requested_to)
                    and (q.updated_from is None or r.updated_at >= q.updated_from)
                    and (q.updated_to is None or r.updated_at <= q.updated_to)
                )

            rows = [r for r in rows if keep(r)]
        rows.sort(key=lambda r: (r.requested_at, r.id or 0), reverse=True)
        if q.ids is None:
            rows = rows[q.offset : q.offset + q.limit]
        return [self._view(r) for r in rows]

    def find_open311_json(self, query: RequestQuery, base_url: str) -> bytes:
        return orjson.dumps([open311_request(v, base_url) for v in self.find(query)])

    def events(self, request_ids: Sequence[int], *, public_only: bool = True) -> dict[int, list[Event]]:
        out: dict[int, list[Event]] = defaultdict(list)
        for rid in dict.fromkeys(request_ids):  # each request once, as SQL's IN (…) does
            for e in sorted(self._db.events.get(rid, []), key=lambda e: (e.at, e.id or 0)):
                if e.public or not public_only:
                    out[rid].append(e)
        return out

    def updates(self, start: datetime, end: datetime, limit: int) -> list[UpdateView]:
        found = []
        for rid, events in self._db.events.items():
            request = self._db.requests[rid]
            for e in events:
                if e.public and e.kind != "submitted" and start <= e.at <= end:
                    assert e.id is not None
                    found.append(
                        UpdateView(
                            id=e.id,
                            request_id=rid,
                            at=e.at,
                            kind=e.kind,
                            status=str(e.status_to or e.status_from or request.status),
                            close_reason=None if e.close_reason is None else str(e.close_reason),
                            description=e.description,
                            external_status=e.external_status,
                            media_url=e.media_url,
                        )
                    )
        found.sort(key=lambda u: (u.at, u.id))
        return found[:limit]

    def has_external_event(self, client_id: int, external_id: str) -> int | None:
        for events in self._db.events.values():
            for e in events:
                if e.client_id == client_id and e.external_id == external_id:
                    return e.id
        return None

    def contact(self, request_id: int) -> Contact | None:
        return self._db.contacts.get(request_id)

    def add_media(self, item: Media) -> None:
        if item.id in self._db.media:
            raise Conflict(f"media {item.id} already stored")
        self._db.media[item.id] = item

    def attach_media(self, media_ids: Sequence[str], request_id: int) -> None:
        for mid in media_ids:
            if mid in self._db.media:  # unknown ids are ignored, as SQL's UPDATE … WHERE id IN (…) does
                self._db.media[mid] = dataclasses.replace(self._db.media[mid], request_id=request_id)

    def media(self, media_id: str) -> Media | None:
        return self._db.media.get(media_id)

    def source_refs(self, refs: Sequence[str]) -> set[str]:
        stored = {r.source_ref for r in self._db.requests.values() if r.source_ref}
        return stored.intersection(refs)

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for r in self._db.requests.values():
            counts[str(r.status)] += 1
        return dict(counts)

    def count(self) -> int:
        return len(self._db.requests)

    def nearby(self, query: NearbyQuery) -> list[NearbyRequest]:
        q = query
        found = []
        for r in self._db.requests.values():
            if (
                r.service_code != q.service_code
                or r.lat is None
                or r.long is None
                or r.id == q.exclude_id
                or r.parent_id is not None
                or r.requested_at < q.requested_since
                or not (q.south <= r.lat <= q.north and q.west <= r.long <= q.east)
            ):
                continue
            if r.status == Status.CLOSED and (
                r.closed_at is None
                or r.closed_at < q.closed_since
                or r.close_reason in (CloseReason.DUPLICATE, CloseReason.CANCELLED)
            ):
                continue
            assert r.id is not None
            found.append(
                NearbyRequest(
                    r.id,
                    str(r.status),
                    None if r.close_reason is None else str(r.close_reason),
                    r.description,
                    r.lat,
                    r.long,
                    r.address,
                    r.requested_at,
                    r.closed_at,
                )
            )
        found.sort(key=lambda n: (n.requested_at, n.id), reverse=True)
        return found[: q.limit]

    def add_follower(self, request_id: int, follower: Follower) -> Follower:
        if request_id not in self._db.requests:
            raise Invalid(f"request {request_id} does not exist")
        stored = dataclasses.replace(follower, id=self._db.take_id("follower"))
        self._db.followers[request_id].append(stored)
        return stored

    def followers(self, request_id: int) -> list[Follower]:
        return list(self._db.followers.get(request_id, []))

    def delete_followers(self, request_id: int) -> None:
        self._db.followers.pop(request_id, None)

    def merged_count(self) -> int:
        return sum(1 for r in self._db.requests.values() if r.parent_id is not None)


class MemoryClientStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def add(self, client: ApiClient) -> ApiClient:
        if any(c.key_hash == client.key_hash for c in self._db.clients.values()):
            raise Conflict("key already stored")
        stored = dataclasses.replace(client, id=self._db.take_id("client"))
        assert stored.id is not None
        self._db.clients[stored.id] = stored
        return stored

    def by_hash(self, key_hash: str) -> ApiClient | None:
        return next((c for c in self._db.clients.values() if c.key_hash == key_hash), None)

    def all(self) -> list[ApiClient]:
        return [self._db.clients[k] for k in sorted(self._db.clients)]

    def revoke(self, client_id: int, at: datetime) -> bool:
        client = self._db.clients.get(client_id)
        if client is None or client.revoked_at is not None:
            return False
        self._db.clients[client_id] = dataclasses.replace(client, revoked_at=at)
        return True


class MemoryUnitOfWork:
    """Works on a snapshot of the database; :meth:`commit` publishes it, leaving without commit drops it."""

    catalog: CatalogStore
    requests: RequestStore
    clients: ClientStore
    hub: HubStore

    def __init__(self, db: MemoryDatabase | None = None) -> None:
        self.db = db if db is not None else MemoryDatabase()
        self.committed = 0

    def _open(self) -> None:
        self._work = copy.deepcopy(self.db)
        self.catalog = MemoryCatalogStore(self._work)
        self.requests = MemoryRequestStore(self._work)
        self.clients = MemoryClientStore(self._work)
        self.hub = MemoryHubStore(self._work.hub, self._work.bodies)

    def __enter__(self) -> Self:
        self._open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        del self._work

    def commit(self) -> None:
        write_outbox(self)
        self.db.__dict__.update(copy.deepcopy(self._work).__dict__)
        self.committed += 1

    def rollback(self) -> None:
        self._open()
