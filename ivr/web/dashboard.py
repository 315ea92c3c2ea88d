"""Call list filters and the dashboard's figures, computed from the call records."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from typing import Any

from ivr.store.calls import CallStore

REASONS = ("requested", "distress", "emergency", "not understood", "fault", "flow")
EARLY_HANGUP_S = 10.0


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def filter_calls(store: CallStore, filters: dict[str, str], limit: int = 500) -> list[dict[str, Any]]:
    """Calls matching date (`from`, `to`: YYYY-MM-DD, UTC days), `flow`, `outcome` and `reason`."""
    start = dt.date.fromisoformat(filters["from"]) if filters.get("from") else None
    end = dt.date.fromisoformat(filters["to"]) if filters.get("to") else None
    equal = {column: filters[key] for key, column in
             (("flow", "flow"), ("outcome", "outcome"), ("reason", "transfer_reason")) if filters.get(key)}
    return store.find_calls(since=_midnight(start), until=_midnight(end, 1), limit=limit, **equal)


def _midnight(day: dt.date | None, plus_days: int = 0) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(day + dt.timedelta(days=plus_days), dt.time(), tzinfo=dt.UTC)


def dashboard_figures(store: CallStore, since: dt.datetime) -> dict[str, Any]:
    """Counts and times for calls started since `since`."""
    rows = store.find_calls(since=since)
    outcomes = Counter(r["outcome"] or "in progress" for r in rows)
    reasons = Counter(r["transfer_reason"] for r in rows if r["transfer_reason"])
    to_human = sorted(r["time_to_human_s"] for r in rows if r["time_to_human_s"] is not None)
    early = 0
    for r in rows:
        start, end = _aware(r["started_at"]), _aware(r["ended_at"])
        if start and end and r["outcome"] in ("hung up", "goodbye"):
            after_disclosure = (end - start).total_seconds() - (r["disclosure_done_s"] or 0)
            early += after_disclosure < EARLY_HANGUP_S
    days: Counter[str] = Counter((_aware(r["started_at"]) or since).date().isoformat() for r in rows)
    return {
        "calls": len(rows),
        "answered": outcomes.get("answered", 0) + outcomes.get("goodbye", 0),
        "transferred": outcomes.get("transferred", 0),
        "voicemail": outcomes.get("voicemail", 0),
        "outcomes": dict(outcomes),
        "reasons": {reason: reasons.get(reason, 0) for reason in REASONS},
        "early_hangups": early,
        "to_human_median": statistics.median(to_human) if to_human else None,
        "to_human_p90": to_human[int(0.9 * (len(to_human) - 1))] if to_human else None,
        "callbacks_waiting": len(store.open_callbacks()),
        "per_day": sorted(days.items()),
    }
