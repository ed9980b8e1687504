"""The policy applied to requests: what the policy sees of a request, and the check every use case makes."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from civicswitch.people.auth import key_principal
from civicswitch.people.clients import Scope
from civicswitch.people.policy import Action, Principal, Reach, Target, allowed, authorize, reach_of
from civicswitch.requests.model import ServiceRequest

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork


def target_of(request: ServiceRequest) -> Target:
    return Target(
        owner=request.body_code,
        assigned_org=request.assigned_org,
        areas=request.areas or {},
        filed_by_user=request.filed_by_user_id,
    )


def authorize_on(uow: UnitOfWork, who: Principal, action: Action, request: ServiceRequest) -> None:
    """:class:`Forbidden` unless ``who`` may do ``action`` on ``request``. The bodies a request was transferred
    away from are read only when the decision needs them (a back end's updates to a request it no longer owns)."""
    target = target_of(request)
    if allowed(who, action, target):
        return
    if reach_of(who, action) is Reach.OWN_BODY_OR_FORMER and request.id is not None:
        target = replace(target, former_owners=frozenset(uow.requests.former_owners(request.id)))
    authorize(who, action, target)


def acting(uow: UnitOfWork, principal: Principal | None, api_key: str | None, scope: Scope) -> Principal:
    """Who acts: the principal an entry point resolved (a signed-in account, the operator), else the API key's."""
    return principal if principal is not None else key_principal(uow, api_key, scope)
