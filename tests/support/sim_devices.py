"""Small OPC UA and MQTT device profiles for driver and simulator tests, and devices built from them.

The real catalogue lives in ``device_profiles/profiles``; these stay in the tests so a change
there cannot break the protocol tests, and they exercise what the protocols need: deadbands,
scaling, JSON field paths, a timestamp field and a plain-number payload.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from device_profiles import DeviceEntry, DeviceProfile, load_profile
from simulators.device import SimDevice

OPCUA_PROFILE = """\
schema_version: 1
id: test-o2-ua
manufacturer: Test
model: O2 + vibration over OPC UA
kind: gas_detector
protocol: opcua
points:
  - id: o2
    quantity: gas.o2
    unit: "%vol"
    range: [0, 25]
    opcua: {node_id: "ns=2;s={device}.O2", sampling_interval_ms: 100, deadband_type: absolute, deadband: 0.1}
    simulate: {model: steady, base: 20.9}
  - id: vib
    quantity: vibration.velocity_rms
    unit: mm/s
    range: [0, 50]
    opcua: {node_id: "ns=2;s={device}.Vib", sampling_interval_ms: 100}
    simulate: {model: steady, base: 2.5}
  - id: pressure
    quantity: pressure
    unit: kPa
    range: [0, 1000]
    opcua: {node_id: "ns=2;s={device}.P", sampling_interval_ms: 100, scale: 0.1}
    simulate: {model: steady, base: 101.3}
"""

MQTT_PROFILE = """\
schema_version: 1
id: test-dust-mqtt
manufacturer: Test
model: Dust and noise over MQTT
kind: dust_monitor
protocol: mqtt
points:
  - id: pm10
    quantity: dust.pm10
    unit: µg/m³
    range: [0, 1000]
    mqtt: {topic: "site/{device}/dust", field: data.pm10, timestamp_field: ts}
    simulate: {model: steady, base: 42.0}
  - id: pm25
    quantity: dust.pm25
    unit: µg/m³
    range: [0, 1000]
    mqtt: {topic: "site/{device}/dust", field: data.pm25, timestamp_field: ts}
    simulate: {model: steady, base: 17.5}
  - id: laeq
    quantity: noise.laeq
    unit: dB(A)
    range: [30, 130]
    mqtt: {topic: "site/{device}/noise", payload: number}
    simulate: {model: steady, base: 71.5}
"""


def write_profile(directory: Path, text: str) -> DeviceProfile:
    """Write ``text`` as ``<id>.yaml`` in ``directory`` and load it (validating it)."""
    directory.mkdir(parents=True, exist_ok=True)
    profile_id = next(
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("id:")
    )
    path = directory / f"{profile_id}.yaml"
    path.write_text(text, encoding="utf-8")
    return load_profile(path)


def make_device(
    profile: DeviceProfile,
    device_id: str,
    url: str = "opc.tcp://127.0.0.1:4840",
    *,
    wall_clock: Callable[[], float] = time.time,
) -> SimDevice:
    entry = DeviceEntry(id=device_id, profile=profile.id, url=url)
    return SimDevice(entry, profile, wall_clock=wall_clock)
