"""Bad MQTT URLs, options and point specs are ConfigErrors that name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols import ConfigError, Timeouts, open_driver
from protocols.mqtt import MqttPoint, PayloadFormat
from protocols.mqtt.driver import MqttDriver
from protocols.opcua import OpcUaPoint
from tests.support.certs import make_ca


def test_registry_opens_both_schemes_without_connecting(tmp_path: Path) -> None:
    plain = open_driver("mqtt://127.0.0.1", timeouts=Timeouts(1, 1), device_id="d1")
    assert isinstance(plain, MqttDriver)
    assert (plain.options.port, plain.options.tls) == (1883, False)
    ca = make_ca(tmp_path)
    secure = open_driver("mqtts://broker.local", device_id="d1", ca_file=str(ca.cert))
    assert isinstance(secure, MqttDriver)
    assert (secure.options.port, secure.options.tls) == (8883, True)
    assert secure.options.ssl_context is not None
    assert secure.options.ssl_context.check_hostname is True


def test_default_client_id_comes_from_device_id_and_persistence_needs_one() -> None:
    driver = MqttDriver.from_url("mqtt://h", device_id="gas-north")
    assert driver.options.client_id.endswith("-gas-north")
    assert driver.options.clean_session is False
    with pytest.raises(ConfigError, match="needs a fixed, unique identity"):
        MqttDriver.from_url("mqtt://h")
    assert MqttDriver.from_url("mqtt://h", clean_session=True).options.clean_session is True


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mqtt://", "has no host"),
        ("tcp://h:1883", "must start with mqtt:// or mqtts://"),
        ("mqtt://h:70000", "not valid"),
        ("mqtt://h:1883/plant/topic", "a path, query or fragment is not used"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MqttDriver.from_url(url, device_id="d")


def test_password_in_url_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError, match="never in the URL") as error:
        MqttDriver.from_url("mqtt://agent:hunter2@h", device_id="d")
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"qos": 1}, r"unknown option 'qos'"),
        ({"clientid": "x"}, r"unknown option 'clientid' \(did you mean 'client_id'\?\)"),
        ({"protocol": "3.1"}, "protocol='3.1' must be one of 3.1.1, 5, 5.0"),
        ({"keepalive_s": 1}, "keepalive_s=1 must be at least 5"),
        ({"queue_size": -3}, "queue_size=-3 must be at least 1"),
        ({"check_hostname": "sometimes"}, "must be true or false"),
        ({"ca_file": "/no/such/ca.pem"}, "ca_file='/no/such/ca.pem' is not an existing file"),
        ({"password": "p"}, "password is set but username is not"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MqttDriver.from_url("mqtt://h", device_id="d", **options)


def test_tls_files_need_a_tls_url_and_must_be_certificates(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    with pytest.raises(ConfigError, match="ca_file needs a TLS URL"):
        MqttDriver.from_url("mqtt://h", device_id="d", ca_file=str(ca.cert))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"ca_file=.* is not a CA certificate"):
        MqttDriver.from_url("mqtts://h", device_id="d", ca_file=str(junk))
    with pytest.raises(ConfigError, match="are not a certificate and its key"):
        MqttDriver.from_url("mqtts://h", device_id="d", cert_file=str(junk), key_file=str(junk))


def test_options_repr_hides_the_password() -> None:
    driver = MqttDriver.from_url("mqtt://h", device_id="d", username="agent", password="hunter2")
    assert "hunter2" not in repr(driver.options)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"topic": ""}, "is empty or invalid"),
        ({"topic": "a/#/b", "field": "x"}, "'#' may only end a filter"),
        ({"topic": "a/b#", "field": "x"}, "a wildcard must fill a whole level"),
        ({"topic": "a/b+/c", "field": "x"}, "a wildcard must fill a whole level"),
        ({"topic": "a/b"}, "a JSON payload needs 'field'"),
        ({"topic": "a/b", "field": "data..pm10"}, "is not a dotted path"),
        ({"topic": "a/b", "field": "x", "timestamp_field": ".ts"}, "is not a dotted path"),
        ({"topic": "a/b", "field": "x", "qos": 3}, "qos=3 must be 0, 1 or 2"),
        (
            {"topic": "a/b", "payload": PayloadFormat.NUMBER, "scale": 0},
            "scale must be finite and not 0",
        ),
    ],
)
def test_bad_point_specs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MqttPoint(key="p", **kwargs)  # type: ignore[arg-type]


async def test_subscribe_refuses_foreign_specs_and_duplicates() -> None:
    driver = MqttDriver.from_url("mqtt://h", device_id="d")
    with pytest.raises(ConfigError, match="takes MqttPoint specs"):
        await driver.subscribe([OpcUaPoint(key="o", node_id="i=1")])
    point = MqttPoint(key="p", topic="a", field="x")
    with pytest.raises(ConfigError, match=r"given twice: \['p'\]"):
        await driver.subscribe([point, point])
    await driver.close()


def test_profile_scaling_and_device_template_reach_the_point_spec(tmp_path: Path) -> None:
    from device_profiles import DeviceEntry, resolve_device
    from tests.support.sim_devices import MQTT_PROFILE, write_profile

    profile = write_profile(tmp_path, MQTT_PROFILE)
    entry = DeviceEntry(
        id="dust-3", profile=profile.id, url="mqtt://h", points={"pm10": {"scale": 2.0}}
    )
    spec = resolve_device(entry, profile).point("pm10").spec
    assert isinstance(spec, MqttPoint)
    assert (spec.topic, spec.field, spec.timestamp_field, spec.scale) == (
        "site/dust-3/dust",
        "data.pm10",
        "ts",
        2.0,
    )
