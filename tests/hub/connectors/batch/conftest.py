"""Batch connector fixtures: a fake connector on tmp folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from civicswitch.hub.connectors.batch import check_config
from civicswitch.hub.model import Connector, ConnectorKind


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    found = {"outbox_dir": tmp_path / "drop", "inbox_dir": tmp_path / "inbox"}
    for path in found.values():
        path.mkdir()
    return found


MakeConnector = Callable[..., Connector]


@pytest.fixture
def make_connector(folders: dict[str, Path]) -> MakeConnector:
    def make(**settings: Any) -> Connector:
        config = {"outbox_dir": str(folders["outbox_dir"]), "inbox_dir": str(folders["inbox_dir"]), "settle_s": 0}
        config.update(settings)
        return Connector(code="dpw-batch", kind=ConnectorKind.BATCH, body_code="DPW", config=check_config(config))

    return make
