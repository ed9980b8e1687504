"""Typed settings: defaults < instance settings stored in the database < environment variables (prefix
``CIVICSWITCH_``, or an ``.env`` file).

Which settings may be stored is an explicit list (:data:`STORABLE`): the database URL and the log level are read
from the environment only (the database URL says where the stored settings are). A process reads the stored
settings once at start (``civicswitch serve`` and ``worker`` at start-up, every other command when it runs): a
change made with ``civicswitch settings set`` reaches a running server when it restarts.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

RATE_LIMIT_STORAGE_SCHEMES = ("memory://", "redis://", "rediss://", "redis+unix://", "redis+sentinel://",
                              "redis+cluster://")  # fmt: skip
ENV_PREFIX = "CIVICSWITCH_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/civicswitch.db",
        description="sqlite:///path/to/file.db (embedded default) or postgresql://user@host:port/dbname",
    )
    jurisdiction_id: str = Field(default="", description="Open311 jurisdiction_id; empty accepts any value")
    jurisdiction_strict: bool = Field(
        default=False, description="Answer 404 to a non-empty jurisdiction_id other than ours"
    )
    jurisdiction_name: str = Field(default="Civic Switchboard", description="The name shown on the pages")
    coverage_layer: str = Field(
        default="",
        description="Area layer whose areas are this jurisdiction; set it to route requests by location",
    )
    timezone: str = Field(
        default="UTC",
        description="IANA zone for dates shown to people (APIs stay in UTC), and of SLA calendars that name none",
    )
    sla_due_soon_hours: float = Field(
        default=24.0, ge=0, le=24 * 366, description="An open request this close to its due date is 'due soon'"
    )
    escalation_bounces: int = Field(
        default=2,
        ge=0,
        le=1000,
        description="An open request transferred between bodies this many times is escalated (0: never for this)",
    )
    escalation_overdue_hours: float = Field(
        default=48.0,
        ge=0,
        le=24 * 366,
        description="An open request overdue by more than this many hours is escalated",
    )
    public_url: str = Field(default="", description="Base URL clients see, e.g. https://311.example.gov")
    contact: str = Field(default="311 Open Data team, open311@example.gov", description="Discovery's contact")
    key_service: str = Field(
        default="Ask the 311 Open Data team for an API key: open311@example.gov", description="Discovery's key_service"
    )
    endpoint_type: Literal["production", "test"] = Field(default="production", description="Discovery's type")
    max_body_bytes: int = Field(default=12 * 1024 * 1024, ge=1024, description="Largest request body (bytes)")
    max_media_bytes: int = Field(default=5 * 1024 * 1024, ge=1, description="Largest uploaded photo (bytes)")
    media_types: tuple[str, ...] = Field(
        default=("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic"),
        description="Photo types accepted (comma-separated)",
    )
    default_page_size: int = Field(default=1000, ge=1, description="GET requests page size")
    max_page_size: int = Field(default=1000, ge=1, description="GET requests largest page size")
    default_window_days: int = Field(default=90, ge=1, description="GET requests date window (days)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Logging level"
    )
    access_log: bool = Field(default=True, description="`serve`: one log line per request (at INFO)")
    list_cache_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Rendered Open311 request lists each web process keeps (bytes, least recently used dropped "
        "first); 0: none",
    )
    secret_key: str = Field(
        default="",
        description="Signs staff sessions and links; empty: one is made on first use and kept in the database",
    )
    # -- single sign-on for staff (docs/configuration.md, "Single sign-on"); environment only -----------------
    oidc_issuer: str = Field(
        default="", description="OpenID Connect issuer URL of the city's identity provider; empty: password only"
    )
    oidc_client_id: str = Field(default="", description="This instance's client id at the identity provider")
    oidc_client_secret: str = Field(default="", description="This instance's client secret at the identity provider")
    oidc_scopes: str = Field(default="openid email profile", description="Scopes asked of the identity provider")
    oidc_label: str = Field(default="Sign in with city account", description="The sign-in page's single sign-on button")
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
    sqlite_group_commit: bool = Field(
        default=True,
        description="At FULL, commits share one sync of SQLite's log after the writer's turn (false: SQLite's own)",
    )
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
    # -- maps on the pages (docs/configuration.md, "Maps") -------------------------------------------------------
    map_tile_url: str = Field(
        default="",
        description="Map tiles' URL template, e.g. https://tile.example.gov/{z}/{x}/{y}.png ({s} may start the host);"
        " empty: no tiles (the maps show the areas' outlines and the pin only)",
    )
    map_tile_attribution: str = Field(
        default="", description="The credit the tiles' licence asks for, shown on each map (plain text)"
    )
    # -- email in (docs/residents.md, "Email in") ---------------------------------------------------------------
    mail_address: str = Field(
        default="",
        description="The city's 311 address residents write to: `mail serve` takes mail for it only (and its "
        "+tags); empty: for any recipient the relay hands it",
    )
    mail_requests_per_day: int = Field(
        default=10, ge=0, le=10_000, description="Requests made from one sender's mail in 24 hours (0: no limit)"
    )
    mail_max_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1024, description="`mail serve`: the largest message taken (bytes); larger: 552"
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

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment):
            raise ValueError(f"oidc_issuer must be an http(s) URL such as https://login.example.gov, got {value!r}")
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment):
            raise ValueError(f"public_url must be an http(s) URL such as https://311.example.gov, got {value!r}")
        return value

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, value: str) -> str:
        value = value.strip()
        if value:
            tile_source(value)  # raises ValueError with the reason
        return value

    def map_tile_source(self) -> str | None:
        """The Content-Security-Policy source the map tiles come from (None: no tiles)."""
        return tile_source(self.map_tile_url) if self.map_tile_url else None

    @field_validator("mail_address")
    @classmethod
    def _mail_address(cls, value: str) -> str:
        value = value.strip().lower()
        if value and (value.count("@") != 1 or any(c in value for c in " <>,;\r\n") or value.startswith("@")):
            raise ValueError(f"mail_address must be a bare address such as 311@city.gov, got {value!r}")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("media_types", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: arguments, then the environment (and .env), then the stored instance settings, then defaults.
        return init_settings, env_settings, dotenv_settings, StoredSettingsSource(settings_cls), file_secret_settings

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


def tile_source(template: str) -> str:
    """The origin of a tile URL template as a Content-Security-Policy source (``{s}`` as the host's first label
    becomes ``*``); raises ValueError naming what is wrong."""
    example = "https://tile.example.gov/{z}/{x}/{y}.png"
    parts = urlsplit(template.replace("{s}", "s-placeholder", 1) if template.count("{s}") <= 1 else template)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password or parts.fragment:
        raise ValueError(f"map_tile_url must be an http(s) URL template such as {example}, got {template!r}")
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in template]
    if missing:
        raise ValueError(f"map_tile_url must hold {{z}}, {{x}} and {{y}} (missing {', '.join(missing)}): {example}")
    labels = host.split(".")
    if (
        any(not re.fullmatch(r"[a-z0-9-]+|s-placeholder", label) for label in labels)
        or ("s-placeholder" in labels[1:])
        or (labels[0] == "s-placeholder" and len(labels) < 3)
    ):
        raise ValueError(
            f"map_tile_url's host must be a plain name ({{s}} only as its first label, e.g. "
            f"https://{{s}}.tile.example.gov/{{z}}/{{x}}/{{y}}.png), got {template!r}"
        )
    if "{" in parts.netloc.replace("s-placeholder", ""):
        raise ValueError(f"map_tile_url's host and port cannot hold placeholders but {{s}}, got {template!r}")
    name = "*" + host[len("s-placeholder") :] if labels[0] == "s-placeholder" else host
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{name}{port}"


#: The settings an operator may store in the database (``civicswitch settings set``, a catalog file's
#: ``settings``). Everything else comes from the environment only.
STORABLE: tuple[str, ...] = (
    "jurisdiction_name",
    "jurisdiction_id",
    "jurisdiction_strict",
    "timezone",
    "sla_due_soon_hours",
    "escalation_bounces",
    "escalation_overdue_hours",
    "coverage_layer",
    "public_url",
    "contact",
    "key_service",
    "endpoint_type",
    "max_body_bytes",
    "max_media_bytes",
    "media_types",
    "default_page_size",
    "max_page_size",
    "default_window_days",
    "rate_limit_key_writes",
    "rate_limit_address_writes",
    "rate_limit_address_reads",
    "map_tile_url",
    "map_tile_attribution",
    "mail_address",
    "mail_requests_per_day",
    "mail_max_bytes",
)
ENV_ONLY: dict[str, str] = {
    "database_url": "it says where the stored settings are",
    "log_level": "it is set per process",
    "access_log": "it is set per process",
}


class SettingError(ValueError):
    """A setting that cannot be stored or used, with a message fit for an operator."""


# The stored settings this process loaded (``use_stored_settings``); ``effective_settings`` overrides them for one
# call. A module value rather than a context variable alone: threads a command starts (the demo's worker, the web
# server's thread pool) must see them too.
_process_stored: dict[str, Any] = {}
_stored_override: ContextVar[Mapping[str, Any] | None] = ContextVar("civicswitch_stored_settings", default=None)


def _stored_now() -> Mapping[str, Any]:
    override = _stored_override.get()
    return _process_stored if override is None else override


class StoredSettingsSource(PydanticBaseSettingsSource):
    """The instance settings stored in the database, as loaded by this process (only the :data:`STORABLE` ones)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        stored = _stored_now()
        return stored.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {key: value for key, value in _stored_now().items() if key in STORABLE}


