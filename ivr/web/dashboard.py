"""Call list filters and the dashboard's figures, computed from the call records."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import Date, and_, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from ivr.store.calls import CallStore, utcnow
from ivr.store.rollups import Figures, over_period
from ivr.store.tables import calls

REASONS = ("requested", "distress", "emergency", "not understood", "fault", "flow")
EARLY_HANGUP_S = 10.0


def filter_calls(store: CallStore, filters: dict[str, str], limit: int = 500,
                 within: Any = None) -> list[dict[str, Any]]:
    """Calls matching date (`from`, `to`: YYYY-MM-DD, UTC days), `flow`, `outcome`, `reason`,
    words said (`q`, transcript or summary) and part of the caller's number (`caller`)."""
    start, end = _day(filters, "from"), _day(filters, "to")
    equal = {column: filters[key] for key, column in
             (("flow", "flow"), ("outcome", "outcome"), ("reason", "transfer_reason")) if filters.get(key)}
    return store.find_calls(since=_midnight(start), until=_midnight(end, 1), limit=limit,
                            said=filters.get("q", "").strip(), caller=filters.get("caller", "").strip(),
                            within=within, **equal)


class FilterError(ValueError):
    """A filter a person typed that means nothing (a date that is not one): HTTP 400."""


def _day(filters: dict[str, str], key: str) -> dt.date | None:
    raw = filters.get(key)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise FilterError(f"{key}: {raw[:40]!r} is not a date; use YYYY-MM-DD") from None


def _midnight(day: dt.date | None, plus_days: int = 0) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(day + dt.timedelta(days=plus_days), dt.time(), tzinfo=dt.UTC)


def dashboard_figures(store: CallStore, since: dt.datetime, now: dt.datetime | None = None) -> dict[str, Any]:
    """Counts and times for calls started since `since`: closed days from their roll-ups (see
    ivr.store.rollups), the rest counted by the database, never by loading the calls."""
    counted = over_period(store.engine, "dashboard", "", since, now or utcnow(),
                          lambda start, end: _count(store, start, end))
    outcomes: dict[str, int] = counted.get("outcomes", {})
    reasons: dict[str, int] = counted.get("reasons", {})
    to_human = _percentiles(counted.get("to_human", {}), (0.5, 0.9))
    return {
        "calls": sum(outcomes.values()),
        "answered": outcomes.get("answered", 0) + outcomes.get("goodbye", 0),
        "transferred": outcomes.get("transferred", 0),
        "voicemail": outcomes.get("voicemail", 0),
        "outcomes": dict(outcomes),
        "reasons": {reason: reasons.get(reason, 0) for reason in REASONS},
        "early_hangups": counted.get("early_hangups", 0),
        "to_human_median": to_human[0],
        "to_human_p90": to_human[1],
        "callbacks_waiting": len(store.open_callbacks()),
        "per_day": sorted(counted.get("days", {}).items()),
    }


def _count(store: CallStore, start: dt.datetime, end: dt.datetime | None) -> Figures:
    """The dashboard's figures for calls started in [start, end), in three grouped passes."""
    period = calls.c.started_at >= start if end is None else \
        and_(calls.c.started_at >= start, calls.c.started_at < end)
    dialect = store.engine.dialect.name
    early = case((and_(calls.c.outcome.in_(("hung up", "goodbye")), calls.c.ended_at.is_not(None),
                       soon_after_disclosure(dialect)), 1), else_=0)
    day = _utc_day(calls.c.started_at, dialect)
    tenths = func.round(calls.c.time_to_human_s * 10)  # round(x, n) is numeric-only in PostgreSQL
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    early_hangups = 0
    with store.engine.connect() as conn:
        for outcome, reason, n, quick in conn.execute(
                select(calls.c.outcome, calls.c.transfer_reason, func.count(), func.sum(early))
                .where(period).group_by(calls.c.outcome, calls.c.transfer_reason)):
            outcomes[outcome or "in progress"] += n
            if reason:
                reasons[reason] += n
            early_hangups += int(quick or 0)
        days = {str(when): n for when, n in
                conn.execute(select(day, func.count()).where(period).group_by(day))}
        # Times to a person as a histogram of tenths of a second: it adds up across days.
        to_human = {f"{float(t) / 10:.1f}": n for t, n in conn.execute(
            select(tenths, func.count()).where(period, calls.c.time_to_human_s.is_not(None))
            .group_by(tenths))}
    return {"outcomes": dict(outcomes), "reasons": dict(reasons), "early_hangups": early_hangups,
            "days": days, "to_human": to_human}


def _percentiles(histogram: dict[str, int], quantiles: tuple[float, ...]) -> list[float | None]:
    """Time to a person at each quantile, from {seconds: calls} (the median of an even count:
    the two middle ones' mean)."""
    values = [float(s) for s, n in sorted(histogram.items(), key=lambda kv: float(kv[0])) for _ in range(n)]
    n = len(values)
    if not n:
        return [None for _ in quantiles]
    return [(values[(n - 1) // 2] + values[n // 2]) / 2 if q == 0.5 else values[int(q * (n - 1))]
            for q in quantiles]


def soon_after_disclosure(dialect: str) -> ColumnElement[bool]:
    """The call ended within EARLY_HANGUP_S of the disclosure's end (an early hang-up, when the
    caller hung up): one definition for the dashboard and the struggle view."""
    on_line = func.coalesce(seconds_between(calls.c.started_at, calls.c.ended_at, dialect), 0)
    return on_line - func.coalesce(calls.c.disclosure_done_s, 0) < EARLY_HANGUP_S


def seconds_between(start: Any, end: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _utc_day(column: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # SQLite keeps the UTC time as written
