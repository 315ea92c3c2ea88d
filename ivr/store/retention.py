"""How long what callers said is kept: transcripts, recordings, console sessions, live state.

Call records themselves (when, which flow, outcome, why transferred) stay: they are the
statistics. What a caller said and their voice go once they are older than the settings say
(0 keeps them for ever). Safe to run on every instance at once: each step is idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, Select, delete, select, update

from ivr.store.calls import utcnow
from ivr.store.tables import call_events, callbacks, calls, live_calls, sessions, voicemails

log = logging.getLogger(__name__)
LIVE_STATE_KEEP = dt.timedelta(days=1)  # no call lasts a day; older live state was left behind


@dataclass(frozen=True)
class Retention:
    transcript_days: int = 0
    recording_days: int = 0


@dataclass
class Cleaned:
    transcript_lines: int = 0
    recordings: int = 0
    sessions: int = 0
    live_calls: int = 0

    def __str__(self) -> str:
        return (f"{self.transcript_lines} transcript lines, {self.recordings} recordings, "
                f"{self.sessions} expired console sessions, {self.live_calls} stale live-call states")


def clean_up(engine: Engine, keep: Retention, now: dt.datetime | None = None) -> Cleaned:
    """Delete what is past its keeping time; returns how much went."""
    now = now or utcnow()
    done = Cleaned()
    with engine.begin() as conn:
        if keep.transcript_days:
            old = _calls_before(now - dt.timedelta(days=keep.transcript_days))
            done.transcript_lines = conn.execute(delete(call_events).where(
                call_events.c.call_sid.in_(old),
                call_events.c.kind.in_(("turn", "voicemail", "transfer")))).rowcount  # words and summaries
            conn.execute(update(calls).where(calls.c.sid.in_(old), calls.c.summary.is_not(None))
                         .values(summary=None))
            conn.execute(update(voicemails).where(voicemails.c.call_sid.in_(old),
                                                  voicemails.c.transcript.is_not(None))
                         .values(transcript=None))
            conn.execute(update(callbacks).where(callbacks.c.call_sid.in_(old),
                                                 callbacks.c.transcript.is_not(None))
                         .values(transcript=None))
        if keep.recording_days:
            old = _calls_before(now - dt.timedelta(days=keep.recording_days))
            rows = conn.execute(select(voicemails.c.id, voicemails.c.audio_path).where(
                voicemails.c.call_sid.in_(old), voicemails.c.audio_path.is_not(None))).all()
            for row_id, path in rows:
                Path(path).unlink(missing_ok=True)
                conn.execute(update(voicemails).where(voicemails.c.id == row_id).values(audio_path=None))
            done.recordings = len(rows)
        done.sessions = conn.execute(delete(sessions).where(sessions.c.expires_at < now)).rowcount
        done.live_calls = conn.execute(delete(live_calls).where(
            live_calls.c.updated_at < now - LIVE_STATE_KEEP)).rowcount
    return done


def _calls_before(cutoff: dt.datetime) -> Select[tuple[str]]:
    return select(calls.c.sid).where(calls.c.started_at < cutoff)
