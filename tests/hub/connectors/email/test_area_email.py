"""The mail about an area as email (hub/connectors/email/residents.py; people/area_follows): the confirmation with
its link and no stop link, an update of each change, a digest grouped by request; every language, plain text and
HTML, the stop link in the text and as a one-click List-Unsubscribe, no address for a generalised service."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from civicswitch.core.i18n import languages
from civicswitch.hub.connectors.email.residents import build_resident_email
from civicswitch.hub.model import MessageType, OutboundMessage

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CONFIG = {"from": "City 311 <noreply@city.example.gov>", "smtp_host": "mail.example.gov", "html": True,
          "reply_to": "311@city.example.gov"}  # fmt: skip
STOP = "https://311.example.gov/follow/area/stop?token=abc"
CHANGES: list[dict[str, Any]] = [
    {"change": "new"}, {"change": "acknowledged"}, {"change": "note", "note": "Crew on site"},
    {"change": "transferred", "owner": "Parks"}, {"change": "reopened"},
    *({"change": "closed", "close_reason": reason, "owner": "Nassau County", "duplicate_of": 7}
      for reason in ("fixed", "duplicate", "referred", "no_action", "not_ours", "cancelled")),
]  # fmt: skip


def _line(number: int, address: str | None = "5 Elm St", **more: Any) -> dict[str, Any]:
    return {"number": number, "service_name": "Graffiti", "address": address, "status": "open",
            "track_url": f"https://311.example.gov/requests/{number}", **more}  # fmt: skip


def _email(type_: MessageType, language: str | None, **data: Any) -> EmailMessage:
    payload = {"to": "ana@example.org", "language": language, "area_name": "Riverside", "layer": "districts", **data}
    message = OutboundMessage(1, "cs_1", type_, None, {"type": f"gov.civicswitch.request.{type_}", "data": payload})
    return build_resident_email(CONFIG, message, NOW, message_id="<1@city>")


def _text(email: EmailMessage) -> str:
    part = email.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _clean(email: EmailMessage, language: str | None) -> str:
    expected = language if language in languages() else "en"
    assert email["Content-Language"] == expected
    text = _text(email)
    assert "{{" not in text and "%(" not in text and "%(" not in email["Subject"] and "Riverside" in email["Subject"]
    html = email.get_body(("html",))
    assert html is not None and f'lang="{expected}"' in html.get_content()
    assert email["Reply-To"] is None  # mail about an area takes no replies
    return text


@pytest.mark.parametrize("language", [*languages(), None])
@pytest.mark.parametrize("service", [None, "Pothole"])
def test_area_confirmation__the_link__what_and_how_often__no_stop_link(language: str | None, service: str) -> None:
    email = _email(MessageType.AREA_FOLLOW_CONFIRMATION, language, cadence="weekly", service_name=service,
                   confirm_url="https://311.example.gov/follow/area/confirm?token=xyz", link_days=7)  # fmt: skip
    text = _clean(email, language)
    assert "https://311.example.gov/follow/area/confirm?token=xyz" in text
    assert email["List-Unsubscribe"] is None and "X-Civicswitch-Request-Id" not in email
    if service:
        assert service in text and service in email["Subject"]


@pytest.mark.parametrize("language", [*languages(), None])
@pytest.mark.parametrize("change", CHANGES, ids=lambda c: f"{c['change']}-{c.get('close_reason', '')}")
def test_area_update__every_change_every_language__request_link_and_one_click_stop(
    change: dict[str, Any], language: str | None
) -> None:
    email = _email(MessageType.AREA_UPDATE, language, cadence="every_change", request=_line(42), changes=[change],
                   stop_url=STOP)  # fmt: skip
    text = _clean(email, language)
    assert "42" in email["Subject"] and "https://311.example.gov/requests/42" in text and STOP in text
    assert email["List-Unsubscribe"] == f"<{STOP}>" and email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    if change.get("note"):
        assert change["note"] in text


@pytest.mark.parametrize("language", [*languages(), None])
@pytest.mark.parametrize("cadence", ["daily", "weekly"])
def test_area_digest__grouped_by_request_in_the_order_given__the_rest_counted__generalised_without_address(
    language: str | None, cadence: str
) -> None:
    requests = [_line(9, changes=[{"change": "closed", "close_reason": "fixed"}, {"change": "new"}]),
                _line(5, address=None, service_name="HIV testing site", changes=[{"change": "new"}])]  # fmt: skip
    email = _email(MessageType.AREA_DIGEST, language, cadence=cadence, requests=requests, more=3, stop_url=STOP,
                   map_url="https://311.example.gov/map")  # fmt: skip
    text = _clean(email, language)
    assert text.index("requests/9") < text.index("requests/5")
    assert "5 Elm St" in text and "HIV testing site" in text and text.count("Elm St") == 1
    assert "https://311.example.gov/map" in text and STOP in text and email["List-Unsubscribe"] == f"<{STOP}>"
    assert "5" in email["Subject"]  # 2 listed and 3 more


def test_area_update__link_not_absolute__refused() -> None:
    with pytest.raises(ValueError, match="track_url"):
        _email(MessageType.AREA_UPDATE, "en", request=_line(1, track_url="/requests/1"), changes=[{"change": "new"}],
               stop_url=STOP)  # fmt: skip
