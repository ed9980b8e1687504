"""The poller's cursor: which rows it has already handed over, in a bounded text the caller stores.

It holds, per source (the inbox folder itself is ``.``; each sub-folder is a source of its own):

- the high-water mark: the latest ``updated_datetime`` taken from that source;
- the hashes of the rows taken whose time is within ``dedupe_window_s`` of that mark (a row seen again in an
  overlapping file is dropped by its hash);

and the content digests of the files read by the poll that made it (``done``): the next poll, given this cursor
back, knows those rows were applied (the caller stores the cursor with the updates) and archives those files.

Bounded: rows older than the window are forgotten, and when the text would pass :data:`LIMIT` the oldest hashes
go first. A row that comes again after its hash was forgotten is handed over again with the same update id
(given, or made from its hash), which the hub drops as a duplicate.

Text form (compact JSON): ``{"v":1,"done":["<digest>",…],"src":{"<source>":[<mark epoch>,"<age36>.<hash>,…"]}}``
where ``age36`` is the mark minus the row's time in seconds, in base 36.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field

from civicswitch.core.errors import Invalid

LIMIT = 60_000  # characters; under the 64 KB the hub stores
MAX_SOURCES = 200
_DIGITS = string.digits + string.ascii_lowercase


def _b36(number: int) -> str:
    if number <= 0:
        return "0"
    out = []
    while number:
        number, rest = divmod(number, 36)
        out.append(_DIGITS[rest])
    return "".join(reversed(out))


@dataclass(slots=True)
class SourceState:
    mark: int = 0  # epoch seconds of the latest row taken (0: none yet)
    rows: dict[str, int] = field(default_factory=dict)  # row hash → epoch seconds of its time

    def take(self, digest: str, at: int) -> bool:
        """Remember a row; False when it was already taken."""
        if digest in self.rows:
            return False
        self.rows[digest] = at
        self.mark = max(self.mark, at)
        return True

    def prune(self, window: float) -> None:
        oldest = self.mark - window
        self.rows = {d: at for d, at in self.rows.items() if at >= oldest}


@dataclass(slots=True)
class Cursor:
    sources: dict[str, SourceState] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)

    def source(self, name: str) -> SourceState:
        return self.sources.setdefault(name, SourceState())

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        bad = Invalid("batch: the poll cursor is not one this connector wrote; clear it to read the inbox afresh")
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("v") != 1:
                raise bad
            done = [str(d) for d in data.get("done", [])]
            sources: dict[str, SourceState] = {}
            for name, (mark, packed) in data.get("src", {}).items():
                state = SourceState(int(mark))
                for item in str(packed).split(","):
                    if item:
                        age, digest = item.split(".", 1)
                        state.rows[digest] = state.mark - int(age, 36)
                sources[str(name)] = state
        except (ValueError, TypeError, AttributeError) as exc:
            raise bad from exc
        return cls(sources, done)

    def encode(self, window: float) -> str:
        for state in self.sources.values():
            state.prune(window)
        if len(self.sources) > MAX_SOURCES:  # keep the sources heard from last
            keep = sorted(self.sources, key=lambda n: self.sources[n].mark, reverse=True)[:MAX_SOURCES]
            self.sources = {n: self.sources[n] for n in sorted(keep)}
        text = self._text()
        if len(text) > LIMIT:
            # Forget the oldest rows (over all sources) until it fits: estimate, then check.
            entries = sorted((at, name, d) for name, s in self.sources.items() for d, at in s.rows.items())
            over = len(text) - LIMIT
            cut = 0
            while over > 0 and cut < len(entries):
                at, name, digest = entries[cut]
                over -= len(digest) + len(_b36(self.sources[name].mark - at)) + 2
                cut += 1
            while True:
                for _, name, digest in entries[:cut]:
                    self.sources[name].rows.pop(digest, None)
                text = self._text()
                if len(text) <= LIMIT or cut >= len(entries):
                    break
                cut = min(len(entries), cut + max(1, cut // 10))
        return text

    def _text(self) -> str:
        src = {
            name: [
                state.mark,
                ",".join(f"{_b36(state.mark - at)}.{d}" for d, at in sorted(state.rows.items(), key=lambda r: -r[1])),
            ]
            for name, state in sorted(self.sources.items())
        }
        return json.dumps({"v": 1, "done": self.done, "src": src}, separators=(",", ":"), ensure_ascii=True)
