"""Bad OPC UA URLs, options and point specs are ConfigErrors that name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols import ConfigError, ConnectError, Quality, Timeouts, open_driver
from protocols.modbus import ModbusPoint
from protocols.opcua import DeadbandType, OpcUaPoint
from protocols.opcua.driver import OpcUaDriver
from tests.support.ports import free_port

URL = "opc.tcp://127.0.0.1:4840/hse"


def test_from_url_builds_without_connecting() -> None:
    driver = open_driver(URL, timeouts=Timeouts(connect_s=1, io_s=0.5), device_id="ox-1")
    assert isinstance(driver, OpcUaDriver)
    assert driver.options.endpoint == URL
    assert driver.options.port == 4840
    assert driver.statistics().connected is False


def test_default_port_is_4840() -> None:
    assert OpcUaDriver.from_url("opc.tcp://plc.local/").options.port == 4840


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("opc.tcp://", "has no host"),
        ("opc.tcp://host:99999/x", "not valid"),
        ("opc.tcp://host:4840/x?timeout=3", "query strings"),
        ("http://host:4840", "must start with opc.tcp://"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OpcUaDriver.from_url(url)


def test_password_in_url_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError, match="never in the URL") as error:
        OpcUaDriver.from_url("opc.tcp://op:hunter2@host:4840")
    assert "hunter2" not in str(error.value)


def test_unknown_option_is_named_with_a_suggestion() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown option 'pasword' \(did you mean 'password'\?\)"
    ):
        OpcUaDriver.from_url(URL, username="op", pasword="x")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"security_policy": "Basic128Rsa15"}, "security_policy='Basic128Rsa15' must be one of"),
        ({"security_mode": "Sign"}, "needs security_policy=Basic256Sha256"),
        ({"security_policy": "Basic256Sha256"}, "needs option"),
        ({"queue_size": 0}, "queue_size=0 must be at least 1"),
        ({"queue_size": "many"}, "queue_size='many' must be a whole number"),
        ({"reconnect_initial_s": -1}, "reconnect_initial_s=-1 must be greater than 0"),
        ({"reconnect_initial_s": 5, "reconnect_max_s": 1}, "reconnect_max_s=1.0 is below"),
        ({"allow_plaintext_password": "maybe"}, "must be true or false"),
        (
            {"certificate": "/no/such/file.pem"},
            "certificate='/no/such/file.pem' is not an existing file",
        ),
        ({"password": "x"}, "password is set but username is not"),
    ],
)
def test_bad_option_values_name_the_option(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OpcUaDriver.from_url(URL, **options)


def test_options_repr_hides_the_password() -> None:
    driver = OpcUaDriver.from_url(
        URL, username="op", password="hunter2", allow_plaintext_password=True
    )
    assert "hunter2" not in repr(driver.options)
    assert driver.options.password is not None
    assert driver.options.password.reveal() == "hunter2"


def test_certificates_without_a_policy_are_refused(tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    with pytest.raises(ConfigError, match="certificate is set but security_policy is None"):
        OpcUaDriver.from_url(URL, certificate=str(cert))


@pytest.mark.parametrize(
    "node_id", ["", "H2S", "ns=two;s=x", "ns=2;x=1", "ns=2;i=12a", "ns=2;g=not-a-guid"]
)
def test_bad_node_ids_are_config_errors_naming_them(node_id: str) -> None:
    with pytest.raises(ConfigError, match="node_id=") as error:
        OpcUaPoint(key="p", node_id=node_id)
    assert repr(node_id) in str(error.value)


@pytest.mark.parametrize(
    "node_id",
    [
        "i=2258",
        "ns=2;s=ox-1.O2",
        "ns=3;i=1001",
        "nsu=urn:x;s=a b",
        "ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a",
        "ns=1;b=M/RbKBsRVkePCePcx24oRA==",
    ],
)
def test_good_node_ids_parse(node_id: str) -> None:
    point = OpcUaPoint(key="p", node_id=node_id)
    plan = OpcUaDriver.from_url(URL).plan([point])
    assert plan.points == (point,)
    assert plan.node_ids[0].to_string() != ""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampling_interval_ms": -1}, "sampling_interval_ms=-1 is negative"),
        ({"deadband": -0.1}, "deadband=-0.1 is negative"),
        ({"deadband_type": DeadbandType.PERCENT, "deadband": 120}, "above 100"),
        ({"scale": 0}, "scale must be finite and not 0"),
    ],
)
def test_bad_point_specs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OpcUaPoint(key="p", node_id="ns=2;s=x", **kwargs)  # type: ignore[arg-type]


def test_plan_refuses_foreign_specs_and_duplicate_keys() -> None:
    driver = OpcUaDriver.from_url(URL)
    with pytest.raises(ConfigError, match="takes OpcUaPoint specs"):
        driver.plan([ModbusPoint(key="m")])
    point = OpcUaPoint(key="p", node_id="ns=2;s=x")
    with pytest.raises(ConfigError, match="'p' is given twice"):
        driver.plan([point, point])


async def test_read_before_connect_gives_one_bad_sample_per_point() -> None:
    driver = OpcUaDriver.from_url(URL)
    plan = driver.plan(
        [OpcUaPoint(key="a", node_id="ns=2;s=a"), OpcUaPoint(key="b", node_id="i=1")]
    )
    samples = await driver.read(plan)
    assert [(s.key, s.quality, s.value, s.reason) for s in samples] == [
        ("a", Quality.BAD, None, "opcua.BadNoCommunication"),
        ("b", Quality.BAD, None, "opcua.BadNoCommunication"),
    ]
    await driver.close()


async def test_connect_to_nothing_is_a_retriable_connect_error() -> None:
    driver = OpcUaDriver.from_url(f"opc.tcp://127.0.0.1:{free_port()}", timeouts=Timeouts(1, 1))
    with pytest.raises(ConnectError, match="connection refused") as error:
        await driver.connect()
    assert error.value.retriable is True
    await driver.close()


def test_profile_scaling_and_device_template_reach_the_point_spec(tmp_path: Path) -> None:
    from device_profiles import DeviceEntry, resolve_device
    from tests.support.sim_devices import OPCUA_PROFILE, write_profile

    profile = write_profile(tmp_path, OPCUA_PROFILE)
    entry = DeviceEntry(id="ox-7", profile=profile.id, url=URL)
    spec = resolve_device(entry, profile).point("pressure").spec
    assert isinstance(spec, OpcUaPoint)
    assert (spec.node_id, spec.scale, spec.offset) == ("ns=2;s=ox-7.P", 0.1, 0.0)
