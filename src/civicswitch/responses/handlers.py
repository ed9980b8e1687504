"""Use cases of response templates. Admins keep them (``template.manage``, audited); staff who may add a note to a
request (``request.work`` on it) list its service's templates and fill one in. Filling is a read: the note is
written by the add-note use case (``requests/work.add_note``) when the staff member sends it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from civicswitch.core.clock import Clock
from civicswitch.core.errors import Invalid, NotFound
from civicswitch.people import audit
from civicswitch.people.policy import Action, Principal, authorize
from civicswitch.requests.access import authorize_on
from civicswitch.requests.model import ServiceRequest, Status
from civicswitch.requests.staff import load_request
from civicswitch.responses.model import ResponseTemplate, fill

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

VISIBILITIES = ("public", "internal")
STATUS_WORDS = {
    Status.NEW: "new",
    Status.ACKNOWLEDGED: "acknowledged",
    Status.IN_PROGRESS: "in progress",
    Status.ON_HOLD: "on hold",
    Status.REOPENED: "reopened",
    Status.CLOSED: "closed",
}


# -- admins ---------------------------------------------------------------------------------------------------------
def list_templates(uow: UnitOfWork, who: Principal) -> list[ResponseTemplate]:
    authorize(who, Action.TEMPLATE_MANAGE)
    with uow:
        return uow.templates.all()


def get_template(uow: UnitOfWork, who: Principal, template_id: int) -> ResponseTemplate:
    authorize(who, Action.TEMPLATE_MANAGE)
    with uow:
        found = uow.templates.get(template_id)
    if found is None:
        raise NotFound(f"response template {template_id} does not exist", field="template")
    return found


@dataclass(frozen=True, slots=True)
class SaveTemplate:
    who: Principal
    name: str
    body: str
    visibility: str  # public | internal: the note's visibility when the template fills it in
    service_code: str = ""  # empty: every service
    editing: int | None = None  # the id of the template being edited; None: a new one


def save_template(uow: UnitOfWork, clock: Clock, cmd: SaveTemplate) -> ResponseTemplate:
    """Create or edit a template (admins). Its service must be in the catalog, its name unused by another template,
    and its text may use only the known placeholders (``responses/model.PLACEHOLDERS``)."""
    authorize(cmd.who, Action.TEMPLATE_MANAGE)
    visibility = (cmd.visibility or "").strip()
    if visibility not in VISIBILITIES:
        raise Invalid("choose who sees the note: public or internal", field="visibility")
    code = (cmd.service_code or "").strip() or None
    name = " ".join((cmd.name or "").split())
    now = clock.now()
    template = ResponseTemplate(name, (cmd.body or "").strip(), visibility == "public", code, now,
                                cmd.who.label[:300], cmd.editing)  # fmt: skip
    with uow:
        if cmd.editing is not None and uow.templates.get(cmd.editing) is None:
            raise NotFound(f"response template {cmd.editing} does not exist", field="template")
        if code is not None and uow.catalog.service(code) is None:
            raise NotFound(f"service {code!r} is not in the service list", field="service")
        if any(t.name == name and t.id != cmd.editing for t in uow.templates.all()):
            raise Invalid(f"the name {name!r} is taken by another template: choose another", field="name")
        saved = uow.templates.save(template)
        audit.record(uow, now, cmd.who, Action.TEMPLATE_MANAGE, "response_template", saved.id,
                     detail={"op": "add" if cmd.editing is None else "edit", "name": name,
                             "service": code, "public": template.public})  # fmt: skip
        uow.commit()
    return saved


def delete_template(uow: UnitOfWork, clock: Clock, who: Principal, template_id: int) -> ResponseTemplate:
    """Remove a template (admins). Notes it filled in stay as they were written."""
    authorize(who, Action.TEMPLATE_MANAGE)
    with uow:
        found = uow.templates.get(template_id)
        if found is None:
            raise NotFound(f"response template {template_id} does not exist", field="template")
        uow.templates.delete(template_id)
        audit.record(uow, clock.now(), who, Action.TEMPLATE_MANAGE, "response_template", template_id,
                     detail={"op": "delete", "name": found.name, "service": found.service_code})  # fmt: skip
        uow.commit()
    return found


# -- staff on a request ---------------------------------------------------------------------------------------------
def note_templates(uow: UnitOfWork, who: Principal, public_id: str) -> list[ResponseTemplate]:
    """The templates offered on a request's note form: its service's and the all-services ones, by name, for those
    who may add a note to it (``request.work``)."""
    with uow:
        request = load_request(uow, public_id)
        authorize_on(uow, who, Action.REQUEST_WORK, request)
        return uow.templates.for_service(request.service_code)


@dataclass(frozen=True, slots=True)
class FilledNote:
    """A template filled in for one request: the note's text and visibility, for the staff member to edit."""

    template: ResponseTemplate
    text: str
    public: bool


def placeholder_values(request: ServiceRequest, service_name: str, body_name: str | None,
                       zone: ZoneInfo) -> dict[str, str]:  # fmt: skip
    """What each placeholder becomes for ``request`` (dates in the instance's time zone)."""
    if request.address and request.address.strip():
        address = request.address.strip()
    elif request.lat is not None and request.long is not None:
        address = f"{request.lat:.5f}, {request.long:.5f}"
    else:
        address = "the location reported"
    return {
        "request_id": str(request.id),
        "service_name": service_name,
        "address": address,
        "status": STATUS_WORDS.get(request.status, str(request.status).replace("_", " ")),
        "due_date": _day(request.expected_at, zone) if request.expected_at else "not set",
        "body_name": body_name or "the city",
    }


def _day(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{local.day} {local:%B %Y}"


def fill_note(uow: UnitOfWork, who: Principal, public_id: str, template_id: int, zone: ZoneInfo) -> FilledNote:
    """Template ``template_id`` filled in for the request (``request.work`` on it; a template of another service
    is refused). Writes nothing."""
    with uow:
        request = load_request(uow, public_id)
        authorize_on(uow, who, Action.REQUEST_WORK, request)
        template = uow.templates.get(template_id)
        if template is None:
            raise NotFound(f"response template {template_id} does not exist", field="template")
        if template.service_code not in (None, request.service_code):
            raise Invalid(f"the template {template.name!r} is for another service", field="template")
        service = uow.catalog.service(request.service_code)
        body = uow.catalog.body(request.body_code) if request.body_code else None
    values = placeholder_values(request, service.name if service else request.service_code,
                                body.name if body else None, zone)  # fmt: skip
    return FilledNote(template, fill(template.body, values), template.public)
