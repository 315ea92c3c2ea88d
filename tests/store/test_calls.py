"""Call records on SQLite (the default) and PostgreSQL (several instances sharing state)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.store.calls import AsyncCallStore, CallStore, open_database
from ivr.store.migrate import drop_everything, upgrade
from tests import needs

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CallStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db' / 'calls.sqlite3'}"
    else:
        url = needs.postgres_url()
    engine = open_database(url)
    if request.param == "postgresql":  # the README's plain postgresql:// URL runs on psycopg 3
        assert url.startswith("postgresql://") and engine.dialect.driver == "psycopg"
    drop_everything(engine)  # a clean store, built the way every start builds it
    upgrade(engine)
    yield CallStore(engine)
    engine.dispose()


def test_a_call_with_its_timeline_and_voicemail_round_trips(store: CallStore) -> None:
    store.start_call("CA1", "plumbing", "abc123", "+15550001", "+15550100", T0, "keypad-only")
    store.add_events("CA1", [
        {"at": T0, "kind": "turn", "speaker": "system", "text": "This is automated.", "data": {}},
        {"at": T0, "kind": "turn", "speaker": "caller", "text": "agent", "data": {"step": "main"}},
    ])
    store.update_call("CA1", outcome="transferred", transfer_reason="requested", signals=["x"])
    store.add_voicemail("CA1", recording_sid="RE1", transcript="call me back")
    call = store.get_call("CA1")
    assert call is not None
    assert call["flow"] == "plumbing" and call["outcome"] == "transferred" and call["signals"] == ["x"]
    assert [e["text"] for e in call["events"]] == ["This is automated.", "agent"]
    assert call["events"][1]["data"] == {"step": "main"}
    assert call["voicemails"][0]["transcript"] == "call me back"


def test_starting_a_call_twice_keeps_one_record(store: CallStore) -> None:
    store.start_call("CA2", "clinic", "v1", "+1", "+2", T0, "keypad-only")
    store.start_call("CA2", "clinic", "v1", "+1", "+2", T0, "keypad-only")
    assert [c["sid"] for c in store.list_calls()] == ["CA2"]


def test_unknown_call_is_none(store: CallStore) -> None:
    assert store.get_call("CAnope") is None


def test_async_writes_land_in_order_and_failures_never_raise(
        store: CallStore, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        writer = AsyncCallStore(store)
        writer.later(writer.calls.start_call, "CA3", "korean", "v", "+1", "+2", T0, "vosk")
        for i in range(20):
            writer.later(writer.calls.add_events, "CA3", [{"at": T0, "kind": "turn", "speaker": "caller",
                                                           "text": str(i), "data": {}}])
        writer.later(writer.calls.add_events, "CA-missing",
                     [{"at": T0, "kind": "turn", "text": "x", "data": {}}])
        await writer.flush()
        writer.close()

    asyncio.run(scenario())
    call = store.get_call("CA3")
    assert call is not None
    assert [e["text"] for e in call["events"]] == [str(i) for i in range(20)]
    assert "call store add_events failed" in caplog.text  # a write for no call: logged, not raised


def test_an_old_period_is_complete_behind_thousands_of_newer_calls(store: CallStore) -> None:
    from sqlalchemy import insert

    from ivr.store.tables import calls
    from ivr.web.dashboard import dashboard_figures, filter_calls

    def row(i: int, at: dt.datetime, outcome: str) -> dict[str, object]:
        return {"sid": f"CA{i:06d}", "flow": "plumbing", "flow_version": "v1", "caller": "+1",
                "called": "+2", "started_at": at, "outcome": outcome, "signals": []}

    old = [row(i, T0 - dt.timedelta(days=60, minutes=i), "voicemail") for i in range(10)]
    new = [row(100 + i, T0 + dt.timedelta(seconds=i), "answered") for i in range(5_010)]
    with store.engine.begin() as conn:
        conn.execute(insert(calls), old + new)
    day = (T0 - dt.timedelta(days=60)).date().isoformat()
    found = filter_calls(store, {"from": day, "to": day})
    assert len(found) == 10 and {c["outcome"] for c in found} == {"voicemail"}
    assert len(filter_calls(store, {"outcome": "voicemail"})) == 10
    assert len(filter_calls(store, {"flow": "plumbing"}, limit=20)) == 20
    figures = dashboard_figures(store, T0 - dt.timedelta(days=61))
    assert figures["calls"] == 5_020 and figures["voicemail"] == 10


def test_calls_are_found_by_words_said_and_by_part_of_the_caller_number(store: CallStore) -> None:
    from ivr.web.dashboard import filter_calls

    store.start_call("CA1", "plumbing", "v1", "+15550001111", "+2", T0, "vosk")
    store.start_call("CA2", "plumbing", "v1", "+15550002222", "+2", T0 + dt.timedelta(minutes=1), "vosk")
    store.start_call("CA3", "korean", "v1", "+8210555503", "+2", T0 + dt.timedelta(minutes=2), "vosk")
    def said(text: str) -> list[dict[str, object]]:
        return [{"at": T0, "kind": "turn", "speaker": "caller", "text": text, "data": {}}]

    store.add_events("CA1", said("My BOILER is leaking"))
    store.add_events("CA3", said("영업 시간"))
    store.update_call("CA2", summary="Caller asked about a boiler service; 100% sure")
    assert [c["sid"] for c in filter_calls(store, {"q": "boiler"})] == ["CA2", "CA1"]  # newest first
    assert [c["sid"] for c in filter_calls(store, {"q": "시간"})] == ["CA3"]
    assert filter_calls(store, {"q": "100%"})[0]["sid"] == "CA2"  # % is a character, not a wildcard
    assert filter_calls(store, {"q": "1_0"}) == []
    assert [c["sid"] for c in filter_calls(store, {"caller": "0002"})] == ["CA2"]
    assert [c["sid"] for c in filter_calls(store, {"q": "boiler", "caller": "1111"})] == ["CA1"]


def test_dashboard_figures_are_counted_by_the_database(store: CallStore) -> None:
    from sqlalchemy import insert

    from ivr.store.tables import calls
    from ivr.web.dashboard import dashboard_figures

    def row(i: int, minutes: int, outcome: str | None, **more: object) -> dict[str, object]:
        empty = dict.fromkeys(("transfer_reason", "time_to_human_s", "ended_at", "disclosure_done_s"))
        return {"sid": f"CA{i}", "flow": "plumbing", "flow_version": "v1", "caller": "+1", "called": "+2",
                "started_at": T0 + dt.timedelta(minutes=minutes), "outcome": outcome, "signals": [],
                **empty, **more}

    rows = [row(1, 0, "transferred", transfer_reason="requested", time_to_human_s=4.0),
            row(2, 1, "transferred", transfer_reason="distress", time_to_human_s=10.0),
            row(3, 2, "transferred", transfer_reason="requested", time_to_human_s=6.0),
            row(4, 3, "transferred", transfer_reason="requested", time_to_human_s=20.0),
            # hung up 12 s in, 5 s after a 7 s disclosure: an early hang-up; the next is not
            row(5, 4, "hung up", ended_at=T0 + dt.timedelta(minutes=4, seconds=12), disclosure_done_s=7.0),
            row(6, 5, "hung up", ended_at=T0 + dt.timedelta(minutes=5, seconds=40), disclosure_done_s=7.0),
            row(7, 24 * 60 + 1, None),  # the next day, still in progress
            row(8, -60, "answered")]  # before the period
    with store.engine.begin() as conn:
        conn.execute(insert(calls), rows)
    figures = dashboard_figures(store, T0)
    assert figures["calls"] == 7 and figures["transferred"] == 4
    assert figures["outcomes"]["in progress"] == 1 and figures["outcomes"]["hung up"] == 2
    assert figures["reasons"]["requested"] == 3 and figures["reasons"]["distress"] == 1
    assert figures["to_human_median"] == 8.0 and figures["to_human_p90"] == 10.0  # 4 6 10 20
    assert figures["early_hangups"] == 1
    day = T0.date()
    assert figures["per_day"] == [(day.isoformat(), 6), ((day + dt.timedelta(days=1)).isoformat(), 1)]


def test_what_became_of_a_prompt_is_kept_on_its_transcript_line(store: CallStore) -> None:
    from ivr.store.calls import describe_heard

    store.start_call("CA9", "korean", "v1", "+1", "+2", T0, "vosk")
    store.add_events("CA9", [
        {"at": T0, "kind": "turn", "speaker": "system", "text": "automated", "data": {"line": 0}},
        {"at": T0, "kind": "turn", "speaker": "system", "text": "menu", "data": {"line": 1}},
        {"at": T0, "kind": "turn", "speaker": "caller", "text": "[key 0]", "data": {"line": 2}}])
    store.mark_prompt("CA9", 0, heard="cut", played_s=1.2, of_s=4.7, cut_by="key", prompt="disclosure")
    store.mark_prompt("CA9", 1, heard="never", played_s=0, of_s=0, cut_by="transfer", prompt="p1")
    events = store.get_call("CA9")["events"]  # type: ignore[index]
    assert [describe_heard(e["data"]) for e in events] == [
        "cut after 1.2 s of 4.7 s (key)", "never played (transfer)", ""]
    assert events[0]["data"]["line"] == 0  # the rest of the line's data stays
    assert store.prompt_figures(["CA9", "CAnone"]) == {"CA9": {
        "prompts_heard": 0, "prompts_cut": 1, "prompts_unplayed": 1,
        "disclosure": "cut after 1.2 s of 4.7 s (key)"}}
