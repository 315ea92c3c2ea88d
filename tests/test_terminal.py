"""`ivr call`: a call in the terminal, replayed from a script."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.cli import main
from tests.conftest import FLOWS_DIR


def _run(tmp_path: Path, lines: str, *args: str, capsys: pytest.CaptureFixture[str]) -> str:
    script = tmp_path / "caller.txt"
    script.write_text(lines, encoding="utf-8")
    assert main(["call", str(FLOWS_DIR / "plumbing.yaml"), "--script", str(script), *args]) == 0
    return capsys.readouterr().out


def test_scripted_call_prints_what_the_caller_hears_and_the_transcript(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(tmp_path, "// asks for prices, then a person\nhow much\n#0\n",
               "--at", "2026-11-24T10:00", capsys=capsys)
    lines = out.splitlines()
    assert lines[0] == "  gateway: Riverside Plumbing's automated line. Say agent or press 0 for a person."
    assert "caller> how much" in out and "95 dollars" in out
    assert ">> TRANSFER to the office (+15550100111), reason: requested" in out
    assert '>> whisper: Caller asked for a person at prices; last said "how much"; chose prices.' in out
    assert "--- transcript (transferred, reason: requested) ---" in out
    assert " caller: [key 0]" in out


def test_emergency_at_3am_in_the_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(tmp_path, "there's water everywhere, a pipe burst\n", "--at", "2026-11-24T03:00",
               capsys=capsys)
    assert "gateway: If you can, turn off the water at the main stop valve." in out
    assert "TRANSFER to the on-call plumber (+15550100122, +15550100123), reason: emergency" in out


def test_after_hours_message_is_taken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(tmp_path, "agent\nplease call me about a dripping tap\n", "--at", "2026-11-24T22:00",
               capsys=capsys)
    assert "We are closed right now." in out and ">> VOICEMAIL" in out
    assert "[message] please call me about a dripping tap" in out
    assert "--- transcript (voicemail, reason: requested) ---" in out


def test_broken_flow_is_reported_not_run(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import FIXTURES

    assert main(["call", str(FIXTURES / "broken" / "missing_step.yaml")]) == 1
    assert "no step named 'hourz'" in capsys.readouterr().err


def test_bad_arguments_get_a_message_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    flow = str(FLOWS_DIR / "plumbing.yaml")
    assert main(["call", flow, "--at", "tomorrow"]) == 2
    assert "is not a time; use ISO 8601" in capsys.readouterr().err
    assert main(["call", flow, "--script", "/no/such/script.txt"]) == 2
    assert "cannot read the script" in capsys.readouterr().err
