"""Commands: what an entry point asks the request use cases to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from civicswitch.people.policy import Principal
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
    principal: Principal | None = None  # who files, when not an API key (a signed-in agent or liaison)
    consent: str | None = None  # a liaison records the resident's consent


@dataclass(frozen=True, slots=True)
class SubmitResult:
    service_request_id: str | None
    token: str | None
    service_notice: str | None
    account_id: str | None
    possible_duplicates: tuple[DuplicateHint, ...] = ()


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
    principal: Principal | None = None  # who acts, when not an API key


@dataclass(frozen=True, slots=True)
class UpdateResult:
    update_id: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class DuplicateHint:
    """A likely duplicate offered to the resident at intake: "follow this one instead"."""

    service_request_id: str
    distance_m: float
    score: float


@dataclass(frozen=True, slots=True)
class FollowRequest:
    """A resident chose to follow an existing request instead of filing a new one."""

    api_key: str | None
    service_request_id: str
    contact: Contact = field(default_factory=Contact)
    account_id: str | None = None
    principal: Principal | None = None


@dataclass(frozen=True, slots=True)
class FollowResult:
    """The same for a new follower and for someone already following: the answer must not tell a caller whether
    an address or number is already on a request (private data)."""

    service_request_id: str  # the request now followed (a merged request's parent)
    confirmation: str  # "email" / "pending" (kept unconfirmed: nothing is sent), "none" (an app's account)


@dataclass(frozen=True, slots=True)
class ConfirmFollow:
    """A resident opened the confirmation link (``token``) and pressed the button."""

    token: str
    principal: Principal


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    service_request_id: str  # the request now followed (a merged request's parent)
    newly_confirmed: bool  # False: the link was used before (the link's holder may know that)


@dataclass(frozen=True, slots=True)
class MergeRequests:
    """Staff: the child is the same problem as the parent."""

    api_key: str | None
    child_id: str
    parent_id: str
    principal: Principal | None = None  # who acts, when not an API key (a signed-in account, the CLI's operator)


@dataclass(frozen=True, slots=True)
class MergeResult:
    parent_id: str
    child_id: str
    followers_moved: int
    notes_carried: int


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """Staff changed a request's service and/or location; routing runs again."""

    api_key: str | None
    service_request_id: str
    service_code: str | None = None
    lat: str | None = None
    long: str | None = None
    note: str = ""
    principal: Principal | None = None  # who acts, when not an API key (a signed-in account, the CLI's operator)


@dataclass(frozen=True, slots=True)
class ChangeResult:
    service_request_id: str
    body: str | None
    transferred: bool
    referred: bool
