"""A real browser for the people-facing pages: Debian's Chromium driven by Playwright (``executable_path``),
against the app served by uvicorn on a free local port, with an axe-core check helper.

Skips with the reason when Chromium or Playwright is missing (``.ci/run`` installs both: ``apt-get install
chromium`` and the ``test`` extra)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI

CHROMIUM = os.environ.get("CIVICSWITCH_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("CIVICSWITCH_SCREENSHOTS", "/tmp/civicswitch-screenshots"))
# As the machine's probe starts it: no sandbox as root, and no calls home on a machine without a network.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module scope, not session: sync Playwright keeps an event loop running in this thread while it is open,
    and tests of other modules on the same worker that start their own loop (anyio.run) must not meet it."""
    required = bool(os.environ.get("CIVICSWITCH_TEST_REQUIRE_BROWSER"))  # CI: a missing browser is a failure
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set CIVICSWITCH_TEST_CHROMIUM)"
        pytest.fail(reason) if required else pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed: pip install -e '.[test]'"
        pytest.fail(reason) if required else pytest.skip(reason)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The test app on a real socket; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", java_script_enabled=True)
    page = context.new_page()
    yield page
    context.close()


def axe_violations(page: Any) -> list[str]:
    """axe-core's violations on the page (WCAG 2.1 A and AA rules and best practices), one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations = results.response["violations"]
    _report(page, results.response)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} node(s))" for v in violations]


def _report(page: Any, response: dict[str, Any]) -> None:
    """With ``CIVICSWITCH_AXE_REPORT=FILE``, one JSON line per check: the test, the page's path and title, the rules
    passed, the violations by impact, and the rules axe could not decide ("incomplete": for a person to look at).
    ``python tests/web/browser/axe_report.py FILE`` makes the per-page table of the issue's closing note."""
    target = os.environ.get("CIVICSWITCH_AXE_REPORT")
    if not target:
        return
    impacts: dict[str, int] = {}
    for v in response["violations"]:
        impacts[v.get("impact") or "unknown"] = impacts.get(v.get("impact") or "unknown", 0) + 1
    line = {
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        "path": urlsplit(page.url).path,
        "title": page.title(),
        "passes": len(response["passes"]),
        "violations": impacts,
        "incomplete": sorted(v["id"] for v in response["incomplete"]),
    }
    with open(target, "a", encoding="utf-8") as out:  # one short write per line: workers may share the file
        out.write(json.dumps(line, sort_keys=True) + "\n")


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, base: str, email: str, password: str, next_: str = "/staff/me") -> None:
    """Sign in through the form (signing in by keyboard alone is tested with the sign-in pages)."""
    page.goto(f"{base}/staff/login?next={next_}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def tab_to(page: Any, name: str, limit: int = 80) -> None:
    """Press Tab until the control with this accessible text (or label) has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        label = page.evaluate(
            "(() => { const e = document.activeElement; if (!e) return '';"
            " const l = e.labels && e.labels[0]; return (l ? l.textContent : e.textContent).trim(); })()"
        )
        if label == name:
            return
    raise AssertionError(f"no control named {name!r} reached by Tab")
