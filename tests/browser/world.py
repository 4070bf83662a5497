"""What the browser tests (and the screenshot script) run against: Chromium, accounts, a plant.

- :func:`chromium_path` finds Debian's Chromium (never a downloaded one); :data:`CHROMIUM_ARGS`
  start it headless and quiet (no network of its own, no first-run, no sync).
- :data:`ADMIN`, :data:`OPERATOR`, :data:`AUDITOR`, :data:`VIEWER`: one account per role.
- :func:`small_plant` and :func:`h2s_step_scenario`: one Modbus H2S detector whose reading steps
  above its H limit a few seconds after the simulators start.
- :func:`login` and :func:`drag_across_chart`: what a user does on a page.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.browser.stack import Account

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PLANT = "plant-b"

# One account per kind of user the tests need (central's permission matrix): the admin reads
# everything but acts on no alarm; the operator acknowledges; the safety officer also shelves;
# the auditor sees compliance and the audit log only; the viewer only reads.
ADMIN = Account("ada-admin", "admin-password-123", "admin")
OPERATOR = Account("otto-operator", "operator-password-123", "operator", scope=f"plant:{PLANT}")
OFFICER = Account(
    "sofia-officer", "officer-password-123", "plant_safety_officer", scope=f"plant:{PLANT}"
)
AUDITOR = Account("aude-auditor", "auditor-password-123", "auditor")
VIEWER = Account("vic-viewer", "viewer-password-123", "viewer")

DETECTOR = "gas-1"
H2S_POINT = f"{PLANT}/{DETECTOR}/h2s"
H_ALARM = f"{H2S_POINT}:h"
CEILING_ALARM = f"{H2S_POINT}:ceiling"
# The scenario steps H2S to 10 ppm this long after the simulators start: above H (7 ppm) and
# below HH (14 ppm) of the gd-h2s-mb profile (GB/T 50493-2019 §5.5.2). It is also above the
# GBZ 2.1 ceiling (MAC 10 mg/m³ ≈ 7.06 ppm), so the exposure rules raise a ceiling alarm too.
ALARM_AT_S = 12


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("HSE_TEST_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def small_plant(modbus_port: int = 15020) -> dict[str, Any]:
    """One Modbus TCP H2S detector (the port is rewritten to a free one by the stack)."""
    return {
        "plant_id": PLANT,
        "agent_id": f"{PLANT}-agent",
        "limit_set": "cn-gbz-2019",
        "devices": [
            {
                "id": DETECTOR,
                "profile": "gd-h2s-mb",
                "url": f"modbus+tcp://127.0.0.1:{modbus_port}",
                "unit_id": 1,
                "area": "unit-1",
                "zone": "stripper",
                "poll_interval_s": 0.5,
                "timeout_s": 0.4,
            }
        ],
    }


def h2s_step_scenario(directory: Path, at_s: float = ALARM_AT_S, to_ppm: float = 10.0) -> Path:
    """A scenario file (its id is its file name) stepping the detector's H2S to ``to_ppm``."""
    path = directory / "browser-h2s-step.yaml"
    path.write_text(
        "schema_version: 1\n"
        "id: browser-h2s-step\n"
        "description: H2S steps above H for the browser tests.\n"
        "steps:\n"
        f"  - {{at_s: {at_s}, device: {DETECTOR}, point: h2s, signal: {{model: step, to: {to_ppm}, noise: 0.02}}}}\n",
        encoding="utf-8",
    )
    return path


def login(page: Page, account: Account) -> None:
    """Log in through the login page and wait until the dashboard names the user."""
    page.goto("/login")
    page.get_by_label("User name").fill(account.name)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/(#/.*)?$"))
    page.locator("#who").filter(has_text=account.name).wait_for()


def drag_across_chart(page: Page, start: float, end: float, steps: int) -> None:
    """Drag across the trend chart's plot at mid-height, from ``start`` to ``end`` (fractions of
    its width): uPlot's zoom by selection."""
    box = page.locator(".chart .u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=steps)
    page.mouse.up()
