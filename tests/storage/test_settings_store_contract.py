"""The instance-settings store keeps the same promises in memory, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from civicswitch.storage.ports import UnitOfWork

AT = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_settings__set_then_read__values_round_trip_as_json(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    with store_uow_factory() as uow:
        uow.settings.set("timezone", "America/New_York", AT)
        uow.settings.set("limits", {"writes_per_minute": 60}, AT)
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.settings.all() == {"timezone": "America/New_York", "limits": {"writes_per_minute": 60}}


def test_settings__set_twice__last_value_wins(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    with store_uow_factory() as uow:
        uow.settings.set("jurisdiction_name", "A", AT)
        uow.settings.set("jurisdiction_name", "B", AT)
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.settings.all()["jurisdiction_name"] == "B"


def test_settings__unset__removed_and_reports_whether_it_existed(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    with store_uow_factory() as uow:
        uow.settings.set("public_url", "https://311.example.gov", AT)
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.settings.unset("public_url") is True
        assert uow.settings.unset("public_url") is False
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.settings.all() == {}


def test_settings__rolled_back__nothing_stored(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    with store_uow_factory() as uow:
        uow.settings.set("timezone", "Europe/London", AT)
    with store_uow_factory() as uow:
        assert uow.settings.all() == {}


def test_settings__scalar_values__round_trip_with_their_types(store_uow_factory: Callable[[], UnitOfWork]) -> None:
    values = {"max_page_size": 200, "ratio": 0.5, "jurisdiction_strict": True, "name": "42", "media_types": ["a"]}
    with store_uow_factory() as uow:
        for key, value in values.items():
            uow.settings.set(key, value, AT)
        uow.commit()
    with store_uow_factory() as uow:
        found = uow.settings.all()
    assert found == values and {k: type(v) for k, v in found.items()} == {k: type(v) for k, v in values.items()}
