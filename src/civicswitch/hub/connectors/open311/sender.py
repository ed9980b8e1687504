"""The Open311 sender: new requests are POSTed to the department's ``requests.json``; status changes and notes
go to FixMyStreet's ``servicerequestupdates.json`` where the department's server has it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, unquote

import httpx

from civicswitch.core.clock import Clock, SystemClock
from civicswitch.core.errors import Invalid
from civicswitch.core.timefmt import format_datetime, parse_datetime
from civicswitch.hub.connectors.addresses import ReplyTooLarge, Resolver, default_guard
from civicswitch.hub.connectors.open311 import wire
from civicswitch.hub.connectors.open311.config import Open311Settings
from civicswitch.hub.model import (
    Connector,
    MessageType,
    OutboundMessage,
    Outcome,
    OutcomeKind,
    canonical_status,
)
from civicswitch.requests.model import fms_status

log = logging.getLogger(__name__)

# Waits before the 2nd, 3rd, … lookup of a token (FixMyStreet polls 5 times, 2 s apart); all within timeout_s.
TOKEN_WAITS_S: tuple[float, ...] = (0.5, 1.0, 2.0, 2.0)
MAX_EXTERNAL_ID = 200  # external_refs.external_id
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone")
_TOKEN_DETAIL = re.compile(r"^token=([^;\s]+);")

Sleep = Callable[[float], Awaitable[None]]


def token_detail(token: str, lookups: int) -> str:
    """The detail of a request accepted with a token only (read back by :func:`token_in`)."""
    return (
        f"token={quote(token, safe='')}; the department accepted the request but had not assigned a "
        f"service_request_id after {lookups} lookup(s) of tokens/{token}.json; the Open311 poller looks the "
        "token up again once it is remembered in the poll cursor (remember_token) and reports the id"
    )


def token_in(detail: str | None) -> str | None:
    """The token of an outcome whose request was accepted with a token only (None for any other detail)."""
    match = _TOKEN_DETAIL.match(detail or "")
    return unquote(match.group(1)) if match else None


def fms_update_status(connector: Connector, data: Mapping[str, Any]) -> str:
    """The upper-case FixMyStreet status for an update: the connector's outbound status map when it names this
    status, else the project's FixMyStreet projection (closed/fixed → FIXED, acknowledged → INVESTIGATING …)."""
    text = str(data.get("status") or "new")
    try:
        status, reason = canonical_status(text)
    except Invalid:
        return "OPEN"
    mapped = connector.status_map.outbound
    chosen = mapped.get(text) or mapped.get(str(status))
    return chosen if chosen else fms_status(status, reason).upper()


