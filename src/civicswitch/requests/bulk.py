"""A staff bulk action's result, kept for the page the action redirects to (POST, redirect, GET).

The queue's bulk action (``bulk_work``: each request in its own transaction) ends by storing its per-request outcome
under an unguessable token for the account that ran it (:func:`run_bulk`); the browser is sent to the result page,
which reads it back (:func:`bulk_result`), so reloading that page shows the same outcome and acts on nothing. A result
is kept :data:`RESULT_FOR`; only the account that ran the action may read it (anyone else is told it does not exist);
past its time it is :class:`Gone` with the reason, and :data:`KEEP_EXPIRED_FOR` later it is deleted. The store is
the database (SQL, and the in-memory fake), so it works whichever web process answers the GET.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from civicswitch.core.clock import Clock
from civicswitch.core.errors import Forbidden, Gone, Invalid, NotFound
from civicswitch.people.policy import Action, Principal, reach_of
from civicswitch.requests.commands import BulkItem, BulkWork
from civicswitch.requests.handlers import Limits
from civicswitch.requests.work import DEFAULT_LIMITS, bulk_work

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

log = logging.getLogger(__name__)

RESULT_FOR = timedelta(minutes=30)  # long enough to read and follow the links; a reload later says it expired
KEEP_EXPIRED_FOR = timedelta(days=1)  # an expired result is still told apart from a wrong link for this long
TOKEN_BYTES = 32  # secrets.token_urlsafe: 43 characters
MAX_ACTION = 20


@dataclass(frozen=True, slots=True)
class BulkResult:
    token: str
    user_id: int  # the staff account that ran the action: the only one that may read it
    action: str  # what was done: "acknowledge", "assign", "close"
    items: tuple[BulkItem, ...]
    created_at: datetime
    expires_at: datetime


class BulkResultStore(Protocol):
    def add(self, result: BulkResult) -> None: ...
    def get(self, token: str) -> BulkResult | None:
        """The result with this token, expired or not, or None."""
        ...

    def purge(self, expired_before: datetime) -> int:
        """Delete the results that expired before ``expired_before``; how many."""
        ...


def may_bulk(who: Principal) -> bool:
    """Whether ``who`` may run bulk actions and read their results: a role that may work requests (the use case
    asks the policy about each request)."""
    return reach_of(who, Action.REQUEST_WORK) is not None


def _need_bulk(who: Principal) -> int:
    if not may_bulk(who):
        raise Forbidden(f"{who.role} may not {Action.REQUEST_WORK} ({who.name})")
    if who.user_id is None:
        raise Forbidden("a bulk action's result page is a signed-in staff member's")
    return who.user_id


def run_bulk(uow: UnitOfWork, clock: Clock, cmd: BulkWork, action: str, limits: Limits = DEFAULT_LIMITS) -> BulkResult:
    """Run the bulk action (``bulk_work``: each request in its own transaction, refusals per request) and keep its
    outcome for the signed-in staff member who ran it, :data:`RESULT_FOR`. ``action`` names it on the result page."""
    user_id = _need_bulk(cmd.action.principal)
    if not action or len(action) > MAX_ACTION:
        raise Invalid("name the bulk action", field="action")
    items = bulk_work(uow, clock, cmd, limits)
    now = clock.now()
    result = BulkResult(secrets.token_urlsafe(TOKEN_BYTES), user_id, action, tuple(items), now, now + RESULT_FOR)
    with uow:
        uow.bulk_results.purge(now - KEEP_EXPIRED_FOR)
        uow.bulk_results.add(result)
        uow.commit()
    return result


def bulk_result(uow: UnitOfWork, clock: Clock, who: Principal, token: str) -> BulkResult:
    """The result of a bulk action ``who`` ran: :class:`NotFound` for a wrong token or someone else's (the same
    answer, so a token of another account tells nothing), :class:`Gone` once past :data:`RESULT_FOR`."""
    user_id = _need_bulk(who)
    token = token.strip()
    with uow:
        found = uow.bulk_results.get(token) if 0 < len(token) <= 64 else None
    if found is None or found.user_id != user_id:
        if found is not None:
            log.info("bulk result of staff:%s asked for by %s: refused", found.user_id, who.label)
        raise NotFound("this bulk result does not exist, or it is not yours", field="result")
    if clock.now() >= found.expires_at:
        minutes = int(RESULT_FOR.total_seconds() // 60)
        raise Gone(f"this bulk result has expired: results are kept for {minutes} minutes. The queue below shows "
                   "each request as it is now.", field="result")  # fmt: skip
    return found
