"""Who may do what: roles, CSRF, rate limiting, no default password, masked card numbers."""

from __future__ import annotations

import re

import httpx
import pytest

from ivr.guard.cards import mask_cards
from ivr.web.auth import Accounts, AuthError, LoginLimiter
from testkit.local_gateway import RunningGateway
from tests.web.conftest import PASSWORD, csrf_of, logged_in

pytestmark = pytest.mark.slow


def test_nothing_is_visible_without_logging_in(console: RunningGateway) -> None:
    with httpx.Client(base_url=console.base_url) as client:
        for page in ("/console/calls", "/console/flows", "/console/dashboard", "/console/calls/CA1"):
            reply = client.get(page)
            assert reply.status_code == 303 and reply.headers["location"] == "/console/login"
        assert client.post("/console/api/lint", json={"yaml": ""}).status_code == 303


def test_login_sets_a_strict_http_only_cookie_and_passwords_are_argon2(console: RunningGateway) -> None:
    reply = httpx.post(f"{console.base_url}/console/login",
                       data={"email": "owner@example.com", "password": PASSWORD})
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    from sqlalchemy import select

    from ivr.store.tables import users

    with console.gateway.store.store.engine.connect() as conn:
        hashes = [r[0] for r in conn.execute(select(users.c.password_hash))]
    assert all(h.startswith("$argon2id$") for h in hashes)


def test_roles(console: RunningGateway) -> None:
    with logged_in(console, "viewer@example.com") as viewer, \
            logged_in(console, "editor@example.com") as editor:
        assert viewer.get("/console/calls").status_code == 200
        assert viewer.get("/console/flows").status_code == 403
        assert editor.get("/console/flows").status_code == 200
        assert editor.get("/console/calls").status_code == 403


def test_changes_need_the_csrf_token(console: RunningGateway) -> None:
    with logged_in(console, "editor@example.com") as editor:
        reply = editor.post("/console/flows/plumbing/draft", data={"yaml": "name: x"})
        assert reply.status_code == 403
        token = csrf_of(editor, "/console/flows/plumbing")
        reply = editor.post("/console/flows/plumbing/draft", data={"yaml": "name: x", "csrf": token})
        assert reply.status_code == 303


def test_login_is_rate_limited(console: RunningGateway) -> None:
    # An account of its own: locking out a shared one would break the tests that run after.
    Accounts(console.gateway.store.store.engine).add_user("locked@example.com", PASSWORD, "viewer")
    with httpx.Client(base_url=console.base_url) as client:
        for _ in range(3):
            assert client.post("/console/login", data={"email": "locked@example.com",
                                                       "password": "wrong password!"}).status_code == 200
        blocked = client.post("/console/login", data={"email": "locked@example.com", "password": PASSWORD})
        assert blocked.status_code == 429 and "try again in 2 s" in blocked.text  # a guess must wait
    with logged_in(console, "editor@example.com") as editor:  # the others in the office still can
        assert editor.get("/console/flows").status_code == 200


def test_limiter_counts_account_and_address_pairs_and_addresses_apart() -> None:
    limiter = LoginLimiter(free=2, per_address=3)
    limiter.failed("pair:a|1", "ip:1", now=0)
    assert not limiter.wait("pair:a|1", "ip:1", now=0)
    limiter.failed("pair:a|1", "ip:1", now=0)
    assert limiter.wait("pair:a|1", now=0) == 2 and not limiter.wait("pair:a|2", "ip:2", now=0)
    assert not limiter.wait("pair:b|1", "ip:1", now=0)  # another account from there: not yet
    limiter.failed("pair:c|1", "ip:1", now=0)
    assert limiter.wait("pair:d|1", "ip:1", now=0) == 2  # an address guessing many accounts waits
    limiter.succeeded("pair:a|1", "ip:1")
    assert not limiter.wait("pair:a|1", now=0) and limiter.wait("ip:1", now=0) == 2


def test_weak_passwords_and_unknown_roles_are_refused(console: RunningGateway) -> None:
    accounts = Accounts(console.gateway.store.store.engine)
    with pytest.raises(AuthError, match="at least 10"):
        accounts.add_user("new@example.com", "short", "viewer")
    with pytest.raises(AuthError, match="role must be"):
        accounts.add_user("new@example.com", "long enough password", "admin")


def test_card_numbers_are_masked() -> None:
    assert mask_cards("my card is 4111 1111 1111 1234 thanks") == "my card is **** 1234 thanks"
    assert mask_cards("call 555 0100") == "call 555 0100"


def test_the_form_view_saves_a_draft(console: RunningGateway) -> None:
    with logged_in(console, "editor@example.com") as editor:
        page = editor.get("/console/flows/plumbing/form")
        assert page.status_code == 200 and 'name="hours.mon" value="08:00-18:00"' in page.text
        token = csrf_of(editor, "/console/flows/plumbing/form")
        version = re.search(r'name="version" value="(\d+)"', page.text)
        assert version
        reply = editor.post("/console/flows/plumbing/form", data={
            "csrf": token, "version": version.group(1), "hours.sat": "", "hours.mon": "07:00-19:00"})
        assert reply.status_code == 303
        draft = editor.get(reply.headers["location"]).text
        assert "mon: [&#34;07:00-19:00&#34;]" in draft or 'mon: ["07:00-19:00"]' in draft
