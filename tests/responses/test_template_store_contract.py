"""The response templates' store on memory, SQLite and PostgreSQL: round trip, edit in place, unique names,
delete, and the two listings (every template; one service's with the all-services ones)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from civicswitch.core.errors import Conflict
from civicswitch.responses.model import ResponseTemplate
from civicswitch.storage.ports import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
BY = "staff:1 admin@city.gov"


def _template(name: str, service: str | None = None, body: str = "Fixed at {address}.", public: bool = True,
              template_id: int | None = None) -> ResponseTemplate:  # fmt: skip
    return ResponseTemplate(name, body, public, service, T0, BY, template_id)


def test_templates__save_then_get__round_trips(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        saved = uow.templates.save(_template("Crew scheduled", "pothole", "Due {due_date}\nthanks", public=False))
        uow.commit()
    assert saved.id is not None
    with store_uow_factory() as uow:
        found = uow.templates.get(saved.id)
        assert uow.templates.get(saved.id + 1000) is None
    assert found == saved
    assert found is not None and (found.name, found.service_code, found.public, found.body, found.updated_at,
                                  found.updated_by) == ("Crew scheduled", "pothole", False, "Due {due_date}\nthanks",
                                                        T0, BY)  # fmt: skip


def test_templates__edit__replaced_in_place(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        first = uow.templates.save(_template("Crew scheduled", "pothole"))
        uow.commit()
    with store_uow_factory() as uow:
        edited = ResponseTemplate("Crew booked", "Booked.", False, None, T0 + timedelta(hours=1), "staff:2 b", first.id)
        uow.templates.save(edited)
        uow.commit()
    with store_uow_factory() as uow:
        found = uow.templates.all()
    assert found == [edited]


def test_templates__name_taken_by_another__conflict(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        uow.templates.save(_template("Fixed"))
        uow.commit()
    with store_uow_factory() as uow, pytest.raises(Conflict):
        uow.templates.save(_template("Fixed", "pothole"))


def test_templates__delete__gone_and_false_the_second_time(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        saved = uow.templates.save(_template("Fixed"))
        kept = uow.templates.save(_template("Kept"))
        uow.commit()
    assert saved.id is not None
    with store_uow_factory() as uow:
        assert uow.templates.delete(saved.id) is True
        uow.commit()
    with store_uow_factory() as uow:
        assert uow.templates.delete(saved.id) is False
        assert uow.templates.all() == [kept]


def test_templates__listings__all_services_first_then_by_service_and_name(store_uow_factory: MakeUow) -> None:
    with store_uow_factory() as uow:
        for name, service in (("Paint booked", "graffiti"), ("Thanks", None), ("Crew scheduled", "pothole"),
                              ("Asphalt ordered", "pothole"), ("Duplicate", None)):  # fmt: skip
            uow.templates.save(_template(name, service))
        uow.commit()
    with store_uow_factory() as uow:
        every = [t.name for t in uow.templates.all()]
        pothole = [t.name for t in uow.templates.for_service("pothole")]
        other = [t.name for t in uow.templates.for_service("noise")]
    assert every == ["Duplicate", "Thanks", "Paint booked", "Asphalt ordered", "Crew scheduled"]
    assert pothole == ["Asphalt ordered", "Crew scheduled", "Duplicate", "Thanks"]
    assert other == ["Duplicate", "Thanks"]
