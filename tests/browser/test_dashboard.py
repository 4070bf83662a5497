"""The dashboard in headless Chromium against a real stack: central, simulators, an edge agent.

What a user does, end to end: log in, see the fleet, watch an alarm the simulator's scenario
raises appear on the plant view, acknowledge it, and the acknowledgement reaches the edge agent
(its status API says acked) and comes back to central (the button goes away). A safety officer
shelves with a reason and the agent shelves for that long. Also: the phone layout does not
scroll sideways, a 401 sends to the login page, an operator has no audit page (and central
refuses it), the CSP refuses inline script, the trend chooses its buckets from the zoom, and
a compliance report downloads and is audited.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from tests.browser.stack import Account, Stack
from tests.browser.world import (
    ADMIN,
    AUDITOR,
    CEILING_ALARM,
    H2S_POINT,
    H_ALARM,
    OFFICER,
    OPERATOR,
    PLANT,
    VIEWER,
    drag_across_chart,
    login,
)
from tests.support.procs import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
STARTUP_S = 60  # a cold stack on a shared 2-core machine: imports, first poll, first sync
UI_S = 15  # anything the page fetches once it is there


class Browsing:
    """One browser context (fresh storage) and page, recording console errors and page errors."""

    def __init__(self, browser: Browser, stack: Stack, viewport: dict[str, int] = DESKTOP) -> None:
        self.stack = stack
        self.context = browser.new_context(base_url=stack.url, viewport=viewport)
        self.context.set_default_timeout(UI_S * 1000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def login(self, account: Account) -> None:
        login(self.page, account)

    def token(self) -> str:
        return str(self.page.evaluate("sessionStorage.getItem('hse.token')"))

    def horizontal_overflow_px(self) -> int:
        return int(
            self.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
        )

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def browsing(browser: Browser, stack: Stack) -> Iterator[Browsing]:
    session = Browsing(browser, stack)
    try:
        yield session
    finally:
        session.close()


def edge_alarm_state(stack: Stack) -> dict[str, Any] | None:
    return stack.agent_alarm(H_ALARM)


def test_login_fleet_alarm_ack_reaches_the_edge_agent(browsing: Browsing, stack: Stack) -> None:
    page = browsing.page
    browsing.login(OPERATOR)

    # Fleet overview: the plant, its region, its status, once the agent's first batch is in.
    card = page.locator(f'.plant-card[data-plant="{PLANT}"]')
    expect(card).to_be_visible(timeout=STARTUP_S * 1000)
    expect(card).to_contain_text(stack.region)
    expect(page.locator("h2", has_text="Regions")).to_be_visible()

    # Plant view: areas and live values, refreshed in place.
    card.get_by_role("link", name=PLANT).click()
    page.wait_for_url(re.compile(rf"#/plant/{PLANT}$"))
    tile = page.locator(f'.point[data-point="{H2S_POINT}"]')
    expect(tile).to_be_visible(timeout=STARTUP_S * 1000)
    expect(page.locator(".area h2", has_text="unit-1")).to_be_visible()
    stamp = page.locator(".view-plant .page-head .small")
    first = stamp.inner_text()
    expect(stamp).not_to_have_text(first)  # the 1.5 s refresh ran again

    # The scenario raises H at the edge; the plant view shows it within 5 s of that.
    try:
        wait_for(
            lambda: (a := edge_alarm_state(stack)) is not None and a["state"] == "active_unacked",
            timeout_s=STARTUP_S,
            what=f"{H_ALARM} raised at the edge",
        )
    except TimeoutError:
        pytest.fail(f"the scenario never raised {H_ALARM}:\n{stack.logs()}")
    alarm = page.locator(f'.alarm[data-alarm-id="{H_ALARM}"]')
    expect(alarm).to_be_visible(timeout=5000)
    expect(tile).to_have_class(re.compile(r"\bin-alarm\b"))

    # Acknowledge: central queues the command, the agent runs it and answers.
    alarm.get_by_role("button", name="Acknowledge").click()
    expect(alarm.locator(".command")).to_contain_text("done", timeout=30_000)
    wait_for(
        lambda: (a := edge_alarm_state(stack)) is not None and a["acked"] is True,
        timeout_s=30,
        what=f"{H_ALARM} acked at the edge",
    )
    edge = edge_alarm_state(stack)
    assert edge is not None
    assert edge["state"] == "active_acked", edge
    # The agent's ack event came back to central: the alarm is no longer unacknowledged there.
    expect(alarm.get_by_role("button", name="Acknowledge")).to_have_count(0, timeout=30_000)
    expect(alarm).not_to_have_class(re.compile(r"\bunacked\b"))
    central = stack.api_get(stack.api_token(OPERATOR), f"/alarms/{H_ALARM}")
    assert central["acked"] is True, central
    assert any(n["action"] == "ack" and n["actor"] for n in central["notes"]), central
    assert browsing.errors == []


def test_a_viewer_without_alarm_rights_gets_no_action_buttons(
    browsing: Browsing, stack: Stack
) -> None:
    page = browsing.page
    browsing.login(VIEWER)
    page.goto(f"/#/plant/{PLANT}")
    expect(page.locator(f'.point[data-point="{H2S_POINT}"]')).to_be_visible(
        timeout=STARTUP_S * 1000
    )
    wait_for(
        lambda: (a := edge_alarm_state(stack)) is not None and a["active"],
        timeout_s=STARTUP_S,
        what=f"{H_ALARM} active at the edge",
    )
    alarm = page.locator(f'.alarm[data-alarm-id="{H_ALARM}"]')
    expect(alarm).to_be_visible(timeout=UI_S * 1000)
    expect(alarm.locator(".actions button")).to_have_count(0)
    assert browsing.errors == []


# What each view waits for before it is measured: its content, loaded.
PHONE_VIEWS = {
    "fleet": f'.plant-card[data-plant="{PLANT}"]',
    f"plant/{PLANT}": f'.point[data-point="{H2S_POINT}"]',
    "alarms": ".view-alarms .alarm",
    "compliance": ".view-compliance .panel h2",
}


@pytest.mark.parametrize("view", list(PHONE_VIEWS))
def test_phone_width_does_not_scroll_sideways(browser: Browser, stack: Stack, view: str) -> None:
    session = Browsing(browser, stack, viewport=PHONE)
    try:
        page = session.page
        session.login(ADMIN)
        page.goto(f"/#/{view}")
        expect(page.locator(PHONE_VIEWS[view]).first).to_be_visible(timeout=STARTUP_S * 1000)
        page.wait_for_timeout(300)  # the layout settles after the last node went in
        assert page.evaluate("innerWidth") == PHONE["width"]
        assert session.horizontal_overflow_px() <= 0, page.locator("main").inner_html()[:3000]
        assert session.errors == []
    finally:
        session.close()


def test_no_token_a_revoked_token_and_logging_out_all_lead_to_the_login_page(
    browsing: Browsing, stack: Stack
) -> None:
    page = browsing.page
    page.goto(f"/#/plant/{PLANT}")
    page.wait_for_url(re.compile(r"/login$"))

    # Logged in on the plant view; the token is revoked elsewhere (as an expiry would):
    # the next refresh gets 401 and the page goes to /login, then back to the same view.
    browsing.login(ADMIN)
    page.goto(f"/#/plant/{PLANT}")
    expect(page.locator(".view-plant h1")).to_have_text(PLANT)
    request = urllib.request.Request(  # noqa: S310  (loopback http)
        stack.url + "/api/v1/auth/token",
        method="DELETE",
        headers={"Authorization": f"Bearer {browsing.token()}"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        assert resp.status == 204
    page.wait_for_url(re.compile(r"/login$"), timeout=UI_S * 1000)
    assert page.evaluate("sessionStorage.getItem('hse.token')") is None
    browsing.login(ADMIN)
    page.wait_for_url(re.compile(rf"#/plant/{PLANT}$"))

    # Log out: the token is revoked at central and gone from the tab.
    token = browsing.token()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login$"))
    assert page.evaluate("sessionStorage.length") == 0
    refused = urllib.request.Request(  # noqa: S310  (loopback http)
        stack.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(refused, timeout=10)  # noqa: S310
    answer.value.close()
    assert answer.value.code == 401
    # The refused calls are the only console errors (the browser logs each 401).
    assert all("401" in e for e in browsing.errors), browsing.errors


def test_operator_has_no_audit_page_and_an_auditor_has(browser: Browser, stack: Stack) -> None:
    operator = Browsing(browser, stack)
    try:
        operator.login(OPERATOR)
        nav = operator.page.locator("#nav")
        expect(nav.get_by_role("link", name="Fleet")).to_be_visible()
        expect(nav.get_by_role("link", name="Audit log")).to_have_count(0)
        operator.page.goto("/#/audit")
        expect(operator.page.locator("main")).to_have_attribute("data-view", "forbidden")
        expect(operator.page.locator("main .banner.error")).to_contain_text("does not include")
        # Not only hidden: central refuses the operator the audit log.
        status = operator.page.evaluate(
            """async () => (await fetch('/api/v1/audit', {headers: {Authorization:
                'Bearer ' + sessionStorage.getItem('hse.token')}})).status"""
        )
        assert status == 403
        assert all("403" in e for e in operator.errors), operator.errors
    finally:
        operator.close()

    auditor = Browsing(browser, stack)
    try:
        auditor.login(AUDITOR)
        # An auditor reads no readings: no fleet page; compliance is the first page.
        expect(auditor.page.locator("main")).to_have_attribute("data-view", "compliance")
        expect(auditor.page.locator("#nav").get_by_role("link", name="Fleet")).to_have_count(0)
        auditor.page.locator("#nav").get_by_role("link", name="Audit log").click()
        expect(auditor.page.locator("main")).to_have_attribute("data-view", "audit")
        expect(auditor.page.locator(".view-audit .muted[role=status]")).to_contain_text("entries")
        assert auditor.errors == []
    finally:
        auditor.close()


def test_a_safety_officer_shelves_with_a_reason_and_the_edge_shelves(
    browsing: Browsing, stack: Stack
) -> None:
    page = browsing.page
    browsing.login(OFFICER)
    wait_for(
        lambda: (a := stack.agent_alarm(CEILING_ALARM)) is not None and a["active"],
        timeout_s=STARTUP_S,
        what=f"{CEILING_ALARM} active at the edge",
    )
    page.goto(f"/#/plant/{PLANT}")
    card = page.locator(f'.alarm[data-alarm-id="{CEILING_ALARM}"]')
    card.get_by_role("button", name="Shelve…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_role("button", name="Shelve").click()  # no reason: the form refuses
    expect(dialog).to_be_visible()
    dialog.get_by_label("Reason (required)").fill("detector bump test in progress")
    dialog.get_by_label("For how many minutes").fill("30")
    started = time.time()
    dialog.get_by_role("button", name="Shelve").click()
    expect(dialog).to_have_count(0)
    wait_for(
        lambda: (a := stack.agent_alarm(CEILING_ALARM)) is not None and a["state"] == "shelved",
        timeout_s=30,
        what=f"{CEILING_ALARM} shelved at the edge",
    )
    edge = stack.agent_alarm(CEILING_ALARM)
    assert edge is not None
    assert 29 * 60 <= edge["shelved_until"] - started <= 31 * 60, edge
    # Shelved alarms leave the plant view's active list and show under the "shelved" filter.
    expect(card).to_have_count(0, timeout=UI_S * 1000)
    page.goto("/#/alarms")
    page.get_by_label("State").select_option("shelved")
    shelved = page.locator(f'.view-alarms .alarm[data-alarm-id="{CEILING_ALARM}"]')
    expect(shelved.get_by_role("button", name="Unshelve")).to_be_visible()
    assert browsing.errors == []


def test_compliance_report_downloads_and_the_export_is_audited(
    browsing: Browsing, stack: Stack
) -> None:
    page = browsing.page
    browsing.login(AUDITOR)
    expect(page.locator(".view-compliance .panel h2", has_text="Ledger")).to_be_visible()
    expect(page.locator(".view-compliance")).to_contain_text(H2S_POINT)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.startswith(f"compliance-{PLANT}-")
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    assert H2S_POINT in text, text[:500]
    expect(
        page.locator(".view-compliance .panel h2", has_text="Exposure as judged by the agents")
    ).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download HTML").click()
    printable = Path(info.value.path()).read_text(encoding="utf-8")
    assert info.value.suggested_filename.endswith(".html")
    assert f"Exposure compliance report: plant {PLANT}" in printable, printable[:500]
    assert H2S_POINT in printable
    page.locator("#nav").get_by_role("link", name="Audit log").click()
    expect(page.locator(".view-audit table.data")).to_contain_text("compliance.export")
    assert browsing.errors == []


def test_pages_forbid_inline_script_and_other_origins(browsing: Browsing, stack: Stack) -> None:
    page = browsing.page
    for path in ("/", "/login", "/static/js/app.js"):
        response = page.request.get(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy, policy
        assert "unsafe-" not in policy, policy
        assert "default-src 'none'" in policy, policy
        assert response.headers["x-content-type-options"] == "nosniff"
    browsing.login(ADMIN)
    ran = page.evaluate(
        """() => new Promise((resolve) => {
            document.addEventListener('securitypolicyviolation',
                (e) => resolve({ran: window.__injected === 1, blocked: e.violatedDirective}));
            const s = document.createElement('script');
            s.textContent = 'window.__injected = 1';
            document.body.append(s);
            setTimeout(() => resolve({ran: window.__injected === 1, blocked: null}), 2000);
        })"""
    )
    assert ran == {"ran": False, "blocked": "script-src-elem"}
    # The refused inline script is the one console error.
    assert len(browsing.errors) == 1
    assert "Content Security Policy" in browsing.errors[0]


def test_trend_picks_buckets_from_the_span_and_zooms_by_drag(
    browsing: Browsing, stack: Stack
) -> None:
    page = browsing.page
    browsing.login(ADMIN)
    page.goto(f"/#/trend/{H2S_POINT.replace('/', '%2F')}")
    chart = page.locator(".chart")
    expect(chart).to_have_attribute("data-bucket", "raw", timeout=UI_S * 1000)
    assert int(chart.get_attribute("data-count") or 0) > 0  # the stack waited for data
    for preset, bucket in (("24 h", "1m"), ("7 d", "1h"), ("30 d", "1h"), ("1 h", "raw")):
        page.get_by_role("button", name=preset, exact=True).click()
        expect(chart).to_have_attribute("data-bucket", bucket)
    # A preset span follows the clock: the agent's new readings appear without a reload.
    expect(page.locator(".view-trend .panel p")).to_contain_text("live")
    count = chart.get_attribute("data-count")
    expect(chart).not_to_have_attribute("data-count", count or "", timeout=4 * UI_S * 1000)
    # Drag across the middle third of the plot: the span shrinks, the data is fetched again.
    before = page.locator(".view-trend .panel p").inner_text()
    drag_across_chart(page, 0.60, 0.95, steps=8)
    expect(page.locator(".view-trend .panel p")).not_to_have_text(before)
    expect(chart).to_have_attribute("data-bucket", "raw")
    expect(page.locator(".view-trend .panel p")).not_to_contain_text("live")  # a zoom holds still
    assert browsing.errors == []
