"""MQTT over TLS (CA, host name check, client certificates) and with user name and password."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from protocols import ConnectError, Quality, Timeouts
from protocols.mqtt import MqttPoint
from protocols.mqtt.driver import MqttDriver
from tests.support.certs import CertFiles, make_ca, make_tls_cert
from tests.support.mosquitto import (
    MOSQUITTO,
    MOSQUITTO_PASSWD,
    Broker,
    TlsListener,
    write_password_file,
)
from tests.support.mqtt_clients import Collector, publish

pytestmark = pytest.mark.mosquitto
TIMEOUTS = Timeouts(connect_s=5.0, io_s=2.0)
PASSWORD = "br0ker-Secret-never-logged"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CertFiles]:
    directory = tmp_path_factory.mktemp("mqtt-pki")
    ca = make_ca(directory / "ca")
    other_ca = make_ca(directory / "other", name="Someone else's CA")
    return {
        "ca": ca,
        "other_ca": other_ca,
        "server": make_tls_cert(directory, ca, "broker", ["127.0.0.1", "localhost"]),
        "misnamed": make_tls_cert(directory, ca, "misnamed", ["broker.example"]),
        "client": make_tls_cert(directory, ca, "agent", ["edge-agent"], client=True),
    }


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    """Start brokers with custom config; all are stopped at teardown."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed")
    started: list[Broker] = []

    def make(**kwargs: Any) -> Broker:
        workdir = tmp_path / f"broker-{len(started)}"
        workdir.mkdir()
        broker = Broker(workdir, **kwargs)
        started.append(broker)
        broker.start()
        return broker

    try:
        yield make
    finally:
        for broker in started:
            broker.stop()


def tls(
    pki: dict[str, CertFiles], cert: str = "server", *, require_certificate: bool = False
) -> TlsListener:
    return TlsListener(
        cafile=pki["ca"].cert,
        certfile=pki[cert].cert,
        keyfile=pki[cert].key,
        require_certificate=require_certificate,
    )


async def receive_one(driver: MqttDriver, broker: Broker, **publish_kwargs: Any) -> float:
    """Subscribe, connect, publish one message on the plain listener, return its value."""
    topic = f"{uuid.uuid4().hex[:8]}/v"
    collector = Collector(driver.stream())
    try:
        await driver.subscribe([MqttPoint(key="v", topic=topic, field="v")])
        await driver.connect()
        await publish(broker.host, broker.port, [(topic, json.dumps({"v": 4.5}))], **publish_kwargs)
        (sample,) = await collector.wait_for(lambda s: s.key == "v")
        assert sample.quality is Quality.GOOD
        assert isinstance(sample.value, float)
        return sample.value
    finally:
        await driver.close()
        await collector.stop()


async def test_tls_with_the_brokers_ca(
    pki: dict[str, CertFiles], make_broker: Callable[..., Broker]
) -> None:
    broker = make_broker(tls=tls(pki))
    driver = MqttDriver.from_url(
        broker.tls_url, timeouts=TIMEOUTS, device_id="tls-1", ca_file=str(pki["ca"].cert)
    )
    assert driver.options.tls
    assert await receive_one(driver, broker) == 4.5


async def test_tls_refuses_a_broker_signed_by_another_ca(
    pki: dict[str, CertFiles], make_broker: Callable[..., Broker]
) -> None:
    broker = make_broker(tls=tls(pki))
    driver = MqttDriver.from_url(
        broker.tls_url, timeouts=TIMEOUTS, device_id="tls-2", ca_file=str(pki["other_ca"].cert)
    )
    with pytest.raises(ConnectError, match="does not verify") as refused:
        await driver.connect()
    assert refused.value.retriable is False
    await driver.close()


async def test_tls_checks_the_host_name_unless_told_not_to(
    pki: dict[str, CertFiles], make_broker: Callable[..., Broker]
) -> None:
    broker = make_broker(tls=tls(pki, "misnamed"))  # certificate for broker.example only
    strict = MqttDriver.from_url(
        broker.tls_url, timeouts=TIMEOUTS, device_id="tls-3", ca_file=str(pki["ca"].cert)
    )
    with pytest.raises(ConnectError, match="does not verify"):
        await strict.connect()
    await strict.close()

    lax = MqttDriver.from_url(
        broker.tls_url,
        timeouts=TIMEOUTS,
        device_id="tls-4",
        ca_file=str(pki["ca"].cert),
        check_hostname=False,  # the chain is still verified
    )
    assert await receive_one(lax, broker) == 4.5


async def test_tls_client_certificate_when_the_broker_requires_one(
    pki: dict[str, CertFiles], make_broker: Callable[..., Broker]
) -> None:
    broker = make_broker(tls=tls(pki, require_certificate=True))
    without = MqttDriver.from_url(
        broker.tls_url, timeouts=TIMEOUTS, device_id="tls-5", ca_file=str(pki["ca"].cert)
    )
    with pytest.raises(ConnectError):
        await without.connect()
    await without.close()

    with_cert = MqttDriver.from_url(
        broker.tls_url,
        timeouts=TIMEOUTS,
        device_id="tls-6",
        ca_file=str(pki["ca"].cert),
        cert_file=str(pki["client"].cert),
        key_file=str(pki["client"].key),
    )
    assert await receive_one(with_cert, broker) == 4.5


@pytest.mark.skipif(MOSQUITTO_PASSWD is None, reason="mosquitto_passwd is not installed")
async def test_username_and_password(tmp_path: Path, make_broker: Callable[..., Broker]) -> None:
    password_file = write_password_file(tmp_path / "passwd", {"agent": PASSWORD, "pub": "pub-pw"})
    broker = make_broker(password_file=password_file)
    driver = MqttDriver.from_url(
        broker.url, timeouts=TIMEOUTS, device_id="auth-1", username="agent", password=PASSWORD
    )
    assert await receive_one(driver, broker, username="pub", password="pub-pw") == 4.5

    anonymous = MqttDriver.from_url(broker.url, timeouts=TIMEOUTS, device_id="auth-2")
    with pytest.raises(ConnectError, match="refused anonymous access") as refused:
        await anonymous.connect()
    assert refused.value.retriable is False
    await anonymous.close()


@pytest.mark.skipif(MOSQUITTO_PASSWD is None, reason="mosquitto_passwd is not installed")
async def test_wrong_password_is_a_clear_error_and_never_logged(
    tmp_path: Path,
    make_broker: Callable[..., Broker],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    password_file = write_password_file(tmp_path / "passwd", {"agent": PASSWORD})
    broker = make_broker(password_file=password_file)
    wrong = "wr0ng-" + PASSWORD
    driver = MqttDriver.from_url(
        broker.url, timeouts=TIMEOUTS, device_id="auth-3", username="agent", password=wrong
    )
    with pytest.raises(ConnectError) as refused:
        await driver.connect()
    await driver.close()
    message = str(refused.value)
    assert "user 'agent'" in message
    assert "Not authorized" in message or "Bad user name or password" in message
    assert refused.value.retriable is False
    printed = capsys.readouterr()
    for text in (
        message,
        repr(refused.value),
        repr(driver.options),
        caplog.text,
        printed.out,
        printed.err,
    ):
        assert wrong not in text
        assert PASSWORD not in text
