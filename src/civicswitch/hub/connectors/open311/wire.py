"""What the Open311 sender and poller share: the HTTP client, judging a reply, reading Open311 JSON and errors."""

from __future__ import annotations

import email.utils
import json
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from civicswitch import __version__
from civicswitch.hub.connectors.addresses import bounded_request
from civicswitch.hub.model import Outcome, OutcomeKind

USER_AGENT = f"civicswitch/{__version__} (Open311 client)"
FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
MAX_DETAIL = 1000
SNIPPET = 200


def make_client(transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    """One client per sender or poller, shared by every call (connection pooling); never follows redirects."""
    return httpx.AsyncClient(
        transport=transport,
        follow_redirects=False,
        headers={"user-agent": USER_AGENT, "accept": "application/json"},
    )


async def get(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """GET with the reply read to at most 1 MiB (:class:`~civicswitch.hub.connectors.addresses.ReplyTooLarge`)."""
    return await bounded_request(client, "GET", url, **kwargs)


async def post(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """POST with the reply read to at most 1 MiB."""
    return await bounded_request(client, "POST", url, **kwargs)


def form(pairs: list[tuple[str, str]]) -> tuple[bytes, dict[str, str]]:
    """An ``application/x-www-form-urlencoded`` body that keeps the order and repetition of its fields."""
    return urlencode(pairs).encode("ascii"), {"content-type": FORM_TYPE}


def where(url: httpx.URL) -> str:
    """The URL for a message: no query string (it may hold an api_key) and no user info."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"


def clip(text: str, limit: int = MAX_DETAIL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return repr(clip(text, SNIPPET)) if text else "an empty body"


def retry_after(response: httpx.Response, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def error_description(response: httpx.Response) -> str:
    """The server's Open311 error descriptions (``[{"code", "description"}]`` or ``<errors>``), else a snippet."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    texts: list[str] = []
    if isinstance(body, dict):
        body = body.get("errors", [body])
    if isinstance(body, list):
        texts = [str(e["description"]) for e in body if isinstance(e, dict) and e.get("description")]
    if not texts and response.content.lstrip().startswith(b"<"):
        try:
            document = ET.fromstring(response.content)  # noqa: S314 (a reply, not a file; no entities are resolved)
        except ET.ParseError:
            document = None
        if document is not None:
            texts = [(e.text or "").strip() for e in document.iter("description") if (e.text or "").strip()]
    if texts:
        return "; ".join(texts)
    return f"{response.reason_phrase or 'error'} ({snippet(response)})"


def judge(response: httpx.Response, now: datetime) -> Outcome | None:
    """None for a 2xx reply; otherwise the outcome its status calls for (408/429/5xx retry, 410 gone, the rest
    of 3xx/4xx failed), with the server's Open311 error description in the detail."""
    code = response.status_code
    if 200 <= code < 300:
        return None
    head = f"HTTP {code} from {where(response.request.url)}"
    if code in (408, 429) or code >= 500:
        return Outcome(
            OutcomeKind.RETRY,
            clip(f"{head}: {error_description(response)}"),
            code,
            retry_after(response, now),
        )
    if code == 410:
        return Outcome(OutcomeKind.GONE, clip(f"{head}: the endpoint is gone ({error_description(response)})"), code)
    if 300 <= code < 400:
        location = response.headers.get("location", "")
        moved = f"redirected to {location!r}" if location else "a redirect without a Location"
        return Outcome(
            OutcomeKind.FAILED,
            clip(f"{head}: {moved}; redirects are not followed, so set the connector's endpoint to the new address"),
            code,
        )
    hint = " (check the API key, the connector's secret)" if code in (401, 403) else ""
    return Outcome(OutcomeKind.FAILED, clip(f"{head}: {error_description(response)}{hint}"), code)


class NotOpen311(ValueError):
    """A 2xx reply whose body is not the Open311 JSON expected."""


def json_body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise NotOpen311(
            f"HTTP {response.status_code} from {where(response.request.url)} is not JSON ({exc}): {snippet(response)}"
        ) from None


def json_list(response: httpx.Response) -> list[dict[str, Any]]:
    """A JSON array of objects (the Spark convention of an Open311 list), or :class:`NotOpen311`."""
    body = json_body(response)
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise NotOpen311(
            f"HTTP {response.status_code} from {where(response.request.url)} is JSON but not an Open311 list "
            f"of objects: {snippet(response)}"
        )
    return body


def first_item(response: httpx.Response) -> dict[str, Any]:
    """The one item of a POST or token reply: ``[{…}]`` (an object alone is accepted too); ``{}`` for ``[]``."""
    body = json_body(response)
    if isinstance(body, dict):
        return body
    if isinstance(body, list) and all(isinstance(item, dict) for item in body):
        return body[0] if body else {}
    raise NotOpen311(
        f"HTTP {response.status_code} from {where(response.request.url)} is JSON but not an Open311 reply "
        f"(a list of objects): {snippet(response)}"
    )


def text_of(value: object) -> str | None:
    """An id or code as text (servers send strings or numbers); None when absent or empty."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None
