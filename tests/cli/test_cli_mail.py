"""`civicswitch mail import`: messages saved as files are taken as if the relay had handed them over (filed, in
triage, ignored), each once; `settings set mail_address` checks the address."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from civicswitch.catalog.loader import load_catalog
from civicswitch.cli import app
from civicswitch.core.db import make_engine
from civicswitch.settings import Settings
from civicswitch.storage.sql import SqlUnitOfWork

runner = CliRunner()


@pytest.fixture
def instance(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, catalog_data: dict[str, Any]) -> str:
    monkeypatch.chdir(tmp_path)
    for key in Settings.model_fields:
        monkeypatch.delenv(f"CIVICSWITCH_{key.upper()}", raising=False)
    monkeypatch.setenv("CIVICSWITCH_DATABASE_URL", database_url)
    engine = make_engine(database_url)
    load_catalog(SqlUnitOfWork(engine), catalog_data)
    engine.dispose()
    return database_url


def _eml(tmp_path: Path, name: str, subject: str, text: str, headers: dict[str, str] | None = None) -> Path:
    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"] = "ana@example.org", "311@city.gov", subject
    msg["Message-ID"] = f"<{name}@example.org>"
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(text)
    path = tmp_path / f"{name}.eml"
    path.write_bytes(msg.as_bytes())
    return path


def test_mail_import__files__each_filed_triaged_or_ignored_once(instance: str, tmp_path: Path) -> None:
    filed = _eml(tmp_path, "a", "Graffiti", "Address: 5 Elm St")
    unclear = _eml(tmp_path, "b", "Hello", "Something is wrong")
    auto = _eml(tmp_path, "c", "Away", "I am away", {"Auto-Submitted": "auto-replied"})
    result = runner.invoke(app, ["mail", "import", str(filed), str(unclear), str(auto), str(filed)])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [line[2] for line in lines] == ["filed request 1", "triage", "ignored", "filed request 1"]
    assert "received before" in lines[3][3]


def test_mail_import__missing_file__one_clear_line(instance: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["mail", "import", str(tmp_path / "none.eml")])
    assert result.exit_code == 2 and "none.eml" in result.output and "Traceback" not in result.output


def test_settings_set__mail_address__checked(instance: str) -> None:
    assert runner.invoke(app, ["settings", "set", "mail_address", "311@City.gov"]).exit_code == 0
    bad = runner.invoke(app, ["settings", "set", "mail_address", "City 311 <311@city.gov>"])
    assert bad.exit_code == 2 and "mail_address" in bad.output
