"""ScenarioRunner in virtual time, and what each scenario pack does to the example plants."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import yaml

from device_profiles import Catalog, DeviceEntry, load_scenario, resolve_device
from device_profiles.loader import SCENARIOS_DIR
from device_profiles.signals import Scenario, SignalSpec
from simulators.device import SimDevice
from simulators.plant import SimPlant
from simulators.scenario import (
    MonotonicClock,
    ScenarioError,
    ScenarioRunner,
    VirtualClock,
    check_scenario,
)

REPO = Path(__file__).resolve().parents[2]
PLANT_FILES = sorted((REPO / "config").rglob("*.yaml"))
SCENARIO_FILES = sorted(SCENARIOS_DIR.glob("*.yaml"))
BOUND_S = 10.0  # every wait on a task in these tests is bounded


class CountingDevice(SimDevice):
    """A SimDevice that records every signal change it is given (time, point, spec)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.changes: list[tuple[float, str, SignalSpec]] = []

    def set_signal(self, point_id: str, spec: SignalSpec) -> None:
        self.changes.append((self.now(), point_id, spec))
        super().set_signal(point_id, spec)


def plant_devices(
    path: Path, clock: Callable[[], float], seed: int = 0, cls: type[SimDevice] = SimDevice
) -> dict[str, SimDevice]:
    """SimDevices for a plant config's sensors (not its PLCs), sharing ``clock``."""
    plant = SimPlant.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    catalog = Catalog()
    return {
        e.id: cls(entry=e, profile=catalog.profile(e.profile), seed=seed, clock=clock)
        for e in plant.devices
    }


def scenario(*steps: dict[str, object], scenario_id: str = "test") -> Scenario:
    return Scenario.model_validate({"id": scenario_id, "steps": list(steps)})


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def two_devices(clock: VirtualClock) -> dict[str, SimDevice]:
    catalog = Catalog()
    out: dict[str, SimDevice] = {}
    for device_id, profile_id, url in [
        ("gas-1", "gd-h2s-mb", "modbus+tcp://127.0.0.1:1"),
        ("noise-1", "gs-noise-mqtt", "mqtt://127.0.0.1:1"),
    ]:
        entry = DeviceEntry(id=device_id, profile=profile_id, url=url)
        out[device_id] = CountingDevice(
            entry=entry, profile=catalog.profile(profile_id), clock=clock.now
        )
    return out


Start = Callable[[ScenarioRunner], Awaitable[asyncio.Task[None]]]


@pytest.fixture
async def running(_no_task_leak: None) -> AsyncIterator[Start]:
    """Start runners as tasks, returning once each has taken its time origin.

    Tasks still running at the end are cancelled and awaited (before the leak check, which
    this fixture depends on so that it is torn down after it).
    """
    tasks: list[asyncio.Task[None]] = []

    async def start(runner: ScenarioRunner) -> asyncio.Task[None]:
        task = asyncio.create_task(runner.run(), name=f"scenario[{runner.scenario.id}]")
        tasks.append(task)
        await asyncio.sleep(0)  # a new task runs to its first await on the next loop turn
        assert runner.statistics().started
        return task

    yield start
    for task in tasks:
        task.cancel()
    async with asyncio.timeout(BOUND_S):
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_each_step_is_applied_once_at_its_time(
    clock: VirtualClock, two_devices: dict[str, SimDevice], running: Start
) -> None:
    gas, noise = two_devices["gas-1"], two_devices["noise-1"]
    assert isinstance(gas, CountingDevice)
    assert isinstance(noise, CountingDevice)
    runner = ScenarioRunner(
        scenario(
            {"at_s": 10, "device": "gas-1", "point": "h2s", "signal": {"model": "step", "to": 12}},
            {
                "at_s": 20,
                "device": "noise-1",
                "point": "laeq",
                "signal": {"model": "step", "to": 95},
            },
            {"at_s": 20, "device": "gas-1", "point": "h2s", "signal": {"model": "step", "to": 3}},
            {"at_s": 30, "device": "noise-1", "action": "offline"},
        ),
        two_devices,
        clock,
    )
    task = await running(runner)
    await clock.advance_to(9.999)
    assert gas.changes == []
    assert runner.statistics().steps_applied == 0
    assert runner.statistics().next_at_s == 10

    await clock.advance_to(10.0)
    assert [(t, p) for t, p, _ in gas.changes] == [(10.0, "h2s")]
    assert gas.engineering_value("h2s") == 12

    await clock.advance_to(25.0)  # both 20 s steps, in file order, at 20 s not 25 s
    assert [(t, p) for t, p, _ in gas.changes] == [(10.0, "h2s"), (20.0, "h2s")]
    assert [(t, p) for t, p, _ in noise.changes] == [(20.0, "laeq")]
    assert gas.engineering_value("h2s") == 3
    assert noise.online

    await clock.advance_to(30.0)
    assert not noise.online
    async with asyncio.timeout(BOUND_S):
        await task
    await clock.advance_to(1000.0)  # nothing is applied twice
    assert len(gas.changes) == 2
    assert len(noise.changes) == 1
    stats = runner.statistics()
    assert (stats.steps_applied, stats.steps_total, stats.finished) == (4, 4, True)
    assert stats.next_at_s is None


