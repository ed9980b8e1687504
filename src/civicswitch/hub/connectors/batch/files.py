"""Durable file steps: every file another party may pick up appears whole (written beside, fsynced, renamed)."""

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
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
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
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        temp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, temp)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def try_locked(path: Path) -> Iterator[bool]:
    """Like :func:`locked` but without waiting: yields False when another holder has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)
