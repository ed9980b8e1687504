"""Numbers as the wire carries them: plain ASCII decimals only.

``float()`` and ``int()`` also take ``"4_0.7"``, ``"nan"``, ``"inf"``, Arabic-Indic digits (``"٤٠.٧"``) and
full-width ones (``"１"``): a client that sends those gets a clear 400, not a silently reinterpreted value.
"""

from __future__ import annotations

import re

# A plain ASCII decimal, optionally signed, with an optional exponent: "40.7", "-73.9", ".5", "1e3".
DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
WHOLE = re.compile(r"[+-]?\d+", re.ASCII)
MAX_DIGITS = 40  # longer than any coordinate or page number anyone means


def is_decimal(text: str) -> bool:
    """Whether ``text`` (already stripped) is a plain ASCII decimal of sane length."""
    return len(text) <= MAX_DIGITS and DECIMAL.fullmatch(text) is not None


def is_whole(text: str) -> bool:
    """Whether ``text`` (already stripped) is a plain ASCII whole number of sane length."""
    return len(text) <= MAX_DIGITS and WHOLE.fullmatch(text) is not None


def shown(text: str, limit: int = 40) -> str:
    """``text`` for an error message: quoted, and cut when long."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
