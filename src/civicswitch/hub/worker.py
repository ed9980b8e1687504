"""The delivery worker: claims due outbox rows, sends them through their connector, writes the outcome back.

At-least-once: a row is marked in flight with a lease before it is sent and settled after; a worker that dies
mid-send leaves the row in flight until the lease runs out, then any worker sends it again with the same
idempotency key (receivers dedupe on it). Order per request and connector is kept by the claim (only the oldest
open row of a pair is ever claimed). Pollers (Open311, batch files) run on their connector's schedule in the same
loop and feed :func:`civicswitch.hub.inbound.apply_update`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from civicswitch.core.clock import Clock
from civicswitch.core.errors import DomainError
from civicswitch.hub.connectors import Poller, Sender
from civicswitch.hub.inbound import apply_update
from civicswitch.hub.model import (
    Connector,
    ConnectorKind,
    DeliveryState,
    InboundUpdate,
    Outcome,
    OutcomeKind,
    Problem,
    ProblemKind,
)
from civicswitch.hub.views import Claimed, Settlement
from civicswitch.requests.handlers import DEFAULT_CLOCK_SKEW

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)
HEALTH_EVERY_S = 60.0
POLL_CHECK_EVERY_S = 1.0
DIGEST_CHECK_EVERY_S = 60.0  # how often the worker looks for area digests due (people/area_follows)


def storable_text(text: str | None, limit: int = 2000) -> str | None:
    """Text any database takes: no NUL, no lone surrogates, bounded."""
    if text is None:
        return None
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")[:limit]


class Worker:
    def __init__(
        self,
        make_uow: Callable[[], UnitOfWork],
        clock: Clock,
        senders: Mapping[ConnectorKind, Sender],
        *,
        pollers: Mapping[ConnectorKind, Poller] | None = None,
        name: str | None = None,
        batch: int = 50,
        lease: timedelta = timedelta(seconds=60),
        idle_sleep: float = 0.2,
        clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    ) -> None:
        self._make_uow = make_uow
        self._clock = clock
        self._senders = dict(senders)
        self._pollers = dict(pollers or {})
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"
        self._batch = batch
        self._lease = lease
        self._idle_sleep = idle_sleep
        self._clock_skew = clock_skew
        self._last_poll: dict[str, float] = {}
        self._last_health = time.monotonic()
        self._next_poll_check = 0.0
        self._next_digest_check = 0.0
        self.delivered = 0
        # What this worker did, for `civicswitch worker --once`: attempted, delivered, retrying, dead, polls,
        # polls_failed, updates_applied, rows_quarantined.
        self.counts: Counter[str] = Counter()

    async def run_once(self) -> int:
        """One claim → send → settle round; returns how many messages were attempted."""
        now = self._clock.precise()  # rows are stamped to the microsecond: a whole-second "now" would wait for them
        with self._make_uow() as uow:
            claimed = uow.hub.claim(self.name, now, self._batch, self._lease)
            connectors = {c.code: c for c in uow.hub.connectors()} if claimed else {}
            uow.commit()
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._send(connectors[c.connector_code], c) for c in claimed))
        settlements, gone = [], {}
        for item, outcome in zip(claimed, outcomes, strict=True):
            connector = connectors[item.connector_code]
            settlements.append(self._settlement(connector, item, outcome))
            if outcome.kind == OutcomeKind.GONE:
                gone[connector.code] = outcome.detail
        with self._make_uow() as uow:
            uow.hub.settle(settlements)
            self._after_delivery(uow, claimed, outcomes, connectors)
            for code, detail in gone.items():
                uow.hub.set_enabled(code, False, f"disabled after {detail[:200]}")
                _suspend_key(uow, connectors[code])
            uow.commit()
        for code, detail in gone.items():
            log.warning("connector %s disabled: the endpoint answered %s", code, detail[:200])
        self.delivered += sum(1 for s in settlements if s.state == DeliveryState.DELIVERED)
        self.counts["attempted"] += len(claimed)
        self.counts.update(str(s.state) for s in settlements)
        return len(claimed)

    def _after_delivery(
        self, uow: UnitOfWork, claimed: list[Claimed], outcomes: list[Outcome], connectors: dict[str, Connector]
    ) -> None:
        """A message delivered without the system's id: its poller may want to remember something in its cursor
        (see :class:`civicswitch.hub.connectors.Poller`)."""
        for item, outcome in zip(claimed, outcomes, strict=True):
            if outcome.kind != OutcomeKind.DELIVERED or outcome.external_id:
                continue
            code = item.connector_code
            hook = getattr(self._pollers.get(connectors[code].kind), "after_delivery", None)
            if hook is None:
                continue
            now = self._clock.now()
            cursor = hook(uow.hub.cursor(code), item.message.request_id, outcome, now)
            if cursor is not None:
                uow.hub.set_cursor(code, cursor, now)

    async def _send(self, connector: Connector, item: Claimed) -> Outcome:
        if item.attempts > len(connector.retry_schedule) + 1:  # earlier attempts died with their workers
            return Outcome(
                OutcomeKind.FAILED,
                f"attempt {item.attempts}: the retry schedule is spent (workers died while sending it)",
            )
        sender = self._senders.get(connector.kind)
        if sender is None:
            return Outcome(OutcomeKind.RETRY, f"no sender for {connector.kind} connectors in this worker")
        try:
            return await sender.send(connector, item.message)
        except Exception as exc:  # a sender bug must not lose the message: retry it, and say so
            log.exception("sender %s failed on delivery %s", connector.kind, item.message.delivery_id)
            return Outcome(OutcomeKind.RETRY, f"sender error: {type(exc).__name__}: {exc}"[:500])

    def _settlement(self, connector: Connector, item: Claimed, outcome: Outcome) -> Settlement:
        at = self._clock.precise()  # delivered_at, last_attempt_at: latency is measured to the microsecond
        attempts = item.attempts  # counted at the claim
        delivery = item.message.delivery_id
        external = outcome.external_id if outcome.external_id and outcome.external_id.isprintable() else None

        def settle(state: DeliveryState, nxt: datetime | None = None, error: str | None = outcome.detail) -> Settlement:
            return Settlement(
                delivery, state, attempts, nxt, at, storable_text(error), outcome.status_code, external, self.name
            )

        if outcome.kind == OutcomeKind.DELIVERED:
            return settle(DeliveryState.DELIVERED, error=None)
        if outcome.kind == OutcomeKind.FAILED:
            log.warning("delivery %s to %s dead: %s", delivery, connector.code, outcome.detail)
            return settle(DeliveryState.DEAD)
        if outcome.kind == OutcomeKind.GONE:  # the connector is paused; this message waits for it
            return settle(DeliveryState.RETRYING, connector.next_attempt(1, at))
        nxt = connector.next_attempt(attempts, at, outcome.retry_after)
        if nxt is None:
            log.warning(
                "delivery %s to %s dead after %d attempts: %s", delivery, connector.code, attempts, outcome.detail
            )
            return settle(DeliveryState.DEAD)
        return settle(DeliveryState.RETRYING, nxt)

    async def digests_due(self) -> int:
        """Queue the area digests due (people/area_follows), looked for once a minute; any worker may: a digest's
        follow is moved on in the transaction that queues it. Returns how many follows were handled."""
        if time.monotonic() < self._next_digest_check:
            return 0
        self._next_digest_check = time.monotonic() + DIGEST_CHECK_EVERY_S
        from civicswitch.hub.area_follows import send_digests

        handled = 0
        while True:  # a batch at a time, each its own transaction
            done = await asyncio.to_thread(send_digests, self._make_uow(), self._clock)
            handled += done
            if done < 100:
                return handled

    async def poll_due(self) -> int:
        """Run the pollers whose connectors are due; returns how many updates were applied or recorded."""
        # Polls are due seconds apart; between deliveries, look for due connectors at most once a second
        # instead of opening a transaction every round of the delivery loop.
        if not self._pollers or time.monotonic() < self._next_poll_check:
            return 0
        self._next_poll_check = time.monotonic() + POLL_CHECK_EVERY_S
        with self._make_uow() as uow:
            due = [c for c in uow.hub.connectors() if c.enabled and c.kind in self._pollers]
        applied = 0
        for connector in due:
            every = float(connector.config.get("poll_every_s", 60))
            if time.monotonic() - self._last_poll.get(connector.code, -1e9) < every:
                continue
            self._last_poll[connector.code] = time.monotonic()
            try:
                with self._make_uow() as uow:
                    cursor = uow.hub.cursor(connector.code)
                poller = self._pollers[connector.kind]
                updates, new_cursor = await poller.poll(connector, cursor)
                problems = self._take_rejects(poller, connector)
                refused: list[tuple[InboundUpdate, str]] = []
                with self._make_uow() as uow:
                    for update in updates:
                        try:
                            apply_update(uow, connector, update, now=self._clock.now(), clock_skew=self._clock_skew)
                            applied += 1
                        except DomainError as exc:
                            refused.append((update, exc.description))
                    uow.hub.set_cursor(connector.code, new_cursor, self._clock.now())
                    uow.commit()
                if refused:
                    problems += await self._quarantine(poller, connector, refused)
                self.counts["polls"] += 1
                self.counts["updates_applied"] += len(updates) - len(refused)
                self.counts["rows_quarantined"] += len(problems)
                with self._make_uow() as uow:
                    uow.hub.clear_problems(connector.code, ProblemKind.POLL_FAILED)
                    uow.hub.record_problems(connector.code, problems)
                    uow.commit()
            except Exception as exc:
                outcome = getattr(exc, "outcome", None)
                if isinstance(outcome, Outcome):  # the poller says how it failed (e.g. Open311's PollFailed)
                    log.warning("polling %s failed: %s", connector.code, outcome.detail)
                    detail = outcome.detail
                    if outcome.kind == OutcomeKind.GONE:
                        with self._make_uow() as uow:
                            uow.hub.set_enabled(connector.code, False, f"polling answered {outcome.detail[:200]}")
                            _suspend_key(uow, connector)
                            uow.commit()
                    elif outcome.retry_after:
                        self._last_poll[connector.code] = time.monotonic() + outcome.retry_after - every
                else:
                    log.exception("polling %s failed", connector.code)
                    detail = f"{type(exc).__name__}: {exc}"
                self.counts["polls_failed"] += 1
                self._record_poll_failure(connector, detail)
        return applied

    def _record_poll_failure(self, connector: Connector, detail: str) -> None:
        """A failed poll shows in the connector's health at once (until a poll succeeds)."""
        try:
            with self._make_uow() as uow:
                problem = Problem(ProblemKind.POLL_FAILED, self._clock.precise(), storable_text(detail) or "")
                uow.hub.record_problems(connector.code, [problem])
                uow.commit()
        except Exception:
            log.exception("could not record the failed poll of %s", connector.code)

    @staticmethod
    def _take_rejects(poller: Poller, connector: Connector) -> list[Problem]:
        """The rows the poller quarantined while reading (bad rows), as problems for the connector's health."""
        take = getattr(poller, "take_rejects", None)
        return list(take(connector)) if take is not None else []

    async def _quarantine(
        self, poller: Poller, connector: Connector, refused: list[tuple[InboundUpdate, str]]
    ) -> list[Problem]:
        """Updates the hub refused (no such request, a status the map does not know): into the poller's
        quarantine where it has one (batch files: with file, line and reason), and into the connector's health."""
        at = self._clock.precise()
        for update, reason in refused:
            where = f" ({update.origin.file} line {update.origin.line})" if update.origin else ""
            log.warning("update %s from %s refused%s: %s", update.update_id, connector.code, where, reason)
        keep = getattr(poller, "quarantine", None)
        if keep is not None:
            try:
                await keep(connector, refused)
            except Exception:
                log.exception("could not quarantine the refused updates of %s", connector.code)
        return [
            Problem(
                ProblemKind.QUARANTINED,
                at,
                storable_text(f"update {u.update_id} refused: {reason}") or "",
                u.origin.file if u.origin else None,
                u.origin.line if u.origin else None,
            )
            for u, reason in refused
        ]

    def summary(self) -> str:
        """One line of what this worker did (``worker --once``)."""
        c = self.counts
        return (
            f"{c['attempted']} message(s) attempted: {c['delivered']} delivered, {c['retrying']} to retry, "
            f"{c['dead']} dead; {c['polls']} poll(s) ({c['polls_failed']} failed): {c['updates_applied']} "
            f"update(s) applied, {c['rows_quarantined']} row(s) quarantined"
        )

    def _watch_health(self) -> None:
        """Every ``HEALTH_EVERY_S``: compute connector health, which logs a warning for each alert (a stuck or
        disabled connector, dead letters), so an operator sees it without asking."""
        if time.monotonic() - self._last_health < HEALTH_EVERY_S:
            return
        self._last_health = time.monotonic()
        self._next_poll_check = 0.0
        from civicswitch.hub.handlers import health

        try:
            health(self._make_uow(), self._clock)
        except Exception:
            log.exception("connector health check failed")

    async def run(self, stop: threading.Event | asyncio.Event) -> None:
        """Work until ``stop`` is set: deliver while there is work, poll when due, sleep a little when idle."""
        log.info("worker %s started", self.name)
        try:
            while not stop.is_set():
                try:
                    done = await self.run_once()
                    await self.poll_due()
                    await self.digests_due()
                except Exception:  # the database went away, a bug: say so, wait, go on (claims are leased)
                    log.exception("worker %s: round failed; trying again in 1 s", self.name)
                    await asyncio.sleep(1.0)
                    continue
                self._watch_health()
                if done == 0:
                    await asyncio.sleep(self._idle_sleep)
        finally:
            for sender in self._senders.values():
                await sender.aclose()
            for poller in self._pollers.values():
                close = getattr(poller, "aclose", None)
                if close is not None:
                    await close()
            log.info("worker %s stopped (%d delivered)", self.name, self.delivered)


def _suspend_key(uow: UnitOfWork, connector: Connector) -> None:
    """A connector disabled by its system's 410 loses its key too, as when an operator disables it."""
    if connector.client_id is not None:
        uow.clients.suspend(connector.client_id, "connector disabled")
