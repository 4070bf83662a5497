"""Fixtures of the browser tier: Debian's headless Chromium driven by Playwright, and the stack.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (or
``HSE_TEST_CHROMIUM``). Without a Chromium binary every test of this tier is skipped, saying so.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.stack import PlantRun, Stack, running_stack
from tests.browser.world import (
    ADMIN,
    AUDITOR,
    CHROMIUM_ARGS,
    OFFICER,
    OPERATOR,
    VIEWER,
    chromium_path,
    h2s_step_scenario,
    small_plant,
)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium binary (/usr/bin/chromium; Debian package 'chromium')")
    return path


@pytest.fixture(scope="module")
def stack(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("stack")
    plant = PlantRun(small_plant(), scenario=h2s_step_scenario(workdir), region="north")
    with running_stack(
        workdir, [plant], accounts=[ADMIN, OPERATOR, OFFICER, AUDITOR, VIEWER]
    ) as running:
        running.wait_for_data(ADMIN, timeout_s=60)
        yield running


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as pw:
        # launch() gives every run a fresh, temporary user data dir of its own.
        instance = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()
