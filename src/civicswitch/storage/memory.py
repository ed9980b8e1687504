"""In-memory fakes of every storage port, for fast unit tests. Same behaviour as the SQL stores."""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from civicswitch.agent.memory import AgentData, MemoryCallerSearch, MemoryCallStore, MemoryKnowledgeStore
from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.calendars import Calendar
from civicswitch.catalog.memory import MemoryCatalogStore
from civicswitch.catalog.model import Body, Service
from civicswitch.catalog.rules import RoutingRule
from civicswitch.core.clock import Clock
from civicswitch.hub.mailin.memory import MailData, MemoryMailStore
from civicswitch.hub.memory import HubData, MemoryHubStore
from civicswitch.hub.outbox import write_outbox
from civicswitch.hub.ports import HubStore
from civicswitch.people.area_follows.memory import AreaFollowData, MemoryAreaFollowStore
from civicswitch.people.audit import AuditEntry
from civicswitch.people.clients import ApiClient
from civicswitch.people.memory import MemoryAuditStore, MemoryClientStore, MemoryUserStore
from civicswitch.people.users import StaffUser
from civicswitch.requests.bulk import BulkResult, BulkResultStore
from civicswitch.requests.bulk_memory import MemoryBulkResultStore
from civicswitch.requests.escalation import EscalationStore
from civicswitch.requests.escalation_memory import MemoryEscalationStore
from civicswitch.requests.memory import MemoryRequestStore
from civicswitch.requests.model import Contact, Event, FixAnswer, Follower, ServiceRequest
from civicswitch.requests.ports import Media
from civicswitch.requests.queue_memory import MemoryQueueStore
from civicswitch.responses.memory import MemoryTemplateStore, TemplateData
from civicswitch.storage.ports import (
    AreaFollowStore,
    AuditStore,
    CallerSearch,
    CallStore,
    CatalogStore,
    ClientStore,
    KnowledgeStore,
    MailStore,
    QueueStore,
    RequestStore,
    TemplateStore,
    UserStore,
)
from civicswitch.storage.settings import MemorySettingsStore, SettingsStore


@dataclass
class MemoryDatabase:
    bodies: dict[str, Body] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    requests: dict[int, ServiceRequest] = field(default_factory=dict)
    contacts: dict[int, Contact] = field(default_factory=dict)
    stopped_filers: set[int] = field(default_factory=set)  # requests whose filer asked for no more mail
    followers: dict[int, list[Follower]] = field(default_factory=lambda: defaultdict(list))
    answers: dict[int, FixAnswer] = field(default_factory=dict)  # "Is it fixed?" answers by id
    hub: HubData = field(default_factory=HubData)
    agent: AgentData = field(default_factory=AgentData)
    responses: TemplateData = field(default_factory=TemplateData)
    settings: dict[str, Any] = field(default_factory=dict)
    events: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    media: dict[str, Media] = field(default_factory=dict)
    clients: dict[int, ApiClient] = field(default_factory=dict)
    users: dict[int, StaffUser] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    layers: dict[str, AreaLayer] = field(default_factory=dict)
    areas: list[Area] = field(default_factory=list)
    rules: list[RoutingRule] = field(default_factory=list)
    calendars: dict[str, Calendar] = field(default_factory=dict)
    bulk_results: dict[str, BulkResult] = field(default_factory=dict)
    mail: MailData = field(default_factory=MailData)
    area_follows: AreaFollowData = field(default_factory=AreaFollowData)
    catalog_version: int = 0
    revisions: dict[int, int] = field(default_factory=dict)  # request id → its row's revision
    next_id: dict[str, int] = field(default_factory=lambda: defaultdict(lambda: 1))

    def take_id(self, kind: str) -> int:
        value = self.next_id[kind]
        self.next_id[kind] = value + 1
        return value


class MemoryUnitOfWork:
    """Works on a snapshot of the database; :meth:`commit` publishes it, leaving without commit drops it."""

    writes_elsewhere = False

    catalog: CatalogStore
    requests: RequestStore
    queue: QueueStore
    escalations: EscalationStore
    clients: ClientStore
    users: UserStore
    audit: AuditStore
    hub: HubStore
    settings: SettingsStore
    knowledge: KnowledgeStore
    calls: CallStore
    callers: CallerSearch
    templates: TemplateStore
    bulk_results: BulkResultStore
    mail: MailStore
    area_follows: AreaFollowStore

    def __init__(self, db: MemoryDatabase | None = None, *, clock: Clock | None = None) -> None:
        self.db = db if db is not None else MemoryDatabase()
        self.clock = clock
        self.committed = 0

    def _open(self) -> None:
        self._work = copy.deepcopy(self.db)
        self.catalog = MemoryCatalogStore(self._work)
        self.requests = MemoryRequestStore(self._work)
        self.queue = MemoryQueueStore(self._work)
        self.escalations = MemoryEscalationStore(self._work)
        self.clients = MemoryClientStore(self._work)
        self.users = MemoryUserStore(self._work)
        self.audit = MemoryAuditStore(self._work)
        self.hub = MemoryHubStore(self._work.hub, self._work.bodies)
        self.settings = MemorySettingsStore(self._work.settings)
        self.knowledge = MemoryKnowledgeStore(self._work.agent)
        self.calls = MemoryCallStore(self._work.agent)
        self.callers = MemoryCallerSearch(self._work)
        self.templates = MemoryTemplateStore(self._work.responses)
        self.bulk_results = MemoryBulkResultStore(self._work.bulk_results)
        self.mail = MemoryMailStore(self._work.mail)
        self.area_follows = MemoryAreaFollowStore(self._work.area_follows)

    def __enter__(self) -> Self:
        self._open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        del self._work

    def reading_first(self) -> Self:
        return self  # a snapshot from the start: nothing to let go

    def begin_writes(self) -> None:
        pass

    def commit(self) -> None:
        write_outbox(self)
        self.db.__dict__.update(copy.deepcopy(self._work).__dict__)
        self.committed += 1

    def rollback(self) -> None:
        self._open()
