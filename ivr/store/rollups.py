"""Figures over long periods from per-day roll-ups: what is counted once is not counted again.

A figure over a period (the dashboard's counts, the struggle view's per-step counts) is a sum
over the calls that started in it. Whole UTC days that are over (CLOSED_AFTER past their end,
so no call of theirs is still going) are counted once and kept in `day_figures`; a period is
then its kept days plus the live count of its ragged ends. 90 days at 100,000 calls cost a
handful of small queries instead of a scan of every call and transcript line.

The kept counts also outlast the transcripts they came from (see ivr.store.retention).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from ivr.store.tables import day_figures

CLOSED_AFTER = dt.timedelta(hours=2)  # a day's calls have all ended this long after midnight
Figures = dict[str, Any]  # nested dicts whose leaves are numbers
# Figures for calls started in [start, end); end None: up to now and any call a clock ahead.
Count = Callable[[dt.datetime, dt.datetime | None], Figures]


def summed(parts: Iterable[Figures]) -> Figures:
    """Add nested figures leaf by leaf ({"a": 1, "b": {"x": 2}} + {"b": {"x": 1}} = ...)."""
    out: Figures = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict):
                out[key] = summed([out.get(key, {}), value])
            else:
                out[key] = out.get(key, 0) + value
    return out


def over_period(engine: Engine, kind: str, flow: str, since: dt.datetime, now: dt.datetime,
                count: Count) -> Figures:
    """`count` of the calls started since `since`, its whole days that are over at `now` read
    from (or added to) the roll-ups."""
    first_day = _midnight(since) + (dt.timedelta(days=1) if _midnight(since) < since else dt.timedelta())
    closed_until = _midnight(now - CLOSED_AFTER)
    if first_day >= closed_until:
        return count(since, None)
    days = [first_day + dt.timedelta(days=i) for i in range((closed_until - first_day).days)]
    parts = [count(since, first_day)] if since < first_day else []
    parts += kept_days(engine, kind, flow, days, count).values()
    parts.append(count(closed_until, None))
    return summed(parts)


def kept_days(engine: Engine, kind: str, flow: str, days: list[dt.datetime],
              count: Count) -> dict[dt.date, Figures]:
    """The roll-ups of `days` (closed UTC midnights), counting and keeping any not kept yet."""
    wanted = [d.date() for d in days]
    with engine.connect() as conn:
        rows = conn.execute(select(day_figures.c.day, day_figures.c.figures).where(
            day_figures.c.kind == kind, day_figures.c.flow == flow,
            day_figures.c.day.in_(wanted)))
        kept = {day: json.loads(text) for day, text in rows}
    for midnight in days:
        if midnight.date() in kept:
            continue
        figures = count(midnight, midnight + dt.timedelta(days=1))
        kept[midnight.date()] = figures
        try:
            with engine.begin() as conn:
                conn.execute(insert(day_figures).values(kind=kind, flow=flow, day=midnight.date(),
                                                        figures=json.dumps(figures)))
        except IntegrityError:  # another instance kept the same day first: the same counts
            pass
    return kept


def _midnight(at: dt.datetime) -> dt.datetime:
    at = at.astimezone(dt.UTC)
    return dt.datetime(at.year, at.month, at.day, tzinfo=dt.UTC)
