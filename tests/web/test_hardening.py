"""The smaller holes an outside probe found, each closed and kept closed, through the real app:
a gateway behind a (pretend) proxy on loopback, so that visitors can come from elsewhere."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from ivr.cli import main as ivr
from ivr.flow.loader import MAX_FLOW_BYTES
from ivr.telephony.handoff import handoff_token
from ivr.web.auth import Accounts, LoginLimiter
from ivr.web.flow_admin import FlowAdmin
from testkit.local_gateway import RunningGateway, local_settings
from tests import needs
from tests.conftest import FLOWS_DIR
from tests.web.conftest import PASSWORD, csrf_of, logged_in

pytestmark = pytest.mark.slow
HEALTH_TOKEN = "health-token-0123456789"
OUTSIDE = {"X-Forwarded-For": "203.0.113.7"}  # a visitor from elsewhere, through the proxy


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    needs.korean_model()
    root = tmp_path_factory.mktemp("proxied")
    flows = root / "flows"
    flows.mkdir()
    shutil.copy(FLOWS_DIR / "korean.yaml", flows / "korean.yaml")
    settings = local_settings(root, flows, "proxied-token", trusted_proxies="127.0.0.1",
                              health_token=HEALTH_TOKEN, handoff_secret="handoff-secret")
    gateway = RunningGateway(settings).start()
    Accounts(gateway.gateway.store.store.engine).add_user("owner@example.com", PASSWORD, "owner")
    yield gateway
    gateway.stop()


def test_health_shows_only_its_status_to_visitors(proxied: RunningGateway) -> None:
    url = f"{proxied.base_url}/health"
    assert httpx.get(url, headers=OUTSIDE).json() == {"status": "ok"}
    with_token = httpx.get(url, headers={**OUTSIDE, "Authorization": f"Bearer {HEALTH_TOKEN}"}).json()
    assert "flows" in with_token and "media" in with_token
    assert httpx.get(url, headers={**OUTSIDE, "Authorization": "Bearer wrong"}).json() == {"status": "ok"}
    assert "flows" in httpx.get(url).json()  # loopback itself: the operator on the machine
    with logged_in(proxied, "owner@example.com") as client:
        assert "flows" in client.get("/health", headers=OUTSIDE).json()
    metrics = f"{proxied.base_url}/metrics"  # guarded the same way
    assert httpx.get(metrics, headers=OUTSIDE).status_code == 403
    assert "ivr_calls_in_progress" in httpx.get(
        metrics, headers={**OUTSIDE, "Authorization": f"Bearer {HEALTH_TOKEN}"}).text


def test_the_api_docs_are_off_and_every_page_says_how_it_may_be_shown(proxied: RunningGateway) -> None:
    assert httpx.get(f"{proxied.base_url}/docs").status_code == 404
    assert httpx.get(f"{proxied.base_url}/openapi.json").status_code == 404
    login = httpx.get(f"{proxied.base_url}/console/login")
    assert login.headers["x-frame-options"] == "DENY" and login.headers["x-content-type-options"] == "nosniff"
    policy = login.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in login.text


def test_logins_back_off_per_address_and_never_lock_the_owner_out(proxied: RunningGateway) -> None:
    guesser = {"X-Forwarded-For": "198.51.100.23"}
    with httpx.Client(base_url=proxied.base_url) as client:
        codes = [client.post("/console/login", headers=guesser, data={
            "email": "owner@example.com", "password": "wrong password!"}).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and 429 in codes  # the guesser waits...
        owner = client.post("/console/login", headers={"X-Forwarded-For": "192.0.2.80"},
                            data={"email": "owner@example.com", "password": PASSWORD})
        assert owner.status_code == 303  # ...the owner, elsewhere, does not


def test_x_forwarded_for_is_ignored_unless_a_trusted_proxy_sends_it(console: RunningGateway) -> None:
    Accounts(console.gateway.store.store.engine).add_user("spoof@example.com", PASSWORD, "viewer")
    with httpx.Client(base_url=console.base_url) as client:  # no IVR_TRUSTED_PROXIES here
        codes = [client.post("/console/login", headers={"X-Forwarded-For": f"10.0.0.{i}"}, data={
            "email": "spoof@example.com", "password": "wrong password!"}).status_code for i in range(6)]
    assert 429 in codes  # a new made-up address every time does not dodge the limit


def test_the_limiter_forgets_and_stays_small() -> None:
    limiter = LoginLimiter(free=1, forget=10, max_keys=100)
    for i in range(1000):
        limiter.failed(f"pair:a|{i}", f"ip:{i}", now=float(i))
    assert len(limiter) <= 100
    limiter.failed("pair:b|x", now=2000.0)
    limiter.failed("pair:b|x", now=2000.0)
    assert limiter.wait("pair:b|x", now=2000.0) == 4.0 and limiter.wait("pair:b|y", now=2000.0) == 0
    assert limiter.wait("pair:b|x", now=2004.5) == 0
    limiter.failed("pair:c|x", now=5000.0)  # everything older than `forget` is gone
    assert len(limiter) == 1


def test_console_json_apis_need_their_csrf_token_and_json(proxied: RunningGateway) -> None:
    yaml = (FLOWS_DIR / "korean.yaml").read_text(encoding="utf-8")
    with logged_in(proxied, "owner@example.com") as client:
        csrf = csrf_of(client, "/console/flows/korean")
        assert client.post("/console/api/lint", json={"yaml": yaml}).status_code == 403
        assert client.post("/console/api/lint", data={"yaml": yaml},
                           headers={"X-CSRF-Token": csrf}).status_code == 415
        ok = client.post("/console/api/lint", json={"yaml": yaml}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200 and ok.json() == []


def test_huge_flows_and_alias_bombs_get_a_clear_error_and_cost_nothing(proxied: RunningGateway) -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9))
    huge = "# " + "x" * (MAX_FLOW_BYTES + 10)
    with logged_in(proxied, "owner@example.com") as client:
        csrf = {"X-CSRF-Token": csrf_of(client, "/console/flows/korean")}

        def lint(text: str) -> list[dict[str, object]]:
            answer: list[dict[str, object]] = client.post("/console/api/lint", json={"yaml": text},
                                                          headers=csrf).json()
            return answer

        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lint, [bomb] * 4))
        # Expanded, the bomb is 10^9 values: it could not be answered at all. The bound is only
        # there to fail rather than hang; how fast drafts are checked is not this test's business.
        assert time.monotonic() - started < 30
        assert all("expands to more than 50,000 values" in r[0]["message"] for r in results)
        [too_big] = lint(huge)
        assert "at most 256 KB" in str(too_big["message"])


def test_the_gateway_keeps_answering_while_a_draft_is_checked(proxied: RunningGateway,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Drafts are checked off the event loop: with a check held mid-way, /health still answers
    (were the check on the loop, nothing would answer until it was let go)."""
    checking, let_go = threading.Event(), threading.Event()
    real_check = FlowAdmin.check

    def held_check(self: FlowAdmin, name: str, text: str, spoken: bool = False) -> Any:
        checking.set()
        let_go.wait(30)
        return real_check(self, name, text, spoken)

    yaml = (FLOWS_DIR / "korean.yaml").read_text(encoding="utf-8")
    with logged_in(proxied, "owner@example.com") as client:
        csrf = {"X-CSRF-Token": csrf_of(client, "/console/flows/korean")}  # the page checks too
        monkeypatch.setattr(FlowAdmin, "check", held_check)
        with ThreadPoolExecutor(1) as pool:
            linted = pool.submit(client.post, "/console/api/lint", json={"yaml": yaml}, headers=csrf)
            assert checking.wait(10), "the draft never reached its check"
            health = [httpx.get(f"{proxied.base_url}/health", timeout=10) for _ in range(5)]
            assert not linted.done()  # all five answered while the check was still held
            let_go.set()
            assert linted.result(timeout=30).json() == []
    assert [h.status_code for h in health] == [200] * 5


