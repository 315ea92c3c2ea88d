"""A live call survives the trip through the shared store exactly, and a bad snapshot is loud."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ivr.flow import events as ev
from ivr.flow.engine import Engine
from ivr.flow.state import CallState
from ivr.store.calls import open_database
from ivr.store.live import LiveCallStore
from ivr.telephony import snapshot
from tests.conftest import FLOWS_DIR

AT = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in Riverside: open


def _state_after_a_transfer() -> tuple[CallState, list[ev.Action]]:
    from ivr.flow.loader import load_flow

    engine = Engine(load_flow(FLOWS_DIR / "plumbing.yaml"))
    state, _ = engine.handle(CallState(), ev.CallStarted(at=AT, caller="+15550001234", call_id="CA1"))
    state, _ = engine.handle(state, ev.PromptFinished("disclosure", at=AT))
    state, actions = engine.handle(state, ev.Heard("agent please", 0.9, at=AT))
    return state, actions


def test_engine_state_and_actions_round_trip() -> None:
    state, actions = _state_after_a_transfer()
    assert any(isinstance(a, ev.HandOver) for a in actions)
    data = {"state": state, "pending": actions, "attempts": [0, 1], "none": None}
    back = snapshot.loads(snapshot.dumps(data))
    assert back["state"] == state and back["pending"] == actions
    assert back["state"].turns[0].at == state.turns[0].at and back["state"].turns[0].at.tzinfo
    assert isinstance(back["state"].turns, tuple) and back["attempts"] == [0, 1]
    assert [t.meta for t in back["state"].turns] == [t.meta for t in state.turns]


def test_unknown_types_and_garbage_are_refused() -> None:
    with pytest.raises(snapshot.SnapshotError):
        snapshot.dumps({"x": object()})
    with pytest.raises(snapshot.SnapshotError, match="unknown type"):
        snapshot.loads('{"$": "Exploit", "cmd": "rm"}')
    with pytest.raises(snapshot.SnapshotError, match="not JSON"):
        snapshot.loads("{")
    with pytest.raises(snapshot.SnapshotError, match="Pressed"):
        snapshot.loads('{"$": "Pressed", "digit": "1", "renamed_field": 2}')


def test_a_stream_that_lost_its_call_cannot_overwrite_the_taker(tmp_path: Path) -> None:
    live = LiveCallStore(open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    assert live.save("CA1", "plumbing", "v1", "claimed", held_by="ivr1")
    assert live.save("CA1", "plumbing", "v1", "ivr1 turn", held_by="ivr1", guard="ivr1")
    # ivr1's stream died; ivr2 answered the <Connect action> and sent the caller to a person.
    assert live.save("CA1", "plumbing", "v1", "fault transfer", held_by=None)
    assert not live.save("CA1", "plumbing", "v1", "ivr1 late", held_by=None, guard="ivr1")
    row = live.load("CA1")
    assert row is not None and row["snapshot"] == "fault transfer" and row["held_by"] is None


def test_a_snapshot_written_before_the_actions_were_renamed_still_restores() -> None:
    stored = '{"$": "Transfer", "people": {"$": "Person", "group": "desk", "label": "Desk", ' \
             '"numbers": {"$()": ["+1555"]}}, "reason": "requested", "summary": "s"}'
    restored = snapshot.loads(stored)
    assert isinstance(restored, ev.HandOver) and restored.people.numbers == ("+1555",)


def test_signals_are_typed_and_old_string_signals_still_restore() -> None:
    state = CallState(signals=(ev.SignalNoted("distress", "shouting"),))
    assert snapshot.loads(snapshot.dumps(state)) == state
    old = snapshot.loads('{"$": "CallState", "signals": {"$()": ["distress: shouting", "emergency: gas"]}}')
    assert old.signals == (ev.SignalNoted("distress", "shouting"), ev.SignalNoted("emergency", "gas"))
    assert old.signal_reasons("distress") == ["shouting"] and str(old.signals[1]) == "emergency: gas"
