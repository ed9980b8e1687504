"""Who is told about a request by email (``recipients``) and stopping it (``stop_updates``), against the fake, SQLite
and PostgreSQL: the filer in the request's language, confirmed followers in theirs, each address once, none that
stopped; a stop matches the address in any case, as filer and follower alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from civicswitch.catalog.loader import load_catalog
from civicswitch.people.links import address_digest
from civicswitch.requests.model import Channel, Contact, Follower, FollowVia, Recipient, ServiceRequest
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _follower(email: str, *, confirmed: bool = True, language: str | None = None) -> Follower:
    return Follower(Contact(email=email), FollowVia.FOLLOW, T0, confirmed_at=T0 if confirmed else None,
                    language=language)  # fmt: skip


def _store(new_uow: MakeUow, catalog: dict[str, Any], contact: Contact | None, *followers: Follower) -> int:
    load_catalog(new_uow(), catalog)
    request = ServiceRequest(service_code="graffiti", requested_at=T0, channel=Channel.WEB, address="5 Elm St",
                             language="es")  # fmt: skip
    with new_uow() as uow:
        rid = uow.requests.add(request, contact)
        for f in followers:
            uow.requests.add_follower(rid, f)
        uow.commit()
    return rid


def test_recipients__filer_then_confirmed_followers__each_address_once(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    rid = _store(store_uow_factory, catalog_data, Contact(email="Ana@Example.org", phone="555"),
                 _follower("ben@example.org", language="en"), _follower("cy@example.org", confirmed=False),
                 _follower("ANA@example.org", language="en"), Follower(Contact(phone="555-0100"), FollowVia.FOLLOW, T0,
                                                                       confirmed_at=T0))  # fmt: skip
    with store_uow_factory() as uow:
        assert uow.requests.recipients(rid) == [
            Recipient("Ana@Example.org", "es", True), Recipient("ben@example.org", "en", False)]  # fmt: skip
        assert uow.requests.recipients(rid + 1000) == []


def test_stop_updates__any_case__filer_and_follower_rows_alike__then_not_recipients(
    store_uow_factory: MakeUow, catalog_data: dict[str, Any]
) -> None:
    rid = _store(store_uow_factory, catalog_data, Contact(email="ana@example.org"),
                 _follower("ANA@EXAMPLE.ORG"), _follower("ben@example.org"))  # fmt: skip
    with store_uow_factory() as uow:
        assert uow.requests.stop_updates(rid, address_digest("Ana@Example.org"), T0) == 2
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.requests.recipients(rid) == [Recipient("ben@example.org", None, False)]
        assert uow.requests.stop_updates(rid, address_digest("ana@example.org"), T0) == 0  # nothing left to stop
        assert [f.stopped_at for f in uow.requests.followers(rid)] == [T0, None]
