"""The driver against the simulator over real loopback sockets: Modbus TCP and RTU over TCP."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from device_profiles import Catalog, DeviceEntry, DeviceProfile, resolve_device
from device_profiles.signals import Step
from protocols import Quality, Sample, Timeouts, WriteError
from protocols.modbus import ModbusPoint, Table, WordOrder
from protocols.modbus.codec import EncodeError
from protocols.modbus.driver import ModbusDriver
from simulators.device import SimDevice
from simulators.modbus_server import ModbusSimServer

TIMEOUTS = Timeouts(connect_s=2.0, io_s=0.5)

INT_VALUES = {
    "int16": -1234,
    "uint16": 54321,
    "int32": -123456789,
    "uint32": 3456789012,
    "int64": -1234567890123,
    "uint64": 98765432109876,
}
FLOAT_VALUES = {"float32": 12.375, "float64": -987.654321}


def all_types_profile(profile_id: str = "all-types", **modbus: Any) -> DeviceProfile:
    """Every data type in every word order, bits, a string, coils and discrete inputs."""
    points: list[dict[str, Any]] = []
    address = 0
    widths = {
        "int16": 1,
        "uint16": 1,
        "int32": 2,
        "uint32": 2,
        "int64": 4,
        "uint64": 4,
        "float32": 2,
        "float64": 4,
    }
    for order in WordOrder:
        for dtype, value in {**INT_VALUES, **FLOAT_VALUES}.items():
            table = "input" if dtype == "float32" else "holding"
            points.append(
                {
                    "id": f"{dtype}_{order.value.lower()}",
                    "quantity": "status",
                    "unit": "1",
                    "modbus": {
                        "table": table,
                        "address": address,
                        "type": dtype,
                        "order": order.value,
                    },
                    "simulate": {"model": "steady", "base": value},
                }
            )
            address += widths[dtype]
    points += [
        {
            "id": "tag",
            "quantity": "status",
            "unit": "1",
            "modbus": {"table": "holding", "address": 200, "type": "string", "length": 4},
            "simulate": {"model": "steady", "base": 42.5},
        },
        {
            "id": "flag_b0",
            "quantity": "status",
            "unit": "1",
            "modbus": {"table": "holding", "address": 210, "type": "bool", "bit": 0},
            "simulate": {"model": "steady", "base": 1},
        },
        {
            "id": "flag_b3",
            "quantity": "status",
            "unit": "1",
            "modbus": {"table": "holding", "address": 210, "type": "bool", "bit": 3},
            "simulate": {"model": "steady", "base": 0},
        },
        {
            "id": "flag_b9",
            "quantity": "status",
            "unit": "1",
            "modbus": {"table": "holding", "address": 210, "type": "bool", "bit": 9},
            "simulate": {"model": "steady", "base": 1},
        },
        {
            "id": "scaled",
            "quantity": "status",
            "unit": "1",
            "modbus": {
                "table": "holding",
                "address": 211,
                "type": "int16",
                "scale": 0.1,
                "offset": -40,
            },
            "simulate": {"model": "steady", "base": 21.5},
        },
        {
            "id": "relay",
            "quantity": "status",
            "unit": "1",
            "modbus": {"table": "coil", "address": 3, "type": "bool"},
            "simulate": {"model": "steady", "base": 1},
        },
        {
            "id": "relay_off",
            "quantity": "status",
            "unit": "1",
            "modbus": {"table": "coil", "address": 4, "type": "bool"},
            "simulate": {"model": "steady", "base": 0},
        },
        {
            "id": "door",
            "quantity": "status",
            "unit": "1",
            "modbus": {"table": "discrete_input", "address": 17, "type": "bool"},
            "simulate": {"model": "steady", "base": 1},
        },
    ]
    return DeviceProfile.model_validate(
        {
            "id": profile_id,
            "manufacturer": "Test",
            "model": "All types",
            "kind": "test",
            "protocol": "modbus",
            "modbus": {"unit_id": 1, **modbus},
            "points": points,
        }
    )


def expected_value(point_id: str) -> object:
    dtype = point_id.rsplit("_", 1)[0]
    if dtype in INT_VALUES:
        return INT_VALUES[dtype]
    if dtype == "float32":
        return struct.unpack(">f", struct.pack(">f", FLOAT_VALUES[dtype]))[0]
    return FLOAT_VALUES[dtype]


def sim(profile: DeviceProfile, unit_id: int, device_id: str | None = None) -> SimDevice:
    entry = DeviceEntry(
        id=device_id or f"{profile.id}-{unit_id}",
        profile=profile.id,
        url="modbus+sim://",
        unit_id=unit_id,
    )
    return SimDevice(entry=entry, profile=profile)


def specs(device: SimDevice) -> list[ModbusPoint]:
    resolved = resolve_device(device.entry, device.profile)
    return [p.spec for p in resolved.points]  # type: ignore[misc]


def by_key(samples: list[Sample]) -> dict[str, Sample]:
    return {s.key: s for s in samples}


@pytest.fixture
async def two_units() -> AsyncIterator[tuple[ModbusSimServer, SimDevice, SimDevice]]:
    gas = sim(Catalog().profile("gd-h2s-mb"), unit_id=1)
    types = sim(all_types_profile(), unit_id=2)
    async with ModbusSimServer([gas, types]) as server:
        yield server, gas, types


async def test_several_unit_ids_on_one_port_every_type_and_order(
    two_units: tuple[ModbusSimServer, SimDevice, SimDevice],
) -> None:
    server, gas, types = two_units
    async with ModbusDriver.from_url(server.endpoint, timeouts=TIMEOUTS) as driver:
        gas_samples = by_key(await driver.read(driver.plan(specs(gas))))
        type_samples = by_key(await driver.read(driver.plan(specs(types))))
    assert all(s.quality is Quality.GOOD for s in gas_samples.values()), gas_samples
    assert 0.0 <= gas_samples["h2s"].value <= 1.0  # type: ignore[operator]
    assert 4.0 <= gas_samples["loop_ma"].value <= 4.2  # type: ignore[operator]  (0.3 ppm on 4-20 mA)
    for sample in type_samples.values():
        assert sample.quality is Quality.GOOD, sample
    for order in WordOrder:
        for dtype in [*INT_VALUES, *FLOAT_VALUES]:
            key = f"{dtype}_{order.value.lower()}"
            assert type_samples[key].value == expected_value(key), key
    assert type_samples["tag"].value == "42.5"
    assert [type_samples[k].value for k in ("flag_b0", "flag_b3", "flag_b9")] == [True, False, True]
    assert type_samples["scaled"].value == pytest.approx(21.5)
    assert type_samples["relay"].value is True
    assert type_samples["relay_off"].value is False
    assert type_samples["door"].value is True


async def test_a_planned_read_needs_few_requests(
    two_units: tuple[ModbusSimServer, SimDevice, SimDevice],
) -> None:
    server, _, types = two_units
    async with ModbusDriver.from_url(server.endpoint, timeouts=TIMEOUTS) as driver:
        plan = driver.plan(specs(types))
        await driver.read(plan)
        stats = driver.statistics()
    # holding 0..87 bridges the float32 holes (2 registers), holding 200..211 bridges 6; the
    # four input float32 are 22 registers apart (> max_gap 10): 4 reads; coils; discrete inputs.
    assert stats.requests == plan.requests == 1 + 1 + 4 + 1 + 1
    assert stats.errors == 0


async def test_unserved_unit_id_times_out_and_the_others_stay_good(
    two_units: tuple[ModbusSimServer, SimDevice, SimDevice],
) -> None:
    server, gas, _ = two_units
    ghost = [ModbusPoint(key="ghost", unit_id=9, table=Table.HOLDING, address=0)]
    async with ModbusDriver.from_url(server.endpoint, timeouts=TIMEOUTS) as driver:
        [ghost_sample] = await driver.read(driver.plan(ghost))
        gas_samples = await driver.read(driver.plan(specs(gas)))
        stats = driver.statistics()
    assert (ghost_sample.quality, ghost_sample.reason, ghost_sample.value) == (
        Quality.BAD,
        "modbus.timeout",
        None,
    )
    assert all(s.quality is Quality.GOOD for s in gas_samples)
    assert stats.timeouts == 1


async def test_values_are_taken_at_the_moment_of_the_request(
    two_units: tuple[ModbusSimServer, SimDevice, SimDevice],
) -> None:
    server, gas, _ = two_units
    async with ModbusDriver.from_url(server.endpoint, timeouts=TIMEOUTS) as driver:
        plan = driver.plan(specs(gas))
        before = by_key(await driver.read(plan))["h2s"].value
        gas.set_signal("h2s", Step(to=55.0))
        after = by_key(await driver.read(plan))["h2s"].value
    assert before < 2.0  # type: ignore[operator]
    assert after == pytest.approx(55.0, abs=1e-4)


async def test_offline_device_gives_bad_samples_and_comes_back_logging_once(
    two_units: tuple[ModbusSimServer, SimDevice, SimDevice],
) -> None:
    server, gas, types = two_units
    async with ModbusDriver.from_url(server.endpoint, timeouts=TIMEOUTS) as driver:
        gas_plan = driver.plan(specs(gas))
        await driver.read(gas_plan)
        gas.set_online(False)
        with capture_logs() as logs:
            offline = [await driver.read(gas_plan) for _ in range(2)]
            other = await driver.read(driver.plan(specs(types)))
            gas.set_online(True)
            back = await driver.read(gas_plan)
    for samples in offline:
        assert {(s.quality, s.reason) for s in samples} == {(Quality.BAD, "modbus.timeout")}
    assert all(s.quality is Quality.GOOD for s in other)
    assert all(s.quality is Quality.GOOD for s in back)
    events = [e["event"] for e in logs if e["event"] in ("unavailable", "back")]
    assert events == ["unavailable", "back"]
    assert all(
        e.get("device") == server.endpoint for e in logs if e["event"] in ("unavailable", "back")
    )


async def test_writes_read_back(two_units: tuple[ModbusSimServer, SimDevice, SimDevice]) -> None:
    server, _, types = two_units
    points = {p.key: p for p in specs(types)}
    async with ModbusDriver.from_url(server.endpoint, timeouts=TIMEOUTS) as driver:
        await driver.write(points["relay"], False)
        await driver.write(points["uint16_abcd"], 777)
        await driver.write(points["float64_cdab"], 3.25)
        await driver.write(points["int32_dcba"], -42)
        await driver.write(points["flag_b3"], True)
        await driver.write(points["flag_b0"], False)
        await driver.write(points["scaled"], 25.3)
        await driver.write(points["tag"], "HSE1")
        samples = by_key(await driver.read(driver.plan(list(points.values()))))
    assert samples["relay"].value is False
    assert samples["uint16_abcd"].value == 777
    assert samples["float64_cdab"].value == 3.25
    assert samples["int32_dcba"].value == -42
    assert (samples["flag_b0"].value, samples["flag_b3"].value, samples["flag_b9"].value) == (
        False,
        True,
        True,
    )
    assert samples["scaled"].value == pytest.approx(25.3)
    assert samples["tag"].value == "HSE1"


async def test_writes_that_cannot_be_made_are_refused(
    two_units: tuple[ModbusSimServer, SimDevice, SimDevice],
) -> None:
    server, gas, types = two_units
    gas_points = {p.key: p for p in specs(gas)}
    type_points = {p.key: p for p in specs(types)}
    async with ModbusDriver.from_url(server.endpoint, timeouts=TIMEOUTS) as driver:
        with pytest.raises(WriteError, match="read-only input table"):
            await driver.write(gas_points["h2s"], 1.0)
        with pytest.raises(WriteError, match="read-only discrete_input table"):
            await driver.write(type_points["door"], True)
        with pytest.raises(EncodeError, match="outside int16 range"):
            await driver.write(type_points["int16_abcd"], 40000)
        # The device itself refuses: an address outside its map answers exception 02.
        beyond = ModbusPoint(key="beyond", unit_id=2, table=Table.HOLDING, address=5000)
        with pytest.raises(WriteError, match="exception 2") as info:
            await driver.write(beyond, 1)
    assert not info.value.retriable


async def test_rtu_framing_over_tcp() -> None:
    types = sim(all_types_profile(), unit_id=5)
    async with ModbusSimServer([types], framer="rtu") as server:
        assert server.endpoint.startswith("modbus+rtu-tcp://127.0.0.1:")
        points = {p.key: p for p in specs(types)}
        async with ModbusDriver.from_url(server.endpoint, timeouts=TIMEOUTS) as driver:
            await driver.write(points["relay_off"], True)
            await driver.write(points["float64_badc"], -0.5)
            samples = by_key(await driver.read(driver.plan(list(points.values()))))
    assert all(s.quality is Quality.GOOD for s in samples.values())
    assert samples["uint64_dcba"].value == INT_VALUES["uint64"]
    assert samples["relay_off"].value is True
    assert samples["float64_badc"].value == -0.5


async def test_gap_between_servers_is_bounded_by_the_timeouts() -> None:
    """Connecting to a port nobody serves fails fast and read() gives bad samples, no raise."""
    async with ModbusSimServer([sim(all_types_profile(), unit_id=1)]) as server:
        port = server.port
    # A long first backoff: the second read certainly falls inside it.
    driver = ModbusDriver.from_url(
        f"modbus+tcp://127.0.0.1:{port}", timeouts=TIMEOUTS, reconnect_min_s=60, reconnect_max_s=60
    )
    try:
        async with asyncio.timeout(5):
            samples = await driver.read(driver.plan([ModbusPoint(key="x", address=0)]))
            again = await driver.read(driver.plan([ModbusPoint(key="x", address=0)]))
    finally:
        await driver.close()
    assert samples[0].reason == again[0].reason == "modbus.disconnected"
    stats = driver.statistics()
    assert stats.connected is False
    assert stats.errors == 1  # the second read waited for the backoff instead of trying again


async def test_simulator_answers_like_a_device_to_plain_pymodbus() -> None:
    """The server on its own, through pymodbus's client: exact ranges, limits, exceptions."""
    from pymodbus.client import AsyncModbusTcpClient

    profile = all_types_profile(
        max_block_registers=20, forbidden_ranges=[("holding", 30, 31), ("coil", 4, 4)]
    )
    async with ModbusSimServer([sim(profile, unit_id=3)]) as server:
        client = AsyncModbusTcpClient(
            "127.0.0.1", port=server.port, timeout=2, retries=0, reconnect_delay=0
        )
        await client.connect()
        try:
            ok = await client.read_holding_registers(0, count=20, device_id=3)
            too_long = await client.read_holding_registers(0, count=21, device_id=3)
            forbidden = await client.read_holding_registers(25, count=10, device_id=3)
            beyond = await client.read_holding_registers(211, count=2, device_id=3)
            coils = await client.read_coils(3, count=1, device_id=3)
            coil_forbidden = await client.read_coils(3, count=2, device_id=3)
            coils_beyond = await client.read_coils(0, count=5, device_id=3)
            inputs = await client.read_discrete_inputs(17, count=1, device_id=3)
            inputs_beyond = await client.read_discrete_inputs(17, count=2, device_id=3)
        finally:
            client.close()
    assert not ok.isError()
    assert ok.registers[0] == -1234 & 0xFFFF
    assert (too_long.isError(), too_long.exception_code) == (True, 3)
    assert (forbidden.isError(), forbidden.exception_code) == (True, 2)
    assert (beyond.isError(), beyond.exception_code) == (True, 2)
    assert coils.bits[0] is True
    assert coil_forbidden.exception_code == 2
    assert coils_beyond.exception_code == 2  # coils 3..4 exist; 0..2 do not (exact bit range)
    assert inputs.bits[0] is True
    assert inputs_beyond.exception_code == 2


async def test_a_closed_driver_neither_reads_nor_writes_until_connected_again(
    two_units: tuple[ModbusSimServer, SimDevice, SimDevice],
) -> None:
    from protocols import ConnectError

    server, gas, _ = two_units
    driver = ModbusDriver.from_url(server.endpoint, timeouts=TIMEOUTS)
    plan = driver.plan(specs(gas))
    await driver.connect()
    await driver.close()
    closed = await driver.read(plan)
    with pytest.raises(ConnectError, match="closed"):
        await driver.write(specs(gas)[2], 1)
    await driver.connect()
    reopened = await driver.read(plan)
    await driver.close()
    assert {s.reason for s in closed} == {"modbus.disconnected"}
    assert all(s.quality is Quality.GOOD for s in reopened)
    assert driver.statistics().requests == plan.requests
