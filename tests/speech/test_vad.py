"""The voice-activity gate: quick to open, patient to close, following the line's noise."""

from __future__ import annotations

from ivr.speech.vad import LoudnessBaseline, VoiceActivity


def _run(vad: VoiceActivity, levels: list[float]) -> list[tuple[int, str]]:
    return [(i, g) for i, db in enumerate(levels) if (g := vad.frame(db))]


def test_opens_within_40_ms_and_closes_after_the_configured_silence() -> None:
    vad = VoiceActivity(end_ms=300)
    events = _run(vad, [-80.0] * 10 + [-20.0] * 15 + [-80.0] * 20)
    assert events == [(11, "start"), (39, "end")]  # 2 voiced frames; 15 quiet frames
    assert vad.utterance().duration_ms == 300 and round(vad.utterance().mean_db) == -20


def test_a_single_click_does_not_open_the_gate() -> None:
    vad = VoiceActivity()
    assert _run(vad, [-80.0] * 5 + [-10.0] + [-80.0] * 5) == []


def test_a_noisy_line_raises_the_threshold() -> None:
    vad = VoiceActivity()
    _run(vad, [-40.0] * 200)  # steady line noise above the -45 dB floor minimum
    assert vad.threshold_db > -30
    assert _run(vad, [-38.0] * 10) == []  # noise is not speech
    assert _run(vad, [-10.0] * 3)[0][1] == "start"


def test_loudness_is_judged_against_the_callers_own_start() -> None:
    baseline = LoudnessBaseline(first=2)
    assert baseline.over(-30.0) is None and baseline.over(-26.0) is None
    assert baseline.over(-14.0) == 14.0


def test_endless_sound_is_cut_into_an_utterance() -> None:
    vad = VoiceActivity()
    events = _run(vad, [-80.0] * 5 + [-5.0] * 1000)
    assert [g for _, g in events][:2] == ["start", "end"]
