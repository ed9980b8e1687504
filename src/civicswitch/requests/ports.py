"""The request store port (SQL: ``requests/sql.py``; in-memory fake: ``requests/memory.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from civicswitch.requests.metrics import Filed
from civicswitch.requests.model import Contact, Event, FixAnswer, Follower, Notice, Recipient, ServiceRequest
from civicswitch.requests.views import MapQuery, MapRequest, RequestQuery, RequestView, UpdateView
from civicswitch.routing.nearby import NearbyQuery, NearbyRequest


@dataclass(frozen=True, slots=True)
class Media:
    id: str
    content_type: str
    size: int
    sha256: str
    filename: str | None
    created_at: datetime
    data: bytes
    request_id: int | None = None


class RequestStore(Protocol):
    def add(self, request: ServiceRequest, contact: Contact | None) -> int:
        """Persist a new request with its pending events; sets and returns its id."""
        ...

    def add_many(self, requests: Sequence[ServiceRequest]) -> int:
        """Bulk insert of imported requests (no contact data); returns how many were inserted."""
        ...

    def get(self, request_id: int) -> ServiceRequest | None: ...
    def save(self, request: ServiceRequest) -> None:
        """Write the request's changed fields and append its pending events."""
        ...

    def id_for_token(self, token: str) -> tuple[int | None, bool]:
        """(request id or None, whether the token exists)."""
        ...

    def find(self, query: RequestQuery) -> list[RequestView]: ...
    def find_open311_json(self, query: RequestQuery, base_url: str) -> bytes:
        """``find`` as the Open311 JSON list (``requests.projection.open311_request`` of each row)."""
        ...

    def area_events(
        self, layer: str, area_key: str, service_code: str | None, since: datetime, until: datetime, limit: int
    ) -> list[tuple[int, Event]]:
        """The public timeline entries at (``since``, ``until``] of the requests in one area of a layer (of one
        service, unless None), as (request id, entry), the newest first, at most ``limit``."""
        ...

    def events(self, request_ids: Sequence[int], *, public_only: bool = True) -> dict[int, list[Event]]: ...
    def updates(self, start: datetime, end: datetime, limit: int) -> list[UpdateView]: ...
    def has_external_event(self, client_id: int, external_id: str) -> int | None:
        """The id of the event a client already sent with this external id, if any."""
        ...

    def contact(self, request_id: int) -> Contact | None: ...
    def add_media(self, media: Media) -> None: ...
    def attach_media(self, media_ids: Sequence[str], request_id: int) -> int:
        """Give these photos to the request, those that are no request's yet (an attached photo is never moved);
        returns how many were attached (unknown ids count for nothing)."""
        ...

    def media(self, media_id: str) -> Media | None: ...
    def source_refs(self, refs: Sequence[str]) -> set[str]:
        """Which of these import references are already stored."""
        ...

    def count(self) -> int: ...
    def status_counts(self) -> dict[str, int]:
        """How many requests are in each canonical status."""
        ...

    def map_requests(self, query: MapQuery) -> list[MapRequest]:
        """Recent requests for the public map and its list (see :class:`MapQuery`): one indexed query over the
        filing-time order (by service, and by open or closed, where asked), the few columns a map needs."""
        ...

    def nearby(self, query: NearbyQuery) -> list[NearbyRequest]:
        """Candidates for the duplicate check (see :class:`NearbyQuery`); an index probe per grid cell in SQL."""
        ...

    def add_follower(self, request_id: int, follower: Follower) -> Follower: ...
    def followers(self, request_id: int) -> list[Follower]:
        """A request's followers, oldest first."""
        ...

    def delete_followers(self, request_id: int) -> None: ...
    def confirm_follower(self, follower_id: int, at: datetime) -> None:
        """The follower's address is confirmed (a no-op when it already was)."""
        ...

    def former_owners(self, request_id: int) -> set[str]:
        """The bodies this request was transferred away from (its ``transferred`` timeline entries)."""
        ...

    def merged_count(self) -> int:
        """How many requests have been merged into another one."""
        ...

    def recipients(self, request_id: int) -> list[Recipient]:
        """Who hears about the request by email: its filer (with an email, in the request's language) and its
        confirmed followers with an email, each address once (the filer first), none that asked to stop."""
        ...

    def stop_updates(self, request_id: int, digest: str, at: datetime) -> int:
        """No more mail about the request to the address whose ``address_digest`` (people/links.py) is ``digest``,
        as its filer or a follower; how many stopped."""
        ...

    def filed_between(self, since: datetime, until: datetime, by: str, layer: str | None) -> list[Filed]:
        """The requests filed at ``since`` ≤ t < ``until`` (requests/metrics.py), each with its group ``by``
        ``service`` (code), ``body`` (code), ``channel``, ``area`` (its key in ``layer``) or ``all`` (None); no
        body or no area: None. In no particular order."""
        ...

    def recent_closures(
        self, service_code: str, since: datetime, layers: Sequence[str] = (), *, limit: int = 5_000
    ) -> list[tuple[float, tuple[str | None, ...]]]:
        """The ``limit`` most recent closures of ``service_code`` since ``since`` as fixed or with no action
        possible (a duplicate, a referral, a cancellation is not the time a fix takes): hours from filing to
        closure, and the request's area key in each of ``layers`` (None: none). In no particular order."""
        ...

    def answer_of(self, request_id: int, digest: str, closed_at: datetime | None = None) -> FixAnswer | None:
        """The answer to "Is it fixed?" of the filer or follower whose ``address_digest`` is ``digest``: about the
        closure at ``closed_at``, or (None) their latest about any closure of the request."""
        ...

    def save_answer(self, answer: FixAnswer) -> int:
        """Store a new answer (no id) or replace the stored one (its id); sets and returns the id. A second answer
        of the same person to the same closure is refused by the store (change the stored one instead)."""
        ...

    def answers(self, request_id: int) -> list[FixAnswer]:
        """The request's answers, oldest first."""
        ...

    def take_changes(self) -> list[tuple[ServiceRequest, list[Event]]]:
        """The requests added or saved in this unit of work with the events they gained (not bulk imports),
        handed over once: the unit of work turns them into outbox rows before it commits."""
        ...

    def add_notice(self, notice: Notice) -> None:
        """A message to a resident, written to the outbox with this unit of work's commit (never before)."""
        ...

    def take_notices(self) -> list[Notice]:
        """The notices of this unit of work, handed over once (the outbox writer takes them)."""
        ...

    def list_validator(self, query: RequestQuery) -> tuple[int, str]:
        """How many requests ``find(query)`` selects, and a string that changes whenever anything a public view of
        them may show has changed: which requests are selected and in what order, any of them being saved again
        (a status, note, transfer, merge or photo is a save: each save is a new revision of the row, and the
        timeline is written with it), and the catalog version (service and body names and service notices come
        from the catalog). It is the catalog version, then each selected request's id and revision in the list's
        order: one query over the same index as ``find``, reading two columns a row, and no rendering."""
        ...

    def open311_json_with_validator(self, query: RequestQuery, base_url: str) -> tuple[bytes, tuple[int, str]]:
        """``find_open311_json`` and ``list_validator`` of the same query, from one query over its rows (a list asked
        for without ``If-None-Match`` needs both, and nothing is saved by reading the validator first)."""
        ...

    def view_with_validator(self, request_id: int) -> tuple[RequestView, str] | None:
        """The request as ``find(RequestQuery(ids=(request_id,), limit=1))`` shows it, and ``list_validator``'s string
        for that query, from one query (GET one request needs both on every call); None when it does not exist."""
        ...
