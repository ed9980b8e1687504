"""Settings in force: defaults < stored instance settings < environment; stored values validated as they are read."""

from __future__ import annotations

import pytest

from civicswitch.settings import (
    ENV_ONLY,
    STORABLE,
    SettingError,
    Settings,
    check_stored,
    effective_settings,
    parse_setting,
    use_stored_settings,
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(str(tmp_path))  # no .env file
    for key in Settings.model_fields:
        monkeypatch.delenv(f"CIVICSWITCH_{key.upper()}", raising=False)


def test_effective_settings__stored_value__wins_over_default() -> None:
    settings = effective_settings({"timezone": "America/Chicago", "coverage_layer": "wards"})
    assert (settings.timezone, settings.coverage_layer, settings.jurisdiction_name) == (
        "America/Chicago",
        "wards",
        "Civic Switchboard",
    )


def test_effective_settings__environment__wins_over_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICSWITCH_TIMEZONE", "Europe/Paris")
    assert effective_settings({"timezone": "America/Chicago"}).timezone == "Europe/Paris"


def test_effective_settings__stored_database_url__ignored() -> None:
    assert effective_settings({"database_url": "sqlite:///elsewhere.db"}).database_url == "sqlite:///var/civicswitch.db"


def test_effective_settings__invalid_stored_value__names_the_stored_setting() -> None:
    with pytest.raises(SettingError, match=r"stored setting timezone .*unknown timezone 'Mars/Base'"):
        effective_settings({"timezone": "Mars/Base"})


def test_effective_settings__invalid_environment_value__names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICSWITCH_MAX_PAGE_SIZE", "0")
    with pytest.raises(SettingError, match="CIVICSWITCH_MAX_PAGE_SIZE: Input should be greater than or equal to 1"):
        effective_settings({})


def test_settings__process_stored_settings__seen_by_every_settings_object() -> None:
    use_stored_settings({"jurisdiction_name": "Springfield", "database_url": "sqlite:///ignored.db"})
    assert Settings().jurisdiction_name == "Springfield"
    assert Settings().database_url == "sqlite:///var/civicswitch.db"
    assert Settings(jurisdiction_name="Given").jurisdiction_name == "Given"
    use_stored_settings({})
    assert Settings().jurisdiction_name == "Civic Switchboard"


def test_check_stored__typed_text__stored_in_its_json_form() -> None:
    values = {
        "max_page_size": "50",
        "jurisdiction_strict": "yes",
        "media_types": "image/png, image/jpeg",
        "public_url": "https://311.example.gov",
    }
    assert check_stored(values) == {
        "max_page_size": 50,
        "jurisdiction_strict": True,
        "media_types": ["image/png", "image/jpeg"],
        "public_url": "https://311.example.gov",
    }


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("timezone", "Mars/Base", "unknown timezone 'Mars/Base'"),
        ("max_page_size", "-3", "greater than or equal to 1"),
        ("default_window_days", "soon", "valid integer"),
        ("public_url", "311.example.gov", "public_url must be an http(s) URL"),
        ("endpoint_type", "staging", "'production' or 'test'"),
        ("database_url", "sqlite:///x.db", "read from CIVICSWITCH_DATABASE_URL only"),
        ("log_level", "DEBUG", "read from CIVICSWITCH_LOG_LEVEL only"),
        ("colour", "red", "unknown setting 'colour'"),
    ],
)
def test_check_stored__bad_value_or_key__refused_with_a_clear_message(key: str, value: str, message: str) -> None:
    with pytest.raises(SettingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_stored({key: parse_setting(key, value)})


def test_storable__an_explicit_list_without_the_environment_only_keys() -> None:
    assert set(STORABLE) <= set(Settings.model_fields)
    assert not set(STORABLE) & set(ENV_ONLY)
    assert {"jurisdiction_name", "jurisdiction_id", "timezone", "coverage_layer", "public_url"} <= set(STORABLE)
