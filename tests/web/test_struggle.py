"""Where callers struggle, per step, counted by the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from ivr.flow.loader import load_flow
from ivr.store.calls import CallStore, open_database
from ivr.store.migrate import drop_everything, upgrade
from ivr.store.tables import calls
from ivr.web.flow_map import flow_map_svg
from ivr.web.struggle import calls_matching, overlay, step_figures
from tests import needs
from tests.conftest import FLOWS_DIR

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CallStore]:
    url = f"sqlite:///{tmp_path / 'calls.sqlite3'}"
    if request.param == "postgresql":
        url = needs.postgres_url()
    engine = open_database(url)
    drop_everything(engine)
    upgrade(engine)
    yield CallStore(engine)
    engine.dispose()


def _call(store: CallStore, sid: str, outcome: str, turns: list[tuple[str, str, dict[str, str]]],
          ago_days: float = 1, on_line_s: float = 60, flow: str = "korean") -> None:
    start = NOW - dt.timedelta(days=ago_days)
    with store.engine.begin() as conn:
        conn.execute(insert(calls).values(sid=sid, flow=flow, flow_version="v1", caller="+1", called="+2",
                                          started_at=start, outcome=outcome, disclosure_done_s=5.0,
                                          ended_at=start + dt.timedelta(seconds=on_line_s)))
    rows: list[dict[str, Any]] = [
        {"at": start, "kind": "turn", "speaker": speaker, "text": text, "data": {"step": step, **meta},
         "step": step} for step, (speaker, text, meta) in
        ((t[0], (("system" if t[1].startswith("@") else "caller"), t[1].lstrip("@"), t[2])) for t in turns)]
    store.add_events(sid, rows)


def _matching(store: CallStore, step: str, figure: str) -> set[str]:
    query = calls_matching(store, "korean", NOW - dt.timedelta(days=7), step, figure)
    with store.engine.connect() as conn:
        return set(conn.execute(query).scalars())


def test_figures_per_step_and_the_calls_behind_each(store: CallStore) -> None:
    # A: answered at main, heard the hours. B: two misses at main, handed over as not understood.
    # C: asked for a person at main. D: hung up at main 8 s in (3 s after the disclosure).
    # E: hung up at hours after a minute. F: last month (outside the period). G: another flow.
    _call(store, "A", "answered", [("main", "@menu", {}), ("main", "시간", {}), ("hours", "@answer", {})])
    _call(store, "B", "transferred", [("main", "@menu", {}), ("main", "뭐", {}),
                                      ("main", "@pardon", {"miss": "no_match"}), ("main", "응", {}),
                                      ("main", "@[transfer]", {"handover": "not understood"})])
    _call(store, "C", "transferred", [("main", "@menu", {}), ("main", "상담원", {}),
                                      ("main", "@[transfer]", {"handover": "requested"})])
    _call(store, "D", "hung up", [("main", "@menu", {})], on_line_s=8)
    _call(store, "E", "hung up", [("main", "@menu", {}), ("hours", "@answer", {})])
    _call(store, "F", "hung up", [("main", "@menu", {})], ago_days=30)
    _call(store, "G", "hung up", [("main", "@menu", {})], flow="plumbing")
    figures = step_figures(store, "korean", NOW - dt.timedelta(days=7))
    main, hours = figures["main"], figures["hours"]
    assert main["reached"] == 5 and hours["reached"] == 2
    assert main["misses"] == 2  # the "pardon?" and the miss that handed B over
    assert main["to a person"] == 2 and main["reasons"] == {"not understood": 1, "requested": 1}
    assert main["hung up early"] == 1 and main["hung up"] == 0 and hours["hung up"] == 1
    assert _matching(store, "main", "misses") == {"B"}
    assert _matching(store, "main", "to a person") == {"B", "C"}
    assert _matching(store, "main", "hung up early") == {"D"}
    assert _matching(store, "hours", "hung up") == {"E"}
    assert _matching(store, "main", "reached") == {"A", "B", "C", "D", "E"}
    with pytest.raises(ValueError, match="no figure"):
        calls_matching(store, "korean", NOW, "main", "bogus")
    svg = flow_map_svg(load_flow(FLOWS_DIR / "korean.yaml"), traffic=overlay(figures))
    assert "5 calls · 2 misses · 2 to a person" in svg


def test_figures_of_closed_days_outlast_the_transcripts(store: CallStore) -> None:
    from ivr.store.retention import Retention, clean_up
    from ivr.web import struggle

    _call(store, "A", "transferred", [("main", "@menu", {}), ("main", "상담원", {}),
                                      ("main", "@[transfer]", {"handover": "requested"})], ago_days=4)
    since = NOW - dt.timedelta(days=7)
    struggle.keep_recent_figures(store)  # what every clean-up does first
    assert clean_up(store.engine, Retention(transcript_days=2)).transcript_lines == 3
    assert struggle._count(store, "korean", since, None) == {}  # the transcripts are gone...
    kept = step_figures(store, "korean", since)  # ...their day's figures are not
    assert kept["main"]["reached"] == 1 and kept["main"]["reasons"] == {"requested": 1}
