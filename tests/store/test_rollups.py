"""Per-day roll-ups: closed days are counted once and kept; ragged ends are counted live."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ivr.store.calls import open_database
from ivr.store.rollups import CLOSED_AFTER, over_period, summed

NOW = dt.datetime(2026, 11, 24, 15, 30, tzinfo=dt.UTC)


def test_nested_figures_add_up_leaf_by_leaf() -> None:
    assert summed([{"a": 1, "b": {"x": 2}}, {"b": {"x": 1, "y": 4}, "c": 0.5}, {}]) == \
        {"a": 1, "b": {"x": 3, "y": 4}, "c": 0.5}


def test_closed_days_are_counted_once_and_the_ends_each_time(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'calls.sqlite3'}")
    asked: list[tuple[dt.datetime, dt.datetime | None]] = []

    def count(start: dt.datetime, end: dt.datetime | None) -> dict[str, int]:
        asked.append((start, end))
        return {"calls": 1, "hours": int(((end or NOW) - start).total_seconds() // 3600)}

    since = NOW - dt.timedelta(days=3, hours=2)  # 2026-11-21 13:30
    first = over_period(engine, "test", "f", since, NOW, count)
    midnight = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    assert asked == [(since, midnight),  # the ragged start
                     (midnight, midnight + dt.timedelta(days=1)),  # closed days, then kept
                     (midnight + dt.timedelta(days=1), midnight + dt.timedelta(days=2)),
                     (midnight + dt.timedelta(days=2), None)]  # today is not over: counted live
    assert first == {"calls": 4, "hours": 10 + 24 + 24 + 15}
    asked.clear()
    again = over_period(engine, "test", "f", since, NOW, count)
    assert again == first and asked == [(since, midnight), (midnight + dt.timedelta(days=2), None)]
    asked.clear()
    over_period(engine, "test", "other flow", since, NOW, count)
    assert len(asked) == 4  # kept per kind and flow


def test_a_day_is_kept_only_once_it_is_over_for_every_call(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'calls.sqlite3'}")
    asked: list[tuple[dt.datetime, dt.datetime | None]] = []

    def count(start: dt.datetime, end: dt.datetime | None) -> dict[str, int]:
        asked.append((start, end))
        return {"calls": 1}

    just_after_midnight = dt.datetime(2026, 11, 24, 0, 30, tzinfo=dt.UTC)
    assert just_after_midnight - dt.datetime(2026, 11, 24, tzinfo=dt.UTC) < CLOSED_AFTER
    since = just_after_midnight - dt.timedelta(days=2)
    for _ in range(2):
        over_period(engine, "test", "f", since, just_after_midnight, count)
    # Yesterday (the 23rd) is not closed yet at 00:30: nothing is kept, all is counted live.
    assert asked == [(since, None)] * 2
