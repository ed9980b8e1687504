"""The response templates' store port. ``sql.py`` keeps them in SQLite or PostgreSQL, ``memory.py`` in a fake;
``tests/responses/test_template_store_contract.py`` holds both to the same promises."""

from __future__ import annotations

from typing import Protocol

from civicswitch.responses.model import ResponseTemplate


class TemplateStore(Protocol):
    def get(self, template_id: int) -> ResponseTemplate | None: ...
    def save(self, template: ResponseTemplate) -> ResponseTemplate:
        """Insert (no id) or replace (with id) a template; a name already used by another template is a
        Conflict."""
        ...

    def delete(self, template_id: int) -> bool:
        """Remove it; False when there was none."""
        ...

    def all(self) -> list[ResponseTemplate]:
        """Every template: the all-services ones first, then by service code; by name within each."""
        ...

    def for_service(self, service_code: str) -> list[ResponseTemplate]:
        """The templates of ``service_code`` and the all-services ones, by name."""
        ...