def use_stored_settings(values: Mapping[str, Any]) -> None:
    """Make ``values`` (read from the database) the stored settings every ``Settings()`` of this process sees."""
    global _process_stored
    _process_stored = {key: value for key, value in values.items() if key in STORABLE}


@contextmanager
def _stored(values: Mapping[str, Any]) -> Iterator[None]:
    token = _stored_override.set(values)
    try:
        yield
    finally:
        _stored_override.reset(token)


def environment_keys() -> set[str]:
    """The settings the environment (or ``.env``) gives a value, which override stored ones."""
    found = set(EnvSettingsSource(Settings)()) | set(DotEnvSettingsSource(Settings)())
    return {key for key in found if key in Settings.model_fields}


def _explain(exc: ValidationError, stored: Mapping[str, Any]) -> str:
    from_env = environment_keys()
    parts = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else "settings"
        if key in from_env:
            where = f"{ENV_PREFIX}{key.upper()}"
        elif key in stored:
            where = f"stored setting {key} (civicswitch settings set|unset {key})"
        else:
            where = key
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def effective_settings(stored: Mapping[str, Any] | None = None, **values: Any) -> Settings:
    """Defaults < ``stored`` (this process's stored settings when None) < environment < ``values``; an invalid
    value raises :class:`SettingError` naming where it came from."""
    chosen = _stored_now() if stored is None else {k: v for k, v in stored.items() if k in STORABLE}
    try:
        with _stored(chosen):
            return Settings(**values)
    except ValidationError as exc:
        raise SettingError(_explain(exc, chosen)) from None


