"""Signed follow-confirmation links: made and read with an injected time, refused when altered, foreign or old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from civicswitch.people.links import FOLLOW_LINK_DAYS, FollowLinks, LinkProblem, address_digest

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LINKS = FollowLinks("s" * 48, "https://311.city.example.gov/")


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_follow_link__made_and_read__names_the_request_and_the_address_by_digest() -> None:
    url = LINKS.url(42, "Ana@Example.org", NOW)
    assert url.startswith("https://311.city.example.gov/follow/confirm?token=")
    assert "ana" not in url.lower() and "example.org" not in url
    claim = LINKS.read(_token(url), NOW + timedelta(days=1))
    assert claim.request_id == 42 and claim.issued_at == NOW
    assert claim.matches("ana@example.org") and claim.matches(" ANA@EXAMPLE.ORG ")
    assert not claim.matches("bob@example.org") and not claim.matches(None)
    assert claim.address_digest == address_digest("ana@example.org")


def test_follow_link__at_the_limit_good__a_minute_later_expired() -> None:
    token = LINKS.token(1, "a@example.org", NOW)
    LINKS.read(token, NOW + timedelta(days=FOLLOW_LINK_DAYS))
    with pytest.raises(LinkProblem, match="expired"):
        LINKS.read(token, NOW + timedelta(days=FOLLOW_LINK_DAYS, minutes=1))


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("", "incomplete"),
        ("x" * 501, "incomplete"),
        ("not-a-token", "not valid"),
        (FollowLinks("another instance's secret" * 2, "https://x").token(1, "a@example.org", NOW), "not valid"),
        (LINKS.token(1, "a@example.org", NOW)[:-2], "not valid"),
    ],
    ids=["empty", "too-long", "garbage", "other-secret", "cut-short"],
)
def test_follow_link__altered_or_foreign__refused_with_the_reason(token: str, says: str) -> None:
    with pytest.raises(LinkProblem, match=says):
        LINKS.read(token, NOW)


def test_follow_link__another_purpose_signed_with_the_same_secret__refused() -> None:
    from itsdangerous import URLSafeSerializer

    other = URLSafeSerializer("s" * 48, salt="civicswitch.staff-session").dumps({"r": 1, "a": "x", "t": 1})
    with pytest.raises(LinkProblem, match="not valid"):
        LINKS.read(str(other), NOW)
