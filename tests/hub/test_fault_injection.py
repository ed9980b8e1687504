"""Fault injection with real processes and sockets, on SQLite and PostgreSQL: requests are filed through the
real use case, a webhook connector points at a real department simulator process (``python -m
civicswitch.simulator``) on a free port, and real worker processes (``civicswitch worker``) deliver the outbox
while the receiver is down, failing, slow, broken or gone, or while a worker is killed.

Every test ends with the promise of DESIGN §5 checked from both sides: each message of the connector is
delivered or visibly dead (counted by state in the outbox, none lost), the simulator did each effect once (its
unique effects are exactly the idempotency keys it was sent), and every duplicate it saw was a detected
redelivery of a key it already had.

Tests that need a short lease run ``Worker`` in a process of their own (this file run as a script,
``python tests/hub/test_fault_injection.py --lease 3``): ``civicswitch worker`` has a fixed 60 s lease.

"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from civicswitch.core.clock import SystemClock
from civicswitch.hub.handlers import add_connector, set_enabled
from civicswitch.hub.model import DeliveryState
from civicswitch.hub.views import DeliveryView
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.simulator import SAFE_MALFORMED, STATUS_MAP
from civicswitch.storage.sql import SqlUnitOfWork

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
CODE = "dot-sim"
SCHEDULE = [1, 1, 1, 2, 2]  # seconds between attempts: about 7 s from the first failure to a dead letter
DELIVERED, DEAD = DeliveryState.DELIVERED, DeliveryState.DEAD


# -- processes -----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars: int = 2500) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return f"--- {self.name} (exit {self.popen.poll()}) ---\n{text[-chars:]}"

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(sig)

    def stop(self) -> None:
        if self.alive():
            self.signal(signal.SIGCONT)
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        self.popen.wait(5)


class Sim:
    def __init__(self, proc: Proc, port: int) -> None:
        self.proc, self.port = proc, port
        self.url = f"http://127.0.0.1:{port}"

    def stats(self) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{self.url}/_sim/stats", timeout=5).json()
        return found

    def effects(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = httpx.get(f"{self.url}/_sim/effects", timeout=5).json()
        return found

    def mode(self, **settings: Any) -> None:
        httpx.post(f"{self.url}/_sim/mode", json=settings, timeout=5).raise_for_status()


class Rig:
    """One test's world: a fresh database with the test catalog, one webhook connector, and processes."""

    def __init__(self, url: str, engine: Engine, keys: dict[str, str], tmp_path: Path) -> None:
        self.url, self.engine, self.keys, self.dir = url, engine, keys, tmp_path
        self.procs: list[Proc] = []
        self.secret = ""
        self.started = time.monotonic()

    @property
    def postgres(self) -> bool:
        return self.url.startswith("postgres")

    # processes
    def spawn(self, name: str, argv: list[str], *, group: bool = False) -> Proc:
        """``group``: in a process group of its own (``serve --workers N``: the master and its workers)."""
        log = self.dir / f"{name}.log"
        env = {**os.environ, "CIVICSWITCH_DATABASE_URL": self.url, "CIVICSWITCH_LOG_LEVEL": "INFO"}
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.dir, env=env, start_new_session=group
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def simulator(self, port: int, *options: str, name: str = "sim") -> Sim:
        argv = [sys.executable, "-m", "civicswitch.simulator", "--port", str(port), "--secret", self.secret]
        sim = Sim(self.spawn(name, [*argv, "--connector", CODE, *options]), port)
        self.wait(f"{name} listening", lambda: _answers(f"{sim.url}/_sim/stats"), 15)
        return sim

    def worker(self, name: str = "worker") -> Proc:
        return self.spawn(name, [str(BIN / "civicswitch"), "worker"])

    def lease_worker(self, lease: float, name: str = "worker") -> Proc:
        return self.spawn(name, [sys.executable, __file__, "--lease", str(lease)])

    def api(self, port: int, *, workers: int = 1) -> str:
        argv = [str(BIN / "civicswitch"), "serve", "--port", str(port), "--workers", str(workers)]
        self.spawn("api", argv, group=workers > 1)
        base = f"http://127.0.0.1:{port}"
        self.wait("API listening", lambda: _answers(f"{base}/open311/v2/services.json"), 30)
        return base

    def close(self) -> None:
        for proc in self.procs:  # all at once: each takes a moment to finish its round
            if proc.alive():
                proc.signal(signal.SIGCONT)
                proc.popen.terminate()
        for proc in self.procs:
            proc.stop()

    def wait(self, what: str, done: Callable[[], bool], timeout: float, *, needs: list[Proc] | None = None) -> None:
        """Until ``done()``; fails early (with the logs) when a process in ``needs`` has died."""
        deadline = time.monotonic() + timeout
        while not done():
            dead = [p for p in needs or [] if not p.alive()]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(p.name for p in dead)} died" if dead else f"not within {timeout:g} s"
                raise AssertionError(f"{what}: {why}\n{self.report()}")
            time.sleep(0.1)

    def report(self) -> str:
        rows = "\n".join(
            f"  {r.id} {r.state} attempts={r.attempts} status={r.last_status} error={r.last_error!r}"
            for r in self.rows()
        )
        return f"outbox:\n{rows}\n" + "\n".join(p.tail() for p in self.procs)

    # the hub
    def connector(self, port: int, *, timeout_s: float = 1, schedule: list[int] = SCHEDULE) -> None:
        made = add_connector(
            SqlUnitOfWork(self.engine),
            SystemClock(),
            code=CODE,
            kind="webhook",
            body="DOT",
            config={"url": f"http://127.0.0.1:{port}/webhook", "timeout_s": timeout_s, "allow_private": True},
            status_map=STATUS_MAP,
            retry_schedule=schedule,
        )
        assert made.secret is not None
        self.secret = made.secret

    def submit(self, n: int) -> list[int]:
        ids = []
        for i in range(n):
            result = submit_request(
                SqlUnitOfWork(self.engine),
                SystemClock(),
                SubmitRequest(
                    service_code="pothole",
                    api_key=self.keys["submit"],
                    address_string=f"{i + 1} Fault Street",
                    description=f"fault injection {i + 1}",
                    attributes={"size": ["small"]},
                ),
            )
            assert result.service_request_id is not None
            ids.append(int(result.service_request_id))
        return ids

    def rows(self) -> list[DeliveryView]:
        with SqlUnitOfWork(self.engine, writing=False) as uow:
            return uow.hub.deliveries(connector=CODE, limit=10_000)

    def states(self) -> Counter[str]:
        return Counter(str(r.state) for r in self.rows())

    def settled(self, n: int) -> bool:
        rows = self.rows()
        return len(rows) == n and all(r.state in (DELIVERED, DEAD) for r in rows)

    def all_delivered(self, n: int) -> bool:
        rows = self.rows()
        return len(rows) == n and all(r.state == DELIVERED for r in rows)

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def rig(database_url: str, engine: Engine, loaded: dict[str, str], tmp_path: Path) -> Iterator[Rig]:
    made = Rig(database_url, engine, loaded, tmp_path)
    try:
        yield made
    finally:
        made.close()


