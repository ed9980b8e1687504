"""Typed settings, read from the environment (prefix ``CIVICSWITCH_``) and an optional ``.env`` file."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

RATE_LIMIT_STORAGE_SCHEMES = ("memory://", "redis://", "rediss://", "redis+unix://", "redis+sentinel://",
                              "redis+cluster://")  # fmt: skip


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIVICSWITCH_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/civicswitch.db",
        description="sqlite:///path/to/file.db (embedded default) or postgresql://user@host:port/dbname",
    )
    jurisdiction_id: str = Field(default="", description="Open311 jurisdiction_id; empty accepts any value")
    jurisdiction_strict: bool = Field(
        default=False, description="Answer 404 to a non-empty jurisdiction_id other than ours"
    )
    jurisdiction_name: str = "Civic Switchboard"
    coverage_layer: str = Field(
        default="",
        description="Area layer whose areas are this jurisdiction; set it to route requests by location",
    )
    timezone: str = Field(default="UTC", description="IANA zone for dates shown to people (APIs stay in UTC)")
    public_url: str = Field(default="", description="Base URL clients see, e.g. https://311.example.gov")
    contact: str = "311 Open Data team, open311@example.gov"
    key_service: str = "Ask the 311 Open Data team for an API key: open311@example.gov"
    endpoint_type: str = "production"
    max_body_bytes: int = 12 * 1024 * 1024
    max_media_bytes: int = 5 * 1024 * 1024
    media_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic")
    default_page_size: int = 1000
    max_page_size: int = 1000
    default_window_days: int = 90
    log_level: str = "INFO"
    # Rate limits (docs/configuration.md#rate-limits): requests a minute; 0 turns that limit off.
    rate_limit_enabled: bool = Field(default=True, description="Answer 429 to clients over their limit")
    rate_limit_key_writes: int = Field(
        default=60, ge=0, description="Writes a minute per API key, unless the key has its own limit"
    )
    rate_limit_address_writes: int = Field(
        default=30, ge=0, description="Writes a minute per client address without a valid API key"
    )
    rate_limit_address_reads: int = Field(
        default=300, ge=0, description="Reads (GET, HEAD) a minute per client address without a valid API key"
    )
    rate_limit_exempt: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Addresses or networks never limited, comma-separated: 10.0.0.5,192.168.0.0/24"
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where counts live: memory:// (each process its own) or redis://host:port (shared)",
    )
    rate_limit_prefix: str = Field(default="civicswitch", description="Prefix of the counters' keys in Redis")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as America/New_York") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "sqlite+", "postgresql:", "postgresql+", "postgres:")):
            raise ValueError("database_url must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("rate_limit_exempt", mode="before")
    @classmethod
    def _split_exempt(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("rate_limit_exempt")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"rate_limit_exempt: {item!r} is not an IP address or network (CIDR)") from None
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        if not value.startswith(RATE_LIMIT_STORAGE_SCHEMES):
            raise ValueError(
                f"rate_limit_storage must start with one of {', '.join(RATE_LIMIT_STORAGE_SCHEMES)}, got {value!r}"
            )
        return value

    def sqlite_path(self) -> Path | None:
        """The database file for an SQLite URL (None for in-memory or other databases)."""
        if not self.database_url.startswith("sqlite"):
            return None
        path = self.database_url.split(":///", 1)[-1]
        return None if path in ("", ":memory:") else Path(path)
