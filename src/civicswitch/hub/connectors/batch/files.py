"""Durable file steps: every file another party may pick up appears whole (written beside, fsynced, renamed).

Everything the connector creates is for its owner and group only: files ``0o640``, folders ``0o750``, whatever
the process's umask (the mode is set explicitly after creation). Batch files hold residents' reports and, with
``include_contact``, their contact details: give the department's account the group, not the world."""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o640
DIR_MODE = 0o750


def make_dirs(path: Path) -> None:
    """``mkdir -p`` whose new folders are ``0o750`` (folders that exist are left as they are)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode is masked by the umask


def create_file(path: Path, flags: int) -> int:
    """``os.open`` with ``O_CREAT``: a new file gets ``0o640`` whatever the umask; returns the descriptor."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o7777 != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def file_digest(content: bytes) -> str:
    """A short content digest (72 bits, URL-safe base64) naming a file's version."""
    return base64.urlsafe_b64encode(hashlib.sha256(content).digest()[:9]).decode()


def fsync_dir(path: Path) -> None:
    """Make a rename or a new name in ``path`` durable (a crash after it cannot bring the old state back)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees either no file or the whole file: written to a hidden
    ``.<name>.tmp`` beside it, fsynced, then renamed over the final name, and the folder fsynced."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = create_file(temp, os.O_WRONLY | os.O_TRUNC)
    try:
        write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    os.close(fd)
    os.replace(temp, path)
    fsync_dir(path.parent)


def move(source: Path, target: Path) -> None:
    """Move a file, atomically where both are on one filesystem; across filesystems: copy (whole, fsynced,
    renamed into place) and then remove the source."""
    make_dirs(target.parent)
    with contextlib.suppress(PermissionError):  # a file another account owns keeps its mode
        os.chmod(source, FILE_MODE)  # archived and quarantined files are ours now: owner and group only
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        temp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, temp)
        os.chmod(temp, FILE_MODE)
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
        fsync_dir(target.parent)
        source.unlink()
        fsync_dir(source.parent)
        return
    fsync_dir(target.parent)
    if source.parent != target.parent:
        fsync_dir(source.parent)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (and threads) on ``path`` (created if missing), held for the block."""
    make_dirs(path.parent)
    fd = create_file(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def try_locked(path: Path) -> Iterator[bool]:
    """Like :func:`locked` but without waiting: yields False when another holder has it."""
    make_dirs(path.parent)
    fd = create_file(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)
