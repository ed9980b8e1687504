"""The in-memory request store (a fake of ``requests/sql.py``), over the database of ``storage/memory.py``."""

from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import orjson

from civicswitch.catalog.calendars import sla_notice
from civicswitch.core.errors import Conflict, Invalid, NotFound
from civicswitch.people.links import address_digest
from civicswitch.requests.metrics import Filed
from civicswitch.requests.model import (
    TIMED_CLOSURES,
    Contact,
    Event,
    FixAnswer,
    Follower,
    Notice,
    Recipient,
    ServiceRequest,
    Status,
)
from civicswitch.requests.ports import Media
from civicswitch.requests.projection import open311_request
from civicswitch.requests.views import MapQuery, MapRequest, RequestQuery, RequestView, UpdateView
from civicswitch.routing.nearby import NOT_TARGETS, NearbyQuery, NearbyRequest

if TYPE_CHECKING:
    from civicswitch.storage.memory import MemoryDatabase


class MemoryRequestStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
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
        self._db.revisions[request.id] = self._db.revisions.get(request.id, 1) + 1  # list_validator

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
            service_notice=sla_notice(service.sla),
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

    def area_events(
        self, layer: str, area_key: str, service_code: str | None, since: datetime, until: datetime, limit: int
    ) -> list[tuple[int, Event]]:
        found = [
            (rid, e)
            for rid, request in self._db.requests.items()
            if (request.areas or {}).get(layer) == area_key
            and (service_code is None or request.service_code == service_code)
            for e in self._db.events.get(rid, [])
            if e.public and since < e.at <= until
        ]
        found.sort(key=lambda pair: (pair[1].at, pair[1].id or 0), reverse=True)
        return found[:limit]

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

    def attach_media(self, media_ids: Sequence[str], request_id: int) -> int:
        attached = 0
        for mid in dict.fromkeys(media_ids):
            found = self._db.media.get(mid)  # unknown ids are ignored, as SQL's UPDATE … WHERE id IN (…) does
            if found is not None and found.request_id is None:
                self._db.media[mid] = dataclasses.replace(found, request_id=request_id)
                attached += 1
        return attached

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

    def map_requests(self, query: MapQuery) -> list[MapRequest]:
        q = query

        def keep(r: ServiceRequest) -> bool:
            if q.box is not None or q.located:
                if r.lat is None or r.long is None:
                    return False
                if q.box is not None:
                    south, west, north, east = q.box
                    if not (south <= r.lat <= north and west <= r.long <= east):
                        return False
            return (
                r.requested_at >= q.since
                and (q.service_codes is None or r.service_code in q.service_codes)
                and (q.statuses is None or str(r.status) in q.statuses)
            )

        found = sorted((r for r in self._db.requests.values() if keep(r)),
                       key=lambda r: (r.requested_at, r.id or 0), reverse=True)  # fmt: skip
        rows = found[q.offset : q.offset + q.limit]
        return [MapRequest(r.id or 0, r.service_code, str(r.status), None if r.close_reason is None else
                           str(r.close_reason), r.requested_at, r.updated_at or r.requested_at, r.lat, r.long,
                           r.address) for r in rows]  # fmt: skip

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
                or (r.close_reason is not None and str(r.close_reason) in NOT_TARGETS)
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

    def confirm_follower(self, follower_id: int, at: datetime) -> None:
        for followers in self._db.followers.values():
            for i, f in enumerate(followers):
                if f.id == follower_id and f.confirmed_at is None:
                    followers[i] = dataclasses.replace(f, confirmed_at=at)

    def former_owners(self, request_id: int) -> set[str]:
        return {
            e.data["body"][0]
            for e in self._db.events.get(request_id, [])
            if e.kind == "transferred" and e.data.get("body") and e.data["body"][0]
        }

    def merged_count(self) -> int:
        return sum(1 for r in self._db.requests.values() if r.parent_id is not None)

    def recipients(self, request_id: int) -> list[Recipient]:
        request = self._db.requests.get(request_id)
        if request is None:
            return []
        found: dict[str, Recipient] = {}
        contact = self._db.contacts.get(request_id)
        if contact is not None and contact.email and request_id not in self._db.stopped_filers:
            found[contact.email.casefold()] = Recipient(contact.email, request.language, True)
        for f in self._db.followers.get(request_id, []):
            email = f.contact.email
            if email and f.confirmed_at is not None and f.stopped_at is None and email.casefold() not in found:
                found[email.casefold()] = Recipient(email, f.language, False)
        return list(found.values())

    def stop_updates(self, request_id: int, digest: str, at: datetime) -> int:
        stopped = 0
        contact = self._db.contacts.get(request_id)
        if (
            contact is not None
            and contact.email
            and address_digest(contact.email) == digest
            and request_id not in self._db.stopped_filers
        ):
            self._db.stopped_filers.add(request_id)
            stopped += 1
        followers = self._db.followers.get(request_id, [])
        for i, f in enumerate(followers):
            if f.contact.email and address_digest(f.contact.email) == digest and f.stopped_at is None:
                followers[i] = dataclasses.replace(f, stopped_at=at)
                stopped += 1
        return stopped

    def filed_between(self, since: datetime, until: datetime, by: str, layer: str | None) -> list[Filed]:
        def group(r: ServiceRequest) -> str | None:
            if by == "service":
                return r.service_code
            if by == "body":
                return r.body_code
            if by == "channel":
                return str(r.channel)
            if by == "area":
                return (r.areas or {}).get(layer or "")
            return None

        return [Filed(group(r), r.requested_at, r.closed_at, r.status, r.close_reason)
                for r in self._db.requests.values() if since <= r.requested_at < until]  # fmt: skip

    def recent_closures(
        self, service_code: str, since: datetime, layers: Sequence[str] = (), *, limit: int = 5_000
    ) -> list[tuple[float, tuple[str | None, ...]]]:
        closed = sorted(
            (r for r in self._db.requests.values()
             if r.service_code == service_code and r.closed_at is not None and r.closed_at >= since
             and r.close_reason in TIMED_CLOSURES),
            key=lambda r: (r.closed_at, r.id), reverse=True,
        )[:limit]  # fmt: skip
        return [((r.closed_at - r.requested_at).total_seconds() / 3600, tuple((r.areas or {}).get(x) for x in layers))
                for r in closed if r.closed_at is not None]  # fmt: skip

    def answer_of(self, request_id: int, digest: str, closed_at: datetime | None = None) -> FixAnswer | None:
        mine = [a for a in self._db.answers.values() if a.request_id == request_id and a.address_digest == digest
                and (closed_at is None or a.closed_at == closed_at)]  # fmt: skip
        return dataclasses.replace(max(mine, key=lambda a: (a.closed_at, a.id or 0))) if mine else None

    def save_answer(self, answer: FixAnswer) -> int:
        if answer.request_id not in self._db.requests:
            raise NotFound(f"no request number {answer.request_id}")
        if answer.id is None:
            if answer.address_digest is not None and self.answer_of(
                answer.request_id, answer.address_digest, answer.closed_at
            ):
                raise Conflict(f"request {answer.request_id}: this person already answered about this closure")
            answer.id = self._db.take_id("answer")
        self._db.answers[answer.id] = dataclasses.replace(answer)
        return answer.id

    def answers(self, request_id: int) -> list[FixAnswer]:
        return [dataclasses.replace(a) for a in sorted(self._db.answers.values(), key=lambda a: a.id or 0)
                if a.request_id == request_id]  # fmt: skip

    def open311_json_with_validator(self, query: RequestQuery, base_url: str) -> tuple[bytes, tuple[int, str]]:
        return self.find_open311_json(query, base_url), self.list_validator(query)

    def list_validator(self, query: RequestQuery) -> tuple[int, str]:
        ids = [v.id for v in self.find(query)]
        listed = ",".join(f"{i}.{self._db.revisions.get(i, 1)}" for i in ids)
        return len(ids), f"{self._db.catalog_version}:{listed}"

    def view_with_validator(self, request_id: int) -> tuple[RequestView, str] | None:
        found = self.find(RequestQuery(ids=(request_id,), limit=1))
        if not found:
            return None
        return found[0], f"{self._db.catalog_version}:{request_id}.{self._db.revisions.get(request_id, 1)}"
