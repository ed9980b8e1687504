"""Appends each message as a row of the connector's pending batch; closes batches into the drop folder on the
schedule (and uploads them over SFTP where that is configured)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field

from civicswitch.core.clock import Clock, SystemClock
from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors.batch import sftp
from civicswitch.hub.connectors.batch.config import BatchSettings
from civicswitch.hub.connectors.batch.formats import outbound_row
from civicswitch.hub.connectors.batch.spool import Spool
from civicswitch.hub.model import Connector, OutboundMessage, Outcome, OutcomeKind

log = logging.getLogger(__name__)

_Waiting = tuple[bytes, "asyncio.Future[Outcome]"]


@dataclass(eq=False)
class _Queue:
    """Rows waiting for the one append in progress: the next append takes all of them (one write, one fsync)."""

    loop: asyncio.AbstractEventLoop
    connector: Connector
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: list[_Waiting] = field(default_factory=list)
    timer: asyncio.Task[None] | None = None


def _problem(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"batch: cannot write the pending batch: {exc.strerror or exc}{where}"[:500]
    return f"batch: cannot write the pending batch: {type(exc).__name__}: {exc}"[:500]


class BatchSender:
    """The batch connector's :class:`~civicswitch.hub.connectors.Sender`.

    ``send`` returns *delivered* once the row is durably (fsynced) in the connector's pending batch, that is in
    the department's drop folder as the next file to close: the department sees it when the batch closes, at
    most ``flush_every_s`` later. A disk or permission problem returns *retry*; an envelope without data
    returns *failed*.

    With ``schedule`` (the default) a timer task per connector closes due batches while the event loop runs, even
    when no more messages come; :meth:`flush` does the same on demand (and ``force=True`` closes now). Batches
    are kept on disk between processes: a pending batch outlives a restart and is closed by the next one.
    """

    def __init__(self, *, clock: Clock | None = None, schedule: bool = True) -> None:
        self._clock = clock or SystemClock()
        self._schedule = schedule
        self._queues: dict[str, _Queue] = {}
        self._appending: set[asyncio.Task[str]] = set()

    def _queue(self, spool: Spool, connector: Connector) -> _Queue:
        loop = asyncio.get_running_loop()
        key = str(spool.dir)
        queue = self._queues.get(key)
        if queue is None or queue.loop is not loop:
            queue = self._queues[key] = _Queue(loop, connector)
            if self._schedule:
                queue.timer = loop.create_task(self._timer(key), name=f"batch-schedule-{connector.code}")
        queue.connector = connector
        return queue

    async def send(self, connector: Connector, message: OutboundMessage) -> Outcome:
        try:
            settings = BatchSettings.of(connector.config)
        except Invalid as exc:
            return Outcome(OutcomeKind.RETRY, f"batch settings: {exc.description}")
        try:
            row = outbound_row(message, escape_formulas=settings.escape_formulas)
        except ValueError as exc:
            return Outcome(OutcomeKind.FAILED, f"batch: {exc}")
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        spool = Spool(settings, connector.code)
        queue = self._queue(spool, connector)
        mine: asyncio.Future[Outcome] = queue.loop.create_future()
        queue.waiting.append((line, mine))
        async with queue.lock:
            if not mine.done():
                batch, queue.waiting = queue.waiting, []
                work = queue.loop.create_task(
                    asyncio.to_thread(spool.append, [row for row, _ in batch], self._clock.now())
                )
                self._appending.add(work)  # kept until done, even if this coroutine is cancelled
                work.add_done_callback(self._appending.discard)
                work.add_done_callback(lambda done: self._settle(batch, done))
                with contextlib.suppress(Exception):  # the outcome goes to every waiter through its future
                    await asyncio.shield(work)
        return await mine

    @staticmethod
    def _settle(batch: list[_Waiting], work: asyncio.Task[str]) -> None:
        if work.cancelled():
            outcome = Outcome(OutcomeKind.RETRY, "batch: the append was cancelled")
        elif (exc := work.exception()) is not None:
            if not isinstance(exc, OSError):
                log.error("batch: appending to the pending batch failed", exc_info=exc)
            outcome = Outcome(OutcomeKind.RETRY, _problem(exc))
        else:
            outcome = Outcome.delivered(f"in the pending batch ({work.result()}) of the drop folder")
        for _, waiter in batch:
            if not waiter.done():
                waiter.set_result(outcome)

    async def flush(self, connector: Connector, *, force: bool = False) -> list[str]:
        """Close the connector's pending batch into the drop folder if it is due (``force``: now); with SFTP,
        upload the closed files. Returns the names of the files closed. Raises ``OSError`` (or an SFTP error)."""
        settings = BatchSettings.of(connector.config)
        spool = Spool(settings, connector.code)
        queue = self._queue(spool, connector)
        async with queue.lock:
            closed = await asyncio.to_thread(spool.close_due, self._clock.now(), force=force)
        if settings.sftp is not None and settings.sftp.remote_outbox is not None:
            await sftp.upload_outbox(settings.sftp, settings.outbox_dir, spool.prefix, spool.dir / ".upload.lock")
        return closed

    async def _timer(self, key: str) -> None:
        while True:
            queue = self._queues.get(key)
            if queue is None:
                return
            try:
                settings = BatchSettings.of(queue.connector.config)
                spool = Spool(settings, queue.connector.code)
                wait = await asyncio.to_thread(spool.seconds_until_due, self._clock.now())
                every = settings.flush_every_s
                await asyncio.sleep(min(every, max(1.0, wait if wait is not None else every)))
                await self.flush(queue.connector)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("batch: closing the batch of %s on schedule failed", queue.connector.code)
                await asyncio.sleep(30)

    async def aclose(self) -> None:
        """Stop the schedule timers. Pending batches stay on disk and close on the next process's schedule."""
        queues, self._queues = list(self._queues.values()), {}
        for queue in queues:
            if queue.timer is not None and queue.loop is asyncio.get_running_loop():
                queue.timer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await queue.timer
