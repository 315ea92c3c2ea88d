"""Accessibility of the console, checked by axe-core (WCAG 2 A and AA rules, run in headless
Chromium) on every main page, at 1280x800 and at a phone's width, plus keyboard use."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from testkit.local_gateway import RunningGateway
from tests.web.conftest import login

pytestmark = pytest.mark.slow
PAGES = ["/console/dashboard", "/console/live", "/console/calls", "/console/callbacks",
         "/console/flows", "/console/flows/korean", "/console/flows/korean/struggle",
         "/console/flows/korean/form", "/console/audit"]
AXE = (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def _violations(page: Any) -> list[str]:
    page.evaluate(AXE)
    result = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: "
                           "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]]


@pytest.mark.parametrize("width", [1280, 390])
def test_every_console_page_passes_axe(console: RunningGateway, browser: Browser, width: int) -> None:
    page = browser.new_page(base_url=console.base_url, viewport={"width": width, "height": 800})
    page.goto("/console/login")
    assert _violations(page) == []
    login(page)
    problems = {}
    for path in PAGES:
        page.goto(path)
        if found := _violations(page):
            problems[path] = found
    assert problems == {}


def test_the_console_works_from_the_keyboard(console: RunningGateway, browser: Browser) -> None:
    page = browser.new_page(base_url=console.base_url, viewport={"width": 1280, "height": 800})
    page.goto("/console/login")
    page.keyboard.press("Tab")
    expect(page.locator("input[name=email]")).to_be_focused()
    page.keyboard.type("owner@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery staple")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Dashboard")
    page.goto("/console/flows/korean")
    box = page.locator("#flow-map g.step[data-step=main]")
    box.focus()  # every box of the map takes the focus, so its tooltip's problems are reachable
    expect(box).to_be_focused()