def check_nothing_lost(rig: Rig, sim: Sim, n: int) -> dict[str, Any]:
    """Every message delivered or visibly dead; each effect once; duplicates only as detected redeliveries."""
    rows = rig.rows()
    assert len(rows) == n, rig.report()
    states = Counter(r.state for r in rows)
    assert set(states) <= {DELIVERED, DEAD}, f"{states}\n{rig.report()}"
    keys = {r.idempotency_key for r in rows}
    assert len(keys) == n
    effects = sim.effects()
    effect_keys = [e["key"] for e in effects]
    assert len(effect_keys) == len(set(effect_keys))  # each effect once
    assert set(effect_keys) <= keys  # nothing done that was not sent
    assert {r.idempotency_key for r in rows if r.state == DELIVERED} <= set(effect_keys)  # delivered means done
    stats = sim.stats()
    assert stats["unique_effects"] == len(set(effect_keys))
    assert set(stats["duplicate_keys"]) <= set(effect_keys)  # a duplicate is a redelivery of a known key
    return stats


# -- scenarios ---------------------------------------------------------------------------------------------------
def test_receiver_down__then_started__every_message_delivered_once(rig: Rig) -> None:
    port = free_port()
    rig.connector(port, schedule=[1, 1, 2, 2, 3, 3])
    ids = rig.submit(5)
    worker = rig.worker()

    rig.wait(
        "first attempts refused",
        lambda: all(r.state == DeliveryState.RETRYING and r.attempts >= 1 for r in rig.rows()),
        15,
        needs=[worker],
    )
    assert all("ConnectError" in (r.last_error or "") for r in rig.rows())
    sim = rig.simulator(port)
    rig.wait("all delivered", lambda: rig.all_delivered(5), 20, needs=[worker])

    stats = check_nothing_lost(rig, sim, 5)
    assert (stats["unique_effects"], stats["duplicates"]) == (5, 0)
    by_key = {e["key"]: e["external_id"] for e in sim.effects()}
    with SqlUnitOfWork(rig.engine, writing=False) as uow:
        refs = {rid: uow.hub.external_id(rid, "DOT") for rid in ids}
    for row in rig.rows():
        assert row.attempts >= 2
        assert row.external_id == by_key[row.idempotency_key] == refs[row.request_id]


