"""Commands: what an entry point asks the request use cases to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from civicswitch.people.policy import Principal
from civicswitch.requests.model import Channel, Contact, Status


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
    language: str | None = None  # the resident's language, when a page of ours took the report (web/i18n.py)
    # photos a page of ours already took for this report (requests/reporting.py stage_photo) while the resident
    # fixed something on the form: stored, not yet any request's
    staged_media: tuple[str, ...] = ()
    # the closed request this one reports again ("still a problem" after its reopen window: requests/answers.py)
    follows_up: int | None = None


@dataclass(frozen=True, slots=True)
class SubmitResult:
    service_request_id: str | None
    token: str | None
    service_notice: str | None
    account_id: str | None
    possible_duplicates: tuple[DuplicateHint, ...] = ()
    request_id: int | None = None  # the new request's number, whatever its service's type shows of it (our pages)


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
    language: str | None = None  # the page's language (our pages): their mail is written in it


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
class StopUpdates:
    """A resident opened the "stop these emails" link of a message (``token``) and pressed the button (or their
    mail program did, RFC 8058)."""

    token: str
    principal: Principal


@dataclass(frozen=True, slots=True)
class StopResult:
    service_request_id: str
    stopped: bool  # False: nothing was left to stop (stopped before)


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


# -- staff work (requests/work.py) --------------------------------------------------------------------------------
class WorkStep(StrEnum):
    """A status step staff take on a request (``request.work``)."""

    ACKNOWLEDGE = "acknowledge"
    START = "start"
    HOLD = "hold"  # put on hold: a reason is required
    CLOSE = "close"  # a close reason is required
    REOPEN = "reopen"


@dataclass(frozen=True, slots=True)
class WorkRequest:
    """Staff move a request one step through the status model (DESIGN.md §3)."""

    principal: Principal
    service_request_id: str
    step: WorkStep
    note: str = ""  # the reason (required to put on hold); public: residents see it as the status note
    close_reason: str | None = None  # required to close: fixed, not_ours, no_action, cancelled


@dataclass(frozen=True, slots=True)
class AddNote:
    """A note on the timeline without a status change: ``public`` (residents, Open311 status_notes, the owning
    body's systems) or internal (staff only)."""

    principal: Principal
    service_request_id: str
    text: str
    public: bool
    media_urls: tuple[str, ...] = ()
    uploads: tuple[Upload, ...] = ()


@dataclass(frozen=True, slots=True)
class AssignColleague:
    """Give the request to a colleague (a staff account allowed to work it), or take it back (``user_id`` None)."""

    principal: Principal
    service_request_id: str
    user_id: int | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """Hand the request to another body, with a reason (required). A transfer by staff is a "bounce"."""

    principal: Principal
    service_request_id: str
    body_code: str
    reason: str


class PartnerStep(StrEnum):
    START = "start"
    NOTE = "note"  # a progress note, with a photo if there is one
    COMPLETE = "complete"  # work complete: back to the owner to confirm, or closed where the service allows


@dataclass(frozen=True, slots=True)
class PartnerWork:
    """A partner organisation's staff on a request assigned to it (``request.partner_work``)."""

    principal: Principal
    service_request_id: str
    step: PartnerStep
    note: str = ""
    public: bool = True  # a progress note residents see (False: staff only)
    media_urls: tuple[str, ...] = ()
    uploads: tuple[Upload, ...] = ()


class Verdict(StrEnum):
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


@dataclass(frozen=True, slots=True)
class VerifyFix:
    """A liaison looked on site: the fix is there (confirmed) or not (disputed)."""

    principal: Principal
    service_request_id: str
    verdict: Verdict
    note: str = ""
    media_urls: tuple[str, ...] = ()
    uploads: tuple[Upload, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkResult:
    service_request_id: str
    status: Status
    body: str | None
    assignee_user_id: int | None


WorkCommand = WorkRequest | AddNote | AssignColleague | TransferRequest | PartnerWork | VerifyFix


@dataclass(frozen=True, slots=True)
class BulkWork:
    """The same action on many requests: ``action``'s request id is replaced by each of ``ids`` in turn."""

    ids: tuple[str, ...]
    action: WorkCommand


@dataclass(frozen=True, slots=True)
class BulkItem:
    service_request_id: str
    ok: bool
    error: str | None = None  # the refusal's message (the request is left as it was)
    status: Status | None = None  # after the action, when it was done


@dataclass(frozen=True, slots=True)
class AnswerFix:
    """A resident's answer to "Is it fixed?" about a closed request: with the link of the closure message
    (``token``: they filed or follow it) or as a visitor on its page (no token). "Still a problem" may bring a note,
    a photo and (a visitor's, for a new request) an email address."""

    service_request_id: int
    answer: str  # fixed | not_fixed
    principal: Principal
    token: str = ""
    note: str = ""
    uploads: tuple[Upload, ...] = ()
    email: str = ""
    language: str | None = None  # the page's language


@dataclass(frozen=True, slots=True)
class AnswerResult:
    service_request_id: int
    answer: str
    outcome: str  # recorded | reopened | new_request
    new_request_id: int | None = None
    can_rate: bool = False  # a filer or follower (a link) is asked how satisfied they are
    rating: int | None = None


@dataclass(frozen=True, slots=True)
class RateService:
    """A filer's or follower's satisfaction with how a closed request was handled (1–5), with their link."""

    service_request_id: int
    rating: str
    token: str
    principal: Principal
