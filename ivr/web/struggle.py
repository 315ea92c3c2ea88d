"""Where callers struggle: per step of a flow, over a period, counted by the database.

For each step: the calls that reached it, the misses there (not understood or silence, the one
that handed the caller over included), the callers who left it for a person and why, and the
callers who hung up there (those who hung up within 10 s of the disclosure apart). Each figure
has a matching set of calls (`calls_matching`), so a number on the page opens the calls behind it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from ivr.store.calls import CallStore, utcnow
from ivr.store.rollups import over_period
from ivr.store.tables import call_events, calls
from ivr.web.dashboard import dashboard_figures, soon_after_disclosure

FIGURES = ("reached", "misses", "to a person", "hung up", "hung up early")
EVENTS = call_events


def _period(flow: str, since: dt.datetime, until: dt.datetime | None = None) -> Select[Any]:
    query = select(calls.c.sid).where(calls.c.flow == flow, calls.c.started_at >= since)
    return query if until is None else query.where(calls.c.started_at < until)


def _miss() -> Any:
    return or_(EVENTS.c.data["miss"].as_string().is_not(None),
               EVENTS.c.data["handover"].as_string() == "not understood")


def _heard_turn() -> Any:
    """A transcript line the caller met: said by them, or a prompt that was at least begun on
    the line (a prompt queued but never played, e.g. the menu after 0 over the disclosure,
    was not where the caller was)."""
    heard = EVENTS.c.data["heard"].as_string()
    return and_(EVENTS.c.kind == "turn", or_(heard.is_(None), heard != "never"))


def _last_turns(sids: Select[Any]) -> Any:
    """Each call's last transcript line: where it was when the caller hung up."""
    return (select(EVENTS.c.call_sid, func.max(EVENTS.c.id).label("last"))
            .where(_heard_turn(), EVENTS.c.call_sid.in_(sids)).group_by(EVENTS.c.call_sid)
            .subquery())


def _hung_up(store: CallStore, flow: str, since: dt.datetime, early: bool,
             until: dt.datetime | None = None) -> Select[Any]:
    """Calls that hung up within 10 s of the disclosure's end (`early`), or later."""
    quick = soon_after_disclosure(store.engine.dialect.name)
    return _period(flow, since, until).where(calls.c.outcome == "hung up", quick if early else ~quick)


def step_figures(store: CallStore, flow: str, since: dt.datetime,
                 now: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
    """{step: {"reached": n, "misses": n, "to a person": n, "reasons": {reason: n},
    "hung up": n, "hung up early": n}} for calls to `flow` started since `since` (closed days
    from their roll-ups, see ivr.store.rollups)."""
    return over_period(store.engine, "steps", flow, since, now or utcnow(),
                       lambda start, end: _count(store, flow, start, end))


def _count(store: CallStore, flow: str, since: dt.datetime,
           until: dt.datetime | None) -> dict[str, dict[str, Any]]:
    sids = _period(flow, since, until)
    out: dict[str, dict[str, Any]] = {}

    def put(step: str | None, figure: str, n: int) -> None:
        if step:
            entry = out.setdefault(step, {f: 0 for f in FIGURES} | {"reasons": {}})
            entry[figure] += n

    handover = EVENTS.c.data["handover"].as_string()
    with store.engine.connect() as conn:
        for step, n in conn.execute(
                select(EVENTS.c.step, func.count(func.distinct(EVENTS.c.call_sid)))
                .where(EVENTS.c.call_sid.in_(sids), _heard_turn()).group_by(EVENTS.c.step)):
            put(step, "reached", n)
        for step, n in conn.execute(
                select(EVENTS.c.step, func.count()).where(EVENTS.c.call_sid.in_(sids), _miss())
                .group_by(EVENTS.c.step)):
            put(step, "misses", n)
        for step, reason, n in conn.execute(
                select(EVENTS.c.step, handover, func.count()).where(
                    EVENTS.c.call_sid.in_(sids), handover.is_not(None)).group_by(EVENTS.c.step, handover)):
            put(step, "to a person", n)
            if step:
                out[step]["reasons"][reason] = n
        for figure, early in (("hung up", False), ("hung up early", True)):
            last = _last_turns(_hung_up(store, flow, since, early, until))
            for step, n in conn.execute(select(EVENTS.c.step, func.count())
                                        .join(last, EVENTS.c.id == last.c.last).group_by(EVENTS.c.step)):
                put(step, figure, n)
    return out


def calls_matching(store: CallStore, flow: str, since: dt.datetime, step: str, figure: str) -> Select[Any]:
    """The call sids behind one figure of one step (for the calls list)."""
    sids = _period(flow, since)
    at_step = and_(EVENTS.c.call_sid.in_(sids), EVENTS.c.step == step)
    if figure == "reached":
        return select(EVENTS.c.call_sid).where(at_step, EVENTS.c.kind == "turn")
    if figure == "misses":
        return select(EVENTS.c.call_sid).where(at_step, _miss())
    if figure == "to a person":
        return select(EVENTS.c.call_sid).where(at_step, EVENTS.c.data["handover"].as_string().is_not(None))
    if figure in ("hung up", "hung up early"):
        last = _last_turns(_hung_up(store, flow, since, figure == "hung up early"))
        return select(EVENTS.c.call_sid).join(last, EVENTS.c.id == last.c.last).where(EVENTS.c.step == step)
    raise ValueError(f"no figure {figure!r}; figures are: {', '.join(FIGURES)}")


def overlay(figures: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    """What the map writes on each box: the figures that are not zero, shortest names."""
    short = {"reached": "calls", "misses": "misses", "to a person": "to a person", "hung up": "hung up"}
    return {step: {short[k]: v[k] for k in short} for step, v in figures.items()}


def keep_recent_figures(store: CallStore, days: int = 90) -> None:
    """Count and keep the per-day figures (dashboard, and steps of every flow called) of the
    last `days` days that are over, before a clean-up prunes the transcripts behind them."""
    since = utcnow() - dt.timedelta(days=days)
    dashboard_figures(store, since)
    with store.engine.connect() as conn:
        called = select(calls.c.flow).where(calls.c.started_at >= since).distinct()
        flows = list(conn.execute(called).scalars())
    for flow in flows:
        step_figures(store, flow, since)