def test_5xx_bursts_and_random_500s__retried_until_delivered_each_effect_once(rig: Rig) -> None:
    port = free_port()
    rig.connector(port, schedule=[1, 1, 1, 1, 2, 2])
    sim = rig.simulator(port, "--mode", "5xx", "--burst", "8", "--fail-rate", "0.2", "--seed", "1")
    rig.submit(8)
    worker = rig.worker()

    rig.wait("all settled", lambda: rig.settled(8), 40, needs=[worker])

    stats = check_nothing_lost(rig, sim, 8)
    assert rig.states() == {"delivered": 8}
    assert (stats["unique_effects"], stats["duplicates"]) == (8, 0)  # a 5xx did nothing, so no redelivery
    assert {code: stats["by_mode"]["5xx"][code] for code in ("500", "502", "503", "504")} == dict.fromkeys(
        ("500", "502", "503", "504"), 2
    )
    assert stats["by_mode"]["ok"].get("500", 0) >= 1  # the random ones
    assert stats["received"] == sum(r.attempts for r in rig.rows())


def test_slow_receiver_past_timeout__retried_and_redeliveries_detected_each_effect_once(rig: Rig) -> None:
    port = free_port()
    rig.connector(port, timeout_s=1)
    sim = rig.simulator(port, "--mode", "slow", "--slow-s", "3")
    rig.submit(4)
    worker = rig.worker()

    rig.wait("two timeouts each", lambda: all(r.attempts >= 2 for r in rig.rows()), 15, needs=[worker])
    assert {(r.last_error or "").split(" after")[0] for r in rig.rows()} == {"timed out"}
    sim.mode(mode="ok")
    rig.wait("all delivered", lambda: rig.all_delivered(4), 15, needs=[worker])

    stats = check_nothing_lost(rig, sim, 4)
    attempts = sum(r.attempts for r in rig.rows())
    assert stats["unique_effects"] == 4
    assert stats["received"] == attempts  # every attempt reached the receiver …
    assert stats["duplicates"] == attempts - 4  # … and every one after the first was caught as a duplicate
    assert set(stats["duplicate_keys"]) == {r.idempotency_key for r in rig.rows()}


def test_receiver_trickling_its_reply__attempt_cut_off_at_timeout_s(rig: Rig) -> None:
    port = free_port()
    rig.connector(port, timeout_s=1)
    sim = rig.simulator(port, "--mode", "slow", "--slow-style", "drip", "--slow-s", "6")
    rig.submit(1)
    worker = rig.worker()
    rig.wait("message sent", lambda: sim.stats()["received"] == 1, 15, needs=[worker])
    sent = time.monotonic()

    rig.wait("first attempt settled", lambda: rig.rows()[0].state != DeliveryState.IN_FLIGHT, 10, needs=[worker])
    took = time.monotonic() - sent

    row = rig.rows()[0]
    assert (row.state, row.last_error) == (DeliveryState.RETRYING, "timed out after 1 s"), (took, row)
    assert took < 2.5


