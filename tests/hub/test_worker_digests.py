"""The worker queues the area digests due (people/area_follows) once a minute, in batches, beside delivering."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from civicswitch.core.clock import FixedClock
from civicswitch.hub import worker as worker_module
from civicswitch.hub.worker import Worker
from civicswitch.people.area_follows.model import AreaFollow, Cadence
from civicswitch.storage.memory import MemoryUnitOfWork

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_worker__digests_due__each_follow_moved_on_in_batches__then_not_looked_for_within_the_minute() -> None:
    clock = FixedClock(NOW)
    uow = MemoryUnitOfWork(clock=clock)
    with uow:
        for n in range(130):  # more than a batch (100)
            follow = AreaFollow(f"r{n}@example.org", "districts", "A", None, Cadence.DAILY, NOW)
            uow.area_follows.add(follow.confirmed(NOW - timedelta(days=1, minutes=n)))
        uow.settings.set("public_url", "https://311.example.gov", NOW)
        uow.commit()
    worker = Worker(lambda: uow, clock, {})
    assert asyncio.run(worker.digests_due()) == 130  # nothing happened there: no mail, each moved a day on
    assert not uow.db.hub.deliveries
    assert all(f.due_at is not None and f.due_at > NOW for f in uow.db.area_follows.follows.values())
    clock.advance(timedelta(days=1))
    assert asyncio.run(worker.digests_due()) == 0  # looked for once a minute (of the process's own time)
    assert worker_module.DIGEST_CHECK_EVERY_S == 60.0
