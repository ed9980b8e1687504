"""The Open311 poller: status changes the department's server does not push, read since a high-water mark.

``poll: updates`` reads FixMyStreet's ``GET servicerequestupdates.json?start_date=…&end_date=…``; ``poll: requests``
reads ``GET requests.json?updated_after=…`` page by page. Either way the cursor keeps the latest
``updated_datetime`` seen and the ids seen at that very instant, so the next poll asks again from that instant
(servers filter on whole seconds, inclusively) and drops what it already reported. The mark never passes our
own clock: an update stamped ahead of it (a server whose clock runs fast) is reported once and remembered by id
until the mark reaches its time, so nothing stamped in between is skipped.

The cursor also carries the tokens of requests the department accepted without an id yet
(:func:`remember_token`); each poll looks them up (``GET tokens/{token}.json``) and reports a resolved one as an
update that links the ids (``update_id`` ``token:<token>``, our ``service_request_id``, their ``external_id``,
empty status).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from civicswitch.core.clock import Clock, SystemClock
from civicswitch.core.errors import Invalid
from civicswitch.core.timefmt import format_datetime, parse_datetime
from civicswitch.hub.connectors.addresses import ReplyTooLarge, Resolver, default_guard
from civicswitch.hub.connectors.open311 import wire
from civicswitch.hub.connectors.open311.config import Open311Settings
from civicswitch.hub.connectors.open311.sender import TokenUnknown, lookup_token, token_in
from civicswitch.hub.model import Connector, InboundUpdate, Outcome, OutcomeKind

log = logging.getLogger(__name__)

FIRST_LOOKBACK = timedelta(hours=2)  # the first poll reads this far back (FixMyStreet's default window)
MAX_PAGES = 50  # requests mode: pages read per poll at most
TOKEN_LOOKUPS_PER_POLL = 50
MAX_DESCRIPTION = 4000
TOKEN_GIVE_UP = timedelta(days=7)
TOKEN_UPDATE_PREFIX = "token:"  # noqa: S105 (an update id prefix, not a password)
CURSOR_VERSION = 1


class PollFailed(Exception):
    """A poll could not read the department's feed. ``outcome`` says how (RETRY with ``retry_after``, FAILED,
    or GONE for a 410); the cursor to keep is the one passed in."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.detail)
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class PendingToken:
    request_id: str  # ours
    since: datetime