def test_malformed_2xx_replies__delivered_once_without_an_external_id(rig: Rig) -> None:
    port = free_port()
    rig.connector(port)
    sim = rig.simulator(port, "--mode", "malformed", "--malformed", ",".join(SAFE_MALFORMED))
    n = len(SAFE_MALFORMED)
    rig.submit(n)
    worker = rig.worker()

    rig.wait("all settled", lambda: rig.settled(n), 15, needs=[worker])

    stats = check_nothing_lost(rig, sim, n)
    assert (stats["unique_effects"], stats["duplicates"]) == (n, 0)
    assert {e["malformed"] for e in sim.effects()} == set(SAFE_MALFORMED)
    for row in rig.rows():
        assert (row.state, row.attempts, row.last_status, row.external_id) == (DELIVERED, 1, 200, None)


# Replies a hostile or broken receiver may give. Each once crashed the worker or stalled the message (a deeply
# nested JSON reply, an external id with a lone surrogate or a NUL, an id already naming another request, a 500
# whose body holds a NUL); the worker must survive and the message settle.
POISON = ["deep", "surrogate", "nul", "reused-id", "nul-500"]


@pytest.mark.parametrize("kind", POISON)
def test_hostile_reply__worker_survives_and_message_settles(rig: Rig, kind: str) -> None:
    port = free_port()
    rig.connector(port)
    sim = rig.simulator(port, "--mode", "malformed", "--malformed", kind)
    n = 2
    rig.submit(n)
    worker = rig.worker()

    if kind == "nul-500":  # the department failed: the messages wait for their next attempt
        rig.wait(
            "first attempts settled",
            lambda: all(r.attempts >= 1 and r.state != DeliveryState.IN_FLIGHT for r in rig.rows()),
            10,
            needs=[worker],
        )
        rows = rig.rows()
        assert {(r.state, r.last_status) for r in rows} == {(DeliveryState.RETRYING, 500)}
        assert worker.alive()
        return
    rig.wait("all settled", lambda: rig.settled(n), 10, needs=[worker])
    rows = rig.rows()
    assert {(r.state, r.attempts) for r in rows} == {(DELIVERED, 1)}, rig.report()
    assert all(r.external_id is None or r.external_id.isprintable() for r in rows)
    assert worker.alive()
    check_nothing_lost(rig, sim, n)


def test_worker_killed_mid_delivery__lease_expires_and_next_worker_delivers_each_effect_once(rig: Rig) -> None:
    port = free_port()
    rig.connector(port, timeout_s=10)
    sim = rig.simulator(port, "--mode", "slow", "--slow-s", "30")
    rig.submit(5)
    first = rig.lease_worker(3, name="worker-1")

    rig.wait("5 deliveries in flight", lambda: sim.stats()["received"] == 5, 15, needs=[first])
    assert {r.state for r in rig.rows()} == {DeliveryState.IN_FLIGHT}
    first.signal(signal.SIGKILL)
    first.popen.wait(5)
    killed_at = time.monotonic()
    sim.mode(mode="ok")
    second = rig.lease_worker(3, name="worker-2")
    rig.wait("all delivered", lambda: rig.all_delivered(5), 20, needs=[second])
    took = time.monotonic() - killed_at

    stats = check_nothing_lost(rig, sim, 5)
    assert stats["unique_effects"] == 5
    assert stats["duplicates"] == 5  # the second worker's sends, each caught as a redelivery
    assert took >= 2.0  # not before the lease ran out (3 s from the claim, which came just before the kill)


