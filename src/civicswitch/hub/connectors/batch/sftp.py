"""SFTP as the transport (asyncssh): closed batches go up to ``remote_outbox``; update files come down from
``remote_inbox`` into the local ``inbox_dir``. The local folders stay the working copies, so the rest of the
connector is the same with or without SFTP.

- Host keys are always checked: against ``known_hosts`` when set, else the user's ``~/.ssh/known_hosts``.
  There is no setting to turn the check off.
- Login with ``key_file`` when set, else the user's default keys or SSH agent (no passwords: the connector's
  config holds no secrets).
- Up: each closed file is put as ``.<name>.part`` and renamed to its name (POSIX rename where the server has
  it), then the local copy is removed. A crash in between re-sends the same file under the same name.
- Down: each ``*.csv`` file of ``remote_inbox`` older than ``settle_s`` is fetched to a hidden name, fsynced and
  renamed into ``inbox_dir``, then removed from the server (or moved to ``remote_archive``). A crash in
  between fetches it again: the poller drops rows it has already handed over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civicswitch.hub.connectors.batch.config import SftpSettings
from civicswitch.hub.connectors.batch.files import FILE_MODE, file_digest, fsync_dir, try_locked

if TYPE_CHECKING:
    import asyncssh


async def _connect(settings: SftpSettings) -> asyncssh.SSHClientConnection:
    import asyncssh  # imported here: only connectors with SFTP need it

    options: dict[str, Any] = {
        "username": settings.username,
        "connect_timeout": settings.timeout_s,
        "login_timeout": settings.timeout_s,
        "config": None,  # no ~/.ssh/config: the connector's settings say everything
    }
    if settings.known_hosts is not None:
        options["known_hosts"] = settings.known_hosts  # (never None: that would skip the host key check)
    if settings.key_file is not None:
        options["client_keys"] = [settings.key_file]
    return await asyncssh.connect(settings.host, settings.port, **options)


async def _rename(client: asyncssh.SFTPClient, old: str, new: str) -> None:
    import asyncssh

    try:
        await client.posix_rename(old, new)  # replaces an existing file, atomically
    except asyncssh.SFTPOpUnsupported:
        try:
            await client.rename(old, new)
        except asyncssh.SFTPFailure:
            if not await client.exists(new):
                raise
            await client.remove(new)
            await client.rename(old, new)


def _closed_files(outbox: Path, prefix: str) -> list[Path]:
    return sorted(
        p for p in outbox.iterdir() if p.is_file() and p.name.startswith(f"{prefix}_") and p.name.endswith(".csv")
    )


async def upload_outbox(settings: SftpSettings, outbox: Path, prefix: str, lock: Path) -> list[str]:
    """Upload this connector's closed files (``<prefix>_….csv``) waiting in ``outbox``; returns their names.
    Raises on a connection problem (the files stay and go with the next flush)."""
    assert settings.remote_outbox is not None
    if not outbox.is_dir() or not _closed_files(outbox, prefix):
        return []
    with try_locked(lock) as mine:
        if not mine:
            return []  # another worker is uploading
        sent: list[str] = []
        async with await _connect(settings) as conn, conn.start_sftp_client() as client:
            for path in _closed_files(outbox, prefix):
                remote = f"{settings.remote_outbox}/{path.name}"
                part = f"{settings.remote_outbox}/.{path.name}.part"
                await client.put(str(path), part)
                await _rename(client, part, remote)
                path.unlink()
                sent.append(path.name)
        if sent:
            fsync_dir(outbox)
        return sent


async def fetch_inbox(settings: SftpSettings, inbox: Path, settle_s: float) -> list[str]:
    """Bring the settled ``*.csv`` files of ``remote_inbox`` into ``inbox``; returns their names."""
    import asyncssh

    assert settings.remote_inbox is not None
    fetched: list[str] = []
    async with await _connect(settings) as conn, conn.start_sftp_client() as client:
        settled = time.time() - settle_s
        for entry in await client.readdir(settings.remote_inbox):
            name = str(entry.filename)
            if name.startswith(".") or not name.lower().endswith(".csv") or "/" in name:
                continue
            if entry.attrs.type != asyncssh.FILEXFER_TYPE_REGULAR:
                continue
            if entry.attrs.mtime is not None and entry.attrs.mtime > settled:
                continue  # maybe still being written
            remote = f"{settings.remote_inbox}/{name}"
            part = inbox / f".{name}.part"
            await client.get(remote, str(part))
            # A fetched file is whole: it keeps the server's time, so the local settle_s does not hold it back.
            mtime = entry.attrs.mtime if entry.attrs.mtime is not None else settled
            await asyncio.to_thread(_settle_download, part, inbox / name, mtime)
            if settings.remote_archive is not None:
                await _rename(client, remote, f"{settings.remote_archive}/{name}")
            else:
                await client.remove(remote)
            fetched.append(name)
    return fetched


def _settle_download(part: Path, target: Path, mtime: float) -> None:
    os.chmod(part, FILE_MODE)  # the server's mode (or the umask) does not decide who may read it here
    os.utime(part, (mtime, mtime))
    fd = os.open(part, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if target.exists():
        if target.read_bytes() == part.read_bytes():
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            return
        target = target.with_name(f"{target.stem}.{file_digest(part.read_bytes())}{target.suffix}")
    os.replace(part, target)
    fsync_dir(target.parent)
