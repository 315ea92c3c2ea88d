"""Calls in progress, shared by every gateway instance on one database.

One row per call: the flow version it runs and a JSON snapshot of its state. Written by
whichever instance last acted on the call, read by whichever instance Twilio reaches next.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from ivr.store.calls import utcnow
from ivr.store.tables import live_calls


class LiveCallStore:
    """Synchronous; the gateway calls it on its store thread, in order with the call records."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, sid: str, flow: str, flow_version: str, snapshot: str, held_by: str | None,
             guard: str | None = None, keep_holder: bool = False) -> bool:
        """Write the call's state. With `guard`, only while the row is still held by that
        instance: once another instance has taken the call over (its stream died and the
        <Connect action> was answered elsewhere), a late write from the old holder is dropped.
        `keep_holder`: this write does not change who holds the call (a webhook answered while
        another instance's stream ran it), so the row's holder stays as it is by now: the
        holder may have released the call since it was read."""
        values = {"flow": flow, "flow_version": flow_version, "snapshot": snapshot,
                  "held_by": held_by, "updated_at": utcnow()}
        query = update(live_calls).where(live_calls.c.sid == sid)
        if guard is not None:
            with self.engine.begin() as conn:
                held = query.where(live_calls.c.held_by == guard)
                return bool(conn.execute(held.values(**values)).rowcount)
        changes = {k: v for k, v in values.items() if k != "held_by"} if keep_holder else values
        with self.engine.begin() as conn:
            if conn.execute(query.values(**changes)).rowcount:
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(live_calls).values(sid=sid, **values))
        except IntegrityError:  # another instance inserted it first: ours is the newer state
            with self.engine.begin() as conn:
                conn.execute(update(live_calls).where(live_calls.c.sid == sid).values(**values))
        return True

    def load(self, sid: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(live_calls).where(live_calls.c.sid == sid)).mappings().first()
            return dict(row) if row else None
