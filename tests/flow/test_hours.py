"""Opening hours on the business's clock, holidays and daylight-saving included."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ivr.flow.hours import describe_hours, is_open
from ivr.flow.loader import load_flow
from tests.conftest import FLOWS_DIR

NY = ZoneInfo("America/New_York")
PLUMBING = load_flow(FLOWS_DIR / "plumbing.yaml")


def test_open_and_closed_edges() -> None:
    assert not is_open(PLUMBING, dt.datetime(2026, 11, 24, 7, 59, tzinfo=NY))
    assert is_open(PLUMBING, dt.datetime(2026, 11, 24, 8, 0, tzinfo=NY))
    assert is_open(PLUMBING, dt.datetime(2026, 11, 24, 17, 59, tzinfo=NY))
    assert not is_open(PLUMBING, dt.datetime(2026, 11, 24, 18, 0, tzinfo=NY))
    assert not is_open(PLUMBING, dt.datetime(2026, 11, 29, 10, 0, tzinfo=NY))  # Sunday


def test_time_is_judged_on_the_business_clock_across_daylight_saving() -> None:
    # 12:30 UTC is 07:30 EST before 8 March 2026 and 08:30 EDT (UTC-4) after it.
    utc = dt.UTC
    assert not is_open(PLUMBING, dt.datetime(2026, 3, 6, 12, 30, tzinfo=utc))  # Fri 07:30 EST
    assert is_open(PLUMBING, dt.datetime(2026, 3, 9, 12, 30, tzinfo=utc))  # Mon 08:30 EDT


def test_holidays_are_closed() -> None:
    assert not is_open(PLUMBING, dt.datetime(2026, 12, 25, 10, 0, tzinfo=NY))


def test_hours_are_described_with_days_grouped() -> None:
    text = describe_hours(PLUMBING)
    assert text == "Our hours are: Monday - Friday 08:00 to 18:00; Saturday 09:00 to 13:00."
