"""The inbound mail store on memory, SQLite and PostgreSQL: round trip with and without the raw bytes, one row per
Message-ID, settling lets the raw bytes go, the triage queue oldest first, and the per-sender count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from civicswitch.core.errors import Conflict
from civicswitch.hub.mailin.model import COUNTED, MailRecord, MailState
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _mail(message_id: str, at: datetime = T0, sender: str = "Ana@Example.org", raw: bytes = b"raw \x00\xff bytes",
          state: MailState = MailState.RECEIVED) -> MailRecord:  # fmt: skip
    return MailRecord(at, sender, "Pothole", message_id, state, len(raw), "There is a hole", raw=raw)


def test_mail_store__add_then_get__round_trips_raw_bytes_and_lower_cases_the_sender(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        saved = uow.mail.add(_mail("m1@example.org"))
        uow.commit()
    assert saved.id is not None
    with store_uow_factory() as uow:
        found = uow.mail.get(saved.id)
        light = uow.mail.get(saved.id, raw=False)
        by_id = uow.mail.by_message_id("m1@example.org")
        assert uow.mail.get(saved.id + 100) is None and uow.mail.by_message_id("other@x") is None
    assert found is not None and found.raw == b"raw \x00\xff bytes" and found.sender == "ana@example.org"
    assert (found.received_at, found.subject, found.state, found.size, found.text) == (
        T0, "Pothole", MailState.RECEIVED, 12, "There is a hole")  # fmt: skip
    assert light is not None and light.raw is None and by_id == light


def test_mail_store__same_message_id__conflict(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        uow.mail.add(_mail("m1@example.org"))
        uow.commit()
    with store_uow_factory() as uow, pytest.raises(Conflict):
        uow.mail.add(_mail("m1@example.org", sender="other@example.org"))


def test_mail_store__settle__state_reason_request_and_raw_kept_only_while_waiting(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        first = uow.mail.add(_mail("m1@x"))
        second = uow.mail.add(_mail("m2@x"))
        uow.commit()
    assert first.id is not None and second.id is not None
    with store_uow_factory() as uow:
        uow.mail.settle(first.id, MailState.FILED, T0 + timedelta(minutes=1), reason="service pothole", request_id=7)
        uow.mail.settle(second.id, MailState.TRIAGE, T0 + timedelta(minutes=1), reason="no service named")
        uow.commit()
    with store_uow_factory() as uow:
        filed, waiting = uow.mail.get(first.id), uow.mail.get(second.id)
    assert filed is not None and (filed.state, filed.reason, filed.request_id, filed.raw) == (
        MailState.FILED, "service pothole", 7, None)  # fmt: skip
    assert filed.handled_at == T0 + timedelta(minutes=1)
    assert waiting is not None and waiting.state is MailState.TRIAGE and waiting.raw == b"raw \x00\xff bytes"
    with store_uow_factory() as uow:
        uow.mail.settle(second.id, MailState.DISMISSED, T0, reason="spam", by="staff:1 agent@city.gov")
        uow.commit()
    with store_uow_factory() as uow:
        dismissed = uow.mail.get(second.id)
    assert dismissed is not None and (dismissed.raw, dismissed.handled_by) == (None, "staff:1 agent@city.gov")


def test_mail_store__in_state_oldest_first_and_count_from_sender(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        for n, (minutes, state, sender) in enumerate([
            (30, MailState.TRIAGE, "ana@example.org"), (10, MailState.TRIAGE, "bo@example.org"),
            (20, MailState.FILED, "ANA@example.org"), (-2000, MailState.FILED, "ana@example.org"),
            (40, MailState.IGNORED, "ana@example.org"),
        ]):  # fmt: skip
            uow.mail.add(_mail(f"m{n}@x", T0 + timedelta(minutes=minutes), sender, state=state))
        uow.commit()
    with store_uow_factory() as uow:
        waiting = uow.mail.in_state(MailState.TRIAGE)
        assert [m.message_id for m in waiting] == ["m1@x", "m0@x"] and all(m.raw is None for m in waiting)
        assert [m.message_id for m in uow.mail.in_state(MailState.TRIAGE, limit=1)] == ["m1@x"]
        assert uow.mail.count_from("Ana@example.org", T0 - timedelta(hours=1), COUNTED) == 2
        assert uow.mail.count_from("ana@example.org", T0 - timedelta(days=2), COUNTED) == 3
        assert uow.mail.count_from("nobody@example.org", T0, COUNTED) == 0
