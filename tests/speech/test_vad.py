"""The voice-activity gate: quick to open, patient to close, following the line's noise."""

from __future__ import annotations

from ivr.speech.vad import TELEPHONE_SPEECH_DB, Loudness, LoudnessBaseline, Utterance, VoiceActivity


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


def test_loudness_is_judged_against_phone_speech_then_the_callers_own_start() -> None:
    baseline = LoudnessBaseline(first=2)
    first = baseline.judge(Utterance(500, -30.0))
    assert first == Loudness(-30.0 - TELEPHONE_SPEECH_DB, "phone speech")
    assert baseline.judge(Utterance(500, -15.0)) == Loudness(15.0, "their start")  # one is enough
    assert baseline.judge(Utterance(500, -26.0)).db_over == 4.0  # the raised one was not learned
    assert baseline.judge(Utterance(500, -14.0)) == Loudness(14.0, "their start")  # over -30, -26 mean


def test_a_shout_is_never_learned_as_the_callers_normal_voice() -> None:
    baseline = LoudnessBaseline()
    assert baseline.judge(Utterance(500, -3.0, clipped=0.4)).against == "phone speech"
    assert baseline.judge(Utterance(500, -4.0)).against == "phone speech"  # 14 dB over: not learned
    assert baseline.judge(Utterance(500, -20.0)).against == "phone speech"
    assert baseline.judge(Utterance(500, -5.0)) == Loudness(15.0, "their start")


def test_clipping_is_counted_per_voiced_frame() -> None:
    vad = VoiceActivity()
    for i in range(30):
        vad.frame(-80.0 if i < 5 else -3.0, 32124 if i % 2 else 20000)
    for _ in range(20):
        vad.frame(-80.0)
    assert 0.4 < vad.utterance().clipped < 0.6


def test_endless_sound_is_cut_into_an_utterance() -> None:
    vad = VoiceActivity()
    events = _run(vad, [-80.0] * 5 + [-5.0] * 1000)
    assert [g for _, g in events][:2] == ["start", "end"]
