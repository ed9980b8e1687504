"""``/api/v1`` for people: the audit log (admin), and who the caller is."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request

from civicswitch.people.clients import Scope
from civicswitch.people.handlers import audit_entries
from civicswitch.people.policy import POLICY, allowed
from civicswitch.web.context import context
from civicswitch.web.principals import api_principal

router = APIRouter(prefix="/api/v1", tags=["People"])


@router.get("/audit", summary="Audit log entries, oldest first (admin)")
def audit_list(
    request: Request,
    who: Annotated[str | None, Query(max_length=300, description="e.g. staff:3 or client:7")] = None,
    service_request_id: Annotated[str | None, Query(max_length=20)] = None,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    x_api_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    ctx = context(request)
    principal = api_principal(request, x_api_key, Scope.ADMIN)
    found = audit_entries(
        ctx.reader(), principal=who, request_id=service_request_id, after_id=after, limit=limit, who=principal
    )
    return {
        "entries": [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "principal": e.principal,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "reason": e.reason,
                "detail": dict(e.detail),
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in found
        ]
    }


@router.get("/whoami", summary="Who the caller is: role, scope and the actions the policy allows it")
def whoami(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    p = api_principal(request, x_api_key, None)
    return {
        "kind": p.kind,
        "name": p.name,
        "role": str(p.role),
        "bodies": sorted(p.bodies),
        "org": p.org,
        "areas": sorted(f"{layer}:{key}" for layer, key in p.areas),
        "actions": sorted(str(a) for a, row in POLICY.items() if p.role in row),
        "unscoped_actions": sorted(str(a) for a in POLICY if allowed(p, a)),
    }
