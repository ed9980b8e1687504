"""The front page: what residents (and a city official) see first, in their language."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from civicswitch.web import pages


def test_home__with_requests__shows_counts_latest_and_api_links(client: TestClient, keys: dict[str, str]) -> None:
    for text in ("Pothole-free <b>please</b>", "Graffiti on the library"):
        reply = client.post(
            "/open311/v2/requests.json",
            data={
                "api_key": keys["submit"],
                "service_code": "graffiti",
                "address_string": "1 Main St",
                "description": text,
            },
        )
        assert reply.status_code == 200, reply.text
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "4 kinds of problem" in html and "handled by 2 departments" in html
    assert "2 service requests" in html and "2 open" in html
    assert "1 Main St" in html and "Graffiti" in html
    assert "/open311/v2/discovery.json" in html and "/open311/v2/services.json" in html
    assert "<b>please</b>" not in html  # user text is escaped


def test_home__empty_database__still_renders(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "No requests yet" in page.text


def test_home__after_a_merge__counts_the_merged_report(client: TestClient, keys: dict[str, str]) -> None:
    point = {"api_key": keys["submit"], "service_code": "graffiti", "lat": "40.7359", "long": "-73.9911"}
    first, second = (client.post("/open311/v2/requests.json", data=point).json()[0] for _ in range(2))
    merged = client.post(
        f"/api/v1/requests/{second['service_request_id']}/merge",
        json={"into": first["service_request_id"]},
        headers={"X-Api-Key": keys["admin"]},
    )
    assert merged.status_code == 200
    assert "of which 1 merged into an earlier report" in client.get("/").text


def test_home__counts__kept_a_minute_then_counted_again(
    client: TestClient, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counts read every request (at a city's size, hundreds of ms): counted at most once a minute per process;
    the latest requests below them are always live."""
    point = {"api_key": keys["submit"], "service_code": "graffiti", "lat": "40.7359", "long": "-73.9911"}
    client.post("/open311/v2/requests.json", data=point)
    assert "1 service request\n" in client.get("/").text
    filed = client.post("/open311/v2/requests.json", data=point).json()[0]["service_request_id"]
    again = client.get("/").text
    assert "1 service request\n" in again and f">{filed}</a>" in again
    monkeypatch.setattr(pages, "FIGURES_SECONDS", 0.0)
    assert "2 service requests" in client.get("/").text


def test_home__spanish__labels_statuses_and_service_names_translated__tracked_on_our_pages(
    client: TestClient, keys: dict[str, str]
) -> None:
    filed = client.post("/open311/v2/requests.json", data={"api_key": keys["submit"], "service_code": "graffiti",
                                                           "address_string": "1 Main St"}).json()[0]  # fmt: skip
    page = client.get("/", headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert page.headers["content-language"] == "es" and '<html lang="es">' in page.text
    html = page.text
    assert "Reportar un problema" in html and "Número de solicitud" in html and "Solicitudes más recientes" in html
    assert "Recibida: pendiente de revisión" in html
    assert f'<a href="/requests/{filed["service_request_id"]}">' in html  # the resident's page, not the API's JSON
    assert "1 solicitud de servicio" in html and "4 tipos de problema" in html
    assert 'hreflang="en"' in html  # the language switcher