def test_csv_cells_never_run_as_formulas_and_bad_dates_are_400(proxied: RunningGateway) -> None:
    store = proxied.gateway.store.store
    store.start_call("CAcsv1", "korean", "v1", "=HYPERLINK(\"http://evil\")", "+2",
                     dt.datetime.now(dt.UTC), "vosk")
    store.update_call("CAcsv1", summary="+SUM(A1:A9)", outcome="@risk")
    with logged_in(proxied, "owner@example.com") as client:
        rows = list(csv.DictReader(io.StringIO(client.get("/console/calls.csv").text)))
        assert client.get("/console/calls?from=yesterday").status_code == 400
        assert client.get("/console/calls.csv?to=2026-13-45").status_code == 400
    [row] = [r for r in rows if r["sid"] == "CAcsv1"]
    assert row["caller"].startswith("'=") and row["summary"] == "'+SUM(A1:A9)" and row["outcome"] == "'@risk"


def test_a_handoff_link_expires_with_its_call(proxied: RunningGateway) -> None:
    store = proxied.gateway.store.store
    now = dt.datetime.now(dt.UTC)
    store.start_call("CAold1", "korean", "v1", "+1", "+2", now - dt.timedelta(hours=3), "vosk")
    store.update_call("CAold1", ended_at=now - dt.timedelta(hours=2))
    token = handoff_token("handoff-secret", "CAold1")
    reply = httpx.get(f"{proxied.base_url}/handoff/CAold1", params={"token": token})
    assert reply.status_code == 403 and "expired" in reply.text


def test_users_can_be_removed_and_logged_out_everywhere(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from ivr.store.calls import open_database

    url = f"sqlite:///{Path(str(tmp_path)) / 'users.sqlite3'}"
    monkeypatch.setenv("IVR_DATABASE_URL", url)
    accounts = Accounts(open_database(url))
    accounts.add_user("gone@example.com", PASSWORD, "editor")
    token, _ = accounts.login("gone@example.com", PASSWORD)
    assert ivr(["users", "logout", "gone@example.com"]) == 0 and accounts.session(token) is None
    token, _ = accounts.login("gone@example.com", PASSWORD)
    assert ivr(["users", "remove", "gone@example.com"]) == 0
    assert accounts.session(token) is None and accounts.count() == 0
    assert ivr(["users", "remove", "gone@example.com"]) == 1
    assert "there is no user gone@example.com" in capsys.readouterr().err


def test_a_card_number_typed_in_try_it_never_reaches_the_whisper(proxied: RunningGateway) -> None:
    yaml = (FLOWS_DIR / "korean.yaml").read_text(encoding="utf-8")
    with logged_in(proxied, "owner@example.com") as client:
        csrf = {"X-CSRF-Token": csrf_of(client, "/console/flows/korean")}
        lines = client.post("/console/api/try", headers=csrf, json={
            "yaml": yaml, "inputs": ["카드 사 일 일 일 일 일 일 일 일 일 일 일 일 이 삼 사", "#0"],
            "at": "2026-11-24T14:00"}).json()["lines"]
    [transfer] = [line["text"] for line in lines if line["who"] == "action"]
    assert "**** 1234" in transfer and "사 일 일 일" not in transfer  # the whisper keeps the last four
