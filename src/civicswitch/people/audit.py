"""The audit log: append-only, hash-chained. Each entry's hash covers its content and the previous entry's hash,
so editing, deleting or inserting a row breaks the chain at that row, and ``verify`` says where."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from civicswitch.people.policy import Principal

if TYPE_CHECKING:
    from civicswitch.storage.ports import UnitOfWork

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    principal: str
    action: str
    object_type: str
    object_id: str | None = None
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""
    id: int | None = None


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the entry's content (canonical JSON: sorted keys, UTC microseconds) and ``prev_hash``."""
    content = {
        "at": entry.at.isoformat(timespec="microseconds"),
        "principal": entry.principal,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "reason": entry.reason,
        "detail": dict(entry.detail),
        "prev": entry.prev_hash,
    }
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def record(
    uow: UnitOfWork,
    at: datetime,
    who: Principal,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    *,
    reason: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's unit of work (it is committed with the change it records)."""
    entry = AuditEntry(
        at=at,
        principal=who.label[:300],
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id)[:100],
        reason=(reason or None) and reason[:2000],
        detail=dict(detail or {}),
    )
    return uow.audit.append(entry, entry_hash)


@dataclass(frozen=True, slots=True)
class Problem:
    entry_id: int | None
    what: str


def verify(entries: Iterable[AuditEntry], start: tuple[str, int] = (GENESIS, 0)) -> tuple[int, list[Problem]]:
    """Walk the chain in id order: (entries checked, problems). An edit shows as a hash mismatch at that entry;
    a deleted entry as a gap in the ids (each entry takes the previous id + 1) and a broken link; an inserted one
    as a broken link after it. Removing the newest entries leaves a shorter valid chain: compare the head hash
    with one noted earlier (``civicswitch audit verify`` prints it)."""
    problems: list[Problem] = []
    (prev, prev_id), n = start, 0
    for e in entries:
        n += 1
        if e.id is not None and e.id != prev_id + 1:
            missing = f"{prev_id + 1}" if e.id == prev_id + 2 else f"{prev_id + 1}…{e.id - 1}"
            problems.append(Problem(e.id, f"gap: entry {missing} missing" if e.id > prev_id else "out of order"))
        if e.prev_hash != prev:
            problems.append(Problem(e.id, "broken link: prev_hash is not the previous entry's hash"))
        if entry_hash(e) != e.hash:
            problems.append(Problem(e.id, "edited: the content does not match its hash"))
        prev, prev_id = e.hash, e.id or prev_id + 1
    return n, problems
