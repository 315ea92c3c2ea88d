"""The console in real headless Chromium (Debian's, driven by Playwright): log in, break a flow
and see lint block publishing, fix it, publish, place a call that hears the new prompt, roll
back, and find the call with its transcript and on the dashboard. Screenshots of the main pages
go to test-artifacts/console/."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, expect

from testkit.local_gateway import RunningGateway
from testkit.twilio_simulator import HangUp, Listen, Press, TwilioSimulator
from tests.web.conftest import PASSWORD, TOKEN, shot

pytestmark = pytest.mark.slow
NEW_MENU = "새 메뉴입니다. 예약은 1번, 요금은 2번, 영업시간은 3번을 누르세요."
OLD_MENU = "예약은 예약 또는 1번, 요금 안내는 요금 또는 2번, 영업시간은 시간 또는 3번을 말씀하세요."


def _call(console: RunningGateway) -> str:
    """A caller presses 3 (hours), hears the answer and hangs up; returns the CallSid."""
    sim = TwilioSimulator(console.base_url, TOKEN)
    steps = [Listen(), Press("3"), Listen(), HangUp()]
    # Playwright's sync API owns this thread's event loop; the call runs on its own thread.
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(asyncio.run, sim.call(steps, to="+8225550300")).result(120)
    console.gateway.store.drain()
    return call.sid


def _system_turns(console: RunningGateway, sid: str) -> list[str]:
    record = console.gateway.store.store.get_call(sid)
    assert record is not None
    return [e["text"] for e in record["events"] if e["kind"] == "turn" and e["speaker"] == "system"]


def test_edit_publish_call_roll_back_review(console: RunningGateway, browser: Browser) -> None:
    page = browser.new_page(base_url=console.base_url, viewport={"width": 1400, "height": 1000})
    page.goto("/console/login")
    shot(page, "login")
    page.fill("input[name=email]", "owner@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.locator("h1")).to_contain_text("Dashboard")
    calls_before = int(page.inner_text("#calls-total"))

    page.goto("/console/flows")
    expect(page.locator("table")).to_contain_text("한빛 미용실")
    shot(page, "flows")
    page.click("text=한빛 미용실")
    editor = page.locator("#yaml")
    original = editor.input_value()

    # Break it: the disclosure no longer says the line is automated.
    broken = original.replace("자동 응답입니다", "미용실입니다")
    editor.fill(broken)
    expect(page.locator("#problems")).to_contain_text("must say the line is automated")
    expect(page.locator("#publish")).to_be_disabled()
    page.click("#save")
    expect(page.locator("#problems")).to_contain_text("must say the line is automated")
    expect(page.locator("#publish")).to_be_disabled()
    shot(page, "flow-lint-error")
    # The server refuses too, whatever the page does.
    version = page.locator("input[name=version]").first.input_value()
    refused = page.evaluate("""async (v) => {
        const csrf = document.querySelector("meta[name=csrf-token]").content;
        const body = new URLSearchParams({csrf, version: v});
        const r = await fetch(location.pathname.split('?')[0] + '/publish', {method: 'POST', body});
        return r.status; }""", version)
    assert refused == 409

    # Fix it, with a new menu prompt, try it in the page, save and publish.
    editor.fill(original.replace(OLD_MENU, NEW_MENU))
    expect(page.locator("#problems")).to_contain_text("No problems")
    page.fill("#try-input", "#3")
    page.press("#try-input", "Enter")
    expect(page.locator("#try-log")).to_contain_text("화요일부터 금요일은")
    expect(page.locator("#try-log")).to_contain_text(NEW_MENU)
    page.click("#save")
    expect(page.locator("#publish")).to_be_enabled()
    page.click("#publish")
    expect(page.locator("h1")).to_contain_text("(published)")
    shot(page, "flow-published")

    new_sid = _call(console)
    assert NEW_MENU in _system_turns(console, new_sid)

    # Roll back to the first version: new calls hear the old prompt again.
    page.click("text=Roll back to v1")
    expect(page.locator("h1")).to_contain_text("(published)")
    old_sid = _call(console)
    assert OLD_MENU in _system_turns(console, old_sid)
    assert NEW_MENU not in _system_turns(console, old_sid)

    # The call is in the list, with its transcript; the dashboard counted it.
    page.goto("/console/calls")
    expect(page.locator("#call-list")).to_contain_text("korean")
    shot(page, "calls")
    page.goto(f"/console/calls/{new_sid}")
    expect(page.locator(".timeline")).to_contain_text(NEW_MENU)
    expect(page.locator(".timeline")).to_contain_text("[key 3]")
    shot(page, "call-detail")
    page.goto("/console/dashboard")
    assert int(page.inner_text("#calls-total")) == calls_before + 2
    shot(page, "dashboard")
    page.goto("/console/audit")
    expect(page.locator("main")).to_contain_text("roll back to v1")
    shot(page, "audit")
