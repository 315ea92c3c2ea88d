"""The flow map and where callers struggle, in real headless Chromium: two calls go through the
Twilio simulator, the manager sees them on the map, opens the calls behind a number, and watches
the map mark a step the moment a draft breaks it. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, expect

from testkit.local_gateway import RunningGateway
from testkit.twilio_simulator import HangUp, Listen, Pause, Press, SimulatedCall, Step, TwilioSimulator
from tests.web.conftest import TOKEN, login, shot

pytestmark = pytest.mark.slow


def _call(console: RunningGateway, steps: list[Step]) -> SimulatedCall:
    sim = TwilioSimulator(console.base_url, TOKEN)
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        call = pool.submit(asyncio.run, sim.call(steps, to="+8225550300")).result(120)
    console.gateway.store.drain()
    return call


def test_the_map_shows_where_callers_struggle_and_follows_the_draft(
        console: RunningGateway, browser: Browser) -> None:
    hours = _call(console, [Listen(), Press("3"), Listen(), HangUp()])  # an answer, then hangs up
    person = _call(console, [Listen(), Press("0"), Listen()])  # asks for a person at the menu
    assert person.dialed and not hours.dialed

    page = browser.new_page(base_url=console.base_url, viewport={"width": 1280, "height": 800})
    login(page)
    page.goto("/console/dashboard")
    page.click("a[href^='/console/flows/korean/struggle']")
    main_box = page.locator("#flow-map g.step[data-step=main]")
    expect(main_box).to_contain_text("2 calls")
    expect(main_box).to_contain_text("1 to a person")
    row = page.locator("#struggle tr[data-step=main]")
    expect(row).to_contain_text("requested: 1")
    shot(page, "struggle")

    # The number is a link to the calls behind it: only the caller who asked for a person.
    row.get_by_role("link", name="1 calls: to a person at main").click()
    expect(page.locator("#drill-down")).to_contain_text("to a person")
    listed = page.locator("#call-list a")
    expect(listed).to_have_count(1)
    assert person.sid in (listed.first.get_attribute("href") or "")
    shot(page, "struggle-calls")

    # The editor's map follows the draft: key 0 on a menu choice marks the menu's box.
    page.goto("/console/flows/korean")
    expect(page.locator("#flow-map g.step[data-step=booking]")).to_be_visible()
    editor = page.locator("#yaml")
    editor.fill(editor.input_value().replace("key: 2", "key: 0"))
    expect(page.locator("#flow-map g.step[data-step=main]")).to_have_class("step menu start has-error")
    expect(page.locator("#problems")).to_contain_text("reserved")
    shot(page, "flow-map-error")
    # A draft that does not load keeps the last map, marked as such.
    editor.fill("name: [unclosed")
    expect(page.locator("#flow-map")).to_have_class("map-frame stale")
    expect(page.locator("#flow-map g.step[data-step=main]")).to_be_visible()


def test_live_now_shows_a_call_in_progress_and_drops_it_when_it_ends(
        console: RunningGateway, browser: Browser) -> None:
    page = browser.new_page(base_url=console.base_url, viewport={"width": 390, "height": 844})  # a phone
    login(page)
    page.goto("/console/live")
    expect(page.locator("#live-status")).to_contain_text("0 call(s)")
    sim = TwilioSimulator(console.base_url, TOKEN)
    steps: list[Step] = [Listen(), Press("3"), Listen(), Pause(6.0), HangUp()]
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(asyncio.run, sim.call(steps, to="+8225550300", caller="+15557654321"))
        row = page.locator("#live tr", has_text="+15557654321")
        expect(row).to_be_visible(timeout=30_000)  # arrives by server-sent event, no reload
        expect(row).to_contain_text("korean")
        expect(row).to_contain_text("main")  # in the disclosure and the menu first
        # then, with no reload, the step it moves on to: the answer to key 3
        expect(row).to_contain_text("hours", timeout=30_000)
        shot(page, "live-now-phone")
        running.result(120)
    expect(page.locator("#live tr", has_text="+15557654321")).to_have_count(0, timeout=15_000)
