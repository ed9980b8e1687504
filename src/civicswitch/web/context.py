"""What every route needs: settings, clock and units of work, held on the application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from civicswitch.core.clock import Clock
from civicswitch.core.ports import UnitOfWork
from civicswitch.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    clock: Clock
    make_reader: Callable[[], UnitOfWork]
    make_writer: Callable[[], UnitOfWork]
    changeset: str

    def reader(self) -> UnitOfWork:
        return self.make_reader()

    def writer(self) -> UnitOfWork:
        return self.make_writer()


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
