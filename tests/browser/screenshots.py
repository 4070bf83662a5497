"""Screenshots of the dashboard for docs/: a demo-like fleet, run for real, seen in Chromium.

    .venv/bin/python tests/browser/screenshots.py [--out docs/screenshots] [--settle-s 50]

Starts central, and for two plants (config/demo-plant.yaml playing the ``demo`` scenario, and
config/plants/chemical-plant.yaml running steady) their simulators and edge agents, all on free
loopback ports; lets the scenario raise its alarms; then saves PNGs of the fleet overview, the
demo plant's view (desktop and phone width), a zoomed trend and the compliance page.
Everything it started is stopped when it ends. Needs /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a file: make `tests.` importable
    sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from tests.browser.stack import Account, PlantRun, Stack, running_stack  # noqa: E402
from tests.browser.world import CHROMIUM_ARGS, chromium_path, drag_across_chart, login  # noqa: E402

# The admin sees the whole fleet; the plant's safety officer sees the alarm buttons.
ADMIN = Account("hq-admin", "screenshot-password-1", "admin")
OFFICER = Account(
    "demo-safety-officer", "screenshot-password-2", "plant_safety_officer", scope="plant:demo-plant"
)
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 780}
TREND_POINT = "demo-plant/gas-h2s-01/h2s"
MAX_PNG_BYTES = 300_000


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def _served(device: dict[str, Any]) -> bool:
    # MQTT devices are left out: `hse-sim run` on this branch fails to start an MQTT publisher
    # (simulators/plant.py logs `server.endpoint`, which MqttSimPublisher lacks). Serial devices
    # need a pty pair the stack does not make.
    url = str(device.get("url", ""))
    return not url.startswith(("mqtt", "modbus+rtu:///"))


def _only_served(config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    out["devices"] = [d for d in config.get("devices", []) if _served(d)]
    out["plcs"] = [d for d in config.get("plcs", []) if _served(d)]
    return out


def _scenario_for(scenario_id: str, config: dict[str, Any], workdir: Path) -> Path:
    """The catalogue's scenario without the steps of devices the plant no longer has."""
    data = _load(REPO / "device_profiles" / "scenarios" / f"{scenario_id}.yaml")
    ids = {d["id"] for d in [*config["devices"], *config["plcs"]]}
    data["steps"] = [step for step in data["steps"] if step["device"] in ids]
    path = workdir / f"{scenario_id}.yaml"  # the file name is the scenario's id
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def plants(workdir: Path) -> list[PlantRun]:
    demo = _only_served(_load(REPO / "config/demo-plant.yaml"))
    chemical = _only_served(_load(REPO / "config/plants/chemical-plant.yaml"))
    return [
        PlantRun(
            demo,
            scenario=_scenario_for("demo", demo, workdir),
            region="east",
            timezone="Asia/Shanghai",
        ),
        PlantRun(chemical, scenario=None, region="gulf", timezone="America/Chicago"),
    ]


def save(page: Any, path: Path, *, full_page: bool = True) -> Path:
    page.wait_for_timeout(600)  # fonts and the last refresh settle
    page.screenshot(path=str(path), full_page=full_page)
    return path


def fleet_views(page: Any, out: Path) -> list[Path]:
    """As the admin, desktop width: fleet, trend (zoomed by a drag), compliance."""
    saved = []
    page.locator(".plant-card").nth(1).wait_for()
    saved.append(save(page, out / "fleet.png"))

    page.goto(f"/#/trend/{TREND_POINT.replace('/', '%2F')}")
    page.locator(".chart canvas").wait_for()
    # Drag across the last minutes of the hour: the scenario's ramp, as raw readings.
    drag_across_chart(page, 0.97, 0.999, steps=6)
    page.wait_for_function("document.querySelector('.chart').dataset.count > 10")
    saved.append(save(page, out / "trend.png"))

    page.goto("/#/compliance")
    page.locator(".view-compliance .panel h2").first.wait_for()
    page.get_by_label("Plant").select_option("demo-plant")
    page.get_by_role("button", name="Show").click()
    page.locator(".view-compliance .panel", has_text="demo-plant · region east").wait_for()
    saved.append(save(page, out / "compliance.png", full_page=False))
    return saved


def plant_view(page: Any, out: Path, name: str) -> list[Path]:
    """As the plant's safety officer: the plant view with its alarms and their buttons."""
    page.goto("/#/plant/demo-plant")
    page.locator(".alarm .actions button").first.wait_for()
    return [save(page, out / f"{name}.png", full_page=False)]


def shoot(stack: Stack, out: Path, chromium: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            runs = (
                (ADMIN, DESKTOP, fleet_views),
                (OFFICER, DESKTOP, lambda page, out: plant_view(page, out, "plant")),
                (OFFICER, PHONE, lambda page, out: plant_view(page, out, "plant-phone")),
            )
            for account, viewport, views in runs:
                context = browser.new_context(base_url=stack.url, viewport=viewport)
                context.set_default_timeout(30_000)
                try:
                    page = context.new_page()
                    login(page, account)
                    saved += views(page, out)
                finally:
                    context.close()
        finally:
            browser.close()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument(
        "--settle-s",
        type=float,
        default=50.0,
        help="let the scenarios run this long before the screenshots (the demo alarms in ~40 s)",
    )
    args = parser.parse_args()
    chromium = chromium_path()
    if chromium is None:
        print("no Chromium binary (/usr/bin/chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="hse-screens-") as tmp,
        running_stack(Path(tmp), plants(Path(tmp)), accounts=[ADMIN, OFFICER]) as stack,
    ):
        stack.wait_for_data(ADMIN, timeout_s=90)
        time.sleep(args.settle_s)
        saved = shoot(stack, args.out, chromium)
    too_big = [p for p in saved if p.stat().st_size > MAX_PNG_BYTES]
    for path in saved:
        print(
            f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {path.stat().st_size // 1024} KB"
        )
    if too_big:
        print(f"over {MAX_PNG_BYTES // 1000} KB: {[p.name for p in too_big]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
