"""Shared fixtures: the shipped flows, with a time each is open and one each is closed."""

from __future__ import annotations

import datetime as dt
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
