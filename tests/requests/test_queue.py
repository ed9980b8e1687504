"""The queue's use-case helpers: a row's SLA state, and the filter built from a form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from civicswitch.core.errors import Invalid
from civicswitch.requests.model import Status
from civicswitch.requests.queue import QueueRow, QueueSla, SlaFilter, queue_filter, row_sla

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _row(status: Status, due: datetime | None, closed: datetime | None = None) -> QueueRow:
    return QueueRow(id=1, service_code="pothole", service_name="Pothole", status=status, body_code="DOT", address=None,
                    description="", requested_at=NOW - 48 * H, updated_at=closed or NOW - H, expected_at=due,
                    assigned_org=None, closed_at=closed)  # fmt: skip


@pytest.mark.parametrize(
    ("row", "state"),
    [
        (_row(Status.NEW, NOW + 30 * H), QueueSla.ON_TIME),
        (_row(Status.ACKNOWLEDGED, NOW + 2 * H), QueueSla.DUE_SOON),
        (_row(Status.NEW, NOW), QueueSla.DUE_SOON),  # due this minute: not yet overdue
        (_row(Status.IN_PROGRESS, NOW - H), QueueSla.OVERDUE),
        (_row(Status.ON_HOLD, NOW - H), QueueSla.ON_HOLD),  # the clock stands still on hold
        (_row(Status.NEW, None), QueueSla.NO_TARGET),
        (_row(Status.CLOSED, NOW - H, closed=NOW - 2 * H), QueueSla.MET),
        (_row(Status.CLOSED, NOW - 3 * H, closed=NOW - 2 * H), QueueSla.MISSED),
    ],
    ids=["on-time", "due-soon", "due-now", "overdue", "on-hold", "no-target", "met", "missed"],
)
def test_row_sla__due_date_status_and_threshold__the_state_the_queue_shows(row: QueueRow, state: QueueSla) -> None:
    assert row_sla(row, NOW, due_soon=24 * H) is state


def test_queue_filter__assignee_me_none_or_a_number__resolved_or_refused() -> None:
    assert queue_filter(assignee="me", me=7).assignee == 7
    assert queue_filter(assignee="none").unassigned and queue_filter(assignee="none").assignee is None
    assert queue_filter(assignee="12").assignee == 12
    with pytest.raises(Invalid, match="signed-in staff account"):
        queue_filter(assignee="me", me=None)
    with pytest.raises(Invalid, match="unknown assignee"):
        queue_filter(assignee="someone")


def test_queue_filter__sla__judged_at_the_given_time_unknown_state_refused() -> None:
    query = queue_filter(sla="overdue", now=NOW, due_soon=2 * H)
    assert (query.sla, query.now, query.due_soon) == (SlaFilter.OVERDUE, NOW, 2 * H)
    assert queue_filter(sla="", now=NOW).now is None  # no SLA filter: the time plays no part
    with pytest.raises(Invalid, match="unknown SLA state"):
        queue_filter(sla="late", now=NOW)