def test_server_killed_during_a_burst_of_posts__every_acknowledged_request_stored_whole(rig: Rig) -> None:
    """``serve --workers 2`` takes POSTs from 16 clients at once and is killed (SIGKILL, every process) in the
    middle. Every request it answered 2xx is stored with its timeline and its outbox message; nothing is
    half-written (no request without them, no message without its request); the database is intact."""
    rig.connector(free_port())  # no receiver and no worker: the messages wait in the outbox
    base = rig.api(free_port(), workers=2)
    api = next(p for p in rig.procs if p.name == "api")
    acknowledged: list[int] = []
    refused: list[int] = []
    guard = threading.Lock()
    enough = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            for i in itertools.count():
                form = {
                    "api_key": rig.keys["submit"],
                    "service_code": "pothole",
                    "lat": f"40.{n:02d}{i:04d}",
                    "long": "-73.95",
                    "description": f"burst {n}/{i}",
                    "attribute[size]": "small",
                }
                try:
                    answer = http.post("/open311/v2/requests.json", data=form)
                except httpx.HTTPError:
                    return  # the server is gone
                with guard:
                    if answer.is_success:
                        acknowledged.append(int(answer.json()[0]["service_request_id"]))
                        if len(acknowledged) >= 150:
                            enough.set()
                    else:
                        refused.append(answer.status_code)

    clients = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for c in clients:
        c.start()
    assert enough.wait(120), f"too few answers: {len(acknowledged)} 2xx, refused {Counter(refused)}\n{api.tail()}"
    os.killpg(api.popen.pid, signal.SIGKILL)  # the master and both workers, mid-burst
    api.popen.wait(10)
    for c in clients:
        c.join(60)
    assert refused == []

    with rig.engine.connect() as conn:
        if not rig.postgres:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        stored = {r[0] for r in conn.execute(text("SELECT id FROM service_requests"))}
        timeline = {r[0] for r in conn.execute(text("SELECT request_id FROM request_events WHERE kind = 'submitted'"))}
    messages = Counter(r.request_id for r in rig.rows())
    assert set(acknowledged) <= stored  # every 2xx was committed
    assert timeline == stored  # every stored request has its timeline (nothing half-written)
    assert set(messages) == stored and set(messages.values()) == {1}  # and exactly one outbox message each


def test_worker_paused_past_its_lease__its_stale_outcome_does_not_undo_a_delivery(rig: Rig) -> None:
    port = free_port()
    rig.connector(port, timeout_s=2)
    sim = rig.simulator(port, "--mode", "slow", "--slow-s", "30")
    rig.submit(3)
    first = rig.lease_worker(2, name="worker-1")
    rig.wait("3 deliveries in flight", lambda: sim.stats()["received"] == 3, 15, needs=[first])
    first.signal(signal.SIGSTOP)  # a long pause: GC, swap, a VM migration …
    sim.mode(mode="ok")
    second = rig.lease_worker(2, name="worker-2")
    rig.wait("all delivered by the second worker", lambda: rig.all_delivered(3), 15, needs=[second])

    first.signal(signal.SIGCONT)  # its sends time out at once, and it settles them
    seen: Counter[str] = Counter()
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        seen.update(str(r.state) for r in rig.rows())
        time.sleep(0.05)

    assert set(seen) == {"delivered"}, seen
    assert sim.stats()["duplicates"] == 3


def test_receiver_gone__connector_paused_messages_wait_then_delivered_after_reenable(rig: Rig) -> None:
    port = free_port()
    rig.connector(port)
    sim = rig.simulator(port, "--mode", "gone")
    rig.submit(3)
    worker = rig.worker()

    def disabled() -> bool:
        with SqlUnitOfWork(rig.engine, writing=False) as uow:
            found = uow.hub.connector(CODE)
        return found is not None and not found.enabled

    rig.wait("connector disabled", disabled, 10, needs=[worker])
    rig.wait("all settled as retrying", lambda: rig.states() == {"retrying": 3}, 10, needs=[worker])
    time.sleep(2.5)  # longer than the schedule's first step: a paused connector's messages are not sent
    assert rig.states() == {"retrying": 3}
    assert sim.stats()["received"] == 3
    assert all(r.last_status == 410 for r in rig.rows())
    sim.mode(mode="ok")
    set_enabled(SqlUnitOfWork(rig.engine), CODE, True)
    rig.wait("all delivered", lambda: rig.all_delivered(3), 10, needs=[worker])

    stats = check_nothing_lost(rig, sim, 3)
    assert (stats["unique_effects"], stats["duplicates"]) == (3, 0)


