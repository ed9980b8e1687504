"""The in-memory fake of the response templates' store (the same promises as ``sql.py``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from civicswitch.core.errors import Conflict
from civicswitch.responses.model import ResponseTemplate


@dataclass
class TemplateData:
    templates: dict[int, ResponseTemplate] = field(default_factory=dict)
    next_id: int = 1


def _order(t: ResponseTemplate) -> tuple[bool, str, str, int]:
    return (t.service_code is not None, t.service_code or "", t.name, t.id or 0)


class MemoryTemplateStore:
    def __init__(self, data: TemplateData) -> None:
        self._d = data

    def get(self, template_id: int) -> ResponseTemplate | None:
        return self._d.templates.get(template_id)

    def save(self, template: ResponseTemplate) -> ResponseTemplate:
        if any(t.name == template.name and t.id != template.id for t in self._d.templates.values()):
            raise Conflict(f"response template {template.name!r} clashes with one already stored (name)")
        template_id = template.id
        if template_id is None:
            template_id, self._d.next_id = self._d.next_id, self._d.next_id + 1
        saved = dataclasses.replace(template, id=template_id)
        self._d.templates[template_id] = saved
        return saved

    def delete(self, template_id: int) -> bool:
        return self._d.templates.pop(template_id, None) is not None

    def all(self) -> list[ResponseTemplate]:
        return sorted(self._d.templates.values(), key=_order)

    def for_service(self, service_code: str) -> list[ResponseTemplate]:
        found = [t for t in self._d.templates.values() if t.service_code in (None, service_code)]
        return sorted(found, key=lambda t: (t.name, t.id or 0))
