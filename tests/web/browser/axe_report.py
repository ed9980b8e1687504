"""The axe results per page, from the lines the browser tests write with ``CIVICSWITCH_AXE_REPORT=FILE``.

    CIVICSWITCH_AXE_REPORT=/tmp/axe.jsonl .venv/bin/pytest tests/web/browser
    .venv/bin/python tests/web/browser/axe_report.py /tmp/axe.jsonl

One row per page (its path with numbers as ``{n}``, its title): how many checks of it ran (page states, databases),
the fewest rules passed, the violations by impact over all its checks, and the rules axe left for a person
("incomplete", e.g. contrast over an image)."""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from typing import Any


def main(path: str) -> None:
    pages: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            path = re.sub(r"/bulk/[^/]+$", "/bulk/{token}", row["path"])  # a bulk result's random token
            key = (re.sub(r"/\d+", "/{n}", path), re.sub(r"\b\d+\b", "{n}", row["title"]))
            pages[key].append(row)
    print("| page | title | checks | databases | rules passed (fewest) | violations | left for a person |")
    print("|---|---|---:|---|---:|---|---|")
    total = 0
    for (page, title), rows in sorted(pages.items()):
        impacts: dict[str, int] = defaultdict(int)
        for row in rows:
            for impact, n in row["violations"].items():
                impacts[impact] += n
        total += sum(impacts.values())
        found = ", ".join(f"{n} {impact}" for impact, n in sorted(impacts.items())) or "none"
        incomplete = ", ".join(sorted({r for row in rows for r in row["incomplete"]})) or "–"
        databases = ", ".join(sorted({db for row in rows for db in ("sqlite", "postgres") if f"[{db}" in row["test"]}))
        passed = min(r["passes"] for r in rows)
        print(f"| `{page}` | {title} | {len(rows)} | {databases or '–'} | {passed} | {found} | {incomplete} |")
    print(f"\n{len(pages)} pages, {sum(len(r) for r in pages.values())} checks, {total} violations")


if __name__ == "__main__":
    main(sys.argv[1])