def test_three_workers_with_random_500s__share_the_outbox_no_message_sent_twice(rig: Rig) -> None:
    port = free_port()
    rig.connector(port, schedule=[1, 1, 1, 1, 2, 2])
    sim = rig.simulator(port, "--fail-rate", "0.2", "--seed", "3")
    n = 30
    rig.submit(n)
    workers = [rig.worker(name=f"worker-{i}") for i in range(3)]

    rig.wait("all settled", lambda: rig.settled(n), 40, needs=workers)

    stats = check_nothing_lost(rig, sim, n)
    assert rig.states() == {"delivered": n}
    assert (stats["unique_effects"], stats["duplicates"]) == (n, 0)  # no message claimed by two workers
    assert stats["received"] == sum(r.attempts for r in rig.rows())


def test_receiver_crash_and_restart_with_its_state__redeliveries_detected_across_restart(rig: Rig) -> None:
    port = free_port()
    rig.connector(port, timeout_s=10, schedule=[1, 1, 2, 2, 3, 3])
    state = rig.dir / "department.json"
    sim = rig.simulator(port, "--mode", "slow", "--slow-s", "30", "--state-file", str(state), name="sim-1")
    rig.submit(3)
    worker = rig.worker()
    rig.wait("3 deliveries in flight", lambda: sim.stats()["received"] == 3, 15, needs=[worker])

    sim.proc.signal(signal.SIGKILL)  # the department crashes after doing the work, before answering
    sim.proc.popen.wait(5)
    rig.wait("attempts failed", lambda: rig.states() == {"retrying": 3}, 10, needs=[worker])
    restarted = rig.simulator(port, "--state-file", str(state), name="sim-2")
    rig.wait("all delivered", lambda: rig.all_delivered(3), 15, needs=[worker])

    stats = check_nothing_lost(rig, restarted, 3)
    assert stats["unique_effects"] == 3
    assert stats["duplicates"] == 3  # each resend after the restart was recognised
    assert stats["effects_by_type"] == {"gov.civicswitch.request.created": 3}


def test_round_trip__department_updates_come_back_signed__requests_closed_fixed(rig: Rig) -> None:
    port, api_port = free_port(), free_port()
    rig.connector(port)
    base = rig.api(api_port)
    sim = rig.simulator(port, "--callback", base, "--delay", "0.3", "--fail-rate", "0.2", "--seed", "5")
    ids = rig.submit(3)
    worker = rig.worker()

    def closed() -> bool:
        with SqlUnitOfWork(rig.engine, writing=False) as uow:
            found = [uow.requests.get(rid) for rid in ids]
        return all(r is not None and str(r.status) == "closed" for r in found)

    rig.wait("all closed", closed, 30, needs=[worker])
    rig.wait("callbacks done", lambda: sim.stats()["callbacks_pending"] == 0, 10)

    stats = check_nothing_lost(rig, sim, 3)
    assert rig.states() == {"delivered": 3}  # the department's own updates are not echoed back to it
    assert stats["callbacks"].get("applied") == 9
    assert stats["callbacks"].get("failed", 0) == 0
    with SqlUnitOfWork(rig.engine, writing=False) as uow:
        events = uow.requests.events(ids, public_only=False)
        requests = [uow.requests.get(rid) for rid in ids]
    assert {(str(r.status), str(r.close_reason)) for r in requests if r is not None} == {("closed", "fixed")}
    for rid in ids:
        raw = [e.external_status for e in events[rid] if e.external_status]
        assert raw == ["ACK", "WIP", "DONE"]


# -- a worker with a short lease (``civicswitch worker`` has no --lease) ---------------------------------------------
def _lease_worker(argv: list[str]) -> None:
    import argparse
    import asyncio
    import logging
    import threading
    from datetime import timedelta

    from civicswitch.core.db import make_engine
    from civicswitch.hub.connectors.registry import default_senders
    from civicswitch.hub.worker import Worker

    parser = argparse.ArgumentParser()
    parser.add_argument("--lease", type=float, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = make_engine(os.environ["CIVICSWITCH_DATABASE_URL"])
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker = Worker(
        lambda: SqlUnitOfWork(engine), SystemClock(), default_senders(), lease=timedelta(seconds=args.lease)
    )
    asyncio.run(worker.run(stop))


if __name__ == "__main__":
    _lease_worker(sys.argv[1:])
