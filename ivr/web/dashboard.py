"""Call list filters and the dashboard's figures, computed from the call records."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from ivr.store.calls import CallStore
from ivr.store.tables import calls

REASONS = ("requested", "distress", "emergency", "not understood", "fault", "flow")
EARLY_HANGUP_S = 10.0


def filter_calls(store: CallStore, filters: dict[str, str], limit: int = 500,
                 within: Any = None) -> list[dict[str, Any]]:
    """Calls matching date (`from`, `to`: YYYY-MM-DD, UTC days), `flow`, `outcome`, `reason`,
    words said (`q`, transcript or summary) and part of the caller's number (`caller`)."""
    start = dt.date.fromisoformat(filters["from"]) if filters.get("from") else None
    end = dt.date.fromisoformat(filters["to"]) if filters.get("to") else None
    equal = {column: filters[key] for key, column in
             (("flow", "flow"), ("outcome", "outcome"), ("reason", "transfer_reason")) if filters.get(key)}
    return store.find_calls(since=_midnight(start), until=_midnight(end, 1), limit=limit,
                            said=filters.get("q", "").strip(), caller=filters.get("caller", "").strip(),
                            within=within, **equal)


def _midnight(day: dt.date | None, plus_days: int = 0) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(day + dt.timedelta(days=plus_days), dt.time(), tzinfo=dt.UTC)


def dashboard_figures(store: CallStore, since: dt.datetime) -> dict[str, Any]:
    """Counts and times for calls started since `since`, counted by the database (GROUP BY and
    ORDER BY on indexed columns): the page costs the same with 100,000 calls as with 100."""
    period = calls.c.started_at >= since
    dialect = store.engine.dialect.name
    with store.engine.connect() as conn:
        outcomes = {outcome or "in progress": n for outcome, n in conn.execute(
            select(calls.c.outcome, func.count()).where(period).group_by(calls.c.outcome))}
        reasons: dict[str, int] = dict(conn.execute(
            select(calls.c.transfer_reason, func.count())
            .where(period, calls.c.transfer_reason.is_not(None)).group_by(calls.c.transfer_reason)).all())
        to_human = _percentiles(conn, period, (0.5, 0.9))
        on_line = seconds_between(calls.c.started_at, calls.c.ended_at, dialect)
        early = conn.execute(select(func.count()).where(
            period, calls.c.outcome.in_(("hung up", "goodbye")), calls.c.ended_at.is_not(None),
            on_line - func.coalesce(calls.c.disclosure_done_s, 0) < EARLY_HANGUP_S)).scalar_one()
        day = _utc_day(calls.c.started_at, dialect)
        per_day = [(str(d), n) for d, n in conn.execute(
            select(day, func.count()).where(period).group_by(day).order_by(day))]
    return {
        "calls": sum(outcomes.values()),
        "answered": outcomes.get("answered", 0) + outcomes.get("goodbye", 0),
        "transferred": outcomes.get("transferred", 0),
        "voicemail": outcomes.get("voicemail", 0),
        "outcomes": outcomes,
        "reasons": {reason: reasons.get(reason, 0) for reason in REASONS},
        "early_hangups": early,
        "to_human_median": to_human[0],
        "to_human_p90": to_human[1],
        "callbacks_waiting": len(store.open_callbacks()),
        "per_day": per_day,
    }


def _percentiles(conn: Connection, period: ColumnElement[bool],
                 quantiles: tuple[float, ...]) -> list[float | None]:
    """Time to a person at each quantile (the median of an even count: the two middle ones'
    mean), one indexed ORDER BY ... OFFSET each instead of fetching every value."""
    column = calls.c.time_to_human_s
    where = (period, column.is_not(None))
    n = conn.execute(select(func.count()).where(*where)).scalar_one()
    if not n:
        return [None for _ in quantiles]

    def at(index: int) -> float:
        return float(conn.execute(select(column).where(*where).order_by(column).offset(index).limit(1))
                     .scalar_one())

    out: list[float | None] = []
    for q in quantiles:
        if q == 0.5:
            out.append((at((n - 1) // 2) + at(n // 2)) / 2)
        else:
            out.append(at(int(q * (n - 1))))
    return out


def seconds_between(start: Any, end: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _utc_day(column: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # SQLite keeps the UTC time as written
