"""What every route needs: settings, clock and units of work, held on the application."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from fastapi import Request
from starlette.types import Scope

from civicswitch.core.clock import Clock
from civicswitch.routing.geography import AreaIndex, IndexCache
from civicswitch.routing.intake import Geography, geography_for
from civicswitch.settings import Settings
from civicswitch.storage.ports import UnitOfWork
from civicswitch.web.open311.cache import CatalogDocuments

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    clock: Clock
    make_reader: Callable[[], UnitOfWork]
    make_writer: Callable[[], UnitOfWork]
    changeset: str
    areas: IndexCache = field(default_factory=IndexCache)
    session_secret: str | None = None  # web/principals.py: read from the settings or the database once
    catalog_documents: CatalogDocuments = field(default_factory=CatalogDocuments)  # web/open311/cache.py

    def base_url(self, request: Request) -> str:
        """The origin every absolute link starts with: ``public_url`` when set; else the request's Host when
        ``allowed_hosts`` restricts it (a Host outside it never gets this far); else this server's own address.
        Never a Host header nobody checked: a forged Host would otherwise plant its links in our replies."""
        return self.base_url_of(request.scope)

    def base_url_of(self, scope: Scope) -> str:
        """:meth:`base_url` from the ASGI scope (for routes that make no :class:`Request`)."""
        settings = self.settings
        if settings.public_url:
            return settings.public_url.rstrip("/")
        if _hosts_checked(settings.allowed_hosts):
            return str(Request(scope).base_url).rstrip("/")
        # From the scope itself: building request.url (path, query and all) cost more than the rest of a GET.
        scheme = str(scope.get("scheme", "http")).lower()
        server = scope.get("server")
        if not server or server[1] is None:
            host = "localhost"
        else:
            name, port = str(server[0]), int(server[1])
            name = f"[{name}]" if ":" in name else name
            host = name if (scheme, port) in (("http", 80), ("https", 443)) else f"{name}:{port}"
        return f"{scheme}://{host}{scope.get('root_path', '')}".rstrip("/")

    def reader(self) -> UnitOfWork:
        return self.make_reader()

    def writer(self) -> UnitOfWork:
        return self.make_writer()

    def geography(self) -> Geography | None:
        """Routing by location, when a coverage layer is configured."""
        layer = self.settings.coverage_layer
        if not layer:
            return None
        found = geography_for(self.area_index(), layer)
        if found is None:
            # A coverage layer that is not loaded would refuse every request: route nothing, and say so.
            log.warning("coverage layer %r is not loaded: requests are not routed by location", layer)
        return found

    def area_index(self) -> AreaIndex:
        """The areas in force now; rebuilt only after a layer is loaded."""
        return self.areas.get(self.reader())


@lru_cache(maxsize=32)
def _hosts_checked(allowed_hosts: str) -> bool:
    """Whether ``allowed_hosts`` restricts the Host header (so that links may follow the checked Host)."""
    hosts = Settings.model_construct(allowed_hosts=allowed_hosts).host_list()
    return bool(hosts) and "*" not in hosts


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
