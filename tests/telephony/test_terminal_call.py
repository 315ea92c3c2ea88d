"""`ivr call --twilio` from a newcomer's terminal: a voicemail is fetched and kept like a real one."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from ivr.store.tables import voicemails
from testkit.twilio_terminal import run_terminal_call
from tests.conftest import FLOWS_DIR

pytestmark = pytest.mark.slow


def test_a_terminal_call_leaves_a_voicemail_the_gateway_can_fetch(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    text = (FLOWS_DIR / "korean.yaml").read_text(encoding="utf-8")
    start, end = text.index("hours:\n"), text.index("holidays:")
    closed = text[:start] + "hours: {}\n" + text[end:]  # always closed: key 0 leads to a voicemail
    (flows / "korean.yaml").write_text(closed, encoding="utf-8")
    script = tmp_path / "caller.txt"
    script.write_text("#0\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite:///{tmp_path / 'var' / 'ivr.sqlite3'}")
    caplog.set_level(logging.WARNING)
    call = argparse.Namespace(flow=flows / "korean.yaml", script=script, caller="+8210555501")
    code = run_terminal_call(call)
    out = capsys.readouterr().out
    assert code == 0 and "메시지가 녹음되었습니다" in out
    assert "could not be fetched" not in caplog.text
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'ivr.sqlite3'}")
    with engine.connect() as conn:
        kept = conn.execute(select(voicemails.c.audio_path, voicemails.c.duration_s)).all()
    assert len(kept) == 1 and kept[0][0] and Path(kept[0][0]).stat().st_size > 10_000
