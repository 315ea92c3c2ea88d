"""Opening hours on the business's clock, holidays and daylight-saving included."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ivr.flow.hours import describe_hours, is_open
from ivr.flow.loader import load_flow, load_flow_text
from ivr.flow.model import Flow
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
    assert text == "Our hours are: Monday to Friday 08:00 to 18:00; Saturday 09:00 to 13:00."


def test_hours_are_described_in_the_flows_language() -> None:
    text = describe_hours(load_flow(FLOWS_DIR / "korean.yaml"))
    assert text.startswith("영업시간은 화요일부터 금요일까지 10:00부터 20:00까지; 토요일 10:00부터 18:00까지")
    assert " to " not in text and " - " not in text  # no English words inside a Korean prompt


def _with_hours(hours: str, extra: str = "") -> Flow:
    text = (FLOWS_DIR / "plumbing.yaml").read_text(encoding="utf-8")
    start, end = text.index("hours:\n"), text.index("holidays:")
    return load_flow_text(text[:start] + hours + extra + text[end:], "plumbing.yaml")


def test_an_overnight_line_is_open_past_midnight_into_the_next_day() -> None:
    night = _with_hours('hours:\n  fri: ["22:00-02:00"]\n')
    assert not is_open(night, dt.datetime(2026, 11, 27, 21, 59, tzinfo=NY))  # Friday evening
    assert is_open(night, dt.datetime(2026, 11, 27, 22, 0, tzinfo=NY))
    assert is_open(night, dt.datetime(2026, 11, 28, 1, 59, tzinfo=NY))  # Saturday, small hours
    assert not is_open(night, dt.datetime(2026, 11, 28, 2, 0, tzinfo=NY))
    assert not is_open(night, dt.datetime(2026, 11, 28, 23, 0, tzinfo=NY))  # Saturday has no hours
    assert "22:00 to 02:00" in describe_hours(night)


def test_a_holiday_closes_its_overnight_span_past_midnight_too() -> None:
    night = _with_hours('hours:\n  thu: ["22:00-02:00"]\n  fri: ["22:00-02:00"]\n')
    # Thursday 2026-12-24 made a holiday: its night stays closed past midnight; Friday's opens.
    holiday = night.model_copy(update={"holidays": [dt.date(2026, 12, 24)]})
    assert not is_open(holiday, dt.datetime(2026, 12, 25, 1, 0, tzinfo=NY))
    assert is_open(holiday, dt.datetime(2026, 12, 25, 23, 0, tzinfo=NY))
