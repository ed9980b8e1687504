from fastapi.testclient import TestClient


def test_post_then_get__round_trips_the_request(client: TestClient, keys: dict[str, str]) -> None:
    created = client.post(
        "/open311/v2/requests.json",
        data={"api_key": keys["submit"], "service_code": "graffiti", "lat": "40.7", "long": "-74.0",
              "description": "Tag on the wall", "email": "a@example.org"},
    )
    assert created.status_code == 200, created.text
    rid = created.json()[0]["service_request_id"]
    got = client.get(f"/open311/v2/requests/{rid}.json")
    assert got.status_code == 200
    body = got.json()
    assert body[0]["description"] == "Tag on the wall"
    assert "a@example.org" not in got.text
