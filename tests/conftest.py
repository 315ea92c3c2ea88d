"""Shared fixtures: the shipped flows, with a time each is open and one each is closed.

Tests run in parallel processes (pytest-xdist, `-n` in pyproject.toml); each worker gets its own
PostgreSQL database, so tests that wipe a store never see another worker's rows.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.flow.loader import load_flow
from ivr.flow.model import Flow

ROOT = Path(__file__).resolve().parent.parent
FLOWS_DIR = ROOT / "flows"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class ShippedFlow:
    name: str
    open_at: dt.datetime
    closed_at: dt.datetime

    @property
    def path(self) -> Path:
        return FLOWS_DIR / f"{self.name}.yaml"

    def load(self) -> Flow:
        return load_flow(self.path)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Slow tests mostly wait for real-time calls, not the CPU: six workers share two cores.
    The fast set is CPU-bound, and more workers than cores only add start-up time."""
    if os.environ.get("IVR_TEST_WORKERS"):
        return int(os.environ["IVR_TEST_WORKERS"])
    cores = os.cpu_count() or 2
    return cores if config.option.markexpr == "not slow" else 3 * cores


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = os.environ.get("IVR_TEST_POSTGRES_URL")
    if worker and base:
        os.environ["IVR_TEST_POSTGRES_URL"] = _worker_database(base, worker)


def _worker_database(base: str, worker: str) -> str:
    """`base` with this worker's own database (created on first use), in the same URL form."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"{url.database}_{worker}"
    with psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                         dbname=url.database, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def _at(zone: str, *parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


SHIPPED = [
    # Tuesday 24 Nov 2026 mid-morning is open everywhere; each closed time is 3 a.m. or a day off.
    ShippedFlow("plumbing", _at("America/New_York", 2026, 11, 24, 10, 0),
                _at("America/New_York", 2026, 11, 24, 3, 0)),
    ShippedFlow("clinic", _at("America/Chicago", 2026, 11, 24, 10, 0),
                _at("America/Chicago", 2026, 11, 28, 11, 0)),
    ShippedFlow("korean", _at("Asia/Seoul", 2026, 11, 24, 14, 0),
                _at("Asia/Seoul", 2026, 11, 23, 14, 0)),
]


@pytest.fixture(params=SHIPPED, ids=lambda s: s.name)
def shipped(request: pytest.FixtureRequest) -> ShippedFlow:
    return request.param  # type: ignore[no-any-return]
