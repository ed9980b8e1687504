"""check_config of the Open311 client connector: defaults, normalisation and clear refusals."""

from __future__ import annotations

from typing import Any

import pytest

from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors import open311
from civicswitch.hub.connectors.open311 import Open311Settings, check_config
from civicswitch.hub.model import ConnectorKind

ENDPOINT = "https://dot.city.example/open311/v2"


def test_kind__module__is_open311() -> None:
    assert open311.KIND is ConnectorKind.OPEN311


def test_check_config__endpoint_only__fills_every_default() -> None:
    assert check_config({"endpoint": ENDPOINT}) == {
        "endpoint": ENDPOINT,
        "jurisdiction_id": None,
        "service_code_map": {},
        "timeout_s": 10.0,
        "poll": "requests",
        "poll_every_s": 300,
        "updates_supported": False,
        "include_contact": False,
        "allow_private": False,
    }


def test_check_config__every_setting__kept_and_normalised() -> None:
    config = check_config(
        {
            "endpoint": f"  {ENDPOINT}/ ",
            "jurisdiction_id": " city.example ",
            "service_code_map": {"pothole": "POT-01"},
            "timeout_s": 3,
            "poll": "updates",
            "poll_every_s": 60,
            "updates_supported": True,
            "include_contact": True,
        }
    )
    assert config["endpoint"] == ENDPOINT
    assert config["jurisdiction_id"] == "city.example"
    assert config["service_code_map"] == {"pothole": "POT-01"}
    assert config["timeout_s"] == 3.0
    assert (config["poll"], config["poll_every_s"]) == ("updates", 60)
    assert config["updates_supported"] is True and config["include_contact"] is True


def test_check_config__checked_twice__same_result() -> None:
    once = check_config({"endpoint": ENDPOINT + "/", "service_code_map": {"a": "B"}, "poll": "off"})
    assert check_config(once) == once


def test_settings__url__joins_the_resource_to_the_endpoint() -> None:
    assert Open311Settings.of({"endpoint": ENDPOINT + "/"}).url("requests.json") == ENDPOINT + "/requests.json"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "endpoint is required"),
        ({"endpoint": ""}, "endpoint is required"),
        ({"endpoint": "ftp://dot.city.example/open311"}, "http:// or https://"),
        ({"endpoint": "dot.city.example/open311"}, "http:// or https://"),
        ({"endpoint": ENDPOINT + "/requests.json"}, "before requests.json"),
        ({"endpoint": ENDPOINT + "/discovery.xml"}, "before requests.json"),
        ({"endpoint": ENDPOINT + "?jurisdiction_id=x"}, "query string"),
        ({"endpoint": ENDPOINT, "api_key": "k"}, "connector's secret"),
        ({"endpoint": ENDPOINT, "url": ENDPOINT}, "unknown Open311 setting(s) url"),
        ({"endpoint": ENDPOINT, "poll": "push"}, "poll must be 'requests'"),
        ({"endpoint": ENDPOINT, "timeout_s": 0}, "timeout_s"),
        ({"endpoint": ENDPOINT, "timeout_s": True}, "timeout_s"),
        ({"endpoint": ENDPOINT, "timeout_s": "10"}, "timeout_s"),
        ({"endpoint": ENDPOINT, "timeout_s": 121}, "timeout_s"),
        ({"endpoint": ENDPOINT, "poll_every_s": 1}, "poll_every_s"),
        ({"endpoint": ENDPOINT, "poll_every_s": 2.5}, "poll_every_s"),
        ({"endpoint": ENDPOINT, "service_code_map": {"pothole": 1}}, "service_code_map"),
        ({"endpoint": ENDPOINT, "service_code_map": ["pothole"]}, "service_code_map"),
        ({"endpoint": ENDPOINT, "jurisdiction_id": 7}, "jurisdiction_id"),
        ({"endpoint": ENDPOINT, "updates_supported": "yes"}, "updates_supported must be true or false"),
    ],
)
def test_check_config__bad_setting__invalid_naming_it(config: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid) as caught:
        check_config(config)
    assert message in caught.value.description


def test_check_config__not_an_object__invalid() -> None:
    with pytest.raises(Invalid, match="must be an object"):
        check_config(["endpoint"])  # type: ignore[arg-type]
