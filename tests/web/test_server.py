"""The sockets of `serve --workers N` (issue 9 §1), in-process: the address held for the workers refuses any other
program's bind, each worker's own socket joins it and gets connections, a port in TIME_WAIT from a server without
SO_REUSEPORT is still usable, and where SO_REUSEPORT does not balance the workers share one socket and a line
says so. The real processes are in test_serve_process.py."""

from __future__ import annotations

import errno
import logging
import pickle
import socket
import sys
from collections.abc import Iterator

import pytest
import uvicorn

from civicswitch.web import server

linux_only = pytest.mark.skipif(not server.reuse_port_balances(), reason="SO_REUSEPORT balances on Linux only")


def _config(port: int = 0) -> uvicorn.Config:
    return uvicorn.Config("civicswitch.web.asgi:app", host="127.0.0.1", port=port, workers=2, log_config=None)


def _plain_bind(port: int) -> int:
    """The errno of a bind without SO_REUSEPORT (with SO_REUSEADDR, as servers bind) to ``port``; 0 if it worked."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno or -1
        return 0


@pytest.fixture
def held() -> Iterator[server.OwnSocket]:
    with server.reserved(_config()) as own:
        assert own is not None
        yield own


@linux_only
def test_reserved__another_programs_bind__refused(held: server.OwnSocket) -> None:
    assert _plain_bind(held.address[1]) == errno.EADDRINUSE


@linux_only
def test_own_socket__unpickled_in_each_worker__a_socket_of_its_own_that_gets_connections(
    held: server.OwnSocket,
) -> None:
    own = [pickle.loads(pickle.dumps(held)) for _ in range(2)]  # what each worker process receives
    clients: list[socket.socket] = []
    try:
        assert all(isinstance(sock, socket.socket) for sock in own) and own[0].fileno() != own[1].fileno()
        for sock in own:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert sock.getsockname() == held.address
            sock.listen()
            sock.setblocking(False)
        clients = [socket.create_connection(held.address) for _ in range(32)]
        accepted = [0, 0]
        for n, sock in enumerate(own):
            for _ in range(32):
                try:
                    sock.accept()[0].close()
                except BlockingIOError:
                    break
                accepted[n] += 1
        # Every connection was queued on one of the two sockets (the reserved one takes none); all 32 on one has
        # a chance of 2 in 4 billion.
        assert sum(accepted) == 32 and min(accepted) > 0, accepted
    finally:
        for sock in [*own, *clients]:
            sock.close()


@linux_only
def test_reserved__port_left_in_time_wait_by_a_server_without_reuse_port__still_held() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            listener.accept()[0].close()  # the server closes first: its side stays in TIME_WAIT
            client.recv(1)
    with server.reserved(_config(port)) as own:
        assert own is not None and own.address == ("127.0.0.1", port)


@linux_only
def test_own_socket__address_taken_by_another_program__startup_failure_status(held: server.OwnSocket) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(SystemExit) as exited:
            server.bind_own_socket(socket.AF_INET, other.getsockname())
    assert exited.value.code == 3


def test_reserved__where_reuse_port_does_not_balance__workers_share_one_socket_and_a_line_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(server, "reuse_port_balances", lambda: False)
    with caplog.at_level(logging.WARNING, logger="civicswitch.web.server"), server.reserved(_config()) as own:
        assert own is None
    assert f"SO_REUSEPORT does not balance connections on {sys.platform}" in caplog.text
    assert "share one listening socket" in caplog.text
