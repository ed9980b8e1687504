"""SFTP transport against a real SFTP server (asyncssh's own, started on localhost for each test)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from batch_support import NOW, csv_text, drop_files, message, read_csv

from civicswitch.core.clock import FixedClock
from civicswitch.hub.connectors.batch import BatchPoller, BatchSender
from civicswitch.hub.model import Connector, OutcomeKind

MakeConnector = Callable[..., Connector]


class _Sftpd:
    """An SFTP server rooted at ``root`` taking one client key; ``known_hosts`` names its host key."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "sftp-root"
        self.root.mkdir()
        self.known_hosts = tmp_path / "known_hosts"
        self.key_file = tmp_path / "id_ed25519"
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key.write_private_key(str(self.key_file))
        self.authorized = tmp_path / "authorized_keys"
        self.authorized.write_bytes(client_key.export_public_key())
        self.port = 0
        self._server: asyncssh.SSHAcceptor | None = None

    async def __aenter__(self) -> _Sftpd:
        root = str(self.root)
        self._server = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            authorized_client_keys=str(self.authorized),
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=root),
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.trust(self.host_key)
        return self

    def trust(self, key: asyncssh.SSHKey) -> None:
        self.known_hosts.write_bytes(f"[127.0.0.1]:{self.port} ".encode() + key.export_public_key())

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def settings(self, **more: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "username": "civic311",
            "known_hosts": str(self.known_hosts),
            "key_file": str(self.key_file),
            **more,
        }


def test_flush__sftp_outbox__closed_file_uploaded_whole_and_local_copy_removed(
    make_connector: MakeConnector, folders: dict[str, Path], tmp_path: Path
) -> None:
    sftpd = _Sftpd(tmp_path)
    (sftpd.root / "to-dpw").mkdir()
    other = folders["outbox_dir"] / "parks_20261128T110000Z_000007.csv"  # another connector's file: not ours to send
    other.write_text("x\r\n")

    async def run() -> list[str]:
        async with sftpd:
            connector = make_connector(sftp=sftpd.settings(remote_outbox="/to-dpw"))
            sender = BatchSender(clock=FixedClock(NOW), schedule=False)
            outcomes = await asyncio.gather(*(sender.send(connector, message(n)) for n in range(3)))
            assert {o.kind for o in outcomes} == {OutcomeKind.DELIVERED}
            return await sender.flush(connector, force=True)

    closed = asyncio.run(run())

    assert closed == ["dpw-batch_20261128T120000Z_000001.csv"]
    assert sorted(p.name for p in (sftpd.root / "to-dpw").iterdir()) == closed  # no .part left behind
    assert len(read_csv(sftpd.root / "to-dpw" / closed[0])[1]) == 3
    assert drop_files(folders["outbox_dir"]) == [other]


def test_flush__server_host_key_not_the_known_one__refused_and_file_kept_for_later(
    make_connector: MakeConnector, folders: dict[str, Path], tmp_path: Path
) -> None:
    sftpd = _Sftpd(tmp_path)
    (sftpd.root / "to-dpw").mkdir()

    async def run() -> None:
        async with sftpd:
            sftpd.trust(asyncssh.generate_private_key("ssh-ed25519"))  # a man in the middle would show another key
            connector = make_connector(sftp=sftpd.settings(remote_outbox="/to-dpw"))
            sender = BatchSender(clock=FixedClock(NOW), schedule=False)
            await sender.send(connector, message(1))
            with pytest.raises(asyncssh.HostKeyNotVerifiable):
                await sender.flush(connector, force=True)

            sftpd.trust(sftpd.host_key)
            await sender.flush(connector)  # the next flush takes the waiting file

    asyncio.run(run())

    assert len(list((sftpd.root / "to-dpw").glob("*.csv"))) == 1
    assert drop_files(folders["outbox_dir"]) == []


def test_poll__sftp_inbox__files_fetched_read_and_moved_to_the_remote_archive(
    make_connector: MakeConnector, folders: dict[str, Path], tmp_path: Path
) -> None:
    sftpd = _Sftpd(tmp_path)
    remote_in = sftpd.root / "from-dpw"
    (remote_in / "done").mkdir(parents=True)
    header = ["update_id", "service_request_id", "status", "updated_datetime", "description"]
    settled = remote_in / "status_1.csv"
    settled.write_text(csv_text([header, ["u-1", "1001", "Closed", "2026-11-27T15:06:58Z", "Replaced fuse"]]))
    os.utime(settled, (time.time() - 600, time.time() - 600))
    fresh = remote_in / "status_2.csv"  # still being uploaded by the department
    fresh.write_text(csv_text([header, ["u-2", "1002", "Closed", "2026-11-27T16:00:00Z", ""]]))

    async def run() -> tuple[list[str], list[str]]:
        async with sftpd:
            connector = make_connector(
                settle_s=60, sftp=sftpd.settings(remote_inbox="/from-dpw", remote_archive="/from-dpw/done")
            )
            poller = BatchPoller(clock=FixedClock(NOW))
            updates, cursor = await poller.poll(connector, None)
            again, _ = await poller.poll(connector, cursor)
            return [u.update_id for u in updates], [u.update_id for u in again]

    first, again = asyncio.run(run())

    assert first == ["u-1"] and again == []
    assert [p.name for p in (remote_in / "done").iterdir()] == ["status_1.csv"]
    assert fresh.exists() and not settled.exists()
    assert (folders["inbox_dir"] / "archive" / "status_1.csv").exists()
