"""The department simulator on its own (Starlette TestClient): signatures, dedupe, failure modes, status
updates sent back, the state file, Open311 POSTs and the command line."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from civicswitch.hub.model import StatusMap
from civicswitch.hub.signing import new_secret, sign_headers, verify
from civicswitch.requests.model import CloseReason, Status
from civicswitch.simulator import MALFORMED, SAFE_MALFORMED, STATUS_MAP, Mode, SimulatorConfig, SlowStyle, create_app
from civicswitch.simulator.__main__ import parse

SECRET = new_secret()
CREATED = "gov.civicswitch.request.created"


def event(key: str, type_: str = CREATED, request_id: str = "42") -> str:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": key,
            "source": "urn:civicswitch:requests",
            "type": type_,
            "subject": request_id,
            "data": {"service_request_id": request_id, "status": "new"},
        }
    )


def signed(key: str, body: str, *, secret: str = SECRET, at: datetime | None = None) -> dict[str, str]:
    return {"content-type": "application/cloudevents+json", **sign_headers(secret, key, at or datetime.now(UTC), body)}


class Sleeps:
    """A sleep that does not wait, and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(sleeps: Sleeps) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(transport: httpx.AsyncBaseTransport | None = None, **settings: Any) -> TestClient:
        settings.setdefault("run", "")  # plain work-order numbers; the run prefix has its own tests
        client = TestClient(create_app(SimulatorConfig(secret=SECRET, **settings), transport=transport, sleep=sleeps))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def post(client: TestClient, key: str, body: str | None = None, **kwargs: Any) -> httpx.Response:
    body = event(key) if body is None else body
    return client.post("/webhook", content=body.encode(), headers=signed(key, body, **kwargs))


def stats(client: TestClient) -> dict[str, Any]:
    found: dict[str, Any] = client.get("/_sim/stats").json()
    return found


# -- signatures --------------------------------------------------------------------------------------------
def test_webhook__signed_event__answers_external_id_and_counts_one_effect(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()

    response = post(client, "cs_a")

    assert response.status_code == 200
    assert response.json() == {"external_id": "WO-000001", "duplicate": False}
    assert stats(client)["unique_effects"] == 1
    assert stats(client)["received"] == 1


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda h, b: (h, b + " "), id="tampered-body"),
        pytest.param(lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), id="unsigned"),
        pytest.param(lambda h, b: ({**h, "webhook-id": "cs_other"}, b), id="other-id"),
        pytest.param(lambda h, b: ({**h, "webhook-signature": "garbage"}, b), id="garbage-signature"),
        pytest.param(lambda h, b: ({**h, "webhook-timestamp": "yesterday"}, b), id="bad-timestamp"),
    ],
)
def test_webhook__bad_signature__refused_401_and_nothing_done(
    make_client: Callable[..., TestClient], spoil: Callable[[dict[str, str], str], tuple[dict[str, str], str]]
) -> None:
    client = make_client()
    body = event("cs_a")
    headers, sent = spoil(signed("cs_a", body), body)

    response = client.post("/webhook", content=sent.encode(), headers=headers)

    assert response.status_code == 401
    assert stats(client)["rejected"] == 1
    assert stats(client)["unique_effects"] == 0


def test_webhook__other_secret__refused_401(make_client: Callable[..., TestClient]) -> None:
    client = make_client()

    assert post(client, "cs_a", secret=new_secret()).status_code == 401


def test_webhook__signed_ten_minutes_ago__refused_401_as_stale(make_client: Callable[..., TestClient]) -> None:
    client = make_client()

    response = post(client, "cs_a", at=datetime.now(UTC) - timedelta(minutes=10))

    assert response.status_code == 401
    assert "too old" in response.json()["error"]


def test_webhook__signed_but_not_a_cloudevent__400_and_nothing_done(make_client: Callable[..., TestClient]) -> None:
    client = make_client()

    response = post(client, "cs_a", body='{"hello": "world"}')

    assert response.status_code == 400
    assert stats(client)["invalid"] == 1
    assert stats(client)["unique_effects"] == 0


