"""Batch connector settings: checked and normalised once, when the connector is created or changed."""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors.batch.formats import INBOUND_COLUMNS, normalise_header

SETTINGS = (
    "outbox_dir",
    "inbox_dir",
    "archive_dir",
    "quarantine_dir",
    "staging_dir",
    "flush_every_s",
    "poll_every_s",
    "settle_s",
    "file_prefix",
    "escape_formulas",
    "include_contact",
    "encoding",
    "timezone",
    "columns",
    "ignore_unknown_columns",
    "dedupe_window_s",
    "max_files_per_poll",
    "sftp",
)
SFTP_SETTINGS = (
    "host",
    "port",
    "username",
    "known_hosts",
    "key_file",
    "remote_outbox",
    "remote_inbox",
    "remote_archive",
    "timeout_s",
)
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]+")
_USER = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._@-]{0,63}")


def _fail(setting: str, text: str) -> Invalid:
    return Invalid(f"batch: {setting} {text}", field=setting)


def _path(config: Mapping[str, Any], setting: str, default: str | None = None) -> str:
    value = config.get(setting)
    if value is None:
        if default is None:
            raise _fail(setting, "is required: an absolute folder path")
        return default
    if not isinstance(value, str) or not value.strip() or "\x00" in value or len(value) > 1000:
        raise _fail(setting, f"must be an absolute folder path, got {str(value)[:100]!r}")
    if not os.path.isabs(value.strip()):
        raise _fail(setting, f"must be an absolute folder path (not relative to the worker's folder): {value!r}")
    return os.path.normpath(value.strip())


