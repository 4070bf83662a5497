"""OPC UA security: Basic256Sha256 Sign / SignAndEncrypt with certificates, user names, passwords."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from device_profiles import DeviceProfile
from protocols import ConnectError, Quality, Timeouts
from protocols.opcua import OpcUaPoint
from protocols.opcua.driver import OpcUaDriver
from simulators.opcua_server import OpcUaSimServer
from tests.support.certs import CertFiles, make_opcua_cert
from tests.support.sim_devices import OPCUA_PROFILE, make_device, write_profile

TIMEOUTS = Timeouts(connect_s=5.0, io_s=2.0)
PASSWORD = "Pa55-w0rd-never-logged"
CLIENT_URI = "urn:hse-test:edge-agent"
SERVER_URI = "urn:hse-test:simulator"


@pytest.fixture
def profile(tmp_path: Path) -> DeviceProfile:
    return write_profile(tmp_path / "profiles", OPCUA_PROFILE)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CertFiles]:
    directory = tmp_path_factory.mktemp("pki")
    return {
        "server": make_opcua_cert(directory, "server", SERVER_URI, server=True),
        "other_server": make_opcua_cert(directory, "other-server", SERVER_URI, server=True),
        "client": make_opcua_cert(directory, "client", CLIENT_URI, server=False),
        "stranger": make_opcua_cert(directory, "stranger", CLIENT_URI, server=False),
    }


@contextlib.asynccontextmanager
async def secure_server(
    profile: DeviceProfile, pki: dict[str, CertFiles], **kwargs: Any
) -> AsyncIterator[OpcUaSimServer]:
    kwargs.setdefault("security", "basic256sha256")
    kwargs.setdefault("certificate", pki["server"].cert)
    kwargs.setdefault("private_key", pki["server"].key)
    kwargs.setdefault("trusted_client_certificates", [pki["client"].cert])
    async with OpcUaSimServer([make_device(profile, "ox-1")], **kwargs) as server:
        yield server


def secure_options(
    pki: dict[str, CertFiles], client: str = "client", **extra: Any
) -> dict[str, Any]:
    return {
        "security_policy": "Basic256Sha256",
        "certificate": str(pki[client].cert),
        "private_key": str(pki[client].key),
        "server_certificate": str(pki["server"].cert),
        **extra,
    }


async def read_o2(driver: OpcUaDriver) -> float:
    (sample,) = await driver.read(driver.plan([OpcUaPoint(key="o2", node_id="ns=2;s=ox-1.O2")]))
    assert sample.quality is Quality.GOOD
    assert isinstance(sample.value, float)
    return sample.value


@pytest.mark.parametrize("mode", ["SignAndEncrypt", "Sign"])
async def test_basic256sha256_with_trusted_certificates(
    profile: DeviceProfile, pki: dict[str, CertFiles], mode: str
) -> None:
    async with secure_server(profile, pki) as server:
        driver = OpcUaDriver.from_url(
            server.endpoint, timeouts=TIMEOUTS, **secure_options(pki, security_mode=mode)
        )
        try:
            await driver.connect()
            assert await read_o2(driver) == pytest.approx(20.9)
        finally:
            await driver.close()


async def test_unsecured_client_is_refused_by_a_secure_server(
    profile: DeviceProfile, pki: dict[str, CertFiles]
) -> None:
    async with secure_server(profile, pki) as server:
        driver = OpcUaDriver.from_url(server.endpoint, timeouts=TIMEOUTS)
        with pytest.raises(ConnectError):
            await driver.connect()
        await driver.close()


async def test_untrusted_client_certificate_is_refused(
    profile: DeviceProfile, pki: dict[str, CertFiles]
) -> None:
    async with secure_server(profile, pki) as server:
        driver = OpcUaDriver.from_url(
            server.endpoint, timeouts=TIMEOUTS, **secure_options(pki, client="stranger")
        )
        with pytest.raises(ConnectError, match="BadCertificateUntrusted") as refused:
            await driver.connect()
        assert refused.value.retriable is False
        await driver.close()


async def test_server_with_another_certificate_than_the_pinned_one_is_refused(
    profile: DeviceProfile, pki: dict[str, CertFiles]
) -> None:
    other = pki["other_server"]
    async with secure_server(profile, pki, certificate=other.cert, private_key=other.key) as server:
        # the server cannot decrypt our handshake and stays silent: a short connect timeout
        driver = OpcUaDriver.from_url(
            server.endpoint, timeouts=Timeouts(connect_s=2.0, io_s=2.0), **secure_options(pki)
        )
        with pytest.raises(ConnectError, match="not the trusted server_certificate") as refused:
            await driver.connect()
        assert refused.value.retriable is False
        await driver.close()


async def test_username_and_password_over_signandencrypt(
    profile: DeviceProfile, pki: dict[str, CertFiles]
) -> None:
    async with secure_server(profile, pki, users={"operator": PASSWORD}) as server:
        driver = OpcUaDriver.from_url(
            server.endpoint,
            timeouts=TIMEOUTS,
            username="operator",
            password=PASSWORD,
            **secure_options(pki),
        )
        try:
            await driver.connect()
            assert await read_o2(driver) == pytest.approx(20.9)
        finally:
            await driver.close()


async def test_wrong_password_is_a_clear_error_and_never_logged(
    profile: DeviceProfile,
    pki: dict[str, CertFiles],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wr0ng-" + PASSWORD
    async with secure_server(profile, pki, users={"operator": PASSWORD}) as server:
        driver = OpcUaDriver.from_url(
            server.endpoint,
            timeouts=TIMEOUTS,
            username="operator",
            password=wrong,
            **secure_options(pki),
        )
        with pytest.raises(ConnectError) as refused:
            await driver.connect()
        await driver.close()
    message = str(refused.value)
    assert "operator" in message
    assert "BadUserAccessDenied" in message
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
    assert driver.statistics().last_error is None or wrong not in driver.statistics().last_error


async def test_password_is_not_sent_in_clear_text_unless_allowed(profile: DeviceProfile) -> None:
    # No server certificate: the only way to send the password is unencrypted.
    async with OpcUaSimServer(
        [make_device(profile, "ox-1")], users={"operator": PASSWORD}
    ) as server:
        driver = OpcUaDriver.from_url(
            server.endpoint, timeouts=TIMEOUTS, username="operator", password=PASSWORD
        )
        with pytest.raises(ConnectError, match="unencrypted") as refused:
            await driver.connect()
        assert refused.value.retriable is False
        await driver.close()

        allowed = OpcUaDriver.from_url(
            server.endpoint,
            timeouts=TIMEOUTS,
            username="operator",
            password=PASSWORD,
            allow_plaintext_password=True,
        )
        try:
            await allowed.connect()
            assert await read_o2(allowed) == pytest.approx(20.9)
        finally:
            await allowed.close()
