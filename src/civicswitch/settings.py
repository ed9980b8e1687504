"""Typed settings, read from the environment (prefix ``CIVICSWITCH_``) and an optional ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    secret_key: str = Field(
        default="",
        description="Signs staff sessions and links; empty: one is made on first use and kept in the database",
    )
    # -- hardening (docs/configuration.md, "Security settings") ----------------------------------------------
    clock_skew_seconds: int = Field(
        default=300,
        ge=0,
        le=86400,
        description="How far an update's time may be ahead of our clock (or before the request was filed)",
    )
    allowed_hosts: str = Field(
        default="",
        description="Comma list of Host names answered (e.g. 311.example.gov,*.example.gov); other Hosts get 400. "
        "Empty: any Host (set public_url then, so links never follow the Host header)",
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="Comma list of proxy addresses/networks whose X-Forwarded-For/-Proto are honoured; empty: none",
    )
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A client must send a request's headers within this time"
    )
    body_timeout_seconds: float = Field(
        default=60.0, gt=0, description="A client must send a request's whole body within this time"
    )
    keep_alive_timeout_seconds: int = Field(default=5, ge=1, description="An idle kept-alive connection is closed")
    max_header_bytes: int = Field(default=64 * 1024, ge=4096, description="Request line and headers at most")
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        default="FULL",
        description="SQLite's PRAGMA synchronous: FULL keeps an acknowledged write through a power loss",
    )

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

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    def host_list(self) -> list[str]:
        """``allowed_hosts`` as a list (empty: any Host)."""
        return [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]

    def proxy_list(self) -> list[str]:
        """``forwarded_allow_ips`` as a list (empty: forwarded headers are ignored)."""
        return [h.strip() for h in self.forwarded_allow_ips.split(",") if h.strip()]

    def sqlite_path(self) -> Path | None:
        """The database file for an SQLite URL (None for in-memory or other databases)."""
        if not self.database_url.startswith("sqlite"):
            return None
        path = self.database_url.split(":///", 1)[-1]
        return None if path in ("", ":memory:") else Path(path)