class Open311Sender:
    """Sender for ``open311`` connectors (see the module docs of :mod:`civicswitch.hub.connectors.open311`).

    ``transport`` replaces the network (tests: ``httpx.MockTransport`` or ``httpx.ASGITransport``); ``clock``
    dates ``Retry-After``; ``sleep`` is the wait between token lookups."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._client = wire.make_client(transport)
        self._guard = default_guard(transport, resolver)
        self._clock: Clock = clock or SystemClock()
        self._sleep: Sleep = sleep or asyncio.sleep

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, connector: Connector, message: OutboundMessage) -> Outcome:
        try:
            settings = Open311Settings.of(connector.config)
        except Invalid as exc:
            return Outcome(OutcomeKind.FAILED, f"connector {connector.code!r} is misconfigured: {exc.description}")
        data = message.envelope.get("data")
        if not isinstance(data, Mapping):
            return Outcome(OutcomeKind.FAILED, "the message has no data object (not a CloudEvents envelope?)")
        refused = await self._guard.problem(settings.endpoint, allow_private=settings.allow_private)
        if refused is not None:
            return Outcome(OutcomeKind.FAILED, wire.clip(refused))
        try:
            if message.type == MessageType.CREATED:
                return await self._create(connector, settings, message, data)
            if message.type in (MessageType.STATUS_CHANGED, MessageType.NOTE):
                return await self._update(connector, settings, message, data)
        except httpx.TimeoutException as exc:
            return Outcome(OutcomeKind.RETRY, wire.clip(f"timed out after {settings.timeout_s:g} s: {_what(exc)}"))
        except httpx.HTTPError as exc:
            return Outcome(OutcomeKind.RETRY, wire.clip(f"could not reach the Open311 endpoint: {_what(exc)}"))
        except ReplyTooLarge as exc:
            return Outcome(OutcomeKind.FAILED, wire.clip(f"{settings.endpoint}: {exc}"))
        return Outcome.delivered(
            f"{message.type} messages have no Open311 equivalent: not sent (the request stays open at the department)"
        )

    # -- POST requests.json -----------------------------------------------------------------------------
    async def _create(
        self, connector: Connector, settings: Open311Settings, message: OutboundMessage, data: Mapping[str, Any]
    ) -> Outcome:
        ours = wire.text_of(data.get("service_code"))
        if ours is None:
            return Outcome(OutcomeKind.FAILED, "the message has no service_code")
        pairs = self._common(settings)
        pairs.append(("service_code", settings.service_code_map.get(ours, ours)))
        if data.get("lat") is not None and data.get("long") is not None:
            pairs += [("lat", _decimal(data["lat"])), ("long", _decimal(data["long"]))]
        for ours_name, theirs in (
            ("address", "address_string"),
            ("zipcode", "zipcode"),
            ("description", "description"),
        ):
            value = wire.text_of(data.get(ours_name))
            if value is not None:
                pairs.append((theirs, value))
        media_url = wire.text_of(data.get("media_url"))
        if media_url is not None and media_url.lower().startswith(("http://", "https://")):
            pairs.append(("media_url", media_url))  # not a relative /media/… link: it means nothing over there
        attributes = data.get("attributes") or {}
        if isinstance(attributes, Mapping):
            for code, value in attributes.items():
                if isinstance(value, list | tuple):
                    pairs += [(f"attribute[{code}][]", str(v)) for v in value if v is not None]
                elif value is not None:
                    pairs.append((f"attribute[{code}]", str(value)))
        contact = data.get("contact")
        if settings.include_contact and isinstance(contact, Mapping):
            pairs += [(name, str(contact[name])) for name in CONTACT_FIELDS if contact.get(name)]
        answer = await self._post(connector, settings, "requests.json", pairs)
        if isinstance(answer, Outcome):
            return answer
        code, item = answer
        external = wire.text_of(item.get("service_request_id"))
        if external is not None and len(external) > MAX_EXTERNAL_ID:
            return Outcome.delivered(
                f"service_request_id {wire.clip(external, 60)!r} is longer than {MAX_EXTERNAL_ID} characters: not kept",
                status_code=code,
            )
        if external is not None:
            return Outcome.delivered(f"service_request_id {external}", status_code=code, external_id=external)
        token = wire.text_of(item.get("token"))
        if token is None:
            notice = wire.text_of(item.get("service_notice"))
            return Outcome.delivered(
                wire.clip(
                    "accepted without a service_request_id or a token (a blackbox service?); later status changes "
                    "cannot be sent or matched" + (f"; service_notice: {notice}" if notice else "")
                ),
                status_code=code,
            )
        return await self._follow(settings, token, code)

    async def _follow(self, settings: Open311Settings, token: str, status_code: int) -> Outcome:
        """GET ``tokens/{token}.json`` a few times within ``timeout_s``; the POST has succeeded, so whatever
        happens here the message is delivered (a retry would file the request twice)."""
        deadline = time.monotonic() + settings.timeout_s
        lookups = 0
        for attempt in range(len(TOKEN_WAITS_S) + 1):
            if attempt:
                wait = TOKEN_WAITS_S[attempt - 1]
                if time.monotonic() + wait >= deadline:
                    break
                await self._sleep(wait)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            lookups += 1
            found = await self._lookup(settings, token, remaining)
            if found is not None and len(found) <= MAX_EXTERNAL_ID:
                return Outcome.delivered(
                    f"service_request_id {found} (from token {token})", status_code=status_code, external_id=found
                )
        return Outcome.delivered(wire.clip(token_detail(token, lookups), 2000), status_code=status_code)

    async def _lookup(self, settings: Open311Settings, token: str, timeout: float) -> str | None:
        try:
            return await lookup_token(self._client, settings, token, timeout)
        except (httpx.HTTPError, wire.NotOpen311, TokenUnknown) as exc:
            log.info("Open311 token %s not resolved yet: %s", token, _what(exc))
            return None

    # -- POST servicerequestupdates.json ----------------------------------------------------------------
    async def _update(
        self, connector: Connector, settings: Open311Settings, message: OutboundMessage, data: Mapping[str, Any]
    ) -> Outcome:
        if not settings.updates_supported:
            return Outcome.delivered(
                "not supported by this endpoint (updates_supported is off): the status change or note was not sent"
            )
        if not message.external_id:
            return Outcome(
                OutcomeKind.RETRY,
                f"the department's service_request_id for request {message.request_id} is not known yet (its token "
                "may still be pending), so the update cannot be addressed",
            )
        at = self._clock.now()
        time_text = message.envelope.get("time")
        if isinstance(time_text, str):
            with contextlib.suppress(ValueError):  # a bad time: the update is dated now
                at = parse_datetime(time_text)
        pairs = self._common(settings)
        pairs += [
            ("service_request_id", message.external_id),
            ("update_id", message.idempotency_key),
            ("status", fms_update_status(connector, data)),
            ("updated_datetime", format_datetime(at)),
            ("description", wire.text_of(data.get("note")) or wire.text_of(data.get("status_notes")) or ""),
        ]
        answer = await self._post(connector, settings, "servicerequestupdates.json", pairs)
        if isinstance(answer, Outcome):
            return answer
        code, item = answer
        theirs = wire.text_of(item.get("update_id"))
        detail = f"update_id {theirs}" if theirs else "accepted without an update_id"
        return Outcome.delivered(detail, status_code=code)

    async def _post(
        self, connector: Connector, settings: Open311Settings, path: str, pairs: list[tuple[str, str]]
    ) -> Outcome | tuple[int, Mapping[str, Any]]:
        """POST a form (with the connector's API key) and read the first item of the Open311 reply; an Outcome
        when the reply is an error or not Open311."""
        if connector.secret:
            pairs = [*pairs, ("api_key", connector.secret)]
        body, headers = wire.form(pairs)
        response = await wire.post(
            self._client, settings.url(path), content=body, headers=headers, timeout=settings.timeout_s
        )
        failed = wire.judge(response, self._clock.now())
        if failed is not None:
            return failed
        try:
            return response.status_code, wire.first_item(response)
        except wire.NotOpen311 as exc:
            return Outcome(OutcomeKind.RETRY, wire.clip(str(exc)), response.status_code)

    @staticmethod
    def _common(settings: Open311Settings) -> list[tuple[str, str]]:
        return [("jurisdiction_id", settings.jurisdiction_id)] if settings.jurisdiction_id else []


class TokenUnknown(LookupError):
    """The server answered 404 for a token: it does not know it (any more)."""


async def lookup_token(client: httpx.AsyncClient, settings: Open311Settings, token: str, timeout: float) -> str | None:
    """``GET tokens/{token}.json``: the service_request_id, or None while the server has not assigned one.
    Raises :class:`TokenUnknown` on 404, ``httpx.HTTPError`` or :class:`wire.NotOpen311` on other trouble."""
    params = {"jurisdiction_id": settings.jurisdiction_id} if settings.jurisdiction_id else None
    response = await wire.get(
        client, settings.url(f"tokens/{quote(token, safe='')}.json"), params=params, timeout=timeout
    )
    if response.status_code == 404:
        raise TokenUnknown(f"HTTP 404 from {wire.where(response.request.url)}: {wire.error_description(response)}")
    if not 200 <= response.status_code < 300:
        raise wire.NotOpen311(
            f"HTTP {response.status_code} from {wire.where(response.request.url)}: {wire.error_description(response)}"
        )
    return wire.text_of(wire.first_item(response).get("service_request_id"))


def _what(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _decimal(value: object) -> str:
    """A coordinate as plain decimal text (never ``1e-05``), at most 7 places (about a centimetre)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = f"{float(value):.7f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    return str(value)
