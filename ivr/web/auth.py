"""Users, sessions, CSRF and login rate limiting for the console.

Passwords are hashed with Argon2 (argon2-cffi). A session is a random token in an HttpOnly,
SameSite=Strict cookie; only its SHA-256 is stored. Every form and fetch that changes
something carries the session's CSRF token. Five failed logins in five minutes for one
account (twenty from one address) lock further attempts until the window passes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select

from ivr.errors import IvrError
from ivr.store.calls import utcnow
from ivr.store.tables import sessions, users

COOKIE = "ivr_session"  # the console session cookie
ROLES = ("owner", "editor", "viewer")
SESSION_HOURS = 12
MIN_PASSWORD = 10
_hasher = PasswordHasher()


class AuthError(IvrError):
    """Bad credentials, a weak password or an unknown role."""


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: str

    def can(self, area: str) -> bool:
        """owner: everything; editor: flows; viewer: calls."""
        allowed = {"owner": {"flows", "calls", "users"}, "editor": {"flows"}, "viewer": {"calls"}}
        return area in allowed[self.role]


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


class Accounts:
    """Users and their sessions, in the gateway's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_user(self, email: str, password: str, role: str) -> None:
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"the password needs at least {MIN_PASSWORD} characters")
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.email == email.lower())).first():
                raise AuthError(f"a user {email} already exists")
            conn.execute(insert(users).values(email=email.lower(), password_hash=_hasher.hash(password),
                                              role=role, created_at=utcnow()))

    def end_sessions(self, email: str) -> int:
        """Log a user out everywhere (a stolen laptop, a role change); returns how many sessions."""
        with self.engine.begin() as conn:
            user = select(users.c.id).where(users.c.email == email.lower()).scalar_subquery()
            return int(conn.execute(delete(sessions).where(sessions.c.user_id == user)).rowcount)

    def remove_user(self, email: str) -> None:
        """Remove a user and end their sessions at once."""
        with self.engine.begin() as conn:
            row = conn.execute(select(users.c.id).where(users.c.email == email.lower())).first()
            if row is None:
                raise AuthError(f"there is no user {email}")
            conn.execute(delete(sessions).where(sessions.c.user_id == row[0]))
            conn.execute(delete(users).where(users.c.id == row[0]))

    def count(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(users.c.id)).all())

    def login(self, email: str, password: str) -> tuple[str, Session]:
        """Check a password; return a new session's cookie token and the session."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.email == email.lower())).mappings().first()
        try:
            if row is None:
                _hasher.hash(password)  # same work either way: no user enumeration by timing
                raise VerificationError
            _hasher.verify(row["password_hash"], password)
        except (VerificationError, InvalidHashError):
            raise AuthError("wrong email or password") from None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.expires_at < utcnow()))  # old ones go
            conn.execute(insert(sessions).values(
                token_hash=_digest(token), user_id=row["id"], csrf=csrf,
                expires_at=utcnow() + dt.timedelta(hours=SESSION_HOURS)))
        return token, Session(User(row["id"], row["email"], row["role"]), csrf)

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions, users.c.email, users.c.role)
                               .join(users, users.c.id == sessions.c.user_id)
                               .where(sessions.c.token_hash == _digest(token))).mappings().first()
        if row is None or _aware(row["expires_at"]) < utcnow():
            return None
        return Session(User(row["user_id"], row["email"], row["role"]), row["csrf"])

    def logout(self, token: str | None) -> None:
        if token:
            with self.engine.begin() as conn:
                conn.execute(delete(sessions).where(sessions.c.token_hash == _digest(token)))


class LoginLimiter:
    """Failed logins slow the one failing down; they never lock an account for everyone.

    Keys are "pair:<account>|<address>" and "ip:<address>". After `free` failures a key waits
    2, 4, 8... seconds (at most `max_wait`) before its next attempt, so a guesser elsewhere
    cannot lock the owner out, and an address guessing many accounts (`per_address` failures
    free) slows down as a whole. Keys quiet for `forget` seconds are dropped, and at most
    `max_keys` are kept, so the limiter's memory stays bounded under any load."""

    def __init__(self, free: int = 3, per_address: int = 20, max_wait: float = 300.0,
                 forget: float = 3600.0, max_keys: int = 100_000) -> None:
        self.free, self.per_address, self.max_wait = free, per_address, max_wait
        self.forget, self.max_keys = forget, max_keys
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, last), oldest first

    def wait(self, *keys: str, now: float | None = None) -> float:
        """Seconds until the keys may try again (0: now)."""
        now = time.monotonic() if now is None else now
        longest = 0.0
        for key in keys:
            count, last = self._failures.get(key, (0, now))
            extra = count - (self.per_address if key.startswith("ip:") else self.free)
            if extra >= 0:
                longest = max(longest, min(self.max_wait, 2.0 ** (extra + 1)) - (now - last))
        return max(0.0, longest)

    def failed(self, *keys: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in keys:
            count, _ = self._failures.pop(key, (0, now))
            self._failures[key] = (count + 1, now)  # re-inserted: the dict stays oldest first
        self._prune(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            if key.startswith("pair:"):  # the address keeps its record of other accounts
                self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        while self._failures:
            key, (_, last) = next(iter(self._failures.items()))
            if now - last < self.forget and len(self._failures) <= self.max_keys:
                break
            del self._failures[key]

    def __len__(self) -> int:
        return len(self._failures)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: Any) -> dt.datetime:
    moment: dt.datetime = value
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite drops the zone
