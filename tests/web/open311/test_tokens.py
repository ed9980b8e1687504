"""GET service_request_id from a token (checklist §2.4) for batch services."""

from __future__ import annotations

import pytest
from open311_support import GRAFFITI, Open311, assert_error, items, url

BULK = {**GRAFFITI, "service_code": "bulk-pickup"}


def test_token__batch_post_then_lookup__id_and_token(api: Open311, fmt: str) -> None:
    """[TOK-01][§2.3] POST on a batch service gives a token and no id; tokens/{t} gives the id and the token,
    in service_requests/request (XML) or a one-element array (JSON)."""
    posted = items(api.post_request(BULK, fmt), fmt)
    assert len(posted) == 1
    token = posted[0]["token"]
    assert token and "service_request_id" not in posted[0]
    resolved = items(api.client.get(url(f"tokens/{token}", fmt)), fmt)
    assert len(resolved) == 1
    assert resolved[0]["token"] == token
    rid = resolved[0]["service_request_id"]
    assert isinstance(rid, str) and rid.isdigit()
    got = api.request(rid, fmt)
    assert got["service_code"] == "bulk-pickup"
    assert got["description"] == GRAFFITI["description"]


def test_token__two_posts__distinct_tokens_and_ids(api: Open311) -> None:
    """[TOK-01] each batch POST has its own token, resolving to its own request."""
    tokens = [items(api.post_request(BULK), "json")[0]["token"] for _ in range(2)]
    assert tokens[0] != tokens[1]
    ids = {items(api.client.get(url(f"tokens/{t}", "json")), "json")[0]["service_request_id"] for t in tokens}
    assert len(ids) == 2


@pytest.mark.parametrize("token", ["no-such-token", "x", "00000000000000000000000", "%C2%B2"])
def test_token__unknown__404_in_requested_format(api: Open311, fmt: str, token: str) -> None:
    """[TOK-01][ERR-02] an unknown token is 404 with an error list naming the token."""
    items(api.post_request(BULK), "json")
    assert "token" in assert_error(api.client.get(url(f"tokens/{token}", fmt)), fmt, 404)


def test_token__extra_params__tolerated(api: Open311, fmt: str) -> None:
    """[KEY-03][JUR-01][JUR-03] api_key and jurisdiction_id never fail the lookup."""
    token = items(api.post_request(BULK), "json")[0]["token"]
    response = api.client.get(url(f"tokens/{token}", fmt), params={"api_key": "x", "jurisdiction_id": ""})
    assert items(response, fmt)[0]["token"] == token


def test_token__unknown_format_suffix__404(api: Open311) -> None:
    """[GEN-01] only .xml and .json."""
    token = items(api.post_request(BULK), "json")[0]["token"]
    assert_error(api.client.get(url(f"tokens/{token}", "txt")), "json", 404)
