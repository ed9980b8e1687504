"""The mapping another system's export is read through (docs/import.md): which column holds which field, how its
dates are written and in which time zone, and how its statuses, close reasons, channels, services and owners
translate to ours. A YAML or JSON document; the shipped city profiles are such documents."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from civicswitch.core.errors import Invalid
from civicswitch.requests.model import Channel, CloseReason, Status

SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def _listed(value: Any) -> Any:
    """A field read from several columns may be given as one column name."""
    return [value] if isinstance(value, str) else value


class Columns(BaseModel):
    """Field → the column (CSV header, or JSON key) that holds it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="the source's own id: what makes a re-import change nothing")
    service: str = Field(description="the service: its name or code in the source")
    requested_at: str
    closed_at: str | None = None
    updated_at: str | None = None
    expected_at: str | None = Field(default=None, description="the source's due date (SLA deadline)")
    status: str | None = None
    close_reason: str | None = Field(default=None, description="text the close-reason rules are matched in")
    status_notes: str | None = None
    description: list[str] = Field(default_factory=list, description="columns joined by '. ', empty ones skipped")
    address: list[str] = Field(default_factory=list, description="columns joined by ', ', empty ones skipped")
    intersection: list[str] = Field(default_factory=list, description="two street columns, 'A & B', when the "
                                    "address columns are empty")  # fmt: skip
    zipcode: str | None = None
    lat: str | None = None
    long: str | None = None
    channel: str | None = None
    owner: str | None = Field(default=None, description="the department that owned the request in the source")
    media_url: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict, description="attribute code → column")

    _as_list = field_validator("description", "address", "intersection", mode="before")(_listed)

    def required(self) -> list[str]:
        """The columns a file must have: the id, the service and the filing time."""
        return [self.id, self.service, self.requested_at]

    def optional(self) -> list[str]:
        """Every other column the mapping names, in the order of the fields."""
        names = [self.closed_at, self.updated_at, self.expected_at, self.status, self.close_reason,
                 self.status_notes, self.zipcode, self.lat, self.long, self.channel, self.owner, self.media_url,
                 *self.description, *self.address, *self.intersection, *self.attributes.values()]  # fmt: skip
        return [n for n in names if n is not None]


class CloseRule(BaseModel):
    """A close reason for the closed requests whose close-reason text matches ``pattern`` (a regular expression,
    searched case-insensitively). The first matching rule wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str
    reason: CloseReason

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class ImportMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="the source's name: a request's reference is source:id")
    format: Literal["csv", "open311"] = "csv"
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    timezone: str = Field(default="UTC", description="the zone of dates written without an offset")
    date_formats: list[str] = Field(default_factory=lambda: ["iso"])
    columns: Columns
    statuses: dict[str, Status] = Field(default_factory=dict, description="source value → status (any case)")
    closed_when_closed_at: bool = Field(default=True, description="a row with no known status is closed when it "
                                        "has a closing date, else new")  # fmt: skip
    status_close_reasons: dict[str, CloseReason] = Field(default_factory=dict, description="source status value → "
                                                         "close reason (before the rules)")  # fmt: skip
    close_rules: list[CloseRule] = Field(default_factory=list)
    close_reason: CloseReason = Field(default=CloseReason.FIXED, description="when no rule matches")
    channels: dict[str, Channel] = Field(default_factory=dict, description="source value → channel (any case); "
                                         "any other value is 'other'")  # fmt: skip
    services: dict[str, str] = Field(default_factory=dict, description="source value → service code")
    unknown_services: Literal["create", "refuse"] = "refuse"
    owners: dict[str, str] = Field(default_factory=dict, description="source owner value → body code")
    unknown_place: Literal["keep", "refuse"] = Field(
        default="keep",
        description="a record with neither a point nor an address: kept with the address "
        "'unknown location' (history keeps its volume), or refused to the quarantine file",
    )
    placeholder_points: list[tuple[float, float]] = Field(
        default_factory=list, description="(lat, long) the source writes for an unknown place: dropped"
    )

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if SOURCE_NAME.fullmatch(value) is None:
            raise ValueError("a source name is 1 to 40 of a-z, 0-9, '_' and '-', starting with a letter or digit")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. America/New_York)") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("the delimiter is one character")
        return value

    @model_validator(mode="after")
    def _formats(self) -> ImportMapping:
        if not self.date_formats:
            raise ValueError("date_formats: give at least one ('iso' or a strptime format)")
        return self

    def with_unknown_services(self, choice: Literal["create", "refuse"] | None) -> ImportMapping:
        return self if choice is None else self.model_copy(update={"unknown_services": choice})


def parse_mapping(data: Mapping[str, Any], *, origin: str = "mapping") -> ImportMapping:
    try:
        return ImportMapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'mapping'}: {error['msg']}" for error in exc.errors()
        )
        raise Invalid(f"{origin}: {problems}", field="mapping") from None


def read_mapping(path: Path) -> ImportMapping:
    """A mapping file: .yaml, .yml or .json."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Invalid(f"{path}: cannot read the mapping file: {exc.strerror}", field="mapping") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise Invalid(
            f"{path}: not valid {path.suffix.lstrip('.').upper() or 'YAML'}: {exc}", field="mapping"
        ) from None
    if not isinstance(data, Mapping):
        raise Invalid(f"{path}: a mapping file is a document of keys (source, columns, …)", field="mapping")
    return parse_mapping(data, origin=str(path))
