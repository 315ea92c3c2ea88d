"""Try a draft by voice: Chromium's microphone (fed a recording) over the console's Media
Streams websocket, recognised by Vosk on the gateway like a phone caller's voice."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from testkit.local_gateway import RunningGateway
from tests import needs
from tests.web.conftest import PASSWORD, artifacts

pytestmark = pytest.mark.slow


def _microphone_file(folder: Path) -> Path:
    """'상담원' (a person, please) between silences, as the fake microphone's input."""
    spoken, padded = folder / "spoken.wav", folder / "mic.wav"
    subprocess.run([needs.program("espeak-ng"), "-v", "ko", "-w", str(spoken), "상담 원"], check=True)
    subprocess.run([needs.program("sox"), "-q", str(spoken), "-r", "48000", "-c", "1", "-b", "16",
                    str(padded), "pad", "1.5", "2.5"], check=True)
    return padded


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    mic = _microphone_file(tmp_path_factory.mktemp("mic"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=needs.chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={mic}"])
        yield browser
        browser.close()


def test_a_spoken_request_in_the_browser_reaches_a_person(console: RunningGateway, browser: Browser) -> None:
    page = browser.new_page(base_url=console.base_url)
    page.goto("/console/login")
    page.fill("input[name=email]", "editor@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.goto("/console/flows/korean")
    page.click("#voice-start")
    expect(page.locator("#voice-log")).to_contain_text("transfer to 상담원 (requested)", timeout=30_000)
    page.screenshot(path=str(artifacts() / "flow-voice-try.png"), full_page=True)


def test_the_console_media_socket_needs_a_login(console: RunningGateway) -> None:
    reply = httpx.get(f"{console.base_url}/console/media", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert reply.status_code == 403


def test_keypad_only_languages_say_so(console: RunningGateway) -> None:
    with httpx.Client(base_url=console.base_url) as client:
        client.post("/console/login", data={"email": "editor@example.com", "password": PASSWORD})
        page = client.get("/console/flows/plumbing").text
        assert "No speech model for en-US here" in page and "voice-start" not in page
