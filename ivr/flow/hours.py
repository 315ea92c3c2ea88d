"""Opening hours on the business's own clock. Time always comes in as an argument, never read here."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ivr.flow.model import WEEKDAYS, Flow
from ivr.flow.prompts import builtin, day_names


def local_time(flow: Flow, at: dt.datetime) -> dt.datetime:
    """`at` on the business's clock; naive times are taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(ZoneInfo(flow.timezone))


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _spans_on(flow: Flow, day: dt.date) -> list[str]:
    """The hours of one date: a one-off override, else closed on a holiday, else the weekday's."""
    override = flow.overrides.get(day)
    if override is not None:
        return override
    if day in flow.holidays:
        return []
    spans: list[str] = flow.hours.get(WEEKDAYS[day.weekday()], [])  # type: ignore[call-overload]
    return spans


def span_minutes(span: str) -> tuple[int, int]:
    """Start and end of "HH:MM-HH:MM" in minutes; an end at or before the start runs past
    midnight into the next day (an overnight line such as 22:00-02:00)."""
    start, end = span.split("-")
    return _minutes(start), _minutes(end)


def is_open(flow: Flow, at: dt.datetime) -> bool:
    """Whether the business is open at `at`: one-off overrides, then holidays, then the week.
    A span past midnight belongs to the day it starts on."""
    local = local_time(flow, at)
    now = local.hour * 60 + local.minute
    for start, end in map(span_minutes, _spans_on(flow, local.date())):
        if start <= now < end or (end <= start and now >= start):
            return True
    yesterday = local.date() - dt.timedelta(days=1)
    return any(end <= start and now < end for start, end in map(span_minutes, _spans_on(flow, yesterday)))


def describe_hours(flow: Flow) -> str:
    """Opening hours as one spoken sentence, consecutive days with equal hours grouped."""
    names = day_names(flow.language)
    groups: list[tuple[list[str], str]] = []
    for day in WEEKDAYS:
        said = (s.split("-") for s in flow.hours.get(day, []))  # type: ignore[call-overload]
        spans = ", ".join(builtin(flow.language, "hours_span", start=a, end=b) for a, b in said)
        if not spans:
            continue
        if groups and groups[-1][1] == spans and WEEKDAYS.index(groups[-1][0][-1]) == WEEKDAYS.index(day) - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], spans))
    if not groups:
        return builtin(flow.language, "hours_none")
    parts = []
    for days, spans in groups:
        label = names[days[0]] if len(days) == 1 else \
            builtin(flow.language, "days_range", first=names[days[0]], last=names[days[-1]])
        parts.append(f"{label} {spans}")
    return f"{builtin(flow.language, 'hours_intro')} {'; '.join(parts)}."