async def test_cancelling_stops_before_the_next_step(
    clock: VirtualClock, two_devices: dict[str, SimDevice], running: Start
) -> None:
    runner = ScenarioRunner(
        scenario(
            {"at_s": 5, "device": "gas-1", "point": "h2s", "signal": {"model": "step", "to": 12}},
            {"at_s": 50, "device": "gas-1", "point": "h2s", "signal": {"model": "step", "to": 30}},
        ),
        two_devices,
        clock,
    )
    task = await running(runner)
    await clock.advance_to(10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(BOUND_S):
            await task
    await clock.advance_to(100)
    assert two_devices["gas-1"].engineering_value("h2s") == 12
    assert runner.statistics().steps_applied == 1
    assert not runner.statistics().finished
    with pytest.raises(RuntimeError, match="already been run"):
        await runner.run()


@pytest.mark.parametrize(
    ("step", "named"),
    [
        (
            {"at_s": 50, "device": "gas-9", "point": "h2s", "signal": {"model": "step", "to": 1}},
            ["steps[1]", "'gas-9'", "gas-1, noise-1"],
        ),
        (
            {"at_s": 50, "device": "gas-1", "point": "h2z", "signal": {"model": "step", "to": 1}},
            ["steps[1]", "'h2z'", "h2s, loop_ma"],
        ),
        ({"at_s": 50, "device": "pump-7", "action": "offline"}, ["steps[1]", "'pump-7'"]),
        (
            {"at_s": 50, "device": "gas-1", "point": "h2s", "signal": {"model": "loop_fault"}},
            ["steps[1]", "gas-1/h2s", "not a 4-20 mA loop point"],
        ),
    ],
    ids=["unknown device", "unknown point", "unknown device (offline)", "loop fault off a loop"],
)
def test_a_step_that_does_not_fit_is_refused_before_anything_runs(
    two_devices: dict[str, SimDevice],
    clock: VirtualClock,
    step: dict[str, object],
    named: list[str],
) -> None:
    first = {"at_s": 1, "device": "gas-1", "point": "h2s", "signal": {"model": "step", "to": 9}}
    with pytest.raises(ScenarioError) as caught:
        ScenarioRunner(scenario(first, step), two_devices, clock)
    message = str(caught.value)
    for text in named:
        assert text in message
    gas = two_devices["gas-1"]
    assert isinstance(gas, CountingDevice)
    assert gas.changes == []  # not even the valid first step was applied


async def test_real_clock_applies_steps_in_order(
    two_devices: dict[str, SimDevice], running: Start
) -> None:
    for device in two_devices.values():
        device.clock = MonotonicClock().now
        device.t_start = device.clock()
    runner = ScenarioRunner(
        scenario(
            {"at_s": 0.0, "device": "gas-1", "point": "h2s", "signal": {"model": "step", "to": 5}},
            {"at_s": 0.05, "device": "gas-1", "point": "h2s", "signal": {"model": "step", "to": 6}},
        ),
        two_devices,
    )
    async with asyncio.timeout(BOUND_S):
        await (await running(runner))
    gas = two_devices["gas-1"]
    assert isinstance(gas, CountingDevice)
    assert [spec.to for _, _, spec in gas.changes] == [5, 6]  # type: ignore[union-attr]
    assert gas.changes[0][0] <= gas.changes[1][0]


# --- the scenario packs --------------------------------------------------------------------------


def _plants() -> Iterator[tuple[Path, dict[str, SimDevice]]]:
    for path in PLANT_FILES:
        yield path, plant_devices(path, clock=lambda: 0.0)


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenario_pack_loads_and_fits_an_example_plant(path: Path) -> None:
    pack = load_scenario(path)
    assert pack.steps
    fits = []
    for plant_path, devices in _plants():
        try:
            check_scenario(pack, devices)
            fits.append(plant_path.name)
        except ScenarioError:
            pass
    assert fits, f"scenario {pack.id} fits none of {[p.name for p in PLANT_FILES]}"


def _named_scenario(path: Path) -> str | None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    scenario_id: str | None = data.get("simulation", {}).get("scenario")
    return scenario_id


@pytest.mark.parametrize(
    "path", [p for p in PLANT_FILES if _named_scenario(p)], ids=lambda p: p.stem
)
def test_the_scenario_a_plant_names_fits_it(path: Path) -> None:
    scenario_id = _named_scenario(path)
    assert scenario_id is not None
    check_scenario(Catalog().scenario(scenario_id), plant_devices(path, clock=lambda: 0.0))


class Trace:
    """Runs a pack against the demo plant in virtual time and samples canonical values."""

    def __init__(self, scenario_id: str, clock: VirtualClock) -> None:
        self.clock = clock
        self.devices = plant_devices(REPO / "config" / "demo-plant.yaml", clock=clock.now, seed=3)
        self.runner = ScenarioRunner(Catalog().scenario(scenario_id), self.devices, clock)

    def canonical(self, device_id: str, point_id: str) -> float:
        device = self.devices[device_id]
        resolved = resolve_device(device.entry, device.profile).point(point_id)
        factor, offset = resolved.to_canonical
        return device.engineering_value(point_id) * factor + offset

    def limits(self, device_id: str, point_id: str) -> dict[str, float]:
        device = self.devices[device_id]
        alarms = resolve_device(device.entry, device.profile).point(point_id).alarms
        assert alarms is not None
        return dict(alarms.ladder()) | {
            "deadband": alarms.deadband,
            "on_delay_s": alarms.on_delay_s,
        }

    async def sample(
        self, points: list[tuple[str, str]], until_s: float, step_s: float = 0.5
    ) -> dict[tuple[str, str], list[tuple[float, float]]]:
        out: dict[tuple[str, str], list[tuple[float, float]]] = {p: [] for p in points}
        t = 0.0
        while t <= until_s:
            await self.clock.advance_to(t)
            for p in points:
                out[p].append((t, self.canonical(*p)))
            t += step_s
        return out


def first_time(series: list[tuple[float, float]], test: Callable[[float], bool]) -> float | None:
    return next((t for t, v in series if test(v)), None)


async def test_h2s_leak_crosses_h_then_hh_then_clears(clock: VirtualClock, running: Start) -> None:
    trace = Trace("h2s-leak", clock)
    await running(trace.runner)
    key = ("gas-h2s-01", "h2s")
    series = (await trace.sample([key], until_s=300))[key]
    lim = trace.limits(*key)
    t_h = first_time(series, lambda v: v >= lim["h"])
    t_hh = first_time(series, lambda v: v >= lim["hh"])
    assert t_h is not None
    assert t_hh is not None
    assert 0 < t_h < t_hh < 120
    t_clear = first_time(
        [(t, v) for t, v in series if t > t_hh], lambda v: v < lim["h"] - lim["deadband"]
    )
    assert t_clear is not None
    assert all(v < lim["h"] - lim["deadband"] for t, v in series if t >= t_clear)
    assert series[0][1] < lim["h"]  # it starts normal


async def test_bearing_wear_crosses_iso_10816_zones_within_minutes(
    clock: VirtualClock, running: Start
) -> None:
    trace = Trace("bearing-wear", clock)
    await running(trace.runner)
    keys = [("vib-01", "velocity_rms"), ("vib-02", "velocity_rms")]
    samples = await trace.sample(keys, until_s=600, step_s=1.0)
    for key in keys:
        lim = trace.limits(*key)  # H = zone B/C, HH = zone C/D boundary, in mm/s
        series = samples[key]
        assert series[0][1] < lim["h"], key
        t_bc = first_time(series, lambda v, h=lim["h"]: v >= h)
        t_cd = first_time(series, lambda v, hh=lim["hh"]: v >= hh)
        assert t_bc is not None, key
        assert t_cd is not None, key
        assert 30 < t_bc < t_cd < 600, (key, t_bc, t_cd)
        # growth, not a step: C/D comes minutes, not seconds, after B/C
        assert t_cd - t_bc >= 30, key


async def test_demo_alarms_every_family_within_the_first_minute(
    clock: VirtualClock, running: Start
) -> None:
    trace = Trace("demo", clock)
    await running(trace.runner)
    alarmed: dict[str, list[str]] = {}
    watched = [
        (d.entry.id, p.id)
        for d in trace.devices.values()
        for p in d.profile.points
        if resolve_device(d.entry, d.profile).point(p.id).alarms is not None
    ]
    samples = await trace.sample(watched, until_s=60)
    for key, series in samples.items():
        lim = trace.limits(*key)
        settle = lim["on_delay_s"]
        for name, value in lim.items():
            if name in ("h", "hh"):
                beyond: Callable[[float], bool] = lambda v, x=value: v >= x  # noqa: E731
            elif name in ("l", "ll"):
                beyond = lambda v, x=value: v <= x  # noqa: E731
            else:
                continue
            t = first_time(series, beyond)
            # the limit is passed and stays passed through the on-delay, inside the minute
            if (
                t is not None
                and all(beyond(v) for s, v in series if t <= s <= t + settle)
                and t + settle <= 60
            ):
                quantity = trace.devices[key[0]].profile.point(key[1]).quantity
                alarmed.setdefault(quantity.split(".")[0], []).append(f"{key[0]}/{key[1]}.{name}")
    assert {"gas", "pressure", "noise", "dust", "vibration"} <= set(alarmed), alarmed
    # and the faults: a loop at its NE 43 failure current, a device off line, a flatline
    ai = trace.devices["ai-01"]
    assert ai.wire_value("ai2_h2s") * 0.001 <= 3.6
    assert not trace.devices["gas-co-01"].online
    stuck = trace.devices["gw-01"].engineering_value("co")
    await clock.advance_to(75)
    assert trace.devices["gw-01"].engineering_value("co") == stuck


async def test_loop_fault_pack_drives_ne43_failure_currents(
    clock: VirtualClock, running: Start
) -> None:
    trace = Trace("loop-fault", clock)
    await running(trace.runner)
    ai, h2s = trace.devices["ai-01"], trace.devices["gas-h2s-01"]
    await clock.advance_to(65)
    assert ai.wire_value("ai2_h2s") * 0.001 <= 3.6  # NE 43 under-range failure [Q7]
    assert ai.wire_value("ai1_lel") * 0.001 <= 3.6
    assert h2s.wire_value("loop_ma") * 0.001 >= 21.0  # NE 43 over-range failure [Q7]
    await clock.advance_to(130)
    for device, point in [(ai, "ai2_h2s"), (ai, "ai1_lel"), (h2s, "loop_ma")]:
        assert 3.8 <= device.wire_value(point) * 0.001 <= 20.5, point


async def test_stuck_sensor_pack_flatlines_bit_for_bit(clock: VirtualClock, running: Start) -> None:
    trace = Trace("stuck-sensor", clock)
    await running(trace.runner)
    keys = [("gas-co-01", "co"), ("gas-o2-01", "o2"), ("gw-01", "co")]
    samples = await trace.sample(keys, until_s=600, step_s=5)
    for key in keys:
        frozen = {v for t, v in samples[key] if t >= 60}
        assert len(frozen) == 1, key
        moving = {v for t, v in samples[key] if t < 30}
        assert len(moving) > 1, key  # it was alive before
    assert samples[("gas-o2-01", "o2")][-1][1] == 20.9


async def test_device_offline_pack_takes_one_device_per_protocol_away(
    clock: VirtualClock, running: Start
) -> None:
    trace = Trace("device-offline", clock)
    await running(trace.runner)
    ids = ["gas-co-01", "vib-01", "noise-01"]
    protocols = {trace.devices[d].profile.protocol.value for d in ids}
    assert protocols == {"modbus", "opcua", "mqtt"}
    await clock.advance_to(50)
    assert not any(trace.devices[d].online for d in ids)
    await clock.advance_to(101)
    assert all(trace.devices[d].online for d in ids)


async def test_dust_episode_pack_repeats_above_the_limits(
    clock: VirtualClock, running: Start
) -> None:
    trace = Trace("dust-episode", clock)
    await running(trace.runner)
    key = ("dust-01", "pm10")
    series = (await trace.sample([key], until_s=900, step_s=5))[key]
    hh = trace.limits(*key)["hh"]
    episodes = [t for t, v in series if v >= hh]
    starts = [t for t in episodes if t - 5 not in episodes]
    assert len(starts) == 3  # at 10 s, 310 s and 610 s
    assert all(v < hh for t, v in series if 120 <= t <= 300)
