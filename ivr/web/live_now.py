"""Calls in progress, on every instance sharing the database: who, which flow, where in it, for
how long, and what the caller said last. Read from the shared live-call state, so the page
shows calls held by any instance."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select

from ivr.store.calls import CallStore, utcnow
from ivr.store.tables import calls, live_calls
from ivr.telephony import snapshot

log = logging.getLogger(__name__)
STALE_AFTER = dt.timedelta(hours=4)  # a call with no end this late lost its instance and its callback


def calls_in_progress(store: CallStore, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    now = now or utcnow()
    query = (select(calls.c.sid, calls.c.flow, calls.c.caller, calls.c.started_at,
                    live_calls.c.snapshot, live_calls.c.held_by)
             .join(live_calls, live_calls.c.sid == calls.c.sid)
             .where(calls.c.ended_at.is_(None), calls.c.started_at >= now - STALE_AFTER)
             .order_by(calls.c.started_at))
    out = []
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    for row in rows:
        try:
            state = snapshot.loads(row["snapshot"])["state"]
        except (snapshot.SnapshotError, KeyError, ValueError):
            log.warning("call %s: its live state cannot be read here", row["sid"])
            continue
        if state.ended:
            continue
        started = row["started_at"] if row["started_at"].tzinfo else row["started_at"].replace(tzinfo=dt.UTC)
        out.append({"sid": row["sid"], "caller": row["caller"], "flow": row["flow"],
                    "step": state.step or "", "mode": state.mode,
                    "seconds": int((now - started).total_seconds()),
                    "last_said": state.last_caller_text() or "", "instance": row["held_by"] or ""})
    return out
