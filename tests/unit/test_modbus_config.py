"""Device URLs, driver options and the reconnect schedule: what is accepted, what is refused."""

from __future__ import annotations

import pytest

from protocols import ConfigError, Timeouts, open_driver
from protocols.modbus.backoff import ReconnectSchedule
from protocols.modbus.driver import ModbusDriver
from protocols.modbus.endpoint import Framing, parse_url


def test_tcp_url() -> None:
    ep = parse_url("modbus+tcp://10.0.0.5:502")
    assert (ep.framing, ep.host, ep.port, ep.is_serial) == (Framing.TCP, "10.0.0.5", 502, False)


def test_rtu_over_tcp_url() -> None:
    ep = parse_url("modbus+rtu-tcp://gw.plant.local:4001")
    assert (ep.framing, ep.host, ep.port) == (Framing.RTU, "gw.plant.local", 4001)


def test_serial_url_with_every_parameter() -> None:
    ep = parse_url("modbus+rtu:///dev/ttyUSB0?baudrate=9600&parity=n&stopbits=2&bytesize=8")
    assert ep.is_serial
    assert (ep.serial_port, ep.baudrate, ep.parity, ep.stopbits, ep.bytesize) == (
        "/dev/ttyUSB0",
        9600,
        "N",
        2,
        8,
    )


def test_serial_url_defaults_follow_the_serial_line_spec() -> None:
    ep = parse_url("modbus+rtu:///dev/ttyS1")
    assert (ep.baudrate, ep.parity, ep.stopbits, ep.bytesize) == (19200, "E", 1, 8)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("modbus+tcp://10.0.0.5", "missing port"),
        ("modbus+rtu-tcp://gw", "missing port"),
        ("modbus+tcp://:502", "missing host"),
        ("modbus+tcp://10.0.0.5:99999", "out of range"),
        ("modbus+tcp://10.0.0.5:50x", "10.0.0.5:50x"),
        ("modbus+tcp://10.0.0.5:502?unit=3", "unexpected query 'unit=3'"),
        ("modbus+tcp://10.0.0.5:502/x", "unexpected path '/x'"),
        ("modbus+tcp://admin:pw@10.0.0.5:502", "no credentials"),
        ("modbus+rtu:///dev/ttyUSB0?baudrate=9601", "baudrate='9601' is not a serial rate"),
        ("modbus+rtu:///dev/ttyUSB0?baudrate=fast", "baudrate='fast' is not an integer"),
        ("modbus+rtu:///dev/ttyUSB0?parity=X", "parity='X'; expected N"),
        ("modbus+rtu:///dev/ttyUSB0?stopbits=3", "stopbits='3'"),
        ("modbus+rtu:///dev/ttyUSB0?bytesize=7", "RTU uses 8 data bits"),
        ("modbus+rtu:///dev/ttyUSB0?speed=9600", "unknown parameter 'speed'"),
        ("modbus+rtu:///dev/ttyUSB0?baudrate=9600&baudrate=19200", "baudrate is given twice"),
        ("modbus+rtu://ttyUSB0", "has no host"),
        ("modbus+rtu://", "missing serial device"),
        ("modbus+udp://10.0.0.5:502", "is not Modbus"),
    ],
)
def test_bad_urls_are_config_errors_naming_the_problem(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_url(url)
    assert url in str(info.value)


def test_registry_finds_the_driver_for_every_modbus_scheme() -> None:
    for url in (
        "modbus+tcp://127.0.0.1:1502",
        "modbus+rtu-tcp://127.0.0.1:1502",
        "modbus+rtu:///dev/null",
    ):
        driver = open_driver(url, timeouts=Timeouts(connect_s=1, io_s=0.5))
        assert isinstance(driver, ModbusDriver)
        assert driver.url == url


def test_unknown_option_is_a_config_error_listing_the_known_ones() -> None:
    with pytest.raises(
        ConfigError,
        match=r"unknown Modbus option\(s\) 'max_block_size'.*known: max_block_registers",
    ):
        ModbusDriver.from_url("modbus+tcp://127.0.0.1:1502", max_block_size=60)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_block_registers": 200}, "max_block_registers=200 must be an integer 1..125"),
        ({"max_block_bits": "many"}, "max_block_bits='many'"),
        ({"max_gap": -3}, "max_gap=-3"),
        ({"forbidden_ranges": [("input", 9, 3)]}, r"forbidden_ranges\[0\]"),
        ({"reconnect_min_s": 5, "reconnect_max_s": 1}, "reconnect_min_s=5"),
        ({"refusal_retry_s": 0}, "refusal_retry_s=0 must be a number of seconds > 0"),
        ({"refusal_retry_s": -60}, "refusal_retry_s=-60 must be"),
        ({"refusal_retry_s": "10 min"}, "refusal_retry_s='10 min' must be"),
        ({"refusal_retry_s": float("inf")}, "refusal_retry_s=inf must be"),
        ({"refusal_retry_s": True}, "refusal_retry_s=True must be"),
    ],
)
def test_bad_option_values_are_config_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ModbusDriver.from_url("modbus+tcp://127.0.0.1:1502", **options)


def test_options_from_a_profile_are_accepted() -> None:
    driver = ModbusDriver.from_url(
        "modbus+tcp://127.0.0.1:1502",
        max_block_registers=60,
        max_block_bits=800,
        max_gap=4,
        forbidden_ranges=[("holding", 100, 119), ("coil", 0, 7)],
        refusal_retry_s=300,
    )
    assert driver.statistics().requests == 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reconnect_schedule_backs_off_exponentially_with_bounded_jitter() -> None:
    clock = FakeClock()
    schedule = ReconnectSchedule(min_s=0.5, max_s=8.0, jitter_s=0.25, clock=clock)
    assert schedule.due()  # the first attempt after a drop is immediate
    delays = [schedule.failed() for _ in range(8)]
    for n, delay in enumerate(delays):
        base = min(0.5 * 2**n, 8.0)
        assert base <= delay <= min(base + 0.25, 8.0)
    assert delays[-1] == 8.0
    assert not schedule.due()
    clock.now += 8.0
    assert schedule.due()
    schedule.succeeded()
    assert schedule.failures == 0
    assert schedule.due()
