"""A real ``civicswitch serve`` process and raw sockets (issue 8 §3): slow clients are cut off (headers and
body), oversized headers refused, log lines escape control characters, and forwarded headers count only from a
configured proxy. With ``--workers 2`` (issue 9 §1): each worker listens on its own socket, a burst of keep-alive
clients reaches both, a second server on the port is refused, a killed worker is replaced and SIGTERM leaves no
worker behind. Every wait is bounded; the server's timeouts are set to 1 s here."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
GIVE_UP_S = 15.0  # far above the 1 s timeouts: only a server that never cuts the client off gets here
STARTING_S = 60.0  # a worker process starting on a busy machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=GIVE_UP_S)
        return sock

    def log_text(self) -> str:
        return self.log.read_bytes().decode("utf-8", "replace")


def _serve(tmp_path: Path, sqlite_template: Path, name: str, *args: str, **env: str) -> Iterator[Served]:
    db = tmp_path / f"{name}.db"
    shutil.copy(sqlite_template, db)
    port = free_port()
    log = tmp_path / f"{name}.log"
    environment = {
        **os.environ,
        "CIVICSWITCH_DATABASE_URL": f"sqlite:///{db}",
        "CIVICSWITCH_HEADER_TIMEOUT_SECONDS": "1",
        "CIVICSWITCH_BODY_TIMEOUT_SECONDS": "1",
        "CIVICSWITCH_LOG_LEVEL": "INFO",
        **env,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "civicswitch"), "serve", "--port", str(port), *args], env=environment, stdout=out, stderr=out
        )
    served = Served(port, log, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{served.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, served.log_text()
            time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Served]:
    yield from _serve(tmp_path_factory.mktemp("serve"), sqlite_template, "plain")


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Served]:
    for served in _serve(tmp_path_factory.mktemp("workers"), sqlite_template, "workers", "--workers", "2"):
        _wait_for_workers(served, 2)
        yield served


@pytest.fixture
def two_workers_to_stop(tmp_path: Path, sqlite_template: Path) -> Iterator[Served]:
    """Like ``two_workers``, for one test that kills or stops it."""
    for served in _serve(tmp_path, sqlite_template, "stopped", "--workers", "2"):
        _wait_for_workers(served, 2)
        yield served


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Served]:
    yield from _serve(
        tmp_path_factory.mktemp("proxy"), sqlite_template, "proxied", "--forwarded-allow-ips", "127.0.0.1",
        CIVICSWITCH_ALLOWED_HOSTS="311.example.gov,127.0.0.1",
    )  # fmt: skip


def _read_until_closed(sock: socket.socket, dribble: bytes | None = None) -> bytes:
    """Read what the server sends until it closes the connection; with ``dribble``, send it every 0.3 s."""
    got = b""
    deadline = time.monotonic() + GIVE_UP_S
    sock.settimeout(0.3)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if dribble is not None:
                try:
                    sock.sendall(dribble)
                except OSError:
                    return got
            continue
        except ConnectionResetError:
            return got
        if not chunk:
            return got
        got += chunk
    raise AssertionError(f"the server kept the connection open for {GIVE_UP_S} s; got {got[:200]!r}")


def test_serve__headers_sent_slowly__408_and_closed(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        got = _read_until_closed(sock, dribble=b"X-Slow: yes\r\n")
    assert got.startswith(b"HTTP/1.1 408 "), got[:200]
    assert "the request headers were not received within 1 s" in served.log_text()


def test_serve__connection_that_sends_nothing__closed(served: Served) -> None:
    with served.connect() as sock:
        got = _read_until_closed(sock)
    assert got.startswith(b"HTTP/1.1 408 "), got[:200]


def _read_one_response(sock: socket.socket) -> bytes:
    """One whole response (headers, then content-length bytes of body), however the segments arrive."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_serve__kept_alive_connection_then_slow_headers__closed(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(GIVE_UP_S)
        first = _read_one_response(sock)
        assert first.startswith(b"HTTP/1.1 200 "), first[:200]
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        got = _read_until_closed(sock, dribble=b"X-Slow: yes\r\n")
    assert got.startswith(b"HTTP/1.1 408 "), got[:200]


