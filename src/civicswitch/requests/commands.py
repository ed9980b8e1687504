"""Commands: what an entry point asks the request use cases to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from civicswitch.requests.model import Channel, Contact


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    service_code: str
    api_key: str | None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    description: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)
    contact: Contact = field(default_factory=Contact)
    device_id: str | None = None
    account_id: str | None = None
    media_urls: tuple[str, ...] = ()
    uploads: tuple[Upload, ...] = ()
    channel: Channel = Channel.OPEN311


@dataclass(frozen=True, slots=True)
class SubmitResult:
    service_request_id: str | None
    token: str | None
    service_notice: str | None
    account_id: str | None


@dataclass(frozen=True, slots=True)
class PostUpdate:
    """A status change or note from an authorised back end (FixMyStreet update extension)."""

    api_key: str | None
    service_request_id: str
    update_id: str
    status: str
    updated_datetime: datetime
    description: str = ""
    media_urls: tuple[str, ...] = ()
    uploads: tuple[Upload, ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateResult:
    update_id: str
    duplicate: bool
