"""A real gateway with the console, an owner, an editor and a viewer."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ivr.web.auth import Accounts
from testkit.local_gateway import RunningGateway, local_settings
from tests import needs
from tests.conftest import FLOWS_DIR

TOKEN = "console-test-token"
PASSWORD = "correct horse battery staple"
USERS = {"owner@example.com": "owner", "editor@example.com": "editor", "viewer@example.com": "viewer"}
ALL_DAY = "".join(f'  {d}: ["00:00-24:00"]\n' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    needs.korean_model()
    root = tmp_path_factory.mktemp("console")
    flows = root / "flows"
    flows.mkdir()
    korean = (FLOWS_DIR / "korean.yaml").read_text(encoding="utf-8")
    korean = korean[:korean.index("hours:\n")] + "hours:\n" + ALL_DAY + korean[korean.index("holidays:"):]
    (flows / "korean.yaml").write_text(korean.replace("holidays: [2027-02-16, 2027-02-17]", "holidays: []"))
    shutil.copy(FLOWS_DIR / "plumbing.yaml", flows / "plumbing.yaml")
    gateway = RunningGateway(local_settings(root, flows, TOKEN)).start()
    accounts = Accounts(gateway.gateway.store.store.engine)
    for email, role in USERS.items():
        accounts.add_user(email, PASSWORD, role)
    yield gateway
    gateway.stop()


@contextlib.contextmanager
def logged_in(console: RunningGateway, email: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.base_url) as client:
        reply = client.post("/console/login", data={"email": email, "password": PASSWORD})
        assert reply.status_code == 303, reply.text
        yield client


def csrf_of(client: httpx.Client, page: str) -> str:
    import re

    match = re.search(r'name="csrf" value="([^"]+)"', client.get(page).text)
    assert match, f"no CSRF token on {page}"
    return match.group(1)


def artifacts() -> Path:
    folder = Path(__file__).resolve().parent.parent.parent / "test-artifacts" / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import expect, sync_playwright

    # Drafts are checked on a low-priority thread: on a machine busy with other tests an answer
    # can take longer than Playwright's 5 s default. Patience here, not a speed requirement.
    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=needs.chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(artifacts() / f"{name}.png"), full_page=True)


def login(page: Any, email: str = "owner@example.com") -> None:
    page.goto("/console/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