def _number(config: Mapping[str, Any], setting: str, default: float, low: float, high: float) -> float:
    value = config.get(setting, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _fail(setting, f"must be a number of seconds from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _bool(config: Mapping[str, Any], setting: str, default: bool) -> bool:
    value = config.get(setting, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(setting, f"must be true or false, got {value!r}")
    return value


def _remote(sftp: Mapping[str, Any], setting: str) -> str | None:
    value = sftp.get(setting)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "\r\n\x00") or len(value) > 1000:
        raise _fail(f"sftp.{setting}", f"must be a remote folder path, got {str(value)[:100]!r}")
    text = value.strip()
    return text.rstrip("/") or "/"


def _sftp(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _fail("sftp", "must be an object with host, username and remote_outbox and/or remote_inbox")
    unknown = set(value) - set(SFTP_SETTINGS)
    if unknown:
        raise _fail("sftp", f"has unknown setting {', '.join(sorted(unknown))} (known: {', '.join(SFTP_SETTINGS)})")
    host = value.get("host")
    if not isinstance(host, str) or not _HOST.fullmatch(host.strip()):
        raise _fail("sftp.host", f"must be a host name or IP address, got {host!r}")
    port = value.get("port", 22)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise _fail("sftp.port", f"must be a port number (1–65535), got {port!r}")
    username = value.get("username")
    if not isinstance(username, str) or not _USER.fullmatch(username.strip()):
        raise _fail("sftp.username", f"must be a login name, got {username!r}")
    files: dict[str, str | None] = {}
    for setting in ("known_hosts", "key_file"):
        raw = value.get(setting)
        if raw is None:
            files[setting] = None
            continue
        if not isinstance(raw, str) or not os.path.isabs(raw.strip()) or "\x00" in raw:
            raise _fail(f"sftp.{setting}", f"must be an absolute file path, got {str(raw)[:100]!r}")
        files[setting] = os.path.normpath(raw.strip())
    remote_outbox = _remote(value, "remote_outbox")
    remote_inbox = _remote(value, "remote_inbox")
    if remote_outbox is None and remote_inbox is None:
        raise _fail("sftp", "needs remote_outbox (where batches go) and/or remote_inbox (where updates come from)")
    remote_archive = _remote(value, "remote_archive")
    if remote_archive is not None and remote_inbox is None:
        raise _fail("sftp.remote_archive", "needs sftp.remote_inbox")
    timeout = _number(value, "timeout_s", 30, 1, 300)
    return {
        "host": host.strip(),
        "port": port,
        "username": username.strip(),
        "known_hosts": files["known_hosts"],
        "key_file": files["key_file"],
        "remote_outbox": remote_outbox,
        "remote_inbox": remote_inbox,
        "remote_archive": remote_archive,
        "timeout_s": timeout,
    }


def _columns(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail("columns", "must map a batch column (update_id, status, …) to the header name in the files")
    found: dict[str, str] = {}
    for ours, theirs in value.items():
        if ours not in INBOUND_COLUMNS:
            raise _fail("columns", f"names {ours!r}, which is not a batch column ({', '.join(INBOUND_COLUMNS)})")
        if not isinstance(theirs, str) or not normalise_header(theirs):
            raise _fail("columns", f"{ours}: must be a header name, got {theirs!r}")
        found[ours] = normalise_header(theirs)
    if len(set(found.values())) != len(found):
        raise _fail("columns", "maps two batch columns to the same header")
    return found


def check_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise batch settings (see the package docstring); raises :class:`Invalid` naming the
    setting."""
    unknown = set(config) - set(SETTINGS)
    if unknown:
        raise Invalid(f"batch: unknown setting {', '.join(sorted(unknown))} (known: {', '.join(SETTINGS)})")
    outbox = _path(config, "outbox_dir")
    inbox = _path(config, "inbox_dir")
    archive = _path(config, "archive_dir", os.path.join(inbox, "archive"))
    quarantine = _path(config, "quarantine_dir", os.path.join(inbox, "quarantine"))
    staging = _path(config, "staging_dir", os.path.join(outbox, ".staging"))
    if len({outbox, inbox, archive, quarantine, staging}) != 5:
        raise _fail("outbox_dir", "inbox_dir, archive_dir, quarantine_dir and staging_dir must be different folders")
    if Path(outbox) in Path(inbox).parents or Path(inbox) in Path(outbox).parents:
        raise _fail("inbox_dir", "and outbox_dir must not be inside each other")

    prefix = config.get("file_prefix")
    if prefix is not None and (not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix)):
        raise _fail("file_prefix", "must be 1–40 letters, digits, '-' or '_' (the connector code when not set)")

    encoding = config.get("encoding", "utf-8-sig")
    try:
        if not isinstance(encoding, str):
            raise LookupError(encoding)
        encoding = codecs.lookup(encoding).name
    except LookupError:
        raise _fail("encoding", f"must be a text encoding such as utf-8 or cp1252, got {encoding!r}") from None

    zone = config.get("timezone", "UTC")
    try:
        if not isinstance(zone, str) or not zone:
            raise ValueError(zone)
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        raise _fail("timezone", f"must be an IANA time zone such as America/Chicago, got {zone!r}") from None

    files = config.get("max_files_per_poll", 20)
    if isinstance(files, bool) or not isinstance(files, int) or not 1 <= files <= 100:
        raise _fail("max_files_per_poll", f"must be a whole number from 1 to 100, got {files!r}")

    return {
        "outbox_dir": outbox,
        "inbox_dir": inbox,
        "archive_dir": archive,
        "quarantine_dir": quarantine,
        "staging_dir": staging,
        "flush_every_s": _number(config, "flush_every_s", 300, 1, 86_400),
        "poll_every_s": _number(config, "poll_every_s", 60, 1, 86_400),
        "settle_s": _number(config, "settle_s", 30, 0, 3_600),
        "file_prefix": prefix,
        "escape_formulas": _bool(config, "escape_formulas", True),
        "include_contact": _bool(config, "include_contact", False),
        "encoding": encoding,
        "timezone": zone,
        "columns": _columns(config.get("columns")),
        "ignore_unknown_columns": _bool(config, "ignore_unknown_columns", False),
        "dedupe_window_s": _number(config, "dedupe_window_s", 7 * 86_400, 3_600, 90 * 86_400),
        "max_files_per_poll": files,
        "sftp": _sftp(config.get("sftp")),
    }


@dataclass(frozen=True, slots=True)
class SftpSettings:
    host: str
    port: int
    username: str
    known_hosts: str | None
    key_file: str | None
    remote_outbox: str | None
    remote_inbox: str | None
    remote_archive: str | None
    timeout_s: float


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """The checked settings, typed. Built from a connector's stored config (checked again: cheap, and a config
    written by hand or by an older version fails loudly instead of half-working)."""

    outbox_dir: Path
    inbox_dir: Path
    archive_dir: Path
    quarantine_dir: Path
    staging_dir: Path
    flush_every_s: float
    settle_s: float
    file_prefix: str | None
    escape_formulas: bool
    encoding: str
    timezone: ZoneInfo
    columns: Mapping[str, str]
    ignore_unknown_columns: bool
    dedupe_window_s: float
    max_files_per_poll: int
    sftp: SftpSettings | None

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> BatchSettings:
        c = check_config(config)
        return cls(
            outbox_dir=Path(c["outbox_dir"]),
            inbox_dir=Path(c["inbox_dir"]),
            archive_dir=Path(c["archive_dir"]),
            quarantine_dir=Path(c["quarantine_dir"]),
            staging_dir=Path(c["staging_dir"]),
            flush_every_s=c["flush_every_s"],
            settle_s=c["settle_s"],
            file_prefix=c["file_prefix"],
            escape_formulas=c["escape_formulas"],
            encoding=c["encoding"],
            timezone=ZoneInfo(c["timezone"]),
            columns=c["columns"],
            ignore_unknown_columns=c["ignore_unknown_columns"],
            dedupe_window_s=c["dedupe_window_s"],
            max_files_per_poll=c["max_files_per_poll"],
            sftp=SftpSettings(**c["sftp"]) if c["sftp"] else None,
        )
