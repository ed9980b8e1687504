"""What the residents' pages weigh in a browser: every response Chromium fetched for a page (the HTML, styles,
scripts, images, the map's GeoJSON; never tiles: the demo has none), as sent (bytes on the wire, headers left out)
and as decoded, per page and in total. Issue 11: the report page within 200 KB without tiles.

    .venv/bin/python bench/page_weight.py [--port 8391] [--out FILE.json]

Starts the demo (``civicswitch demo``, SQLite, in a fresh folder) as the README does, loads each page in Debian's
chromium (Playwright) with a cold cache, prints a table. The sizes do not depend on the machine (2 cores, shared)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PAGES = [("report (English)", "/report"), ("report (Spanish)", "/report?lang=es"),
         ("report: a service chosen", "/report?service=street-light-condition"),
         ("track a request", "/requests/1"), ("lookup", "/requests")]  # fmt: skip
BUDGET_KB = 200


def _wait(url: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def weigh(page: Any, url: str) -> dict[str, Any]:
    """Every response of one cold load of ``url``: (url, type, bytes sent, bytes decoded)."""
    seen: list[Any] = []

    def finished(request: Any) -> None:
        seen.append(request)

    page.on("requestfinished", finished)
    page.goto(url, wait_until="networkidle")
    page.remove_listener("requestfinished", finished)
    parts = []
    for request in seen:
        response = request.response()
        sizes = request.sizes()
        body = response.body() if response is not None else b""
        parts.append({"url": request.url, "type": request.resource_type, "sent": sizes["responseBodySize"],
                      "decoded": len(body)})  # fmt: skip
    return {"parts": parts, "sent": sum(p["sent"] for p in parts), "decoded": sum(p["decoded"] for p in parts)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=8391)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="civicswitch-weight-"))
    env = {
        **os.environ,
        "CIVICSWITCH_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
    }
    command = [str(REPO / ".venv" / "bin" / "civicswitch"), "demo", "--port", str(args.port), "--no-worker"]
    server = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{args.port}"
    results: dict[str, Any] = {"command": sys.argv, "budget_kb": BUDGET_KB, "pages": {}}
    try:
        _wait(base + "/report")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium)
            for name, path in PAGES:
                context = browser.new_context()  # a cold cache for each page
                page = context.new_page()
                found = weigh(page, base + path)
                context.close()
                results["pages"][name] = {"path": path, **found}
                print(
                    f"{name:28} {len(found['parts']):3} files  sent {found['sent'] / 1024:7.1f} KB  decoded "
                    f"{found['decoded'] / 1024:7.1f} KB  {'ok' if found['sent'] <= BUDGET_KB * 1024 else 'OVER'}"
                )
                for part in sorted(found["parts"], key=lambda x: -x["sent"]):
                    print(
                        f"    {part['sent'] / 1024:7.1f} KB sent  {part['decoded'] / 1024:7.1f} KB  "
                        f"{part['type']:10} {part['url'].replace(base, '')[:70]}"
                    )
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
