"""The unit of work: one transaction over every domain's store. Each store's port lives in its domain
(``catalog/ports.py``, ``requests/ports.py``, ``people/ports.py``, ``hub/ports.py``); each has an SQL
implementation (``storage/sql.py`` assembles them) and an in-memory fake (``storage/memory.py``)."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from civicswitch.agent.ports import CallerSearch, CallStore, KnowledgeStore
from civicswitch.catalog.ports import CatalogStore
from civicswitch.core.clock import Clock
from civicswitch.hub.mailin.ports import MailStore
from civicswitch.hub.ports import HubStore
from civicswitch.people.area_follows.ports import AreaFollowStore
from civicswitch.people.ports import AuditStore, ClientStore, UserStore
from civicswitch.requests.bulk import BulkResultStore
from civicswitch.requests.escalation import EscalationStore
from civicswitch.requests.ports import RequestStore
from civicswitch.requests.queue import QueueStore
from civicswitch.responses.ports import TemplateStore
from civicswitch.storage.settings import SettingsStore

__all__ = [
    "AreaFollowStore",
    "AuditStore",
    "BulkResultStore",
    "CallStore",
    "CallerSearch",
    "CatalogStore",
    "ClientStore",
    "EscalationStore",
    "HubStore",
    "KnowledgeStore",
    "MailStore",
    "QueueStore",
    "RequestStore",
    "SettingsStore",
    "TemplateStore",
    "UnitOfWork",
    "UserStore",
]


class UnitOfWork(Protocol):
    catalog: CatalogStore
    requests: RequestStore
    queue: QueueStore  # the staff queue's read model
    escalations: EscalationStore  # the escalation queue's read model
    clients: ClientStore
    users: UserStore
    audit: AuditStore
    hub: HubStore
    settings: SettingsStore
    knowledge: KnowledgeStore  # the agent console's knowledge articles
    calls: CallStore  # information-only calls
    callers: CallerSearch  # the agent console's search over requests and their filers (a read model)
    templates: TemplateStore  # response templates for notes on requests
    bulk_results: BulkResultStore  # staff bulk actions' results, kept a short while for their page
    mail: MailStore  # email in: every message received, and where it went (hub/mailin)
    area_follows: AreaFollowStore  # residents following an area by email (people/area_follows)
    # The clock the outbox stamps its rows with (sub-second, for delivery latency); None: the event's own time.
    clock: Clock | None
    # Whether the database does a write's work in a process of its own (PostgreSQL), leaving this one's CPU to other
    # work meanwhile: the import then writes one batch while it makes the next (requests/imports/run.py).
    writes_elsewhere: bool

    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    # A unit that reads and validates before it writes, and whose writes do not depend on its reads staying
    # unchanged until commit, says so before it is entered (reading_first) and where its writes begin
    # (begin_writes): a store may then let other writers go while it reads (SQLite: storage/sql.py).
    def reading_first(self) -> Self: ...
    def begin_writes(self) -> None: ...