@dataclass(frozen=True, slots=True)
class Cursor:
    """The poll position: ``after`` (None before the first poll), the ids reported at or after ``after`` (with
    their times), pending tokens."""

    after: datetime | None = None
    seen: Mapping[str, datetime] = field(default_factory=dict)
    tokens: Mapping[str, PendingToken] = field(default_factory=dict)

    def dump(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "after": self.after.isoformat() if self.after else None,
                "seen": {uid: at.isoformat() for uid, at in self.seen.items()},
                "tokens": {
                    t: {"request_id": p.request_id, "since": p.since.isoformat()} for t, p in self.tokens.items()
                },
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def load(cls, text: str | None) -> Cursor:
        """A cursor this poller wrote, or a bare date-time (an operator's "read from here"); None: a fresh start."""
        if text is None or not text.strip():
            return cls()
        text = text.strip()
        if not text.startswith("{"):
            try:
                return cls(after=parse_datetime(text))
            except ValueError as exc:
                raise Invalid(f"the poll cursor is neither this poller's JSON nor a date-time: {exc}") from None
        try:
            data = json.loads(text)
            after = data.get("after")
            return cls(
                after=parse_datetime(after) if after else None,
                seen={str(uid): parse_datetime(at) for uid, at in (data.get("seen") or {}).items()},
                tokens={
                    str(t): PendingToken(str(p["request_id"]), parse_datetime(p["since"]))
                    for t, p in (data.get("tokens") or {}).items()
                },
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise Invalid(f"the poll cursor {wire.clip(text, 100)!r} cannot be read ({exc})") from None


def remember_token(cursor: str | None, token: str, request_id: int | str, at: datetime) -> str:
    """The cursor with one more pending token (our request ``request_id`` was accepted with ``token`` at ``at``)."""
    current = Cursor.load(cursor)
    tokens = {**current.tokens, token: PendingToken(str(request_id), at)}
    return replace(current, tokens=tokens).dump()


@dataclass(frozen=True, slots=True)
class _Seen:
    at: datetime
    update: InboundUpdate


class Open311Poller:
    """Poller for ``open311`` connectors. ``poll`` raises :class:`PollFailed` when the feed cannot be read (the
    caller keeps its cursor); a token lookup that fails is simply tried again next time."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._client = wire.make_client(transport)
        self._guard = default_guard(transport, resolver)
        self._clock: Clock = clock or SystemClock()

    async def aclose(self) -> None:
        await self._client.aclose()

    def after_delivery(self, cursor: str | None, request_id: int, outcome: Outcome, at: datetime) -> str | None:
        """A request the server accepted with a token only: the cursor that remembers the token, so a later poll
        learns the server's id (None: nothing to remember)."""
        token = token_in(outcome.detail) if outcome.kind == OutcomeKind.DELIVERED else None
        return None if token is None else remember_token(cursor, token, request_id, at)

    async def poll(self, connector: Connector, cursor: str | None) -> tuple[Sequence[InboundUpdate], str | None]:
        try:
            settings = Open311Settings.of(connector.config)
            state = Cursor.load(cursor)
        except Invalid as exc:
            raise PollFailed(Outcome(OutcomeKind.FAILED, f"connector {connector.code!r}: {exc.description}")) from None
        refused = await self._guard.problem(settings.endpoint, allow_private=settings.allow_private)
        if refused is not None:
            raise PollFailed(Outcome(OutcomeKind.FAILED, wire.clip(refused)))
        now = self._clock.now()
        after = state.after or now - FIRST_LOOKBACK
        resolved, state = await self._resolve_tokens(settings, replace(state, after=after), now)
        try:
            if settings.poll == "updates":
                found = await self._updates(connector, settings, after, now)
            elif settings.poll == "requests":
                found = await self._requests(settings, after)
            else:
                found = []
        except httpx.TimeoutException as exc:
            raise PollFailed(Outcome(OutcomeKind.RETRY, f"timed out after {settings.timeout_s:g} s: {exc}")) from None
        except httpx.HTTPError as exc:
            raise PollFailed(
                Outcome(OutcomeKind.RETRY, wire.clip(f"could not reach the Open311 endpoint: {exc!r}"))
            ) from None
        except (wire.NotOpen311, ReplyTooLarge) as exc:
            raise PollFailed(Outcome(OutcomeKind.RETRY, wire.clip(f"{settings.endpoint}: {exc}"))) from None
        fresh, state = _advance(state, found, now)
        return [*resolved, *fresh], state.dump()

    # -- the feeds -------------------------------------------------------------------------------------
    async def _get(self, settings: Open311Settings, resource: str, params: dict[str, str]) -> list[dict[str, Any]]:
        if settings.jurisdiction_id:
            params["jurisdiction_id"] = settings.jurisdiction_id
        response = await wire.get(self._client, settings.url(resource), params=params, timeout=settings.timeout_s)
        failed = wire.judge(response, self._clock.now())
        if failed is not None:
            raise PollFailed(failed)
        return wire.json_list(response)

    async def _updates(
        self, connector: Connector, settings: Open311Settings, after: datetime, now: datetime
    ) -> list[_Seen]:
        start = format_datetime(after)
        params = {"start_date": start, "end_date": format_datetime(max(now, after))}
        if connector.secret:
            params["api_key"] = connector.secret  # FixMyStreet sends it; servers must tolerate it (KEY-03)
        found = []
        for item in await self._get(settings, "servicerequestupdates.json", params):
            update_id = wire.text_of(item.get("update_id"))
            at = _when(item.get("updated_datetime"), update_id)
            if update_id is None or at is None:
                continue  # FixMyStreet ignores updates without an id, too
            found.append(
                _Seen(
                    at,
                    InboundUpdate(
                        update_id=update_id,
                        status=wire.text_of(item.get("status")) or "",
                        at=at,
                        external_id=wire.text_of(item.get("service_request_id")),
                        description=_text(item.get("description")),
                        media_url=_media(item.get("media_url")),
                    ),
                )
            )
        return found

    async def _requests(self, settings: Open311Settings, after: datetime) -> list[_Seen]:
        found: dict[str, _Seen] = {}
        ids: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            items = await self._get(
                settings, "requests.json", {"updated_after": format_datetime(after), "page": str(page)}
            )
            page_ids = {i for i in (wire.text_of(item.get("service_request_id")) for item in items) if i}
            if not items or page_ids <= ids:
                break  # past the last page, or a server that ignores ``page`` repeating itself
            ids |= page_ids
            for item in items:
                external = wire.text_of(item.get("service_request_id"))
                if external is None:
                    continue  # Chicago lists fresh requests with neither id nor token
                at = _when(item.get("updated_datetime") or item.get("requested_datetime"), external)
                if at is None:
                    continue
                update_id = f"{external}@{format_datetime(at)}"
                found[update_id] = _Seen(
                    at,
                    InboundUpdate(
                        update_id=update_id,
                        status=wire.text_of(item.get("status")) or "",
                        at=at,
                        external_id=external,
                        description=_text(item.get("status_notes")),
                        media_url=_media(item.get("media_url")),
                    ),
                )
        else:
            log.warning("Open311 poll of %s stopped after %d pages", settings.url("requests.json"), MAX_PAGES)
        return list(found.values())

    # -- tokens ----------------------------------------------------------------------------------------
    async def _resolve_tokens(
        self, settings: Open311Settings, state: Cursor, now: datetime
    ) -> tuple[list[InboundUpdate], Cursor]:
        if not state.tokens:
            return [], state
        linked: list[InboundUpdate] = []
        kept: dict[str, PendingToken] = {}
        waiting: dict[str, PendingToken] = {}
        for n, (token, pending) in enumerate(state.tokens.items()):
            if n >= TOKEN_LOOKUPS_PER_POLL:
                kept[token] = pending
                continue
            try:
                found = await lookup_token(self._client, settings, token, settings.timeout_s)
            except TokenUnknown as exc:
                log.warning("Open311 token %s of request %s dropped: %s", token, pending.request_id, exc)
                continue
            except (httpx.HTTPError, wire.NotOpen311, ReplyTooLarge) as exc:
                log.info("Open311 token %s not looked up: %r", token, exc)
                found = None
            if found is not None:
                linked.append(
                    InboundUpdate(
                        update_id=TOKEN_UPDATE_PREFIX + token,
                        status="",
                        at=now,
                        service_request_id=pending.request_id,
                        external_id=found,
                    )
                )
            elif now - pending.since > TOKEN_GIVE_UP:
                log.warning(
                    "Open311 token %s of request %s given up after %s", token, pending.request_id, TOKEN_GIVE_UP
                )
            else:
                waiting[token] = pending  # looked up: to the back of the line
        return linked, replace(state, tokens={**kept, **waiting})


def _advance(state: Cursor, found: list[_Seen], now: datetime) -> tuple[list[InboundUpdate], Cursor]:
    """The updates not reported before (oldest first) and the cursor past them (never past ``now``)."""
    assert state.after is not None
    after = state.after
    fresh: dict[str, _Seen] = {}
    for item in found:
        uid = item.update.update_id
        if item.at >= after and uid not in state.seen:
            fresh.setdefault(uid, item)
    ordered = sorted(fresh.values(), key=lambda s: (s.at, s.update.update_id))
    reported = {**state.seen, **{s.update.update_id: s.at for s in ordered}}
    if reported:
        after = max(after, min(max(reported.values()), now))
    seen = {uid: at for uid, at in reported.items() if at >= after}
    return [s.update for s in ordered], replace(state, after=after, seen=seen)


def _when(value: object, what: str | None) -> datetime | None:
    if not isinstance(value, str):
        log.warning("Open311 item %s skipped: no updated_datetime", what)
        return None
    try:
        return parse_datetime(value)
    except ValueError as exc:
        log.warning("Open311 item %s skipped: %s", what, exc)
        return None


def _text(value: object) -> str:
    """A description, cut to the 4,000 characters an update may carry."""
    return wire.clip(str(value or ""), MAX_DESCRIPTION)


def _media(value: object) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    return value.strip() if isinstance(value, str) and value.strip() else None