def parse_setting(key: str, text: str) -> Any:
    """A value typed on the command line, for ``key``: JSON lists, numbers and booleans as pydantic reads them."""
    check_key(key)
    if key == "media_types" and text.lstrip().startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingError(f"media_types: not a JSON list ({exc.msg})") from None
    return text


def check_key(key: str) -> None:
    if key in ENV_ONLY:
        raise SettingError(f"{key} is read from {ENV_PREFIX}{key.upper()} only ({ENV_ONLY[key]}); it cannot be stored")
    if key not in STORABLE:
        raise SettingError(f"unknown setting {key!r}; the settings you can store are: {', '.join(STORABLE)}")


def check_stored(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate settings to store (only :data:`STORABLE` keys) exactly as they are validated when read; returns
    them in their stored (JSON) form. Raises :class:`SettingError` naming the first bad one."""
    for key in values:
        check_key(key)
    try:
        model = Settings.model_validate(dict(values))  # no environment: the values alone
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        got = repr(values.get(key))
        raise SettingError(f"{key}: {message}" + ("" if got in message else f" (got {got})")) from None
    dumped = model.model_dump(mode="json", include=set(values))
    return {key: dumped[key] for key in values}


def describe(key: str) -> str:
    info = Settings.model_fields[key]
    return info.description or ""


def default_of(key: str) -> Any:
    return Settings.model_fields[key].get_default(call_default_factory=True)


def environment_variable(key: str) -> str:
    return f"{ENV_PREFIX}{key.upper()}"


def environment_overrides(keys: set[str] | None = None) -> dict[str, str]:
    """``{key: variable}`` for the storable settings set in the environment (they win over stored values)."""
    found = environment_keys() if keys is None else keys
    return {key: environment_variable(key) for key in STORABLE if key in found}


__all__ = [
    "ENV_ONLY",
    "STORABLE",
    "SettingError",
    "Settings",
    "check_stored",
    "effective_settings",
    "environment_keys",
    "parse_setting",
    "use_stored_settings",
]
