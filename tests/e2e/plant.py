"""The test plant of the end-to-end tests: three protocols, known constant values, unit conversions.

Each point reports a constant, noise-free value, so every reading central stores can be checked
against what the device put on the wire: the value converted to the quantity's canonical unit,
that unit, quality good, a source time inside the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.ports import free_port
from tests.support.stack import ConstPoint, device, profile

PLANT = "e2e-plant"


@dataclass(frozen=True)
class Expected:
    point: str  # plant/device/point
    unit: str  # canonical, at central
    value: float  # canonical


PROFILES = [
    # pressure transmitter reporting bar (-> kPa) and a two-gas detector, over Modbus TCP
    profile("e2e-pt-mb", "modbus", [ConstPoint("pressure", "pressure", "bar", (0, 16), 6.5)]),
    profile(
        "e2e-gas-mb",
        "modbus",
        [
            ConstPoint("h2s", "gas.h2s", "ppm", (0, 100), 2.5),
            ConstPoint("lel", "gas.lel", "%LEL", (0, 100), 12.5),
        ],
    ),
    # vibration in in/s (-> mm/s) and oxygen, over OPC UA
    profile(
        "e2e-vib-ua",
        "opcua",
        [
            ConstPoint("velocity", "vibration.velocity_rms", "in/s", (0, 2), 0.125),
            ConstPoint("o2", "gas.o2", "%vol", (0, 25), 20.75),
        ],
    ),
    # noise and dust in one JSON document with a timestamp, over MQTT
    profile(
        "e2e-env-mqtt",
        "mqtt",
        [
            ConstPoint("laeq", "noise.laeq", "dB(A)", (30, 130), 71.5),
            ConstPoint("pm10", "dust.pm10", "µg/m³", (0, 1000), 42.0),
        ],
    ),
]

EXPECTED = [
    Expected(f"{PLANT}/pt-1/pressure", "kPa", 650.0),
    Expected(f"{PLANT}/gas-1/h2s", "ppm", 2.5),
    Expected(f"{PLANT}/gas-1/lel", "%LEL", 12.5),
    Expected(f"{PLANT}/vib-1/velocity", "mm/s", 0.125 * 25.4),
    Expected(f"{PLANT}/vib-1/o2", "%vol", 20.75),
    Expected(f"{PLANT}/env-1/laeq", "dB(A)", 71.5),
    Expected(f"{PLANT}/env-1/pm10", "µg/m³", 42.0),
]


def devices(broker_url: str) -> list[dict[str, Any]]:
    modbus, opcua = free_port(), free_port()
    return [
        device("pt-1", "e2e-pt-mb", f"modbus+tcp://127.0.0.1:{modbus}", unit_id=1, poll_s=0.25),
        device("gas-1", "e2e-gas-mb", f"modbus+tcp://127.0.0.1:{modbus}", unit_id=2, poll_s=0.5),
        # Polled: a subscription to a value that never changes gets no notification after the
        # first, and the agent's watchdog would call that silence a communication loss.
        device(
            "vib-1",
            "e2e-vib-ua",
            f"opc.tcp://127.0.0.1:{opcua}",
            poll_s=0.5,
            options={"mode": "poll"},
        ),
        device("env-1", "e2e-env-mqtt", broker_url, poll_s=1.0),
    ]
