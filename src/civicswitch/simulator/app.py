"""The simulated department's ASGI app (Starlette)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from civicswitch.hub.signing import sign_headers
from civicswitch.simulator.ledger import Effect, Ledger

log = logging.getLogger(__name__)

CREATED = "gov.civicswitch.request.created"
# The department's status codes, in the order it moves a work order along, and the connector status map that
# matches them (give it to ``add_connector(status_map=...)`` or ``connectors add --status-map``).
PROGRESS: tuple[str, ...] = ("ACK", "WIP", "DONE")
STATUS_MAP: dict[str, dict[str, str]] = {
    "inbound": {"ACK": "acknowledged", "WIP": "in_progress", "DONE": "closed/fixed"},
    "outbound": {"acknowledged": "ACK", "in_progress": "WIP", "closed/fixed": "DONE"},
}
ERROR_CODES: tuple[int, ...] = (500, 502, 503, 504)


class SlowStyle(StrEnum):
    HANG = "hang"  # say nothing for slow_s seconds, then answer
    DRIP = "drip"  # answer at once, but trickle the body out byte by byte over slow_s seconds


class Mode(StrEnum):
    OK = "ok"  # verify, dedupe, 200 {"external_id": "WO-…"}
    DOWN = "down"  # 503 to everything (a stopped process is the real "down")
    SLOW = "slow"  # do the work, then answer only after slow_s seconds (past the caller's timeout); see SlowStyle
    ERROR = "5xx"  # 500/502/503/504 to everything, before doing anything; back to ok after ``burst`` of them
    MALFORMED = "malformed"  # do the work, then answer with a broken reply (see MALFORMED)
    GONE = "gone"  # 410 Gone to everything


@dataclass(frozen=True, slots=True)
class Broken:
    status: int
    content_type: str
    body: bytes  # "{ext}" in it is replaced by the effect's own external id
    processed: bool = True  # False: the department did nothing (a 5xx), so no effect is recorded


# Broken replies, by name. The first group is merely unreadable; the second is readable but unusable or hostile.
MALFORMED: dict[str, Broken] = {
    "truncated": Broken(200, "application/json", b'{"external_id": "WO-'),
    "html": Broken(200, "text/html", b"<html><body><h1>Thank you</h1></body></html>"),
    "html-as-json": Broken(200, "application/json", b"<html><body>OK</body></html>"),
    "wrong-type": Broken(200, "application/json", b'{"external_id": {"id": "WO-1"}, "id": [1, 2]}'),
    "list": Broken(200, "application/json", b'["WO-1"]'),
    "binary": Broken(200, "application/json", b"\xff\xfe\x00{\x81\x82"),
    "empty": Broken(200, "application/json", b""),
    "deep": Broken(200, "application/json", b"[" * 100_000 + b"]" * 100_000),
    "surrogate": Broken(200, "application/json", b'{"external_id": "{ext}\\ud800"}'),
    "nul": Broken(200, "application/json", b'{"external_id": "{ext}\\u0000"}'),
    "reused-id": Broken(200, "application/json", b'{"external_id": "WO-REUSED"}'),
    "nul-500": Broken(500, "text/plain", b"internal error\x00 at 0x0", processed=False),
}
SAFE_MALFORMED: tuple[str, ...] = ("truncated", "html", "html-as-json", "wrong-type", "list", "binary", "empty")


@dataclass(slots=True)
class SimulatorConfig:
    secret: str  # the connector's Standard Webhooks secret (whsec_…)
    connector: str = "sim"  # the connector code on our side (names the callback path)
    callback: str | None = None  # our base URL, or the full .../api/v1/connectors/{code}/updates URL
    delay: float = 1.0  # seconds before each status update (ACK, then WIP, then DONE)
    mode: Mode = Mode.OK
    fail_rate: float = 0.0  # chance of a random 500 (before any work is done), in ok and malformed modes
    slow_s: float = 30.0
    slow_style: SlowStyle = SlowStyle.HANG
    burst: int | None = None  # in 5xx mode: answer this many 5xx, then switch back to ok
    malformed: tuple[str, ...] = ("truncated",)  # broken replies used in turn, one per effect
    ref: str = "external_id"  # how status updates name the request: external_id or service_request_id
    state_file: Path | None = None
    # Without a state file, work-order numbers carry a prefix of this run (None: random) so that a restart never
    # reuses one; "" gives plain numbers (tests that count them).
    run: str | None = None
    seed: int | None = None
    callback_attempts: int = 8

    def __post_init__(self) -> None:
        Webhook(self.secret)  # fails early on a secret the library cannot use
        unknown = [k for k in self.malformed if k not in MALFORMED]
        if unknown or not self.malformed:
            raise ValueError(f"malformed kinds must be among {', '.join(MALFORMED)} (got {', '.join(unknown)})")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        if self.ref not in ("external_id", "service_request_id"):
            raise ValueError("ref must be external_id or service_request_id")

    def callback_url(self) -> str | None:
        if not self.callback:
            return None
        if "/connectors/" in self.callback:
            return self.callback
        return f"{self.callback.rstrip('/')}/api/v1/connectors/{self.connector}/updates"


@dataclass(slots=True)
class Runtime:
    """What ``POST /_sim/mode`` changes."""

    mode: Mode
    fail_rate: float
    delay: float
    slow_s: float
    slow_style: SlowStyle
    burst_left: int | None
    errors_sent: int = 0
    malformed_sent: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def create_app(
    config: SimulatorConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Starlette:
    """The simulator. ``transport`` and ``sleep`` are for tests (callbacks without a network, no waiting)."""
    ledger = Ledger.open(config.state_file, config.run)
    state = Runtime(config.mode, config.fail_rate, config.delay, config.slow_s, config.slow_style, config.burst)
    rng = random.Random(config.seed)  # fault injection, not security
    verifier = Webhook(config.secret)
    holder: dict[str, httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        holder["client"] = httpx.AsyncClient(transport=transport, follow_redirects=False)
        try:
            yield
        finally:
            for task in list(state.tasks):
                task.cancel()
            await asyncio.gather(*state.tasks, return_exceptions=True)
            await holder["client"].aclose()

    def answer(mode: Mode, status: int, body: Any, *, headers: dict[str, str] | None = None) -> Response:
        ledger.answered(mode, status)
        return JSONResponse(body, status_code=status, headers=headers)

    def failure(mode: Mode) -> Response | None:
        """The answer of a failing mode (nothing done), or None to go on."""
        if mode == Mode.DOWN:
            return answer(mode, 503, {"error": "simulated outage (mode down)"})
        if mode == Mode.GONE:
            return answer(mode, 410, {"error": "this endpoint is gone (mode gone)"})
        if mode == Mode.ERROR:
            status = ERROR_CODES[state.errors_sent % len(ERROR_CODES)]
            state.errors_sent += 1
            if state.burst_left is not None:
                state.burst_left -= 1
                if state.burst_left <= 0:
                    state.mode, state.burst_left = Mode.OK, None
                    log.info("5xx burst over: back to ok")
            return answer(mode, status, {"error": f"simulated failure (mode 5xx, {state.errors_sent} so far)"})
        return None

    def random_failure(mode: Mode) -> Response | None:
        if state.fail_rate and rng.random() < state.fail_rate:
            return answer(mode, 500, {"error": "simulated random failure (fail-rate)"})
        return None

    def broken_reply(mode: Mode, effect: Effect) -> Response:
        kind = MALFORMED[effect.malformed or "truncated"]
        body = kind.body.replace(b"{ext}", effect.external_id.encode())
        ledger.answered(mode, kind.status)
        return Response(body, status_code=kind.status, media_type=kind.content_type)

    def start_callbacks(effect: Effect) -> None:
        url = config.callback_url()
        if url is None or effect.type != CREATED:
            return
        task = asyncio.create_task(progress(url, effect))
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)

    async def progress(url: str, effect: Effect) -> None:
        for code in PROGRESS:
            await sleep(state.delay)
            await post_update(url, effect, code)

    async def post_update(url: str, effect: Effect, code: str) -> None:
        update_id = f"{effect.external_id}-{code}"
        ref = effect.external_id if config.ref == "external_id" else effect.service_request_id
        text = json.dumps(
            {
                "update_id": update_id,
                config.ref: ref,
                "status": code,
                "updated_datetime": _now(),
                "description": f"{code} from the department simulator",
            }
        )
        message_id = f"sim_{update_id}"  # the same id on every attempt: our side refuses a replay with 409
        ledger.callbacks["sent"] += 1
        for attempt in range(config.callback_attempts):
            if attempt:
                await sleep(min(0.25 * 2**attempt, 5.0))
            ledger.callbacks["attempts"] += 1
            headers = {"content-type": "application/json", **sign_headers(config.secret, message_id, _utc(), text)}
            try:
                response = await holder["client"].post(url, content=text.encode(), headers=headers, timeout=10.0)
            except httpx.HTTPError as exc:
                log.info("update %s: %s (attempt %d)", update_id, type(exc).__name__, attempt + 1)
                continue
            status = response.status_code
            if 200 <= status < 300:
                flagged = _json_field(response, "flagged")
                ledger.callbacks["flagged" if flagged else "applied"] += 1
                ledger.save()
                return
            if status == 409:  # already received: an earlier attempt got through
                ledger.callbacks["duplicate"] += 1
                ledger.save()
                return
            if status not in (404, 408, 425, 429) and status < 500:  # 404: our side may not know the id yet
                log.warning("update %s refused: HTTP %d %s", update_id, status, response.text[:200])
                break
            log.info("update %s: HTTP %d (attempt %d)", update_id, status, attempt + 1)
        ledger.callbacks["failed"] += 1
        ledger.save()

    async def webhook(request: Request) -> Response:
        body = await request.body()
        mode = state.mode
        ledger.arrived(mode)
        failed = failure(mode)
        if failed is not None:
            return failed
        try:
            verifier.verify(body, dict(request.headers), json_parse=False)
        except Exception as exc:  # the library raises more than WebhookVerificationError on garbage headers
            ledger.rejected += 1
            return answer(mode, 401, {"error": f"signature not verified: {type(exc).__name__}: {exc}"[:300]})
        try:
            event = json.loads(body)
            data = event["data"]
            type_ = str(event["type"])
            service_request_id = data.get("service_request_id")
        except (ValueError, KeyError, TypeError, AttributeError):
            ledger.invalid += 1
            return answer(mode, 400, {"error": "not a CloudEvent with data"})
        failed = random_failure(mode)
        if failed is not None:
            return failed
        key = request.headers["webhook-id"]
        malformed = None
        if mode == Mode.MALFORMED:
            known = ledger.effects.get(key)
            if known is not None and known.malformed:
                malformed = known.malformed  # a redelivery gets the same broken reply
            else:
                malformed = config.malformed[state.malformed_sent % len(config.malformed)]
                state.malformed_sent += 1
            kind = MALFORMED[malformed]
            if not kind.processed:
                ledger.answered(mode, kind.status)
                return Response(kind.body, kind.status, media_type=kind.content_type)
        sid = None if service_request_id is None else str(service_request_id)
        effect, duplicate = ledger.record(key, type_, sid, _now(), malformed)
        if duplicate:
            log.info("duplicate %s (%d deliveries)", key, effect.deliveries)
        else:
            start_callbacks(effect)
        reply = {"external_id": effect.external_id, "duplicate": duplicate}
        if mode == Mode.SLOW and state.slow_style == SlowStyle.DRIP:
            ledger.answered(mode, 200)
            return StreamingResponse(drip(json.dumps(reply).encode(), state.slow_s), media_type="application/json")
        if mode == Mode.SLOW:
            await sleep(state.slow_s)
        if mode == Mode.MALFORMED:
            return broken_reply(mode, effect)
        return answer(mode, 200, reply)

    async def drip(body: bytes, seconds: float) -> AsyncIterator[bytes]:
        for i in range(len(body)):
            await sleep(seconds / len(body))
            yield body[i : i + 1]

    async def open311_request(request: Request) -> Response:
        """Open311 GeoReport v2 ``POST requests.json`` (form). Such a POST has no idempotency key, so every one
        is a new work order: the receiver cannot dedupe it (the caller must not resend one that got through)."""
        mode = state.mode
        ledger.arrived(mode)
        failed = failure(mode)
        if failed is not None:
            return failed
        form = await request.form()
        if form.get("api_key") != config.secret:
            ledger.rejected += 1
            return answer(mode, 403, [{"code": 403, "description": "api_key is not valid"}])
        failed = random_failure(mode)
        if failed is not None:
            return failed
        key = f"open311-{len(ledger.effects) + 1}"
        effect, _ = ledger.record(key, "open311.request", None, _now())
        if mode == Mode.SLOW:
            await sleep(state.slow_s)
        return answer(mode, 200, [{"service_request_id": effect.external_id, "service_notice": "simulated"}])

    async def open311_update(request: Request) -> Response:
        """FixMyStreet ``POST servicerequestupdates.json``: deduplicated on ``update_id``."""
        mode = state.mode
        ledger.arrived(mode)
        failed = failure(mode)
        if failed is not None:
            return failed
        form = await request.form()
        if form.get("api_key") != config.secret:
            ledger.rejected += 1
            return answer(mode, 403, [{"code": 403, "description": "api_key is not valid"}])
        update_id = str(form.get("update_id") or "")
        if not update_id:
            ledger.invalid += 1
            return answer(mode, 400, [{"code": 400, "description": "update_id is required"}])
        effect, _ = ledger.record(
            f"open311-update-{update_id}", "open311.update", str(form.get("service_request_id") or ""), _now()
        )
        return answer(mode, 200, [{"update_id": effect.external_id}])

    async def stats(_request: Request) -> Response:
        return JSONResponse(
            {
                "mode": state.mode,
                "fail_rate": state.fail_rate,
                "delay": state.delay,
                "slow_s": state.slow_s,
                "slow_style": state.slow_style,
                "burst_left": state.burst_left,
                "callbacks_pending": len(state.tasks),
                **ledger.stats(),
            }
        )

    async def effects(_request: Request) -> Response:
        return JSONResponse(
            [
                {
                    "key": e.key,
                    "external_id": e.external_id,
                    "type": e.type,
                    "service_request_id": e.service_request_id,
                    "deliveries": e.deliveries,
                    "malformed": e.malformed,
                }
                for e in ledger.effects.values()
            ]
        )

    async def set_mode(request: Request) -> Response:
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("expected an object")
            if "mode" in data:
                state.mode = Mode(data["mode"])
                state.errors_sent = 0
                state.burst_left = None
            if "burst" in data:
                state.burst_left = None if data["burst"] is None else int(data["burst"])
            if "fail_rate" in data:
                rate = float(data["fail_rate"])
                if not 0.0 <= rate <= 1.0:
                    raise ValueError("fail_rate must be between 0 and 1")
                state.fail_rate = rate
            for name in ("delay", "slow_s"):
                if name in data:
                    setattr(state, name, max(0.0, float(data[name])))
            if "slow_style" in data:
                state.slow_style = SlowStyle(data["slow_style"])
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        log.info("mode %s (fail rate %s)", state.mode, state.fail_rate)
        return await stats(request)

    return Starlette(
        routes=[
            Route("/webhook", webhook, methods=["POST"]),
            Route("/", webhook, methods=["POST"]),
            Route("/open311/v2/requests.json", open311_request, methods=["POST"]),
            Route("/open311/v2/servicerequestupdates.json", open311_update, methods=["POST"]),
            Route("/_sim/stats", stats, methods=["GET"]),
            Route("/_sim/effects", effects, methods=["GET"]),
            Route("/_sim/mode", set_mode, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def _utc() -> datetime:
    return datetime.now(UTC)


def _json_field(response: httpx.Response, name: str) -> Any:
    try:
        data = response.json()
    except ValueError:
        return None
    return data.get(name) if isinstance(data, dict) else None
