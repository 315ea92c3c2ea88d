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
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select

from ivr.errors import IvrError
from ivr.store.calls import utcnow
from ivr.store.tables import sessions, users

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
    """At most `attempts` failures per account, and `per_address` per address (an office shares
    one), in `window` seconds. Keys are "user:..." or "ip:..."."""

    def __init__(self, attempts: int = 5, window: float = 300.0, per_address: int = 20) -> None:
        self.attempts, self.window, self.per_address = attempts, window, per_address
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        for key in keys:
            failures = self._failures[key]
            while failures and now - failures[0] > self.window:
                failures.popleft()
            if len(failures) >= (self.per_address if key.startswith("ip:") else self.attempts):
                return True
        return False

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._failures[key].append(time.monotonic())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: Any) -> dt.datetime:
    moment: dt.datetime = value
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite drops the zone
