"""What the simulated department has received and done: each effect once (keyed by ``webhook-id``), every
redelivery counted as a detected duplicate, answers by mode, and the status updates it sent back.

A ledger can live in a JSON file (``--state-file``) so a restarted simulator still knows what it has done,
as a real department system with a database would; it is rewritten (atomically) after every change, and its
work-order numbers go on from the last one (``WO-000042`` → ``WO-000043``). A ledger in memory only numbers its
work orders under a prefix of its own run (``WO-3f9a-000001``), so a restarted simulator never hands out a number
it gave before: the hub keeps every department id it received, and a reused one would name an old request."""

from __future__ import annotations

import json
import os
import secrets
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class Effect:
    """One thing the department did (a work order opened, a status noted), whatever number of times it was sent."""

    key: str  # the webhook-id (our idempotency key) or, for Open311 POSTs, the simulator's own number
    external_id: str  # the department's id for it: "WO-000001"
    type: str  # the CloudEvents type, e.g. gov.civicswitch.request.created; "open311.request" for Open311 POSTs
    service_request_id: str | None
    received_at: str
    deliveries: int = 1  # how many times it arrived (1 + detected duplicates)
    malformed: str | None = None  # the broken reply it was given, in malformed mode


@dataclass(slots=True)
class Ledger:
    effects: dict[str, Effect] = field(default_factory=dict)
    received: int = 0  # every POST to a receiving endpoint, whatever the answer
    rejected: int = 0  # refused for a bad or missing signature (or API key)
    invalid: int = 0  # signed but not a CloudEvent we understand (400)
    answers: Counter[str] = field(default_factory=Counter)  # HTTP status → count
    by_mode: dict[str, Counter[str]] = field(default_factory=dict)  # mode → {"received": n, "<status>": n}
    callbacks: Counter[str] = field(default_factory=Counter)  # sent, applied, flagged, duplicate, failed, attempts
    open311_updates: set[str] = field(default_factory=set)  # update_id of Open311 servicerequestupdates
    path: Path | None = None
    run: str = ""  # the prefix of this run's work-order numbers ("" with a state file: numbers go on)

    # -- counting -------------------------------------------------------------------------------------
    def arrived(self, mode: str) -> None:
        self.received += 1
        self.by_mode.setdefault(mode, Counter())["received"] += 1

    def answered(self, mode: str, status: int) -> None:
        self.answers[str(status)] += 1
        self.by_mode.setdefault(mode, Counter())[str(status)] += 1
        self.save()

    def record(
        self, key: str, type_: str, service_request_id: str | None, at: str, malformed: str | None = None
    ) -> tuple[Effect, bool]:
        """The effect of ``key``: done now (False) or found already done (True: a detected duplicate)."""
        found = self.effects.get(key)
        if found is not None:
            found.deliveries += 1
            self.save()
            return found, True
        number = f"{self.run}-{len(self.effects) + 1:06d}" if self.run else f"{len(self.effects) + 1:06d}"
        effect = Effect(key, f"WO-{number}", type_, service_request_id, at, malformed=malformed)
        self.effects[key] = effect
        self.save()
        return effect, False

    @property
    def duplicates(self) -> int:
        return sum(e.deliveries - 1 for e in self.effects.values())

    def stats(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "unique_effects": len(self.effects),
            "duplicates": self.duplicates,
            "duplicate_keys": sorted(k for k, e in self.effects.items() if e.deliveries > 1),
            "rejected": self.rejected,
            "invalid": self.invalid,
            "answers": dict(self.answers),
            "by_mode": {mode: dict(counts) for mode, counts in self.by_mode.items()},
            "effects_by_type": dict(Counter(e.type for e in self.effects.values())),
            "callbacks": dict(self.callbacks),
        }

    # -- the state file ---------------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        return {
            "effects": [asdict(e) for e in self.effects.values()],
            "received": self.received,
            "rejected": self.rejected,
            "invalid": self.invalid,
            "answers": dict(self.answers),
            "by_mode": {mode: dict(counts) for mode, counts in self.by_mode.items()},
            "callbacks": dict(self.callbacks),
            "open311_updates": sorted(self.open311_updates),
        }

    def save(self) -> None:
        if self.path is None:
            return
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(self.document()), encoding="utf-8")
        os.replace(temporary, self.path)

    @classmethod
    def open(cls, path: Path | None, run: str | None = None) -> Ledger:
        """A ledger kept in ``path`` (loaded when the file exists), or in memory only; ``run``: the work-order
        prefix of an in-memory ledger (default: four random hex digits; "" for plain numbers)."""
        if path is None:
            return cls(run=secrets.token_hex(2) if run is None else run)
        if not path.exists():
            return cls(path=path)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            effects={e["key"]: Effect(**e) for e in data.get("effects", [])},
            received=int(data.get("received", 0)),
            rejected=int(data.get("rejected", 0)),
            invalid=int(data.get("invalid", 0)),
            answers=Counter(data.get("answers", {})),
            by_mode={mode: Counter(counts) for mode, counts in data.get("by_mode", {}).items()},
            callbacks=Counter(data.get("callbacks", {})),
            open311_updates=set(data.get("open311_updates", [])),
            path=path,
        )
