"""A resident's update as an email (hub/connectors/email/residents.py): every change in every language, subject and
text in that language, plain text and HTML, the stop link in the text and as a one-click List-Unsubscribe."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from civicswitch.core.i18n import languages
from civicswitch.hub.connectors.email.residents import build_resident_email
from civicswitch.hub.model import MessageType, OutboundMessage

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CONFIG = {"from": "City 311 <noreply@city.example.gov>", "smtp_host": "mail.example.gov", "html": True}
CHANGES: list[dict[str, Any]] = [
    {"change": "acknowledged", "note": "This week"},
    {"change": "note", "note": "Crew on site"},
    {"change": "transferred", "owner": "Department of Transportation", "note": "Road surface"},
    {"change": "transferred", "owner": None},
    {"change": "reopened"},
    *({"change": "closed", "close_reason": reason, "owner": "Nassau County", "duplicate_of": 7,
       "duplicate_url": "https://311.example.gov/requests/7"}
      for reason in ("fixed", "duplicate", "referred", "no_action", "not_ours", "cancelled")),
]  # fmt: skip


def _message(change: dict[str, Any], language: str | None) -> OutboundMessage:
    data = {"service_request_id": "42", "to": "ana@example.org", "language": language, "filer": True,
            "service_name": "Graffiti", "address": "5 Elm St", "track_url": "https://311.example.gov/requests/42",
            "stop_url": "https://311.example.gov/follow/stop?token=abc", **change}  # fmt: skip
    envelope = {"type": "gov.civicswitch.request.resident_update", "data": data}
    return OutboundMessage(1, "cs_1", MessageType.RESIDENT_UPDATE, 42, envelope)


def _text(email: EmailMessage) -> str:
    part = email.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize("language", [*languages(), None, "xx"])
@pytest.mark.parametrize("change", CHANGES, ids=lambda c: f"{c['change']}-{c.get('close_reason', '')}")
def test_update_email__every_change_every_language__worded_with_both_links(
    change: dict[str, Any], language: str | None
) -> None:
    email = build_resident_email(CONFIG, _message(change, language), NOW, message_id="<1@city>")
    expected = language if language in languages() else "en"  # none, or one we lack: the instance's (English)
    assert email["Content-Language"] == expected and "42" in email["Subject"]
    text = _text(email)
    assert "https://311.example.gov/requests/42" in text and "https://311.example.gov/follow/stop?token=abc" in text
    assert email["List-Unsubscribe"] == "<https://311.example.gov/follow/stop?token=abc>"
    assert "{{" not in text and "%(" not in text and "%(" not in email["Subject"]
    html = email.get_body(("html",))
    assert html is not None and f'lang="{expected}"' in html.get_content()
    if change.get("note"):
        assert change["note"] in text


def test_update_email__duplicate_in_spanish__names_the_request_now_followed() -> None:
    change = {"change": "closed", "close_reason": "duplicate", "duplicate_of": 7,
              "duplicate_url": "https://311.example.gov/requests/7?lang=es"}  # fmt: skip
    email = build_resident_email(CONFIG, _message(change, "es"), NOW, message_id="<1@city>")
    assert email["Subject"] == "La solicitud 42 se cerró: el mismo problema ya se había reportado"
    assert "Ahora usted sigue la solicitud 7" in _text(email) and "requests/7?lang=es" in _text(email)


def test_update_email__link_not_absolute__refused() -> None:
    message = _message({"change": "note", "note": "x", "track_url": "/requests/42"}, "en")
    with pytest.raises(ValueError, match="track_url"):
        build_resident_email(CONFIG, message, NOW, message_id="<1@city>")


def test_follow_confirmation__in_the_followers_language() -> None:
    data = {
        "service_request_id": "42",
        "to": "ana@example.org",
        "language": "es",
        "service_name": "Grafiti",
        "address": "5 Elm St",
        "link_days": 7,
        "confirm_url": "https://311.example.gov/follow/confirm?token=t",
    }

    envelope = {"type": "gov.civicswitch.request.follow_confirmation", "data": data}
    message = OutboundMessage(1, "cs_1", MessageType.FOLLOW_CONFIRMATION, 42, envelope)
    email = build_resident_email(CONFIG, message, NOW, message_id="<1@city>")
    assert email["Subject"] == "Confirme que quiere recibir novedades de la solicitud 42"
    assert email["Content-Language"] == "es" and "List-Unsubscribe" not in email
    text = _text(email)
    assert "la solicitud 42 (Grafiti, 5 Elm St)" in text and "durante 7 días" in text
    assert "https://311.example.gov/follow/confirm?token=t" in text
