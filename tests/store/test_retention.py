"""Old transcripts and recordings go; call records, recent calls and live sessions stay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import insert, select

from ivr.store.calls import CallStore, open_database
from ivr.store.retention import Retention, clean_up
from ivr.store.tables import live_calls, sessions, users

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def _call(store: CallStore, sid: str, age_days: int, audio: Path) -> None:
    at = NOW - dt.timedelta(days=age_days)
    store.start_call(sid, "plumbing", "v1", "+15550001234", "+15550100100", at, "keypad-only")
    store.update_call(sid, outcome="voicemail", summary="Caller said: my pipe burst")
    store.add_events(sid, [
        {"at": at, "kind": "turn", "speaker": "caller", "text": "my pipe burst", "data": {}},
        {"at": at, "kind": "dial", "speaker": None, "text": "dial busy", "data": {}}])
    audio.write_bytes(b"RIFF")
    store.add_voicemail(sid, recording_sid="RE1", recording_url="", audio_path=str(audio), duration_s=3.0,
                        transcript="please call me back")


def test_clean_up_follows_the_settings(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store = CallStore(engine)
    _call(store, "CAold", 400, tmp_path / "old.wav")
    _call(store, "CAmid", 100, tmp_path / "mid.wav")
    _call(store, "CAnew", 5, tmp_path / "new.wav")
    with engine.begin() as conn:
        conn.execute(insert(users).values(id=1, email="a@example.com", password_hash="x", role="owner",
                                          created_at=NOW))
        conn.execute(insert(sessions), [
            {"token_hash": "expired", "user_id": 1, "csrf": "c", "expires_at": NOW - dt.timedelta(hours=1)},
            {"token_hash": "valid", "user_id": 1, "csrf": "c", "expires_at": NOW + dt.timedelta(hours=1)}])
        conn.execute(insert(live_calls), [
            {"sid": "CAold", "flow": "plumbing", "flow_version": "v1", "snapshot": "{}",
             "updated_at": NOW - dt.timedelta(days=2)},
            {"sid": "CAnew", "flow": "plumbing", "flow_version": "v1", "snapshot": "{}",
             "updated_at": NOW - dt.timedelta(minutes=1)}])

    done = clean_up(engine, Retention(transcript_days=365, recording_days=90), NOW)

    assert (done.transcript_lines, done.recordings, done.sessions, done.live_calls) == (1, 2, 1, 1)
    old, mid, new = (store.get_call(sid) for sid in ("CAold", "CAmid", "CAnew"))
    assert old and mid and new
    assert old["outcome"] == "voicemail" and old["summary"] is None  # the record stays, the words go
    assert [e["kind"] for e in old["events"]] == ["dial"] and old["voicemails"][0]["transcript"] is None
    assert [e["kind"] for e in mid["events"]] == ["turn", "dial"] and mid["summary"]
    assert not (tmp_path / "old.wav").exists() and not (tmp_path / "mid.wav").exists()
    assert mid["voicemails"][0]["audio_path"] is None and mid["voicemails"][0]["transcript"]
    assert (tmp_path / "new.wav").exists() and new["voicemails"][0]["audio_path"]
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(select(sessions.c.token_hash))] == ["valid"]
        assert [r[0] for r in conn.execute(select(live_calls.c.sid))] == ["CAnew"]
    assert clean_up(engine, Retention(transcript_days=365, recording_days=90), NOW).transcript_lines == 0


def test_zero_keeps_for_ever(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    _call(CallStore(engine), "CAold", 4000, tmp_path / "old.wav")
    done = clean_up(engine, Retention(), NOW)
    assert (done.transcript_lines, done.recordings) == (0, 0) and (tmp_path / "old.wav").exists()
