"""Batch connector settings: checked once, with messages that name the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors.batch import KIND, check_config
from civicswitch.hub.model import ConnectorKind


def _config(tmp_path: Path, **more: Any) -> dict[str, Any]:
    return {"outbox_dir": str(tmp_path / "drop"), "inbox_dir": str(tmp_path / "inbox"), **more}


def test_kind__is_batch() -> None:
    assert KIND == ConnectorKind.BATCH


def test_check_config__two_folders__defaults_filled_in(tmp_path: Path) -> None:
    checked = check_config(_config(tmp_path))

    assert checked == {
        "outbox_dir": str(tmp_path / "drop"),
        "inbox_dir": str(tmp_path / "inbox"),
        "archive_dir": str(tmp_path / "inbox" / "archive"),
        "quarantine_dir": str(tmp_path / "inbox" / "quarantine"),
        "staging_dir": str(tmp_path / "drop" / ".staging"),
        "flush_every_s": 300.0,
        "poll_every_s": 60.0,
        "settle_s": 30.0,
        "file_prefix": None,
        "escape_formulas": True,
        "include_contact": False,
        "encoding": "utf-8-sig",
        "timezone": "UTC",
        "columns": {},
        "ignore_unknown_columns": False,
        "dedupe_window_s": 604800.0,
        "max_files_per_poll": 20,
        "sftp": None,
    }
    assert check_config(checked) == checked  # normalised settings check again unchanged


def test_check_config__sftp__normalised(tmp_path: Path) -> None:
    sftp = {"host": "sftp.dpw.city.gov", "username": "civic311", "remote_outbox": "/in/311/", "remote_inbox": "out"}

    checked = check_config(_config(tmp_path, sftp=sftp))["sftp"]

    assert checked == {
        "host": "sftp.dpw.city.gov",
        "port": 22,
        "username": "civic311",
        "known_hosts": None,
        "key_file": None,
        "remote_outbox": "/in/311",
        "remote_inbox": "out",
        "remote_archive": None,
        "timeout_s": 30.0,
    }


def test_check_config__columns_and_time_zone__header_names_normalised(tmp_path: Path) -> None:
    checked = check_config(
        _config(tmp_path, timezone="America/Chicago", columns={"external_id": "SR Number", "updated_datetime": "x"})
    )

    assert checked["columns"] == {"external_id": "sr_number", "updated_datetime": "x"}


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"outbox_dir": None}, "outbox_dir"),
        ({"inbox_dir": "relative/inbox"}, "inbox_dir"),
        ({"archive_dir": 7}, "archive_dir"),
        ({"flush_every_s": 0}, "flush_every_s"),
        ({"flush_every_s": True}, "flush_every_s"),
        ({"settle_s": -1}, "settle_s"),
        ({"file_prefix": "../evil"}, "file_prefix"),
        ({"encoding": "klingon"}, "encoding"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"columns": {"colour": "x"}}, "columns"),
        ({"columns": {"status": "a", "description": "A"}}, "columns"),
        ({"ignore_unknown_columns": "yes"}, "ignore_unknown_columns"),
        ({"dedupe_window_s": 60}, "dedupe_window_s"),
        ({"max_files_per_poll": 0}, "max_files_per_poll"),
        ({"sftp": "sftp://host"}, "sftp"),
        ({"sftp": {"host": "h", "username": "u"}}, "sftp"),
        ({"sftp": {"host": "h", "username": "u", "remote_outbox": "/x", "port": 0}}, "sftp.port"),
        ({"sftp": {"host": "bad host", "username": "u", "remote_outbox": "/x"}}, "sftp.host"),
        ({"sftp": {"host": "h", "username": "u", "remote_outbox": "/x", "known_hosts": "kh"}}, "sftp.known_hosts"),
        ({"sftp": {"host": "h", "username": "u", "remote_outbox": "/x", "password": "p"}}, "sftp"),
        (
            {"sftp": {"host": "h", "username": "u", "remote_outbox": "/x", "remote_archive": "/a"}},
            "sftp.remote_archive",
        ),
    ],
)
def test_check_config__bad_setting__invalid_naming_it(tmp_path: Path, change: dict[str, Any], setting: str) -> None:
    config = _config(tmp_path)
    config.update(change)
    config = {k: v for k, v in config.items() if v is not None}

    with pytest.raises(Invalid) as raised:
        check_config(config)

    assert raised.value.field == setting
    assert raised.value.description.startswith(f"batch: {setting}")


def test_check_config__unknown_setting__invalid_listing_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match=r"unknown setting flush_every \(known: outbox_dir"):
        check_config(_config(tmp_path, flush_every=10))


def test_check_config__same_folder_twice__invalid(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="different folders"):
        check_config(_config(tmp_path, archive_dir=str(tmp_path / "inbox")))
    with pytest.raises(Invalid, match="inside each other"):
        check_config(_config(tmp_path, outbox_dir=str(tmp_path / "inbox" / "drop")))