def test_serve__body_sent_slowly__408_in_the_url_format_and_closed(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(
            b"POST /open311/v2/requests.xml HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nservice_code="
        )
        got = _read_until_closed(sock, dribble=b"a")
    assert got.startswith(b"HTTP/1.1 408 "), got[:300]
    assert b"<code>408</code>" in got and b"connection: close" in got.lower()


def test_serve__oversized_headers__431(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            for n in range(100):  # 100 x 1 KB, over the 64 KiB default
                sock.sendall(f"X-Big-{n}: {'v' * 1000}\r\n".encode())
            sock.sendall(b"\r\n")
        except OSError:
            pass  # the server may close while we still write
        got = _read_until_closed(sock)
    assert got.startswith(b"HTTP/1.1 431 "), got[:200]


def test_serve__url_with_control_characters__logged_escaped(served: Served) -> None:
    reply = httpx.get(f"{served.base}/open311/v2/no%1b[31mwhere%07.json", timeout=GIVE_UP_S)
    assert reply.status_code == 404
    deadline = time.monotonic() + GIVE_UP_S
    while "no\\x1b[31mwhere\\x07.json" not in served.log_text():
        assert time.monotonic() < deadline, served.log_text()
        time.sleep(0.1)
    raw = served.log.read_bytes()
    assert b"\x1b" not in raw and b"\x07" not in raw


def test_serve__security_headers_and_head(served: Served) -> None:
    head = httpx.head(f"{served.base}/open311/v2/services.json", timeout=GIVE_UP_S)
    assert head.status_code == 200 and head.content == b""
    assert (
        head.headers["x-frame-options"] == "DENY"
        and "frame-ancestors 'none'" in head.headers["content-security-policy"]
    )
    assert "server" not in head.headers


def test_serve__forwarded_headers_ignored_unless_from_a_configured_proxy(served: Served) -> None:
    forged = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9"}
    url = httpx.get(f"{served.base}/open311/v2/discovery.json", headers=forged, timeout=GIVE_UP_S).json()
    assert url["endpoints"][0]["url"] == f"{served.base}/open311/v2"


def test_serve__forwarded_headers_honoured_from_the_proxy_and_hosts_checked(behind_proxy: Served) -> None:
    proxied = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9", "host": "311.example.gov"}
    reply = httpx.get(f"{behind_proxy.base}/open311/v2/discovery.json", headers=proxied, timeout=GIVE_UP_S)
    assert reply.json()["endpoints"][0]["url"] == "https://311.example.gov/open311/v2"
    other = httpx.get(f"{behind_proxy.base}/open311/v2/discovery.xml", headers={"host": "evil.example"})
    assert other.status_code == 400 and b"<code>400</code>" in other.content


# -- serve --workers 2: one listening socket per worker (issue 9 §1) ----------------------------------------------
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; SO_REUSEPORT balances on Linux"
)


def _workers(served: Served) -> set[int]:
    """The live worker processes of ``served``: its children that logged "Started server process" (the others:
    multiprocessing's resource tracker)."""
    started = {int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", served.log_text())}
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) in started:
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == served.process.pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def _listening(pid: int, port: int) -> set[int]:
    """The inodes of the listening TCP sockets on ``port`` that process ``pid`` holds."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    inodes.add(int(fields[9]))
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and int(target[8:-1]) in inodes:
            held.add(int(target[8:-1]))
    return held


def _wait_for(what: str, check: Callable[[], object], served: Served, within: float = GIVE_UP_S) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"{what}; log:\n{served.log_text()}"
        time.sleep(0.1)


def _wait_for_workers(served: Served, n: int) -> None:
    started = lambda: served.log_text().count("Application startup complete") >= n  # noqa: E731
    _wait_for(f"{n} workers started", started, served, within=STARTING_S)


def _answered_by(served: Served, marker: str) -> list[int]:
    """The process id of each access line whose request carries ``marker``."""
    return [
        int(match.group(1))
        for line in served.log_text().splitlines()
        if "uvicorn.access" in line and marker in line and (match := re.search(r" \[(\d+)\] ", line))
    ]


@linux_only
def test_serve__two_workers__each_listens_on_its_own_socket_the_parent_on_none(two_workers: Served) -> None:
    workers = _workers(two_workers)
    held = {pid: _listening(pid, two_workers.port) for pid in workers}
    assert len(workers) == 2 and all(len(inodes) == 1 for inodes in held.values()), held
    assert len(set.union(*held.values())) == 2, held  # two sockets, not one shared
    assert not _listening(two_workers.process.pid, two_workers.port)  # its reserved address takes no connection


@linux_only
def test_serve__two_workers_sixteen_clients_connecting_at_once__both_workers_answer(two_workers: Served) -> None:
    workers = _workers(two_workers)
    clients = [two_workers.connect() for _ in range(16)]  # all connected before any request is sent
    try:
        for n, sock in enumerate(clients):
            sock.sendall(f"GET /healthz?burst={n} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        for sock in clients:
            assert _read_one_response(sock).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in clients:
            sock.close()
    _wait_for("16 access lines", lambda: len(_answered_by(two_workers, "/healthz?burst=")) == 16, two_workers)
    # The kernel hashes each connection to one of the two sockets: all 16 on one has a chance of 2 in 65,536.
    assert set(_answered_by(two_workers, "/healthz?burst=")) == workers, two_workers.log_text()


def test_serve__second_server_on_the_same_port__refused_in_one_line(
    two_workers: Served, tmp_path: Path, sqlite_template: Path
) -> None:
    shutil.copy(sqlite_template, tmp_path / "second.db")
    second = subprocess.run(
        [str(BIN / "civicswitch"), "serve", "--port", str(two_workers.port), "--workers", "2"],
        env={**os.environ, "CIVICSWITCH_DATABASE_URL": f"sqlite:///{tmp_path / 'second.db'}"},
        capture_output=True, timeout=GIVE_UP_S * 4,
    )  # fmt: skip
    said = second.stderr.decode().strip()
    assert second.returncode == 2 and "is already in use: choose another with --port" in said, said
    assert len(said.splitlines()) == 1 and not second.stdout, said
    assert httpx.get(f"{two_workers.base}/healthz", timeout=GIVE_UP_S).status_code == 200


@linux_only
def test_serve__worker_killed__replaced_by_one_with_its_own_socket(two_workers_to_stop: Served) -> None:
    served = two_workers_to_stop
    first = _workers(served)
    killed = min(first)
    os.kill(killed, signal.SIGKILL)
    _wait_for("a new worker", lambda: len(_workers(served) - first) == 1, served, within=STARTING_S)
    (new,) = _workers(served) - first
    _wait_for("the new worker listening", lambda: len(_listening(new, served.port)) == 1, served, within=STARTING_S)
    assert f"Child process [{killed}] died" in served.log_text()
    held = [_listening(pid, served.port) for pid in _workers(served)]
    assert len(held) == 2 and len(set.union(*held)) == 2, held
    assert httpx.get(f"{served.base}/healthz", timeout=GIVE_UP_S).status_code == 200


@linux_only
def test_serve__sigterm_to_the_parent__workers_stop_too(two_workers_to_stop: Served) -> None:
    served = two_workers_to_stop
    workers = _workers(served)
    assert len(workers) == 2
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=GIVE_UP_S * 2) == 0, served.log_text()
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], served.log_text()  # no orphan left
