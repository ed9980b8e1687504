"""Settings of an Open311 client connector: checked once when the connector is saved, read on every call."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors.addresses import allow_private_setting, check_url

POLL_MODES = ("requests", "updates", "off")
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 120.0
DEFAULT_POLL_EVERY_S = 300
MIN_POLL_EVERY_S = 5
MAX_POLL_EVERY_S = 86_400
KNOWN = (
    "endpoint",
    "jurisdiction_id",
    "service_code_map",
    "timeout_s",
    "poll",
    "poll_every_s",
    "updates_supported",
    "include_contact",
    "allow_private",
)


@dataclass(frozen=True, slots=True)
class Open311Settings:
    """The checked settings (see :func:`check_config`)."""

    endpoint: str
    jurisdiction_id: str | None = None
    service_code_map: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    poll: str = "requests"
    poll_every_s: int = DEFAULT_POLL_EVERY_S
    updates_supported: bool = False
    include_contact: bool = False
    allow_private: bool = False

    def url(self, resource: str) -> str:
        """``requests.json`` → ``{endpoint}/requests.json``."""
        return f"{self.endpoint}/{resource}"

    @classmethod
    def of(cls, config: Mapping[str, Any] | None) -> Open311Settings:
        return cls(**check_config(config))


def check_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check an Open311 connector's settings and return them complete and normalised (idempotent).

    ``endpoint`` (required): the base URL that ``requests.json`` follows, e.g. ``https://city.example/open311/v2``.
    ``jurisdiction_id``: sent on every call when set. ``service_code_map``: our service code → theirs (codes not
    in it are sent as they are). ``timeout_s`` (default 10): per HTTP call, and the time spent following a token.
    ``poll``: ``requests`` (default; ``GET requests.json?updated_after=…``), ``updates`` (FixMyStreet's
    ``GET servicerequestupdates.json``) or ``off``. ``poll_every_s`` (default 300). ``updates_supported``
    (default false): status changes and notes are POSTed to ``servicerequestupdates.json``.
    ``include_contact`` (default false): the resident's name, email and phone go with new requests.
    ``allow_private`` (default false): an endpoint on a loopback, private or link-local address is refused (here,
    and after DNS resolution at every call; see :mod:`civicswitch.hub.connectors.addresses`).
    The API key is the connector's secret, never a setting.
    """
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise Invalid("the Open311 connector's config must be an object")
    if "api_key" in config:
        raise Invalid("api_key is not a setting: give the Open311 API key as the connector's secret")
    unknown = sorted(str(k) for k in config if k not in KNOWN)
    if unknown:
        raise Invalid(f"unknown Open311 setting(s) {', '.join(unknown)}; known: {', '.join(KNOWN)}")
    allow_private = allow_private_setting(config, "open311")
    endpoint = _endpoint(config.get("endpoint"))
    check_url(endpoint, allow_private=allow_private, kind="open311", setting="endpoint")
    return {
        "endpoint": endpoint,
        "jurisdiction_id": _optional_text(config.get("jurisdiction_id"), "jurisdiction_id"),
        "service_code_map": _code_map(config.get("service_code_map")),
        "timeout_s": _timeout(config.get("timeout_s")),
        "poll": _poll(config.get("poll")),
        "poll_every_s": _poll_every(config.get("poll_every_s")),
        "updates_supported": _flag(config.get("updates_supported"), "updates_supported"),
        "include_contact": _flag(config.get("include_contact"), "include_contact"),
        "allow_private": allow_private,
    }


def _endpoint(value: object) -> str:
    example = "e.g. https://311.city.example/open311/v2"
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"endpoint is required: the Open311 base URL that requests.json follows ({example})")
    text = value.strip()
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise Invalid(f"endpoint {text!r} is not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise Invalid(f"endpoint {text!r} must be an http:// or https:// URL ({example})")
    if url.query or url.fragment:
        raise Invalid(f"endpoint {text!r} must not have a query string or fragment ({example})")
    path = url.path.rstrip("/")
    last = path.rsplit("/", 1)[-1].lower()
    if last.endswith((".json", ".xml")):
        raise Invalid(
            f"endpoint {text!r} names a resource ({last}); give the base URL before requests.json ({example})"
        )
    return text.rstrip("/")


def _optional_text(value: object, name: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value.strip()) > 200 or "\x00" in value:
        raise Invalid(f"{name} must be a text of at most 200 characters")
    return value.strip()


def _code_map(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip() for k, v in value.items()
    ):
        raise Invalid('service_code_map must map our service codes to theirs, e.g. {"pothole": "POT-01"}')
    return {k.strip(): v.strip() for k, v in value.items()}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _timeout(value: object) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    number = _number(value)
    if number is None or not 0 < number <= MAX_TIMEOUT_S:
        raise Invalid(f"timeout_s must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:g}, got {value!r}")
    return number


def _poll(value: object) -> str:
    if value is None:
        return "requests"
    if value not in POLL_MODES:
        raise Invalid(
            f"poll must be 'requests' (GET requests.json?updated_after=…), 'updates' (FixMyStreet "
            f"servicerequestupdates.json) or 'off', got {value!r}"
        )
    return str(value)


def _poll_every(value: object) -> int:
    if value is None:
        return DEFAULT_POLL_EVERY_S
    number = _number(value)
    if number is None or number != int(number) or not MIN_POLL_EVERY_S <= number <= MAX_POLL_EVERY_S:
        raise Invalid(
            f"poll_every_s must be whole seconds from {MIN_POLL_EVERY_S} to {MAX_POLL_EVERY_S}, got {value!r}"
        )
    return int(number)


def _flag(value: object, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Invalid(f"{name} must be true or false, got {value!r}")
    return value