# -- dedupe --------------------------------------------------------------------------------------------------
def test_webhook__same_webhook_id_twice__one_effect_same_answer_duplicate_counted(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()

    first = post(client, "cs_a").json()
    again = post(client, "cs_a").json()

    assert again == {"external_id": first["external_id"], "duplicate": True}
    found = stats(client)
    assert (found["received"], found["unique_effects"], found["duplicates"]) == (2, 1, 1)
    assert found["duplicate_keys"] == ["cs_a"]


def test_webhook__different_webhook_ids__one_effect_each(make_client: Callable[..., TestClient]) -> None:
    client = make_client()

    ids = {post(client, f"cs_{n}").json()["external_id"] for n in range(5)}

    assert ids == {f"WO-{n:06d}" for n in range(1, 6)}
    assert stats(client)["duplicates"] == 0
    effects = client.get("/_sim/effects").json()
    assert [e["key"] for e in effects] == [f"cs_{n}" for n in range(5)]
    assert all(e["deliveries"] == 1 and e["service_request_id"] == "42" for e in effects)


def test_state_file__new_app_on_same_file__still_knows_what_it_did(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    path = tmp_path / "sim.json"
    first = make_client(state_file=path)
    ext = post(first, "cs_a").json()["external_id"]

    restarted = make_client(state_file=path)
    again = post(restarted, "cs_a").json()

    assert again == {"external_id": ext, "duplicate": True}
    assert post(restarted, "cs_b").json()["external_id"] == "WO-000002"
    assert stats(restarted)["received"] == 3


def test_no_state_file__restarted__never_hands_out_a_number_it_gave_before(
    make_client: Callable[..., TestClient],
) -> None:
    first = make_client(run=None)
    before = {post(first, f"cs_{n}").json()["external_id"] for n in range(3)}

    restarted = make_client(run=None)
    after = {post(restarted, f"cs_new_{n}").json()["external_id"] for n in range(3)}

    assert len(before) == len(after) == 3 and not before & after
    assert all(re.fullmatch(r"WO-[0-9a-f]{4}-00000[1-3]", ext) for ext in before | after)


def test_state_file__restarted_twice__numbers_go_on_and_old_effects_remembered(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    path = tmp_path / "sim.json"
    numbers = []
    for run in range(3):
        client = make_client(state_file=path, run=None)
        numbers.append(post(client, f"cs_{run}").json()["external_id"])
        assert post(client, "cs_0").json() == {"external_id": "WO-000001", "duplicate": True}

    assert numbers == ["WO-000001", "WO-000002", "WO-000003"]


# -- failure modes ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "status"), [(Mode.DOWN, 503), (Mode.GONE, 410), (Mode.ERROR, 500)])
def test_webhook__failing_mode__answers_its_status_and_does_nothing(
    make_client: Callable[..., TestClient], mode: Mode, status: int
) -> None:
    client = make_client(mode=mode)

    response = post(client, "cs_a")

    assert response.status_code == status
    found = stats(client)
    assert found["unique_effects"] == 0
    assert found["by_mode"][str(mode)] == {"received": 1, str(status): 1}


def test_webhook__5xx_burst_of_three__three_errors_then_ok(make_client: Callable[..., TestClient]) -> None:
    client = make_client(mode=Mode.ERROR, burst=3)

    codes = [post(client, "cs_a").status_code for _ in range(5)]

    assert codes == [500, 502, 503, 200, 200]
    assert stats(client)["mode"] == "ok"
    assert (stats(client)["unique_effects"], stats(client)["duplicates"]) == (1, 1)


def test_webhook__fail_rate_one__every_answer_500_nothing_done(make_client: Callable[..., TestClient]) -> None:
    client = make_client(fail_rate=1.0)

    assert [post(client, f"cs_{n}").status_code for n in range(3)] == [500, 500, 500]
    assert stats(client)["unique_effects"] == 0


def test_webhook__fail_rate_with_seed__same_failures_every_run(make_client: Callable[..., TestClient]) -> None:
    runs = []
    for _ in range(2):
        client = make_client(fail_rate=0.3, seed=7)
        runs.append([post(client, f"cs_{n}").status_code for n in range(20)])

    assert runs[0] == runs[1]
    assert 500 in runs[0]
    assert 200 in runs[0]


def test_webhook__slow_mode__does_the_work_then_sleeps_slow_s(
    make_client: Callable[..., TestClient], sleeps: Sleeps
) -> None:
    client = make_client(mode=Mode.SLOW, slow_s=12.5)

    response = post(client, "cs_a")

    assert response.status_code == 200
    assert sleeps.asked == [12.5]
    assert stats(client)["unique_effects"] == 1


def test_webhook__slow_drip__answers_at_once_and_trickles_the_body_over_slow_s(
    make_client: Callable[..., TestClient], sleeps: Sleeps
) -> None:
    client = make_client(mode=Mode.SLOW, slow_s=4.0, slow_style=SlowStyle.DRIP)

    response = post(client, "cs_a")

    assert response.json() == {"external_id": "WO-000001", "duplicate": False}
    assert len(sleeps.asked) == len(response.content)
    assert sum(sleeps.asked) == pytest.approx(4.0)
    assert stats(client)["answers"] == {"200": 1}


@pytest.mark.parametrize("kind", SAFE_MALFORMED)
def test_webhook__malformed_mode__work_done_reply_broken(make_client: Callable[..., TestClient], kind: str) -> None:
    client = make_client(mode=Mode.MALFORMED, malformed=(kind,))

    response = post(client, "cs_a")

    assert response.status_code == 200
    assert response.content == MALFORMED[kind].body
    with pytest.raises(ValueError):
        found = json.loads(response.content)
        if not (isinstance(found, dict) and isinstance(found.get("external_id"), str)):
            raise ValueError("no usable external_id")
    assert stats(client)["unique_effects"] == 1


def test_webhook__malformed_reused_id__every_request_gets_the_same_external_id(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(mode=Mode.MALFORMED, malformed=("reused-id",))

    replies = {post(client, f"cs_{n}", body=event(f"cs_{n}", request_id=str(n))).json()["external_id"] for n in (1, 2)}

    assert replies == {"WO-REUSED"}
    assert stats(client)["unique_effects"] == 2


@pytest.mark.parametrize(("kind", "suffix"), [("nul", "\x00"), ("surrogate", "\ud800")])
def test_webhook__malformed_hostile_id__each_effect_its_own_id_with_the_bad_character(
    make_client: Callable[..., TestClient], kind: str, suffix: str
) -> None:
    client = make_client(mode=Mode.MALFORMED, malformed=(kind,))

    ids = [json.loads(post(client, key).content)["external_id"] for key in ("cs_a", "cs_b")]

    assert ids == ["WO-000001" + suffix, "WO-000002" + suffix]


def test_webhook__malformed_kinds_in_turn__redelivery_gets_its_first_broken_reply(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(mode=Mode.MALFORMED, malformed=("truncated", "empty"))

    bodies = [post(client, key).content for key in ("cs_a", "cs_b", "cs_a")]

    assert bodies == [MALFORMED["truncated"].body, b"", MALFORMED["truncated"].body]


def test_webhook__malformed_nul_500__answers_500_and_does_nothing(make_client: Callable[..., TestClient]) -> None:
    client = make_client(mode=Mode.MALFORMED, malformed=("nul-500",))

    response = post(client, "cs_a")

    assert response.status_code == 500
    assert b"\x00" in response.content
    assert stats(client)["unique_effects"] == 0


def test_mode_endpoint__switch_at_run_time__next_answer_follows_it(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    assert post(client, "cs_a").status_code == 200

    switched = client.post("/_sim/mode", json={"mode": "gone"}).json()

    assert switched["mode"] == "gone"
    assert post(client, "cs_b").status_code == 410
    client.post("/_sim/mode", json={"mode": "ok", "fail_rate": 0.0, "slow_style": "drip", "slow_s": 2})
    assert post(client, "cs_b").status_code == 200
    assert (stats(client)["slow_style"], stats(client)["slow_s"]) == ("drip", 2.0)
    assert set(stats(client)["by_mode"]) == {"ok", "gone"}


@pytest.mark.parametrize("body", [{"mode": "sideways"}, {"fail_rate": 2}, {"slow_style": "fast"}, ["ok"]])
def test_mode_endpoint__bad_request__400_and_mode_unchanged(
    make_client: Callable[..., TestClient], body: object
) -> None:
    client = make_client()

    response = client.post("/_sim/mode", json=body)

    assert response.status_code == 400
    assert stats(client)["mode"] == "ok"


def test_config__unknown_malformed_kind__refused() -> None:
    with pytest.raises(ValueError, match="malformed kinds"):
        SimulatorConfig(secret=SECRET, malformed=("sideways",))


# -- status updates sent back ------------------------------------------------------------------------------
class Callbacks:
    """Our side of the callbacks: records what arrives, answers from a script (then 200)."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.seen: list[httpx.Request] = []
        self.script = list(script or [])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        status = self.script.pop(0) if self.script else 200
        return httpx.Response(status, json={"applied": status == 200, "flagged": None})

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.seen]


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_callbacks__new_request__ack_wip_done_signed_with_the_secret(
    make_client: Callable[..., TestClient], sleeps: Sleeps
) -> None:
    ours = Callbacks()
    client = make_client(
        transport=httpx.MockTransport(ours), callback="http://hub.test", connector="dot-sim", delay=2.0
    )

    ext = post(client, "cs_a").json()["external_id"]
    wait_for(lambda: stats(client)["callbacks"].get("applied") == 3)

    assert [str(r.url) for r in ours.seen] == ["http://hub.test/api/v1/connectors/dot-sim/updates"] * 3
    bodies = ours.bodies()
    assert [b["status"] for b in bodies] == ["ACK", "WIP", "DONE"]
    assert [b["update_id"] for b in bodies] == [f"{ext}-ACK", f"{ext}-WIP", f"{ext}-DONE"]
    assert all(b["external_id"] == ext and "service_request_id" not in b for b in bodies)
    for request in ours.seen:
        assert verify(SECRET, dict(request.headers), request.content.decode(), datetime.now(UTC)).startswith("sim_")
    assert sleeps.asked == [2.0, 2.0, 2.0]


def test_callbacks__ref_service_request_id__updates_name_our_id(make_client: Callable[..., TestClient]) -> None:
    ours = Callbacks()
    client = make_client(
        transport=httpx.MockTransport(ours),
        callback="http://hub.test/api/v1/connectors/x/updates",
        ref="service_request_id",
    )

    post(client, "cs_a")
    wait_for(lambda: stats(client)["callbacks"].get("applied") == 3)

    assert {b["service_request_id"] for b in ours.bodies()} == {"42"}
    assert {str(r.url) for r in ours.seen} == {"http://hub.test/api/v1/connectors/x/updates"}


def test_callbacks__404_then_409__retried_same_message_id_then_counted_duplicate(
    make_client: Callable[..., TestClient],
) -> None:
    ours = Callbacks(script=[404, 503, 409])
    client = make_client(transport=httpx.MockTransport(ours), callback="http://hub.test")

    post(client, "cs_a")
    wait_for(lambda: stats(client)["callbacks"].get("applied") == 2)

    found = stats(client)["callbacks"]
    assert found["duplicate"] == 1
    assert found["attempts"] == 5
    ack_ids = {r.headers["webhook-id"] for r in ours.seen[:3]}
    assert len(ack_ids) == 1


def test_callbacks__refused_403__given_up_and_counted_failed(make_client: Callable[..., TestClient]) -> None:
    ours = Callbacks(script=[403])
    client = make_client(transport=httpx.MockTransport(ours), callback="http://hub.test")

    post(client, "cs_a")
    wait_for(lambda: stats(client)["callbacks"].get("applied") == 2)

    assert stats(client)["callbacks"]["failed"] == 1


def test_callbacks__duplicate_and_status_changed_messages__no_new_updates(
    make_client: Callable[..., TestClient],
) -> None:
    ours = Callbacks()
    client = make_client(transport=httpx.MockTransport(ours), callback="http://hub.test")

    post(client, "cs_a")
    post(client, "cs_a")
    post(client, "cs_b", body=event("cs_b", type_="gov.civicswitch.request.status_changed"))
    wait_for(lambda: stats(client)["callbacks_pending"] == 0)

    assert stats(client)["callbacks"]["sent"] == 3


def test_status_map__documented_map__is_a_valid_connector_map() -> None:
    smap = StatusMap.from_document(STATUS_MAP)

    assert smap.to_canonical("ACK") == (Status.ACKNOWLEDGED, None)
    assert smap.to_canonical("WIP") == (Status.IN_PROGRESS, None)
    assert smap.to_canonical("DONE") == (Status.CLOSED, CloseReason.FIXED)
    assert smap.to_external(Status.CLOSED, CloseReason.FIXED) == "DONE"


# -- Open311 POSTs ------------------------------------------------------------------------------------------------
def test_open311_request__right_api_key__new_work_order_each_post(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    form = {"api_key": SECRET, "service_code": "pothole", "lat": "40.7", "long": "-74.0"}

    replies = [client.post("/open311/v2/requests.json", data=form).json() for _ in range(2)]

    assert replies == [
        [{"service_request_id": "WO-000001", "service_notice": "simulated"}],
        [{"service_request_id": "WO-000002", "service_notice": "simulated"}],
    ]
    assert stats(client)["effects_by_type"] == {"open311.request": 2}


def test_open311_request__wrong_api_key__403(make_client: Callable[..., TestClient]) -> None:
    client = make_client()

    response = client.post("/open311/v2/requests.json", data={"api_key": "nope", "service_code": "x"})

    assert response.status_code == 403
    assert response.json()[0]["code"] == 403


def test_open311_update__same_update_id_twice__one_effect(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    form = {"api_key": SECRET, "update_id": "cs_u1", "service_request_id": "WO-1", "status": "closed"}

    replies = [client.post("/open311/v2/servicerequestupdates.json", data=form).json() for _ in range(2)]

    assert replies[0] == replies[1]
    assert (stats(client)["unique_effects"], stats(client)["duplicates"]) == (1, 1)


# -- the command line -----------------------------------------------------------------------------------------------
def test_parse__all_options__config_built() -> None:
    args, config = parse(
        ["--port", "9001", "--secret", SECRET, "--callback", "http://127.0.0.1:8311", "--connector", "dot-sim",
         "--delay", "0.5", "--mode", "5xx", "--fail-rate", "0.2", "--burst", "4", "--malformed", "all",
         "--state-file", "/tmp/s.json", "--seed", "3"]
    )  # fmt: skip

    assert args.port == 9001
    assert config.mode == Mode.ERROR
    assert (config.delay, config.fail_rate, config.burst, config.seed) == (0.5, 0.2, 4, 3)
    assert config.malformed == tuple(MALFORMED)
    assert config.callback_url() == "http://127.0.0.1:8311/api/v1/connectors/dot-sim/updates"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([], id="no-secret"),
        pytest.param(["--secret", SECRET, "--mode", "sideways"], id="bad-mode"),
        pytest.param(["--secret", SECRET, "--malformed", "nope"], id="bad-malformed"),
        pytest.param(["--secret", SECRET, "--fail-rate", "3"], id="bad-rate"),
    ],
)
def test_parse__bad_arguments__exits_with_usage(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICSWITCH_SIM_SECRET", raising=False)

    with pytest.raises(SystemExit) as raised:
        parse(argv)

    assert raised.value.code == 2
