"""An in-memory sender for tests: records what it is sent and answers with scripted outcomes."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from civicswitch.hub.model import Connector, OutboundMessage, Outcome


class FakeSender:
    def __init__(self, outcomes: Iterable[Outcome] = (), *, delay: float = 0.0) -> None:
        self.sent: list[tuple[str, OutboundMessage]] = []
        self._outcomes = deque(outcomes)
        self._delay = delay
        self.closed = False

    def script(self, *outcomes: Outcome) -> None:
        self._outcomes.extend(outcomes)

    async def send(self, connector: Connector, message: OutboundMessage) -> Outcome:
        if self._delay:
            await asyncio.sleep(self._delay)
        self.sent.append((connector.code, message))
        return self._outcomes.popleft() if self._outcomes else Outcome.delivered("fake")

    async def aclose(self) -> None:
        self.closed = True
